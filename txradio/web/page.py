# -*- test-case-name: tests.test_web,integration.test_browser -*-
"""
The station page at C{/}, the page layout the library shares with it, and
the few static files (style sheet, script, icon) they use.

Pages are built with L{twisted.web.template}, which escapes every value it
inserts, so titles and names from tags, sources and operators can never add
markup.  The pages work without JavaScript (a plain C{<audio controls>} per
station); the script adds a play button, live updates from C{/events} and
the library's player.  Everything is served from this server: no CDN.  The
player plays HLS where the browser does, with the shipped hls.js where it
does not (loaded only then; see C{docs/hls.md}), and the ICY stream
otherwise.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from typing import Any

from twisted.web import http, static
from twisted.web.resource import NoResource, Resource
from twisted.web.server import Request
from twisted.web.template import Tag, flattenString, tags

from txradio.interfaces import IStation
from txradio.web.art import artPath
from txradio.web.status import WebContext, displayTitle, isLive, liveDJ, stationBitrate
from txradio.web.upcoming import upNextTags

STATIC_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
"""The folder of the site's static files, shipped with the package."""

_STATIC_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}

CONTENT_SECURITY_POLICY = (
    b"default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; "
    b"media-src 'self' blob:; img-src 'self' data:; base-uri 'none'; form-action 'self'"
)
"""
What pages may load: only this server's own files (no inline script), and
media from C{blob:} URLs, which is how hls.js hands the audio element the
C{MediaSource} it fills.
"""

HLS_SCRIPT = "hls.light.min.js"
"""
The shipped hls.js (the light build: no alternate audio, subtitles or DRM,
which a radio does not use; MP3 and ID3 timed metadata included), from the
npm registry; see C{docs/hls.md}.
"""

HISTORY_SHOWN = 10
"""Recent titles listed under each station."""


def _fingerprint(name: str) -> str:
    """
    A short hash of a static file's content, for cache-busting URLs.

    @param name: the file's name in L{STATIC_DIR}.
    @return: 10 hex digits, or C{"0"} when the file is missing.
    """
    try:
        with open(os.path.join(STATIC_DIR, name), "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()[:10]
    except OSError:
        return "0"


_FINGERPRINTS = {name: _fingerprint(name) for name in ("radio.css", "radio.js", "requests.js", "icon.svg", HLS_SCRIPT)}


def assetURL(name: str) -> str:
    """
    The URL of a static file, versioned by its content so it can be cached
    for long.

    @param name: e.g. C{"radio.css"}.
    @return: e.g. C{"/static/radio.css?v=0123456789"}.
    """
    return f"/static/{name}?v={_FINGERPRINTS.get(name, '0')}"


def layout(title: str, *content: Any, bodyClass: str = "") -> Tag:
    """
    Wrap content in the site's page.

    @param title: the page title.
    @param content: the elements of the C{<main>} element.
    @param bodyClass: a class for C{<body>}.
    @return: the C{<html>} element.
    """
    return tags.html(
        tags.head(
            tags.meta(charset="utf-8"),
            tags.meta(name="viewport", content="width=device-width, initial-scale=1"),
            tags.meta(name="color-scheme", content="light dark"),
            tags.title(title),
            tags.link(rel="stylesheet", href=assetURL("radio.css")),
            tags.link(rel="icon", href=assetURL("icon.svg"), type="image/svg+xml"),
            tags.script(src=assetURL("radio.js"), defer=""),
            tags.script(src=assetURL("requests.js"), defer=""),
        ),
        tags.body(
            tags.a("Skip to content", href="#main", class_="skip"),
            Tag("main")(*content, id="main"),
            class_=bodyClass,
        ),
        lang="en",
    )


def flattenHTML(document: Tag) -> bytes:
    """
    Flatten a page, without a request.

    @param document: the C{<html>} element (without deferred parts).
    @return: the HTML document.
    """
    result: list[bytes] = []
    failures: list = []
    flattenString(None, document).addCallbacks(result.append, failures.append)
    if failures:
        failures[0].raiseException()
    return b"<!DOCTYPE html>\n" + result[0]


def setPageHeaders(request: Request) -> None:
    """
    Set the headers every page gets.

    @param request: the request.
    """
    request.setHeader(b"content-type", b"text/html; charset=utf-8")
    request.setHeader(b"cache-control", b"no-cache")
    request.setHeader(b"content-security-policy", CONTENT_SECURITY_POLICY)
    request.setHeader(b"x-content-type-options", b"nosniff")
    request.setHeader(b"referrer-policy", b"same-origin")


def renderHTML(request: Request, document: Tag) -> bytes:
    """
    Flatten a page and set the headers every page gets.

    @param request: the request.
    @param document: the C{<html>} element (without deferred parts).
    @return: the HTML document.
    """
    body = flattenHTML(document)
    setPageHeaders(request)
    return body


def formatText(bitrate: int | None) -> str:
    """
    Describe a stream's format.

    @param bitrate: kbps, or L{None}.
    @return: e.g. C{"MP3, 128 kbps"}.
    """
    return f"MP3, {bitrate} kbps" if bitrate else "MP3"


def _anchor(mount: str) -> str:
    """
    An element id for a mount.

    @param mount: e.g. C{"/live/hi"}.
    @return: e.g. C{"mount-live-hi"}.
    """
    return "mount" + "".join(c if c.isalnum() else "-" for c in mount)


def _fact(label: str, value: Any, field: str) -> Tag:
    """
    One fact of a station, as a term and its value.

    @param label: the term.
    @param value: the value shown.
    @param field: the name the script updates it by.
    @return: a C{<div>} of a C{<dt>} and a C{<dd>}.
    """
    return tags.div(tags.dt(label), tags.dd(str(value), **{"data-field": field}))


def _derivedFacts(station: IStation) -> list[Tag]:
    """
    The mounts that re-encode a station at other bitrates, or the one it
    re-encodes.

    @param station: the station.
    @return: C{<div>}s of a C{<dt>} and a C{<dd>}, possibly none.
    """
    facts = []
    derived = station.derived
    if derived:
        links = []
        for child in derived:
            path = child.mount.decode("ascii")
            bitrate = child.audioFormat.bitrate if child.audioFormat is not None else None
            if links:
                links.append(" · ")
            links.append(tags.a(f"{bitrate} kbps" if bitrate else path, href=f"#{_anchor(path)}"))
        facts.append(tags.div(tags.dt("Other bitrates"), tags.dd(*links, **{"data-field": "derived"})))
    parent = station.derivedFrom
    if parent is not None:
        path = parent.mount.decode("ascii")
        facts.append(
            tags.div(tags.dt("Re-encodes"), tags.dd(tags.a(path, href=f"#{_anchor(path)}"), **{"data-field": "derivedFrom"}))
        )
    return facts


def stationSection(station: IStation, hls: Any = None, art: str | None = None) -> Tag:
    """
    Render one station.

    @param station: the station.
    @param hls: its L{txradio.web.hls.HLSMount}, or L{None} when it serves
        no HLS; with one, the player plays the HLS playlist, natively where
        the browser can, else with the shipped hls.js.
    @param art: the site path of the album art of what it plays, or
        L{None} (the picture is there, hidden, for the page's script).
    @return: an C{<article>} element.
    """
    mount = station.mount.decode("ascii")
    info = station.currentInfo
    anchor = _anchor(mount)
    title = displayTitle(station.broadcaster.title)
    history = [displayTitle(t) for _, t in reversed(station.broadcaster.history)]
    history = [t for t in history if t][1 : HISTORY_SHOWN + 1]
    onAir = bool(station.onAir)
    dj = liveDJ(station)
    # The DJ on the air is the show's name (docs/shows.md).
    state = (f"Live: {dj}" if dj else "Live") if isLive(station) else ("On air" if onAir else "Off air")
    return tags.article(
        tags.header(
            tags.h2(info.name, id=anchor + "-name", **{"data-field": "name"}),
            tags.span(state, class_="badge", **{"data-field": "state", "data-on-air": "1" if onAir else "0"}),
        ),
        tags.p(info.description, class_="description", **{"data-field": "description"}),
        tags.img(
            src=art or "",
            alt="Album art",
            class_="art",
            width="160",
            height="160",
            **{"data-field": "art"},
            **({} if art else {"hidden": ""}),
        ),
        tags.p(
            tags.span("Now playing", class_="label", id=anchor + "-now"),
            tags.span(
                title or "Nothing yet",
                class_="title",
                role="status",
                **{"data-field": "title", "aria-labelledby": anchor + "-now"},
            ),
            class_="now",
        ),
        tags.div(
            tags.audio(controls="", preload="none", src=mount),
            class_="player",
            **{"data-mount": mount},
            **({"data-hls": hls.playlistPath, "data-hls-script": assetURL(HLS_SCRIPT)} if hls is not None else {}),
        ),
        tags.dl(
            _fact("Listeners", station.listenerCount + (hls.sessions.count() if hls is not None else 0), "listeners"),
            _fact("Peak", station.peakListeners, "peak"),
            _fact("Format", formatText(stationBitrate(station)), "format"),
            *_derivedFacts(station),
            *([_fact("Genre", info.genre, "genre")] if info.genre else []),
            class_="facts",
        ),
        tags.p(
            "Listen in your own player: ",
            tags.a("M3U", href=mount + ".m3u", type="audio/x-mpegurl"),
            " · ",
            tags.a("PLS", href=mount + ".pls", type="audio/x-scpls"),
            " · ",
            tags.a("XSPF", href=mount + ".xspf", type="application/xspf+xml"),
            " · ",
            tags.a("stream URL", href=mount, type="audio/mpeg"),
            *(
                [" · ", tags.a("HLS", href=hls.playlistPath, type="application/vnd.apple.mpegurl")]
                if hls is not None
                else []
            ),
            class_="links",
        ),
        *upNextTags(station),
        tags.details(
            tags.summary("Played before"),
            tags.ol(*[tags.li(t) for t in history], class_="history", **{"data-field": "history"}),
        ),
        class_="station",
        id=anchor,
        **{"data-mount": mount, "aria-labelledby": anchor + "-name"},
    )


class StationsPage(Resource):
    """
    The page at C{/} listing every station.
    """

    isLeaf = True

    def __init__(self, stations: Sequence[IStation] | WebContext) -> None:
        """
        @param stations: the site's shared state, or just the stations.
        """
        Resource.__init__(self)
        if not isinstance(stations, WebContext):
            from twisted.internet import reactor

            stations = WebContext(list(stations), reactor)  # type: ignore[arg-type]
        self.context = stations

    def render_GET(self, request: Request) -> bytes:
        """
        Render the page.

        @param request: the request.
        @return: the HTML document.
        """
        stations = self.context.stations
        title = stations[0].info.name if stations else "txradio"
        links = [tags.a("Status JSON", href="/status-json.xsl"), " · ", tags.a("API", href="/api/v1/status")]
        if self.context.libraryEnabled:
            links[:0] = [tags.a("Music library", href="/library/"), " · "]
        document = layout(
            title,
            tags.header(
                tags.h1(title),
                tags.p(
                    "Live updates ",
                    tags.span("off", **{"data-live-state": ""}),
                    class_="live-state",
                    hidden="",
                ),
                class_="site",
            ),
            *[
                stationSection(s, self.context.hls.get(s.mount), artPath(s, self.context.art))
                for s in stations
            ],
            *([] if stations else [tags.p("No station is configured.")]),
            tags.footer(tags.nav(*links, **{"aria-label": "More"}), tags.p("Powered by txradio")),
            bodyClass="stations",
        )
        return renderHTML(request, document)

    render_HEAD = render_GET


class _StaticFile(static.File):
    """
    One of the site's own files, cached by browsers for long (its URL
    changes with its content).
    """

    def render_GET(self, request: Request) -> bytes | int:
        """
        Serve the file with long-lived caching.

        @param request: the request.
        @return: what L{static.File} returns.
        """
        if request.args.get(b"v"):
            request.setHeader(b"cache-control", b"public, max-age=31536000, immutable")
        else:
            request.setHeader(b"cache-control", b"no-cache")
        request.setHeader(b"x-content-type-options", b"nosniff")
        return static.File.render_GET(self, request)


class StaticResource(Resource):
    """
    C{/static/}: the site's style sheet, script and icon, and nothing else
    (no directory listing).
    """

    def __init__(self, directory: str = STATIC_DIR) -> None:
        """
        @param directory: the folder holding the files.
        """
        Resource.__init__(self)
        for name in sorted(os.listdir(directory)):
            extension = os.path.splitext(name)[1]
            if name.startswith(".") or extension not in _STATIC_TYPES:
                continue
            child = _StaticFile(os.path.join(directory, name), defaultType=_STATIC_TYPES[extension])
            child.type = _STATIC_TYPES[extension]
            child.encoding = None
            self.putChild(name.encode("ascii"), child)

    def getChild(self, path: bytes, request: Request) -> Resource:
        """
        Nothing but the known files.

        @param path: the segment.
        @param request: the request.
        @return: a 404 page.
        """
        return NoResource("No such file.")

    def render(self, request: Request) -> bytes:
        """
        No listing of the folder.

        @param request: the request.
        @return: a 404 page.
        """
        request.setResponseCode(http.NOT_FOUND)
        return NoResource("No such file.").render(request)
