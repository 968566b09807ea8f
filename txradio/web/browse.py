# -*- test-case-name: tests.test_library -*-
"""
The library's web pages and files: C{/library/…} as folder pages (paged),
M3U playlists of a folder (C{?m3u}), of a sub-tree (C{?m3u=tree}) or of a
search (C{?q=…&m3u}), search results (C{?q=…}) and the songs themselves.

The path rules and the blocking work live in L{txradio.library.index}; this
module turns their results into responses.  Rendered pages and playlists are
kept in a bounded cache (L{BODY_CACHE_SIZE}, L{BODY_CACHE_BYTES}) for as
long as the library answer they were made from is the one the library
gives, so a popular folder costs one stat and one dictionary look-up.
Playlists are written by a producer, a slice at a time between other
work, rather than built in one piece.
"""

from __future__ import annotations

import math
import os
import stat
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote, unquote_to_bytes

from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.interfaces import IPushProducer, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web import http, static
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request
from twisted.web.template import Tag, tags

from zope.interface import implementer

from txradio.library.art import ArtCache
from txradio.library.cache import VersionedCache
from txradio.library.index import (
    AUDIO_TYPES,
    MAX_FOLDER_ENTRIES,
    MAX_QUERY,
    RETRY_AFTER,
    Entry,
    FolderListing,
    IndexEntry,
    Library,
    LibraryBusy,
    PathRefused,
    TrackTags,
    displayName,
    entryURL,
    formatDuration,
    formatSize,
    fullTitle,
    searchTerms,
    songTitle,
)
from txradio.web.libraryart import folderArt
from txradio.web.page import flattenHTML, layout, renderHTML, setPageHeaders
from txradio.web.status import allowCORS, baseURL
from txradio.wire.icy import cleanTitle

MAX_RANGES = 16
"""
Requests for more ranges than this are answered with the whole file, as
servers do since many tiny overlapping ranges were used to exhaust them.
"""

CACHE_CONTROL = b"public, max-age=3600"
"""How long clients may keep a song without asking again."""

BODY_CACHE_SIZE = 1024
"""Rendered library pages and playlists kept at most."""

BODY_CACHE_BYTES = 64 * 1024 * 1024
"""Bytes of rendered library pages and playlists kept at most."""

PLAYLIST_SLICE = 256
"""Songs written per turn of the reactor by a playlist producer."""


def _etag(info: os.stat_result) -> bytes:
    """
    A strong entity tag for a file's current content.

    @param info: its C{stat}.
    @return: e.g. C{b'"5f1e-3c2a1b"'}.
    """
    return b'"%x-%x-%x"' % (info.st_mtime_ns, info.st_size, info.st_ino)


def _tagList(value: bytes) -> list[bytes]:
    """
    Split an C{If-None-Match} value.

    @param value: the header's value.
    @return: the entity tags, weakness prefixes dropped.
    """
    tagsFound = []
    for item in value.split(b","):
        item = item.strip()
        if item.startswith(b"W/"):
            item = item[2:]
        if item:
            tagsFound.append(item)
    return tagsFound


class _SongFile(static.File):
    """
    L{static.File} for one song, with the library's content types.
    """

    contentTypes = {k.decode("ascii"): v for k, v in AUDIO_TYPES.items()}
    contentEncodings: dict[str, str] = {}

    def _rangeToOffsetAndSize(self, start: int | None, end: int | None) -> tuple[int, int]:
        # twisted.web.static turns a suffix range longer than the file
        # ("bytes=-2000" on 1000 bytes) into a negative offset, and seeking
        # there failed with a 500 (found by fuzz/targets.py fuzzRange).  RFC
        # 9110 section 14.1.2: such a suffix selects the whole file.
        offset, size = super()._rangeToOffsetAndSize(start, end)
        if offset < 0:
            offset, size = 0, offset + size
        return offset, size

    def _doMultipleRangeRequest(self, request: Request, byteRanges: list) -> list:
        # When none of several ranges lies in the file ("bytes=1000-,2000-"
        # on 1000 bytes), twisted.web.static sets 416 but returns the tuple
        # ([], b"") where its producer wants a list of parts, and failed with
        # a 500 (found by fuzz/targets.py fuzzRange): send the empty 416 body.
        rangeInfo = super()._doMultipleRangeRequest(request, byteRanges)
        if isinstance(rangeInfo, tuple):
            return [(b"", 0, 0)]
        return rangeInfo


def serveSong(request: Request, real: bytes, info: os.stat_result) -> bytes | int:
    """
    Serve a song file with validators, ranges and CORS.

    @param request: the request (C{GET} or C{HEAD}).
    @param real: the file's real path (checked by L{Library.resolve}).
    @param info: its C{stat}.
    @return: what L{static.File} returns, or an empty body for 304.
    """
    etag = _etag(info)
    allowCORS(request)
    request.setHeader(b"access-control-expose-headers", b"content-length, content-range, accept-ranges, etag")
    request.setHeader(b"etag", etag)
    request.setHeader(b"cache-control", CACHE_CONTROL)
    request.setHeader(b"x-content-type-options", b"nosniff")
    headers = request.requestHeaders
    match = request.getHeader(b"if-match")
    if match is not None:
        # Players (VLC) send the tag back when they seek: a file that changed
        # since must not be spliced into what they have (RFC 9110 13.1.1,
        # strong comparison).
        candidates = [tag.strip() for tag in match.split(b",")]
        if b"*" not in candidates and etag not in candidates:
            request.setResponseCode(http.PRECONDITION_FAILED)
            return b""
    noneMatch = request.getHeader(b"if-none-match")
    if noneMatch is not None:
        # RFC 9110 13.1.3: If-None-Match wins over If-Modified-Since.
        headers.removeHeader(b"if-modified-since")
        candidates = _tagList(noneMatch)
        if b"*" in candidates or etag in candidates:
            request.setResponseCode(http.NOT_MODIFIED)
            request.setLastModified(info.st_mtime)
            return b""
    ifRange = request.getHeader(b"if-range")
    if ifRange is not None and request.getHeader(b"range") is not None:
        ifRange = ifRange.strip()
        if ifRange.startswith((b'"', b"W/")):
            keep = ifRange == etag
        else:
            # Last-Modified is the modification time rounded up (see setLastModified).
            keep = ifRange == http.datetimeToString(math.ceil(info.st_mtime))
        if not keep:
            headers.removeHeader(b"range")
    byteRange = request.getHeader(b"range")
    if byteRange is not None and (byteRange.count(b",") >= MAX_RANGES or not byteRange.isascii()):
        # A Range that is not ASCII is malformed anyway, and twisted.web.static
        # logs a malformed one with .decode(), which raised UnicodeDecodeError
        # for non-UTF-8 bytes and answered 500 (found by fuzz/targets.py
        # fuzzRange): serve the whole file, as for any malformed Range.
        headers.removeHeader(b"range")
    song = _SongFile(os.fsdecode(real))
    song.type = AUDIO_TYPES[os.path.splitext(real)[1].lower()]
    song.encoding = None
    byteRange = request.getHeader(b"range")
    if byteRange is not None:
        try:
            ranges = song._parseRangeHeader(byteRange)
        except ValueError:
            pass  # malformed: twisted.web.static ignores it itself
        else:
            # "bytes=" names no range at all: twisted.web.static took it for
            # a multipart request of zero parts and failed with a 500.  And
            # overlapping ranges ("bytes=0-,0-,0-…") made it send the file
            # once per range, up to MAX_RANGES times (the amplification of
            # CVE-2011-3192).  Both found by fuzz/targets.py fuzzRange: serve
            # the file once instead (RFC 9110 section 14.2 allows it).
            total = sum(song._rangeToOffsetAndSize(start, end)[1] for start, end in ranges)
            if not ranges or (len(ranges) > 1 and total > info.st_size):
                headers.removeHeader(b"range")
    return song.render(request)


def _m3uSlices(entries: list[Entry] | list[IndexEntry], base: str, size: int = PLAYLIST_SLICE) -> Iterator[bytes]:
    """
    Build an extended M3U playlist of songs a slice at a time.

    @param entries: the songs.
    @param base: the absolute URL prefix.
    @param size: songs per slice.
    @return: the playlist's pieces, UTF-8 with CRLF line ends; joined, they
        are L{_m3u}'s bytes.
    """
    yield b"#EXTM3U\r\n"
    for start in range(0, len(entries), size):
        lines = []
        for entry in entries[start : start + size]:
            duration = entry.tags.duration if entry.tags is not None else None
            seconds = int(round(duration)) if duration is not None else -1
            lines.append(f"#EXTINF:{seconds},{cleanTitle(fullTitle(entry))}\r\n")
            lines.append(base + entryURL(entry.relative) + "\r\n")
        yield "".join(lines).encode("utf-8")


def _m3u(entries: list[Entry] | list[IndexEntry], base: str) -> bytes:
    """
    Build an extended M3U playlist of songs in one piece.

    @param entries: the songs.
    @param base: the absolute URL prefix.
    @return: the playlist, UTF-8 with CRLF line ends.
    """
    return b"".join(_m3uSlices(entries, base))


@implementer(IPushProducer)
class PlaylistProducer:
    """
    Write a body to a request a slice at a time, one slice per turn of the
    reactor so that other requests are answered in between, pausing while
    the client's buffer is full.

    @ivar written: bytes written so far.
    @ivar done: a L{Deferred} that fires with the whole body (the slices
        joined, when at most C{keepAtMost} bytes) or L{None} once the last
        slice is written, or with L{None} when the client left.
    """

    def __init__(
        self,
        request: Request,
        slices: Iterator[bytes],
        clock: IReactorTime,
        keepAtMost: int = 0,
    ) -> None:
        """
        @param request: the request to answer.
        @param slices: the body's pieces.
        @param clock: schedules the next slice.
        @param keepAtMost: keep the slices (for a cache) while their total
            stays within this many bytes.
        """
        self._request = request
        self._slices = slices
        self._clock = clock
        self._keepAtMost = keepAtMost
        self._kept: list[bytes] | None = [] if keepAtMost > 0 else None
        self._paused = False
        self._stopped = False
        self._call: Any = None
        self.written = 0
        self.done: Deferred = Deferred()

    def start(self) -> None:
        """
        Register with the request and write the first slice soon.
        """
        self._request.registerProducer(self, True)
        self._schedule()

    def _schedule(self) -> None:
        if self._call is None and not self._paused and not self._stopped:
            self._call = self._clock.callLater(0, self._writeSlice)

    def _writeSlice(self) -> None:
        """
        Write one slice, then schedule the next, or finish.
        """
        self._call = None
        if self._paused or self._stopped:
            return
        piece = next(self._slices, None)
        if piece is None:
            self._stopped = True
            self._request.unregisterProducer()
            self._request.finish()
            body = b"".join(self._kept) if self._kept is not None else None
            self.done.callback(body)
            return
        self.written += len(piece)
        if self._kept is not None:
            if self.written <= self._keepAtMost:
                self._kept.append(piece)
            else:
                self._kept = None
        self._request.write(piece)
        self._schedule()

    def pauseProducing(self) -> None:
        """
        The client's buffer is full: stop writing.
        """
        self._paused = True
        if self._call is not None and self._call.active():
            self._call.cancel()
        self._call = None

    def resumeProducing(self) -> None:
        """
        The client's buffer drained: write again.
        """
        self._paused = False
        self._schedule()

    def stopProducing(self) -> None:
        """
        The client left: write nothing more.
        """
        if self._stopped:
            return
        self._stopped = True
        if self._call is not None and self._call.active():
            self._call.cancel()
        self._call = None
        self.done.callback(None)


def _asciiName(text: str) -> str:
    """
    A safe file name for C{Content-Disposition}.

    @param text: a folder's name.
    @return: letters, digits, spaces, C{-}, C{_} and C{.} only.
    """
    kept = "".join(c for c in text if c.isascii() and (c.isalnum() or c in " -_.")).strip(" .")
    return kept[:80] or "library"


class LibraryResource(Resource):
    """
    C{/library/…}: folders as pages (C{?page=N}), their songs as M3U
    (C{?m3u}, or C{?m3u=tree} with sub-folders), searches (C{?q=…}, within
    the folder) and the songs themselves.
    """

    isLeaf = True
    _log = Logger()

    def __init__(self, library: Library, publicURL: str | None = None, art: ArtCache | None = None) -> None:
        """
        @param library: the library.
        @param publicURL: a configured base URL, or L{None}.
        @param art: the album art, or L{None} for folder pages without.
        """
        Resource.__init__(self)
        self.library = library
        self.publicURL = publicURL
        self.art = art
        self.bodies: VersionedCache[tuple[Any, bytes]] = VersionedCache(
            BODY_CACHE_SIZE if library.cached else 0, BODY_CACHE_BYTES
        )
        library.listedObservers.append(self.prerender)

    def prerender(self, relative: bytes, listing: FolderListing) -> None:
        """
        Render a folder page the library listed while warming its caches,
        so that its first visitor gets it from the body cache.

        @param relative: the folder's path from the root.
        @param listing: its first page.
        """
        key = ("folder", relative, listing.page)
        if self._cachedBody(key, listing) is None:
            self._keepBody(key, listing, flattenHTML(self._folderDocument(listing, relative)))

    def render_GET(self, request: Request) -> bytes | int:
        """
        Answer a library request.

        @param request: the request.
        @return: a body, or C{NOT_DONE_YET} while a thread works.
        """
        segments = list(request.postpath)
        if not segments:
            # /library without the slash.
            return self._redirect(request, "/library/")
        folderRequest = segments[-1] == b""
        if folderRequest:
            segments.pop()
        try:
            real, info = self.library.resolve(segments)
        except PathRefused:
            return self._notFound(request)
        relative = b"/".join(segments)
        isFolder = stat.S_ISDIR(info.st_mode)
        if not isFolder:
            if folderRequest:
                return self._notFound(request)
            return serveSong(request, real, info)
        if not folderRequest:
            return self._redirect(request, entryURL(relative, True))
        fields = queryFields(request)
        try:
            query = fields.get(b"q", b"").decode("utf-8", "replace")
            playlist = fields.get(b"m3u")
            if searchTerms(query):
                if playlist is not None:
                    return self._later(request, self.library.search(query, relative), self._resultsPlaylist, relative)
                return self._later(request, self.library.search(query, relative), self._results, relative, query)
            if playlist is not None:
                recursive = playlist == b"tree"
                return self._later(
                    request, self.library.songs(real, relative, recursive, info), self._playlist, relative
                )
            return self._later(
                request, self.library.listFolder(real, relative, _page(request), info), self._folder, relative
            )
        except LibraryBusy:
            return self._busy(request)

    def _busy(self, request: Request) -> bytes:
        """
        Answer 503 when the library's wait queue is full or a request waited
        too long.

        @param request: the request.
        @return: the body.
        """
        request.setResponseCode(http.SERVICE_UNAVAILABLE)
        request.setHeader(b"retry-after", b"%d" % RETRY_AFTER)
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        return b"The library is busy; try again in a moment.\n"

    def _cachedBody(self, key: Any, source: Any) -> bytes | None:
        """
        A page or playlist rendered before from the same library answer.

        @param key: what was asked.
        @param source: the library's answer (a listing, song list or search
            result), compared by identity.
        @return: the body, or L{None}.
        """
        found = self.bodies.get(key, id(source))
        if found is not None and found.value[0] is source:
            return found.value[1]
        return None

    def _keepBody(self, key: Any, source: Any, body: bytes) -> None:
        """
        Keep a rendered body for as long as its source is the library's
        answer (the source is held, so its identity cannot be reused).

        @param key: what was asked.
        @param source: the library's answer.
        @param body: the rendered bytes.
        """
        self.bodies.put(key, id(source), (source, body), len(body), self.library.clock.seconds())

    def _html(self, request: Request, key: Any, source: Any, render: Callable[[], Tag]) -> bytes:
        """
        Render a page, or give the one rendered before from the same answer.

        @param request: the request.
        @param key: what was asked.
        @param source: the library's answer.
        @param render: builds the page's document.
        @return: the HTML document.
        """
        body = self._cachedBody(key, source)
        if body is not None:
            setPageHeaders(request)
            return body
        body = renderHTML(request, render())
        self._keepBody(key, source, body)
        return body

    render_HEAD = render_GET

    def _notFound(self, request: Request) -> bytes:
        """
        Answer 404, the same for every refused or missing path.

        @param request: the request.
        @return: the page.
        """
        request.setResponseCode(http.NOT_FOUND)
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        request.setHeader(b"x-content-type-options", b"nosniff")
        return b"Not found.\n"

    def _redirect(self, request: Request, location: str) -> bytes:
        """
        Redirect to the canonical address of a folder.

        @param request: the request.
        @param location: a site path built from checked segments.
        @return: an empty body.
        """
        request.setResponseCode(http.MOVED_PERMANENTLY)
        request.setHeader(b"location", location.encode("ascii"))
        return b""

    def _later(self, request: Request, work: Deferred, render: Callable[..., bytes], *args: Any) -> int:
        """
        Finish a request when a thread's work is done.

        @param request: the request.
        @param work: the L{Deferred} of the work.
        @param render: turns the result into the body (and sets headers).
        @param args: more arguments for C{render}.
        @return: C{NOT_DONE_YET}.
        """
        gone: list[bool] = []

        def left(reason: Failure) -> None:
            gone.append(True)
            # A request still waiting for a thread gives up its place.
            self.library.leave(work)

        request.notifyFinish().addErrback(left)

        def rendered(result: Any) -> None:
            if gone:
                return
            body = render(request, result, *args)
            if body is NOT_DONE_YET:
                return
            request.write(body)
            request.finish()

        def failed(reason: Failure) -> None:
            if reason.check(CancelledError):
                return
            if gone:
                return
            if reason.check(LibraryBusy):
                request.write(self._busy(request))
                request.finish()
                return
            self._log.failure("answering library request {uri}", reason, uri=request.uri)
            request.setResponseCode(http.INTERNAL_SERVER_ERROR)
            request.setHeader(b"content-type", b"text/plain; charset=utf-8")
            request.write(b"Something went wrong.\n")
            request.finish()

        work.addCallback(rendered).addErrback(failed)
        return NOT_DONE_YET

    def _resultsPlaylist(self, request: Request, found: tuple[list[IndexEntry] | None, bool], relative: bytes) -> Any:
        """
        Render search results as an M3U playlist.

        @param request: the request.
        @param found: the results (L{None} while the index is built) and
            whether there were more.
        @param relative: the folder searched.
        @return: the playlist.
        """
        return self._playlist(request, found[0] or [], relative, found)

    def _playlist(
        self,
        request: Request,
        songs: list[Entry] | list[IndexEntry],
        relative: bytes,
        source: Any = None,
    ) -> Any:
        """
        Answer with songs as an M3U playlist: a body kept from before, or
        one written a slice at a time by a L{PlaylistProducer} (and kept).

        @param request: the request.
        @param songs: the songs.
        @param relative: the folder's path from the root.
        @param source: the library's answer the songs come from (the songs
            themselves by default).
        @return: the playlist, or C{NOT_DONE_YET} while it is written.
        """
        name = _asciiName(displayName(relative.rsplit(b"/", 1)[-1])) if relative else "library"
        request.setHeader(b"content-type", b"audio/x-mpegurl; charset=utf-8")
        request.setHeader(b"content-disposition", f'inline; filename="{name}.m3u"'.encode("ascii"))
        request.setHeader(b"cache-control", b"no-cache")
        allowCORS(request)
        base = baseURL(request, self.publicURL)
        if source is None:
            source = songs
        key = ("m3u", relative, base, id(source))
        body = self._cachedBody(key, source)
        if body is not None:
            return body
        if len(songs) <= PLAYLIST_SLICE or request.method == b"HEAD":
            body = _m3u(songs, base)
            self._keepBody(key, source, body)
            return body
        producer = PlaylistProducer(
            request, _m3uSlices(songs, base), self.library.clock, BODY_CACHE_BYTES // 8 if self.bodies.maxEntries else 0
        )

        def keep(whole: bytes | None) -> None:
            if whole is not None:
                self._keepBody(key, source, whole)

        producer.done.addCallback(keep)
        producer.start()
        return NOT_DONE_YET

    def _crumbs(self, relative: bytes) -> Tag:
        """
        The links to a folder's parents.

        @param relative: the folder's path from the root.
        @return: a C{<nav>} element.
        """
        parts: list[Any] = [tags.a("Radio", href="/"), " / ", tags.a("Library", href="/library/")]
        if relative:
            segments = relative.split(b"/")
            for count in range(1, len(segments) + 1):
                parts.append(" / ")
                parts.append(tags.a(displayName(segments[count - 1]), href=entryURL(b"/".join(segments[:count]), True)))
        return tags.nav(*parts, class_="crumbs", **{"aria-label": "Folders"})

    def _toolbar(self, relative: bytes, query: str = "") -> Tag:
        """
        The search box and the playlist links of a folder.

        @param relative: the folder's path from the root.
        @param query: the query to show in the box.
        @return: a C{<div>} element.
        """
        here = entryURL(relative, True)
        label = "Search this folder" if relative else "Search the library"
        if query:
            links = [tags.a("these results", href=f"{here}?q={quote(query, safe='')}&m3u", type="audio/x-mpegurl")]
        else:
            links = [
                tags.a("this folder", href=here + "?m3u", type="audio/x-mpegurl"),
                " · ",
                tags.a("with sub-folders", href=here + "?m3u=tree", type="audio/x-mpegurl"),
            ]
        return tags.div(
            tags.form(
                tags.label(label, for_="q", class_="visually-hidden"),
                tags.input(
                    type="search",
                    name="q",
                    id="q",
                    value=query,
                    placeholder="Title, artist or album",
                    maxlength=str(MAX_QUERY),
                ),
                tags.button("Search", type="submit"),
                action=here,
                method="get",
                role="search",
            ),
            tags.p("Open in your player (M3U): ", *links, class_="playlists"),
            class_="toolbar",
        )

    def _songRow(self, entry: Entry | IndexEntry, number: int, showFolder: bool = False) -> Tag:
        """
        One song in a table.

        @param entry: the song.
        @param number: its position.
        @param showFolder: name its folder (in search results).
        @return: a C{<tr>} element.
        """
        url = entryURL(entry.relative)
        title = songTitle(entry)
        tagsFound = entry.tags or TrackTags()
        details: list[Any] = []
        if tagsFound.artist:
            details.append(tagsFound.artist)
        if showFolder and b"/" in entry.relative:
            folder = entry.relative.rsplit(b"/", 1)[0]
            details.append(tags.a("in " + displayName(folder), href=entryURL(folder, True)))
        return tags.tr(
            tags.td(tags.button("▶", type="button", class_="track", hidden="", **{"aria-label": "Play " + title})),
            tags.td(str(number), class_="num"),
            tags.td(tags.a(title, href=url), *[tags.small(d) for d in details], class_="title"),
            tags.td(tagsFound.album, class_="album"),
            tags.td(formatDuration(tagsFound.duration), class_="num"),
            tags.td(formatSize(entry.size), class_="num size"),
            **{"data-src": url, "data-title": fullTitle(entry), "data-artist": tagsFound.artist},
        )

    def _songTable(self, rows: list[Tag]) -> Tag:
        """
        The table of songs.

        @param rows: its rows.
        @return: a C{<table>} element.
        """
        return tags.table(
            tags.thead(
                tags.tr(
                    tags.th(tags.span("Play", class_="visually-hidden"), scope="col"),
                    tags.th("#", scope="col", class_="num"),
                    tags.th("Title", scope="col"),
                    tags.th("Album", scope="col", class_="album"),
                    tags.th("Length", scope="col", class_="num"),
                    tags.th("Size", scope="col", class_="num size"),
                )
            ),
            tags.tbody(*rows),
            class_="tracks",
        )

    def _pages(self, relative: bytes, page: int, pages: int, query: str = "") -> Tag | str:
        """
        Links to the other pages of a long listing.

        @param relative: the folder's path from the root.
        @param page: the page shown.
        @param pages: the number of pages.
        @param query: the search, if the listing is results.
        @return: a C{<nav>} element, or C{""} for a single page.
        """
        if pages <= 1:
            return ""
        here = entryURL(relative, True)
        extra = "&q=" + quote(query, safe="") if query else ""

        def link(number: int, text: str) -> Tag:
            return tags.a(text, href=f"{here}?page={number}{extra}")

        shown = sorted({1, pages, *range(max(1, page - 2), min(pages, page + 2) + 1)})
        items: list[Any] = []
        if page > 1:
            items.append(link(page - 1, "← Previous"))
        last = 0
        for number in shown:
            if number - last > 1:
                items.append(tags.span("…"))
            if number == page:
                items.append(tags.span(str(number), **{"aria-current": "page"}))
            else:
                items.append(link(number, str(number)))
            last = number
        if page < pages:
            items.append(link(page + 1, "Next →"))
        return tags.nav(*items, class_="pages", **{"aria-label": "Pages"})

    def _folder(self, request: Request, listing: FolderListing, relative: bytes) -> bytes:
        """
        Render a folder page, or give the one rendered from the same
        listing before.

        @param request: the request.
        @param listing: the page's entries.
        @param relative: the folder's path from the root.
        @return: the HTML document.
        """
        return self._html(
            request, ("folder", relative, listing.page), listing, lambda: self._folderDocument(listing, relative)
        )

    def _folderDocument(self, listing: FolderListing, relative: bytes) -> Tag:
        """
        Build a folder page.

        @param listing: the page's entries.
        @param relative: the folder's path from the root.
        @return: the C{<html>} element.
        """
        name = displayName(relative.rsplit(b"/", 1)[-1]) if relative else "Music library"
        folders = [e for e in listing.entries if e.isFolder]
        songs = [e for e in listing.entries if not e.isFolder]
        # Songs are numbered from 1 across pages; folders come first.
        firstSong = max(0, (listing.page - 1) * self.library.pageSize - listing.folders) + 1
        content: list[Any] = [
            self._crumbs(relative),
            folderArt(self.library.root, songs, self.art, name),
            tags.h1(name),
            self._toolbar(relative),
        ]
        if listing.truncated:
            content.append(
                tags.p(
                    f"This folder holds more than {MAX_FOLDER_ENTRIES} entries; only the first are listed.",
                    class_="notice",
                )
            )
        if folders:
            content.append(tags.h2("Folders"))
            content.append(
                tags.ul(*[tags.li(tags.a(f.name, href=entryURL(f.relative, True))) for f in folders], class_="folders")
            )
        if songs:
            content.append(tags.h2("Songs"))
            content.append(self._songTable([self._songRow(s, firstSong + i) for i, s in enumerate(songs)]))
        if not listing.entries:
            content.append(tags.p("This folder holds no songs.", class_="notice"))
        content.append(self._pages(relative, listing.page, listing.pages))
        content.append(tags.p(f"{listing.total} entries", class_="crumbs") if listing.pages > 1 else "")
        title = f"{name} – Music library" if relative else name
        return layout(title, *content, bodyClass="library")

    def _results(
        self, request: Request, found: tuple[list[IndexEntry] | None, bool], relative: bytes, query: str
    ) -> bytes:
        """
        Render search results.

        @param request: the request.
        @param found: the results (L{None} while the index is built) and
            whether there were more.
        @param relative: the folder searched.
        @param query: the query.
        @return: the HTML document.
        """
        page = _page(request)
        return self._html(
            request,
            ("search", relative, query, page),
            found,
            lambda: self._resultsDocument(found, relative, query, page),
        )

    def _resultsDocument(
        self, found: tuple[list[IndexEntry] | None, bool], relative: bytes, query: str, requested: int
    ) -> Tag:
        """
        Build a page of search results.

        @param found: the results and whether there were more.
        @param relative: the folder searched.
        @param query: the query.
        @param requested: the page asked for.
        @return: the C{<html>} element.
        """
        results, more = found
        content: list[Any] = [self._crumbs(relative), tags.h1("Search: ", query), self._toolbar(relative, query)]
        if results is None:
            content.append(
                tags.p("The search index is still being built; try again in a moment.", class_="notice", role="status")
            )
        elif not results:
            content.append(tags.p("No song matches.", class_="notice", role="status"))
        else:
            size = self.library.pageSize
            pages = max(1, -(-len(results) // size))
            page = min(requested, pages)
            shown = results[(page - 1) * size : page * size]
            count = f"{len(results)}{'+' if more else ''} " + ("song matches." if len(results) == 1 else "songs match.")
            content.append(tags.p(count, role="status"))
            content.append(
                self._songTable([self._songRow(s, (page - 1) * size + i + 1, True) for i, s in enumerate(shown)])
            )
            content.append(self._pages(relative, page, pages, query))
        return layout(f"Search: {query} – Music library", *content, bodyClass="library")


def queryFields(request: Request) -> dict[bytes, bytes]:
    """
    Read a request's query, keeping keys given without a value (C{?m3u}),
    which L{twisted.web.http.parse_qs} drops.

    @param request: the request.
    @return: the first value of each key, percent- and plus-decoded.
    """
    fields: dict[bytes, bytes] = {}
    for part in request.uri.partition(b"?")[2].split(b"&")[:50]:
        if part:
            key, _, value = part.partition(b"=")
            key = unquote_to_bytes(key.replace(b"+", b" "))
            fields.setdefault(key, unquote_to_bytes(value.replace(b"+", b" ")))
    return fields


def _page(request: Request) -> int:
    """
    The page number a request asks for.

    @param request: the request.
    @return: a number from 1 (bad values give 1).
    """
    raw = queryFields(request).get(b"page", b"1")
    return int(raw) if raw.isdigit() and len(raw) < 7 and int(raw) > 0 else 1
