# -*- test-case-name: tests.test_web_status -*-
"""
The JSON API under C{/api/v1/}: the radio's state for web players, widgets
and monitoring, with more than Icecast's status (title history, uptime,
bytes sent, the library's search).  Read-only, public, and readable from
any origin (CORS C{*}).  See C{docs/api.md}.
"""

from __future__ import annotations

from typing import Any

from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web import http
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from txradio._version import __version__
from txradio.web.art import withArt
from txradio.web.requests import RequestsResource
from txradio.web.status import (
    SERVER_ID,
    JSONResource,
    PreflightMixin,
    WebContext,
    baseURL,
    isoTime,
    mountStatus,
    renderJSON,
    titleHistory,
)

API_PREFIX = "/api/v1"


def _notFound(message: str) -> tuple[int, Any]:
    """
    A JSON 404.

    @param message: what was not found.
    @return: C{(404, {"error": message})}.
    """
    return http.NOT_FOUND, {"error": message}


class StatusResource(JSONResource):
    """
    C{/api/v1/status}: the server and every mount.
    """

    def __init__(self, context: WebContext, library: Any = None) -> None:
        """
        @param context: the site's shared state.
        @param library: the L{txradio.library.index.Library}, or L{None}.
        """
        JSONResource.__init__(self, context)
        self.library = library

    def data(self, request: Request) -> tuple[int, Any]:
        """
        Build the status.

        @param request: the request.
        @return: 200 and the document.
        """
        base = baseURL(request, self.context.publicURL)
        now = self.context.clock.seconds()
        library: dict[str, Any] = {"enabled": self.library is not None}
        if self.library is not None:
            library.update(
                {
                    "url": base + "/library/",
                    "songs": len(self.library.index) if self.library.index is not None else None,
                    "indexing": self.library.indexing,
                    "indexedAt": isoTime(self.library.indexedAt),
                }
            )
        return http.OK, {
            "server": {
                "id": SERVER_ID,
                "version": __version__,
                "startedAt": isoTime(self.context.startedAt),
                "uptime": round(now - self.context.startedAt, 3),
                "now": isoTime(now),
            },
            "mounts": [
                withArt(mountStatus(station, base, now, self.context.hls.get(station.mount)), station, base, self.context.art)
                for station in self.context.stations
            ],
            "library": library,
        }


class MountsResource(JSONResource):
    """
    C{/api/v1/mounts}, C{/api/v1/mounts/MOUNT} and
    C{/api/v1/mounts/MOUNT/history}.  A mount's path may have several
    segments (C{/api/v1/mounts/live/hi} is the mount C{/live/hi}).
    """

    def data(self, request: Request) -> tuple[int, Any]:
        """
        Find the mount named by the rest of the path.

        @param request: the request.
        @return: the status code and document.
        """
        base = baseURL(request, self.context.publicURL)
        now = self.context.clock.seconds()
        segments = [s for s in request.postpath]
        if segments and segments[-1] == b"":
            segments.pop()
        if not segments:
            return http.OK, {
                "mounts": [
                    withArt(mountStatus(s, base, now, self.context.hls.get(s.mount)), s, base, self.context.art)
                    for s in self.context.stations
                ]
            }
        whole = self.context.station(b"/" + b"/".join(segments))
        if whole is not None:
            return http.OK, withArt(
                mountStatus(whole, base, now, self.context.hls.get(whole.mount)), whole, base, self.context.art
            )
        if segments[-1] == b"history" and len(segments) > 1:
            station = self.context.station(b"/" + b"/".join(segments[:-1]))
            if station is not None:
                return http.OK, {"mount": station.mount.decode("ascii"), "history": titleHistory(station)}
        return _notFound("no such mount")


class LibrarySearchResource(PreflightMixin, Resource):
    """
    C{/api/v1/library/search?q=…}: search the library; C{/api/v1/library}:
    the state of its index.
    """

    isLeaf = True
    _log = Logger()

    def __init__(self, context: WebContext, library: Any) -> None:
        """
        @param context: the site's shared state.
        @param library: the L{txradio.library.index.Library}.
        """
        Resource.__init__(self)
        self.context = context
        self.library = library

    def render_GET(self, request: Request) -> bytes | int:
        """
        Search, or describe the index.

        @param request: the request.
        @return: the JSON body, or C{NOT_DONE_YET} while searching.
        """
        from txradio.library.index import LibraryBusy, entryURL, fullTitle, songTitle

        library = self.library
        segments = [s for s in request.postpath if s]
        if not segments:
            return renderJSON(
                request,
                {
                    "songs": len(library.index) if library.index is not None else None,
                    "indexing": library.indexing,
                    "indexedAt": isoTime(library.indexedAt),
                    "truncated": library.indexTruncated,
                },
            )
        if segments != [b"search"]:
            return renderJSON(request, {"error": "not found"}, http.NOT_FOUND)
        query = request.args.get(b"q", [b""])[0].decode("utf-8", "replace")
        try:
            searching = library.search(query)
        except LibraryBusy:
            request.setHeader(b"retry-after", b"5")
            return renderJSON(request, {"error": "the library is busy"}, http.SERVICE_UNAVAILABLE)
        base = baseURL(request, self.context.publicURL)
        gone: list[bool] = []
        request.notifyFinish().addErrback(lambda _: gone.append(True))

        def answer(found: Any) -> None:
            results, more = found
            body: dict[str, Any] = {"query": query, "indexing": library.indexing, "more": more}
            if results is None:
                body["results"] = None
            else:
                body["results"] = [
                    {
                        "path": entry.relative.decode("utf-8", "replace"),
                        "url": base + entryURL(entry.relative),
                        "title": songTitle(entry),
                        "fullTitle": fullTitle(entry),
                        "artist": entry.tags.artist,
                        "album": entry.tags.album,
                        "duration": entry.tags.duration,
                        "size": entry.size,
                    }
                    for entry in results
                ]
            if not gone:
                request.write(renderJSON(request, body))
                request.finish()

        def failed(reason: Failure) -> None:
            self._log.failure("library search", reason)
            if not gone:
                request.write(renderJSON(request, {"error": "search failed"}, http.INTERNAL_SERVER_ERROR))
                request.finish()

        searching.addCallback(answer).addErrback(failed)
        return NOT_DONE_YET

    render_HEAD = render_GET


class APIVersion1(PreflightMixin, Resource):
    """
    C{/api/v1/}: the API's index and its resources.
    """

    def __init__(self, context: WebContext, library: Any = None) -> None:
        """
        @param context: the site's shared state.
        @param library: the library, or L{None} when it is off.
        """
        Resource.__init__(self)
        self.context = context
        self.putChild(b"status", StatusResource(context, library))
        self.putChild(b"mounts", MountsResource(context))
        self.putChild(b"requests", RequestsResource(context, library))
        if library is not None:
            self.putChild(b"library", LibrarySearchResource(context, library))

    def getChild(self, path: bytes, request: Request) -> Resource:
        """
        Unknown API paths get a JSON 404.

        @param path: the segment.
        @param request: the request.
        @return: a resource answering 404.
        """
        if path == b"":
            return self
        return _JSONNotFound(self.context)

    def render_GET(self, request: Request) -> bytes:
        """
        List the API's resources.

        @param request: the request.
        @return: the JSON body.
        """
        base = baseURL(request, self.context.publicURL) + API_PREFIX
        endpoints = {
            "status": base + "/status",
            "mounts": base + "/mounts",
            "mount": base + "/mounts/{mount}",
            "history": base + "/mounts/{mount}/history",
            "requests": base + "/requests",
        }
        if b"library" in self.children:
            endpoints["librarySearch"] = base + "/library/search?q={query}"
        return renderJSON(request, {"version": 1, "endpoints": endpoints})

    render_HEAD = render_GET


class _JSONNotFound(JSONResource):
    """
    A JSON 404 for any path.
    """

    def data(self, request: Request) -> tuple[int, Any]:
        """
        @param request: the request.
        @return: 404.
        """
        return _notFound("no such API resource")


class APIRoot(Resource):
    """
    C{/api/}: holds the versions.
    """

    def __init__(self, context: WebContext, library: Any = None) -> None:
        """
        @param context: the site's shared state.
        @param library: the library, or L{None}.
        """
        Resource.__init__(self)
        self.context = context
        self.putChild(b"v1", APIVersion1(context, library))

    def getChild(self, path: bytes, request: Request) -> Resource:
        """
        Unknown versions get a JSON 404.

        @param path: the segment.
        @param request: the request.
        @return: a resource answering 404, or this one for C{/api/}.
        """
        if path == b"":
            return self
        return _JSONNotFound(self.context)

    def render_GET(self, request: Request) -> bytes:
        """
        Point at the current version.

        @param request: the request.
        @return: the JSON body.
        """
        return renderJSON(request, {"versions": [baseURL(request, self.context.publicURL) + API_PREFIX + "/"]})
