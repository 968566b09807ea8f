# -*- test-case-name: tests.test_requests_web -*-
"""
C{/api/v1/requests}: listeners ask for songs of the library.

C{GET} lists every mount's queue (public, CORS C{*}).  C{POST} with a JSON
body C{{"path": "Jazz/song.mp3", "mount": "/stream"}} queues a song on a
mount that takes requests (L{txradio.sources.requests.RequestQueue}).

Forgery: the body must be sent as C{Content-Type: application/json}, which
a page on another site can only send after a CORS preflight, and the
preflight here allows C{GET} alone; a request whose C{Origin} is another
host is refused too.  The replies to C{POST} carry no CORS header.
"""

from __future__ import annotations

import json
import os
import stat
from contextlib import suppress
from typing import Any
from urllib.parse import urlsplit

from twisted.internet.defer import Deferred, succeed
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web import http
from twisted.web.server import NOT_DONE_YET, Request

from txradio.library.index import LibraryBusy, PathRefused, TrackTags, displayName, readTrackTags
from txradio.sources.requests import QueueFull, Refused
from txradio.sources.tags import titleFromName
from txradio.web.status import JSONResource, WebContext, isoTime, renderJSON
from txradio.web.upcoming import queueJSON, requestQueueOf, requestTimes

MAX_BODY = 4096
"""The largest request body read, in bytes."""

MAX_PATH = 1024
"""The longest song path accepted, in characters."""

TOO_MANY_REQUESTS = 429
"""HTTP 429 (not in twisted.web.http)."""

PLAYABLE = (b".mp3",)
"""What a playlist can air: the library serves more than it plays."""


class RequestError(Exception):
    """
    A request answered with an error.

    @ivar code: the status code.
    @ivar message: why.
    @ivar retryAfter: seconds for C{Retry-After}, or L{None}.
    """

    def __init__(self, code: int, message: str, retryAfter: int | None = None) -> None:
        Exception.__init__(self, message)
        self.code = code
        self.message = message
        self.retryAfter = retryAfter


def readBody(request: Request) -> dict[str, Any]:
    """
    Read a request's JSON body, refusing what a cross-site form could send.

    @param request: a C{POST}.
    @return: the body's object.
    @raise RequestError: 415 without C{application/json}, 403 from another
        origin, 413 for a large body, 400 for a malformed one.
    """
    contentType = (request.getHeader(b"content-type") or b"").split(b";")[0].strip().lower()
    if contentType != b"application/json":
        raise RequestError(http.UNSUPPORTED_MEDIA_TYPE, "send the request as JSON (Content-Type: application/json)")
    origin = request.getHeader(b"origin")
    if origin is not None:
        host = request.getHeader(b"host") or b""
        if urlsplit(origin.decode("latin-1")).netloc.encode("latin-1").lower() != host.lower():
            raise RequestError(http.FORBIDDEN, "requests from other sites' pages are refused")
    body = request.content.read(MAX_BODY + 1) if request.content is not None else b""
    if len(body) > MAX_BODY:
        raise RequestError(http.REQUEST_ENTITY_TOO_LARGE, f"the body may have at most {MAX_BODY} bytes")
    value: Any = None
    with suppress(UnicodeDecodeError, ValueError):
        value = json.loads(body.decode("utf-8"))
    if not isinstance(value, dict):
        raise RequestError(http.BAD_REQUEST, 'the body must be a JSON object: {"path": "…"}')
    path, mount = value.get("path"), value.get("mount")
    if not isinstance(path, str) or not path.strip("/") or len(path) > MAX_PATH:
        raise RequestError(http.BAD_REQUEST, '"path" must be a song\'s path in the library')
    if mount is not None and not isinstance(mount, str):
        raise RequestError(http.BAD_REQUEST, '"mount" must be a mount\'s path')
    return value


class RequestsResource(JSONResource):
    """
    C{/api/v1/requests}: the queues, and new requests.
    """

    _log = Logger()

    def __init__(self, context: WebContext, library: Any = None) -> None:
        """
        @param context: the site's shared state.
        @param library: the L{txradio.library.index.Library} songs are
            requested from, or L{None} (every request is then refused).
        """
        JSONResource.__init__(self, context)
        self.library = library

    def data(self, request: Request) -> tuple[int, Any]:
        """
        @param request: a C{GET}.
        @return: 200 and every mount's queue.
        """
        mounts = []
        for station in self.context.stations:
            queue = requestQueueOf(station)
            if queue is not None:
                requests = queueJSON(queue, isoTime, requestTimes(station))
                mounts.append({"mount": station.mount.decode("ascii"), "requests": requests})
        return http.OK, {"mounts": mounts}

    def render_POST(self, request: Request) -> bytes | int:
        """
        Queue a song.

        @param request: the request.
        @return: the JSON reply, or C{NOT_DONE_YET} while its tags are read.
        """
        try:
            body = readBody(request)
            station, queue = self._queue(body.get("mount"))
            real, relative, info = self._song(body["path"])
            tags = self._tags(real, info)
        except RequestError as error:
            return self._error(request, error)
        gone: list[bool] = []
        request.notifyFinish().addErrback(lambda _: gone.append(True))
        address = request.getClientAddress()
        host = getattr(address, "host", "") or str(address)

        def queued(tags: TrackTags) -> None:
            title = tags.title or titleFromName(displayName(real.rsplit(b"/", 1)[-1]))
            try:
                position = queue.add(os.fsdecode(real), relative, title, tags.artist, host)
            except QueueFull as full:
                reply = self._error(request, RequestError(http.SERVICE_UNAVAILABLE, full.message))
            except Refused as refused:
                reply = self._error(request, RequestError(TOO_MANY_REQUESTS, refused.message, refused.retryAfter))
            else:
                self._log.info("{mount}: {title} requested ({position} in the queue)", mount=station.mount, title=title, position=position)
                times = requestTimes(station)
                reply = renderJSON(
                    request,
                    {
                        "mount": station.mount.decode("ascii"),
                        "position": position,
                        "path": relative,
                        "title": title,
                        "artist": tags.artist,
                        "expected": isoTime(times[position - 1]) if position <= len(times) else None,
                    },
                    http.CREATED,
                    cors=False,
                )
            if not gone:
                request.write(reply)
                request.finish()

        def failed(reason: Failure) -> None:
            self._log.failure("reading a requested song's tags", reason)
            if not gone:
                request.write(self._error(request, RequestError(http.INTERNAL_SERVER_ERROR, "the song cannot be read")))
                request.finish()

        tags.addCallback(queued).addErrback(failed)
        return NOT_DONE_YET

    def _queue(self, mount: str | None) -> tuple[Any, Any]:
        """
        @param mount: the mount asked for, or L{None} for the default one.
        @return: the station and its request queue.
        @raise RequestError: 404 for an unknown mount, 409 for one that
            takes no requests.
        """
        stations = self.context.stations
        station = self.context.station(mount) if mount is not None else (stations[0] if stations else None)
        if station is None:
            raise RequestError(http.NOT_FOUND, "no such mount")
        queue = requestQueueOf(station)
        if queue is None or self.library is None:
            raise RequestError(http.CONFLICT, f"{station.mount.decode('ascii')} takes no requests")
        return station, queue

    def _song(self, path: str) -> tuple[bytes, str, os.stat_result]:
        """
        @param path: a song's path relative to the library's root.
        @return: its real path, its path as given (normalized), and its C{stat}.
        @raise RequestError: 404 unless it is an MP3 file in the library,
            by the library's path rules.
        """
        segments = [os.fsencode(segment) for segment in path.strip("/").split("/")]
        try:
            real, info = self.library.resolve(segments)
        except (PathRefused, UnicodeError):
            raise RequestError(http.NOT_FOUND, "no such song in the library") from None
        if not stat.S_ISREG(info.st_mode) or not real.lower().endswith(PLAYABLE):
            raise RequestError(http.NOT_FOUND, "no such song in the library (only MP3 files can be requested)")
        return real, "/".join(os.fsdecode(s) for s in segments), info

    def _tags(self, real: bytes, info: os.stat_result) -> Deferred:
        """
        @param real: a song's real path.
        @param info: its C{stat}.
        @return: a L{Deferred} of its tags (read in a thread unless cached).
        @raise RequestError: 503 when the library is busy.
        """
        cached = self.library.cachedTags(real, info)
        if cached is not None:
            return succeed(cached)
        try:
            return self.library.run(readTrackTags, real)
        except LibraryBusy:
            raise RequestError(http.SERVICE_UNAVAILABLE, "the library is busy: try again in a few seconds", 5) from None

    def _error(self, request: Request, error: RequestError) -> bytes:
        """
        @param request: the request.
        @param error: what went wrong.
        @return: the JSON reply, with C{Retry-After} when waiting helps.
        """
        body: dict[str, Any] = {"error": error.message}
        if error.retryAfter is not None:
            request.setHeader(b"retry-after", str(error.retryAfter).encode("ascii"))
            body["retryAfter"] = error.retryAfter
        return renderJSON(request, body, error.code, cors=False)
