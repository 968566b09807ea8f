# -*- test-case-name: tests.test_art -*-
"""
Album art on the web: C{/art/<name>} serves the pictures of
L{txradio.library.art.ArtCache}, and L{artName} finds the picture of what a
mount plays now (a playlist's current track; nothing while a live source or
relay plays).

ICY listeners are told where the picture is by C{StreamUrl='…'} in the
metadata block sent where the title changes (VLC and foobar2000 read it),
only when a public URL is configured: the block is shared by every
listener, so no request's C{Host} can be used to build an absolute URL.
"""

from __future__ import annotations

import re
from typing import Any

from twisted.web import http
from twisted.web.resource import Resource
from twisted.web.server import Request

from txradio.interfaces import IProgramme, IStation
from txradio.library.art import ArtCache
from txradio.web.status import isLive

__all__ = ["ART_PREFIX", "ArtResource", "artName", "artPath", "installStreamURLs", "withArt"]

ART_PREFIX = "/art/"
"""Where the pictures are served."""

_NAME = re.compile(r"^[0-9a-f]{32}\.(jpg|png)$")


def artName(station: IStation, cache: ArtCache) -> str | None:
    """
    @param station: a mount.
    @param cache: the pictures.
    @return: the name of the picture of its programme's current track, or
        L{None} (no picture, a live source, or a programme without files).
    """
    if isLive(station):
        return None
    programme = station.programme
    path = programme.trackPath if IProgramme.providedBy(programme) else None
    if path is None:
        return None
    return cache.nameFor(path)


def artPath(station: IStation, cache: ArtCache | None) -> str | None:
    """
    @param station: a mount.
    @param cache: the pictures, or L{None} when art is not served.
    @return: the site path of the picture of what it plays now, e.g.
        C{"/art/3f…a9.jpg"}, or L{None}.
    """
    name = artName(station, cache) if cache is not None else None
    return ART_PREFIX + name if name is not None else None


def installStreamURLs(stations: list[IStation], cache: ArtCache, publicURL: str | None) -> None:
    """
    Make each mount's metadata blocks carry C{StreamUrl='<art URL>'} when
    the title changes, if a public URL is configured.

    @param stations: the mounts.
    @param cache: the pictures.
    @param publicURL: the configured base URL, or L{None} (nothing is done).
    """
    if not publicURL:
        return
    base = publicURL.rstrip("/")
    for station in stations:

        def url(title: str, station: IStation = station) -> str | None:
            path = artPath(station, cache)
            return base + path if path is not None else None

        station.broadcaster.metadataURL = url  # type: ignore[attr-defined]


class ArtResource(Resource):
    """
    C{/art/<sha256 prefix>.jpg|png}: a cached picture, public and cacheable
    for a day (its name changes with its content).
    """

    isLeaf = True

    def __init__(self, cache: ArtCache) -> None:
        Resource.__init__(self)
        self.cache = cache

    def render_GET(self, request: Request) -> bytes:
        """
        Serve a picture, or 404.
        """
        request.setHeader(b"x-content-type-options", b"nosniff")
        name = b"/".join(request.postpath or []).decode("ascii", "replace")
        picture = self.cache.get(name) if _NAME.match(name) else None
        if picture is None:
            request.setResponseCode(http.NOT_FOUND)
            request.setHeader(b"content-type", b"text/plain; charset=utf-8")
            return b"no such picture\n"
        data, kind = picture
        request.setHeader(b"content-type", kind.encode("ascii"))
        request.setHeader(b"cache-control", b"public, max-age=86400, immutable")
        request.setHeader(b"content-security-policy", b"default-src 'none'")
        return data

    render_HEAD = render_GET


def withArt(status: dict[str, Any], station: IStation, base: str, cache: ArtCache | None) -> dict[str, Any]:
    """
    Add the C{art} field to a mount's status.

    @param status: what L{txradio.web.status.mountStatus} gave.
    @param station: the mount.
    @param base: the absolute URL prefix.
    @param cache: the pictures, or L{None} when art is not served.
    @return: C{status} with C{art}: the absolute URL of the current
        track's picture, or L{None}.
    """
    path = artPath(station, cache)
    status["art"] = base + path if path is not None else None
    return status
