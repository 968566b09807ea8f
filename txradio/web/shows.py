# -*- test-case-name: tests.test_recordings -*-
"""
The podcast of a mount's recorded shows: the feed at C{/MOUNT/shows.rss}
(RSS 2.0 with the iTunes tags, L{txradio.wire.shows.podcastFeed}) and each
recording at C{/MOUNT/shows/FILE.mp3}, served as the library serves songs
(L{txradio.web.browse.serveSong}: C{Range}, C{ETag}, C{HEAD}, exact
C{Content-Length}).

Only finished recordings are listed and served, and only files whose names
are recordings' names, found in that mount's own folder: a name that is not
in the listing (a traversal, a file being written, a cue sheet) is a 404.
"""

from __future__ import annotations

import os
import time
from typing import Any
from urllib.parse import quote, unquote_to_bytes

from twisted.web import http
from twisted.web.resource import Resource
from twisted.web.server import Request

from txradio.operations.recordings import RECORDING_NAME, Recorder
from txradio.web.browse import serveSong
from txradio.web.status import allowCORS, baseURL
from txradio.wire.shows import FeedItem, podcastFeed

FEED_NAME = b"/shows.rss"
"""The feed's path below its mount."""

FILES = b"/shows/"
"""The folder of the recordings below their mount."""


def _notFound(request: Request) -> bytes:
    request.setResponseCode(http.NOT_FOUND)
    request.setHeader(b"content-type", b"text/plain; charset=utf-8")
    return b"There is no such recording.\n"


class ShowsFeedResource(Resource):
    """
    A mount's podcast feed.
    """

    isLeaf = True

    def __init__(self, station: Any, recorder: Recorder, publicURL: str | None = None) -> None:
        """
        @param station: the station (its name, description and page).
        @param recorder: its L{Recorder}.
        @param publicURL: a configured base URL, or L{None}.
        """
        Resource.__init__(self)
        self.station = station
        self.recorder = recorder
        self.publicURL = publicURL

    def render_GET(self, request: Request) -> bytes:
        """
        @return: the feed (the folder is listed on each request: it holds at
            most C{recordings_keep} recordings, and their cue sheets' first
            lines are read).
        """
        base = baseURL(request, self.publicURL)
        mount = self.station.mount.decode("ascii")
        info = self.station.info
        items = [
            FeedItem(
                title=f"{recording.show}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(recording.started))}",
                guid=recording.name,
                published=recording.started,
                url=base + quote(mount) + "/shows/" + quote(recording.name),
                length=recording.size,
                duration=recording.seconds,
            )
            for recording in self.recorder.finished()
        ]
        body = podcastFeed(
            title=f"{info.name} shows",
            link=info.url or base + "/",
            description=info.description or f"The live shows of {info.name}, recorded.",
            items=items,
            author=info.name,
        )
        allowCORS(request)
        request.setHeader(b"content-type", b"application/rss+xml; charset=utf-8")
        request.setHeader(b"cache-control", b"no-cache")
        return body


class ShowFileResource(Resource):
    """
    The recordings of a mount, by file name.
    """

    isLeaf = True

    def __init__(self, recorder: Recorder) -> None:
        """
        @param recorder: the mount's L{Recorder}.
        """
        Resource.__init__(self)
        self.recorder = recorder

    def render_GET(self, request: Request) -> bytes | int:
        """
        Serve one finished recording, with ranges and validators.

        @return: the file, or a 404.
        """
        assert request.path is not None
        raw = request.path.rpartition(FILES)[2]
        try:
            name = unquote_to_bytes(raw).decode("ascii")
        except UnicodeDecodeError:
            return _notFound(request)
        if RECORDING_NAME.match(name) is None:
            return _notFound(request)
        found = {recording.name: recording for recording in self.recorder.finished()}
        recording = found.get(name)
        if recording is None:
            return _notFound(request)
        try:
            info = os.stat(recording.path)
        except OSError:
            return _notFound(request)
        return serveSong(request, os.fsencode(recording.path), info)

    render_HEAD = render_GET


class ShowsRoutes:
    """
    The feed and file resources of every recorded mount.

    @ivar paths: the feeds by full path.
    """

    def __init__(self) -> None:
        self.paths: dict[bytes, Resource] = {}
        self._files: dict[bytes, Resource] = {}

    def update(self, stations: Any, publicURL: str | None) -> None:
        """
        Serve the stations that have a recorder (C{station.recorder}).

        @param stations: every station.
        @param publicURL: a configured base URL, or L{None}.
        """
        self.paths = {}
        self._files = {}
        for station in stations:
            recorder = station.recorder
            if recorder is None:
                continue
            self.paths[station.mount + FEED_NAME] = ShowsFeedResource(station, recorder, publicURL)
            self._files[station.mount] = ShowFileResource(recorder)

    def resourceFor(self, path: bytes) -> Resource | None:
        """
        @param path: a request's path, e.g. C{b"/stream/shows/x.mp3"}.
        @return: the mount's L{ShowFileResource}, or L{None}.
        """
        mount, found, rest = path.rpartition(FILES)
        if not found or b"/" in rest or not rest:
            return None
        return self._files.get(mount)
