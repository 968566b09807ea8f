# -*- test-case-name: tests.test_library -*-
"""
The on-demand library: a music folder offered for browsing, playlists,
download and search over titles, artists and albums.  This module holds the
L{Library} service and the blocking work; L{txradio.library.paths} holds
the path rules, L{txradio.library.entries} the values and tags and
L{txradio.library.search} the search index; L{txradio.web.browse} serves it
at C{/library/}.

Blocking work
=============
Listing a folder, reading tags (with mutagen), building playlists of a
sub-tree and searching all run in threads through an injected
C{runInThread} (the reactor's thread pool by default; tests pass a
synchronous one),
and at most L{MAX_JOBS} of them at once.  More wait their turn, in order,
up to L{MAX_WAITING} of them and for L{WAIT_TIMEOUT} seconds each; beyond
that a request is answered with 503 and C{Retry-After}, and a waiting
request whose client leaves gives up its place.  Only the functions run in
threads touch the file system for lists; the reactor thread merely
resolves (and so stats) one path per request.

Caches
======
Tags are cached by path, modification time and size.  Folder pages and the
songs of folders and sub-trees (for playlists) are cached by folder, page
and the folder's modification time and size, which the reactor already has
from resolving the request: a cached answer for the same version is given
at once, without a thread job.  A change inside an existing file, or in a
sub-folder of a sub-tree, does not change the folder's time, so an answer
older than L{RECHECK_AFTER} seconds is still given but is computed again in
the background when a job slot is free.  A folder whose time changed also
marks the search index for a rebuild in the background (which reads the
tags of changed files only).  Searches scan the in-memory index on the
reactor when it holds at most L{REACTOR_SEARCH_MAX} songs (a few
milliseconds), else in a thread, and their results are cached per index.
Every cache is bounded in entries and in listed songs (see
C{docs/security.md}).

After each index build the caches are warmed in the background, one job at
a time: the first page of up to L{WARM_FOLDERS} folders the index names
(the shallowest first) and the sub-tree song lists of up to L{WARM_TREES}
(the root and its first folders), so that the first visitors of a page do
not wait for a folder scan.  Observers hear of each page listed (the web
renders it then, between jobs) and of the end of the warm-up.

Songs are served by L{txradio.web.browse.serveSong}: L{twisted.web.static.File}
(C{Range} with 206 and 416, multiple ranges, C{HEAD}, C{Last-Modified}),
wrapped to add a strong C{ETag} with C{If-None-Match} and C{If-Range}.
"""

from __future__ import annotations

import os
import stat
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from twisted.application.service import Service
from twisted.internet.defer import Deferred, maybeDeferred, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorThreads, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from txradio.library.cache import JobQueue, QueueFull, VersionedCache
from txradio.library.entries import (
    Entry,
    FolderListing,
    IndexEntry,
    TrackTags,
    formatDuration,
    formatSize,
    fullTitle,
    readTrackTags,
    songTitle,
)
from txradio.library.paths import AUDIO_TYPES, PathRefused, checkSegments, displayName, entryURL, hasControl, isAudio
from txradio.library.search import (
    INDEX_MAX_AGE,
    MAX_INDEX,
    MAX_QUERY,
    MAX_RESULTS,
    MAX_TERMS,
    REACTOR_SEARCH_MAX,
    SEARCH_CACHE_SIZE,
    searchIndex,
    searchTerms,
    walkIndex,
)
from txradio.sources.tracks import naturalKey

__all__ = [
    "AUDIO_TYPES",
    "INDEX_MAX_AGE",
    "LISTING_CACHE_SIZE",
    "LISTING_CACHE_SONGS",
    "MAX_FOLDER_ENTRIES",
    "MAX_INDEX",
    "MAX_JOBS",
    "MAX_PLAYLIST",
    "MAX_QUERY",
    "MAX_RESULTS",
    "MAX_TERMS",
    "MAX_WAITING",
    "PAGE_SIZE",
    "REACTOR_SEARCH_MAX",
    "RECHECK_AFTER",
    "RETRY_AFTER",
    "SEARCH_CACHE_SIZE",
    "TAG_CACHE_SIZE",
    "WAIT_TIMEOUT",
    "WARM_FOLDERS",
    "WARM_TREES",
    "Entry",
    "FolderListing",
    "IndexEntry",
    "Library",
    "LibraryBusy",
    "PathRefused",
    "TrackTags",
    "checkSegments",
    "displayName",
    "entryURL",
    "formatDuration",
    "formatSize",
    "fullTitle",
    "isAudio",
    "readTrackTags",
    "searchTerms",
    "songTitle",
]

PAGE_SIZE = 200
"""Entries on one page of a folder or of search results."""

MAX_FOLDER_ENTRIES = 20000
"""Entries read from one folder at most; the rest are not listed."""

MAX_PLAYLIST = 5000
"""Songs in one playlist of a folder or sub-tree at most."""

MAX_JOBS = 16
"""Library jobs running in threads at once; more wait their turn."""

MAX_WAITING = 256
"""Library jobs waiting for a thread at most; more get a 503."""

WAIT_TIMEOUT = 10.0
"""Seconds a library job waits for a thread at most before a 503."""

RETRY_AFTER = 5
"""Seconds a refused request is told to wait (C{Retry-After})."""

LISTING_CACHE_SIZE = 4096
"""Folder pages and song lists kept in the listing cache at most."""

LISTING_CACHE_SONGS = 200000
"""
Entries (folders and songs, about 0.5 kB each with their tags) held by all
cached folder pages and song lists together at most: about 100 MB at worst.
"""

RECHECK_AFTER = 30.0
"""Seconds after which a cached listing is computed again in the background."""

WARM_FOLDERS = 256
"""
Folders whose first page is listed (and kept) after each index build, the
shallowest first, one thread job at a time.
"""

WARM_TREES = 16
"""
Sub-trees (the root and its first folders) whose song lists are gathered
after each index build, for their playlists.
"""

TAG_CACHE_SIZE = 20000
"""Songs whose tags are kept in memory."""


def warmFolders(index: Iterable[IndexEntry], limit: int) -> list[bytes]:
    """
    The folders an index names (with every folder above them), the
    shallowest first, each depth in natural order.

    @param index: the search index.
    @param limit: folders at most.
    @return: their paths from the root (C{b""} for the root).
    """
    found: set[bytes] = {b""}
    for entry in index:
        parts = entry.relative.split(b"/")[:-1]
        for depth in range(1, len(parts) + 1):
            found.add(b"/".join(parts[:depth]))
    ordered = sorted(
        found,
        key=lambda f: (f.count(b"/") + bool(f), [naturalKey(p.decode("utf-8", "replace")) for p in f.split(b"/")]),
    )
    return ordered[:limit]


class LibraryBusy(Exception):
    """
    Too many library jobs are running (answered with 503).
    """


def _sortKey(entry: Entry) -> tuple:
    """
    Folders first, then names in natural order.

    @param entry: an entry.
    @return: its sort key.
    """
    return (not entry.isFolder, naturalKey(entry.relative.rsplit(b"/", 1)[-1].decode("utf-8", "replace")))


def _threadRunner(reactor: Any) -> Callable[..., Deferred]:
    """
    Choose how blocking jobs run: in the reactor's thread pool, or at once
    with a reactor that has none (a test's fake).

    @param reactor: the reactor.
    @return: a function that runs a job and returns a L{Deferred}.
    """
    if IReactorThreads.providedBy(reactor):
        from twisted.internet.threads import deferToThreadPool

        return lambda function, *args: deferToThreadPool(reactor, reactor.getThreadPool(), function, *args)
    return maybeDeferred


class Library(Service):
    """
    A music folder offered for browsing, searching and download.

    A service: starting it starts building the search index in a thread;
    stopping it asks that thread to stop.

    @ivar root: the folder's real path, as bytes.
    @ivar index: the search index, or L{None} before the first build.
    @ivar indexing: whether a build is running.
    @ivar indexedAt: when the index was last built, in the clock's seconds.
    @ivar indexTruncated: whether the library held more than C{maxIndex}
        songs.
    """

    _log = Logger()

    def __init__(
        self,
        root: str | bytes,
        runInThread: Callable[..., Deferred] | None = None,
        clock: IReactorTime | None = None,
        pageSize: int = PAGE_SIZE,
        maxIndex: int = MAX_INDEX,
        maxJobs: int = MAX_JOBS,
        maxWaiting: int = MAX_WAITING,
        waitTimeout: float = WAIT_TIMEOUT,
        cached: bool = True,
    ) -> None:
        """
        @param root: the music folder.
        @param runInThread: runs a blocking function and returns a
            L{Deferred} of its result; by default the clock's thread pool
            (when it is a reactor with threads) or at once.
        @param clock: the reactor: the time for the index's age and the
            thread pool; the global reactor by default.
        @param pageSize: entries per page.
        @param maxIndex: songs in the index at most.
        @param maxJobs: jobs in threads at once at most.
        @param maxWaiting: jobs waiting for a thread at most.
        @param waitTimeout: seconds a job waits at most.
        @param cached: keep listings and searches (off only to measure what
            the caches bring).
        """
        if clock is None:
            from twisted.internet import reactor as clock  # type: ignore[assignment]
        if runInThread is None:
            runInThread = _threadRunner(clock)
        self.setName("library")
        self.root = os.path.realpath(os.fsencode(root))
        self.pageSize = pageSize
        self.maxIndex = maxIndex
        assert clock is not None
        self.clock: IReactorTime = clock
        self.cached = cached
        self.index: tuple[IndexEntry, ...] | None = None
        self.indexing = False
        self.indexedAt: float | None = None
        self.indexTruncated = False
        self._runInThread = runInThread
        self.queue = JobQueue(self._runJob, clock, maxJobs, maxWaiting, waitTimeout)
        self.listings: VersionedCache[Any] = VersionedCache(LISTING_CACHE_SIZE if cached else 0, LISTING_CACHE_SONGS)
        self.searches: VersionedCache[tuple[list[IndexEntry], bool]] = VersionedCache(
            SEARCH_CACHE_SIZE if cached else 0, SEARCH_CACHE_SIZE * MAX_RESULTS
        )
        self._refreshing: set[Any] = set()
        self._indexDirty = False
        self._tags: OrderedDict[tuple[bytes, int, int], TrackTags] = OrderedDict()
        self._stopping = threading.Event()
        self._warming: IDelayedCall | None = None
        self.listedObservers: list[Callable[[bytes, FolderListing], object]] = []
        self.warmObservers: list[Callable[[], object]] = []

    # -- service ---------------------------------------------------------

    def startService(self) -> None:
        """
        Start building the search index.
        """
        Service.startService(self)
        self._stopping.clear()
        self.buildIndex()

    def stopService(self) -> None:
        """
        Ask a running index build to stop.
        """
        Service.stopService(self)
        self._stopping.set()
        if self._warming is not None and self._warming.active():
            self._warming.cancel()
        self._warming = None

    # -- paths -----------------------------------------------------------

    def _inside(self, real: bytes) -> bool:
        """
        Tell whether a resolved path lies inside the library, with no hidden
        part.

        @param real: a path from L{os.path.realpath}.
        @return: L{True} when it may be served.
        """
        if real == self.root:
            return True
        prefix = self.root.rstrip(b"/") + b"/"
        if not real.startswith(prefix):
            return False
        return not any(part.startswith(b".") for part in real[len(prefix) :].split(b"/"))

    def resolve(self, segments: Sequence[bytes]) -> tuple[bytes, os.stat_result]:
        """
        Find the folder or song a request names.

        @param segments: the decoded path segments after C{/library/}
            (without the empty one a trailing slash leaves).
        @return: the real path and its C{stat}.
        @raise PathRefused: for anything that may not be served: see the
            module's docstring.
        """
        checkSegments(segments)
        path = os.path.join(self.root, *segments) if segments else self.root
        real = os.path.realpath(path)
        if not self._inside(real):
            raise PathRefused("outside the library")
        try:
            info = os.stat(real)
        except (OSError, ValueError):
            raise PathRefused("does not exist") from None
        if stat.S_ISDIR(info.st_mode):
            return real, info
        if stat.S_ISREG(info.st_mode) and isAudio(real) and isAudio(segments[-1]):
            return real, info
        raise PathRefused("not a folder or an audio file")

    # -- threads ---------------------------------------------------------

    @property
    def jobs(self) -> int:
        """
        Jobs running in threads now.
        """
        return self.queue.running

    @property
    def maxJobs(self) -> int:
        """
        Jobs running in threads at once at most.
        """
        return self.queue.limits.maxRunning

    @maxJobs.setter
    def maxJobs(self, value: int) -> None:
        self.queue.limits.maxRunning = value

    def _runJob(self, function: Callable[..., Any], *args: Any) -> Deferred:
        """
        Start a job in a thread (for the queue).

        @param function: the function.
        @param args: its arguments.
        @return: a L{Deferred} of its result.
        """
        return maybeDeferred(self._runInThread, function, *args)

    def run(self, function: Callable[..., Any], *args: Any) -> Deferred:
        """
        Run a blocking function in a thread, within the job limit, waiting
        its turn when every slot is taken.

        @param function: the function.
        @param args: its arguments.
        @return: a L{Deferred} of its result; it fails with L{LibraryBusy}
            when the job waited too long, and may be given to L{leave}.
        @raise LibraryBusy: when the wait queue is full.
        """
        try:
            waiting = self.queue.submit(function, *args)
        except QueueFull:
            raise LibraryBusy() from None

        def tooLong(reason: Failure) -> Failure:
            reason.trap(QueueFull)
            return Failure(LibraryBusy())

        return waiting.addErrback(tooLong)

    def leave(self, work: Deferred) -> None:
        """
        Give up a job's place in the wait queue (its client left); a job
        already running is left to finish.

        @param work: the L{Deferred} from L{run} (or a method built on it).
        """
        self.queue.leave(work)

    def _versioned(
        self,
        key: Any,
        info: os.stat_result | None,
        function: Callable[..., Any],
        args: tuple,
        weigh: Callable[[Any], int],
        finish: Callable[[Any], Any],
    ) -> Deferred:
        """
        Answer from the listing cache when it holds the folder's version,
        else run the job (and keep its answer).  An answer older than
        L{RECHECK_AFTER} is given and computed again in the background.
        Without the folder's C{stat} the cache is not used.

        @param key: what is asked.
        @param info: the folder's C{stat}, whose C{(mtime_ns, size)} is the
            version, or L{None}.
        @param function: the blocking job computing the raw result.
        @param args: its arguments.
        @param weigh: the weight of an answer (entries it lists).
        @param finish: turns the job's raw result into the answer (in the
            reactor thread: it keeps the tags read).
        @return: a L{Deferred} of the answer.
        @raise LibraryBusy: when the job cannot even wait.
        """
        if info is None:
            return self.run(function, *args).addCallback(finish)
        version = (info.st_mtime_ns, info.st_size)

        def keep(raw: Any) -> Any:
            answer = finish(raw)
            kept = self.listings.peek(key)
            if kept is not None and kept.version == version and kept.value == answer:
                # A refresh that found nothing new keeps the same answer, so
                # what was rendered from it stays current.
                answer = kept.value
            self.listings.put(key, version, answer, weigh(answer), self.clock.seconds())
            return answer

        found = self.listings.get(key, version)
        if found is not None:
            if self.clock.seconds() - found.checkedAt > RECHECK_AFTER:
                self._refresh(key, function, args, keep)
            return succeed(found.value)
        if self.listings.peek(key) is not None:
            # The folder changed since we last looked: so did the library.
            self.indexChanged()
        self.listings.remove(key)
        return self.run(function, *args).addCallback(keep)

    def _refresh(self, key: Any, function: Callable[..., Any], args: tuple, keep: Callable[[Any], Any]) -> None:
        """
        Compute a cached answer again in the background, when a slot is free
        and nobody waits (a refresh never delays a request).

        @param key: what is asked.
        @param function: the blocking job.
        @param args: its arguments.
        @param keep: turns the raw result into the answer and keeps it.
        """
        if key in self._refreshing or not self.queue.idle():
            return
        self._refreshing.add(key)

        def failed(reason: Failure) -> None:
            self._log.failure("refreshing a library listing", reason)

        self.queue.submit(function, *args).addCallbacks(keep, failed).addBoth(lambda _: self._refreshing.discard(key))

    def indexChanged(self) -> None:
        """
        Note that the library changed: rebuild the search index in the
        background (now, or after the build that runs).
        """
        if self.index is None and not self.indexing:
            return
        self._indexDirty = True
        if not self.indexing:
            self.buildIndex()

    def cachedTags(self, path: bytes, info: os.stat_result) -> TrackTags | None:
        """
        Look a song's tags up in the cache; safe to call from a thread.

        @param path: the file.
        @param info: its C{stat}.
        @return: the tags, or L{None} when not cached.
        """
        return self._tags.get((path, info.st_mtime_ns, info.st_size))

    def _remember(self, newTags: dict[tuple[bytes, int, int], TrackTags]) -> None:
        """
        Add tags read in a thread to the cache (in the reactor thread).

        @param newTags: tags by C{(path, mtime_ns, size)}.
        """
        self._tags.update(newTags)
        while len(self._tags) > TAG_CACHE_SIZE:
            self._tags.popitem(last=False)

    def _scan(self, real: bytes, relative: bytes) -> tuple[list[tuple[Entry, bytes, os.stat_result]], bool]:
        """
        List a folder's subfolders and songs.  Blocking.

        @param real: the folder's real path.
        @param relative: its path from the root.
        @return: C{(entry, real path, stat)} triples sorted folders first in
            natural order, and whether the folder had too many entries.
        """
        found: list[tuple[Entry, bytes, os.stat_result]] = []
        truncated = False
        try:
            iterator = os.scandir(real)
        except OSError:
            return [], False
        with iterator:
            for item in iterator:
                name = item.name
                if name.startswith(b".") or hasControl(name):
                    continue
                if len(found) >= MAX_FOLDER_ENTRIES:
                    truncated = True
                    break
                try:
                    path = item.path
                    if item.is_symlink():
                        path = os.path.realpath(path)
                        if not self._inside(path):
                            continue
                    info = os.stat(path)
                except OSError:
                    continue
                child = relative + b"/" + name if relative else name
                if stat.S_ISDIR(info.st_mode):
                    found.append((Entry(child, True, 0, info.st_mtime), path, info))
                elif stat.S_ISREG(info.st_mode) and isAudio(name):
                    found.append((Entry(child, False, info.st_size, info.st_mtime), path, info))
        found.sort(key=lambda triple: _sortKey(triple[0]))
        return found, truncated

    def _withTags(self, items: Iterable[tuple[Entry, bytes, os.stat_result]], newTags: dict) -> list[Entry]:
        """
        Fill in the tags of songs, from the cache or the files.  Blocking.

        @param items: C{(entry, real path, stat)} triples.
        @param newTags: gets the tags read from files, for the cache.
        @return: the entries, songs with tags.
        """
        result = []
        for entry, path, info in items:
            if not entry.isFolder:
                tags = self.cachedTags(path, info)
                if tags is None:
                    tags = readTrackTags(path)
                    newTags[(path, info.st_mtime_ns, info.st_size)] = tags
                entry = Entry(entry.relative, entry.isFolder, entry.size, entry.mtime, tags)
            result.append(entry)
        return result

    def _listPage(self, real: bytes, relative: bytes, page: int) -> FolderListing:
        """
        Build one page of a folder.  Blocking.

        @param real: the folder's real path.
        @param relative: its path from the root.
        @param page: the page number, from 1.
        @return: the listing.
        """
        found, truncated = self._scan(real, relative)
        pages = max(1, -(-len(found) // self.pageSize))
        page = min(max(page, 1), pages)
        shown = found[(page - 1) * self.pageSize : page * self.pageSize]
        newTags: dict = {}
        entries = self._withTags(shown, newTags)
        folders = sum(1 for entry, _, _ in found if entry.isFolder)
        return FolderListing(entries, len(found), page, pages, folders, truncated, newTags)

    def listFolder(self, real: bytes, relative: bytes, page: int = 1, info: os.stat_result | None = None) -> Deferred:
        """
        List one page of a folder: from the cache when the folder has not
        changed, else in a thread.

        @param real: the folder's real path (from L{resolve}).
        @param relative: its path from the root.
        @param page: the page number, from 1.
        @param info: the folder's C{stat} (from L{resolve}); without it the
            cache is not used.
        @return: a L{Deferred} of a L{FolderListing}.
        @raise LibraryBusy: when too many jobs run and wait.
        """

        def remember(listing: FolderListing) -> FolderListing:
            self._remember(listing.newTags)
            listing.newTags = {}
            return listing

        return self._versioned(
            ("page", real, page),
            info,
            self._listPage,
            (real, relative, page),
            lambda listing: len(listing.entries),
            remember,
        )

    def _collectSongs(self, real: bytes, relative: bytes, recursive: bool) -> tuple[list[Entry], dict]:
        """
        Gather the songs of a folder (and its sub-folders) with their tags.
        Blocking.

        @param real: the folder's real path.
        @param relative: its path from the root.
        @param recursive: include sub-folders, depth first, in natural order.
        @return: at most L{MAX_PLAYLIST} songs, and the tags read.
        """
        known = {entry.relative: entry.tags for entry in self.index} if recursive and self.index else {}
        songs: list[Entry] = []
        newTags: dict = {}
        pending = [(real, relative)]
        seen: set[bytes] = set()
        while pending and len(songs) < MAX_PLAYLIST and not self._stopping.is_set():
            folder, folderRelative = pending.pop(0)
            if folder in seen:
                continue
            seen.add(folder)
            found, _ = self._scan(folder, folderRelative)
            files = []
            for entry, path, info in found:
                if entry.isFolder:
                    continue
                if entry.relative in known:
                    songs.append(Entry(entry.relative, False, entry.size, entry.mtime, known[entry.relative]))
                else:
                    files.append((entry, path, info))
                if len(songs) + len(files) >= MAX_PLAYLIST:
                    break
            songs.extend(self._withTags(files, newTags))
            if recursive:
                pending[0:0] = [(path, entry.relative) for entry, path, _ in found if entry.isFolder]
        songs.sort(key=lambda entry: [naturalKey(p.decode("utf-8", "replace")) for p in entry.relative.split(b"/")])
        return songs[:MAX_PLAYLIST], newTags

    def songs(
        self, real: bytes, relative: bytes, recursive: bool = False, info: os.stat_result | None = None
    ) -> Deferred:
        """
        Gather the songs of a folder or sub-tree for a playlist: from the
        cache when the folder has not changed (a sub-tree's other folders
        are checked in the background), else in a thread.

        @param real: the folder's real path.
        @param relative: its path from the root.
        @param recursive: include sub-folders.
        @param info: the folder's C{stat}; without it the cache is not used.
        @return: a L{Deferred} of a list of L{Entry}.
        @raise LibraryBusy: when too many jobs run and wait.
        """

        def remember(result: tuple[list[Entry], dict]) -> list[Entry]:
            self._remember(result[1])
            return result[0]

        return self._versioned(
            ("songs", real, recursive), info, self._collectSongs, (real, relative, recursive), len, remember
        )

    # -- search ----------------------------------------------------------

    def buildIndex(self) -> Deferred | None:
        """
        Build the search index again in a thread, unless a build runs.

        @return: a L{Deferred} that fires when the build ends, or L{None}
            when one was already running or the job limit was reached.
        """
        if self.indexing:
            self._indexDirty = True
            return None
        self._indexDirty = False
        try:
            running = self.run(
                walkIndex, self.root, self.maxIndex, self._inside, self.cachedTags, self._stopping, TAG_CACHE_SIZE
            )
        except LibraryBusy:
            return None
        self.indexing = True
        started = self.clock.seconds()

        def built(result: tuple[tuple[IndexEntry, ...], bool, dict]) -> None:
            self.index, self.indexTruncated, newTags = result
            self.indexedAt = started
            self.searches.clear()
            self._remember(newTags)
            self._log.info(
                "library index of {root} built: {songs} songs{more}",
                root=os.fsdecode(self.root),
                songs=len(self.index),
                more=" (the rest left out)" if self.indexTruncated else "",
            )
            self._warm(self.index)

        def failed(reason: Failure) -> None:
            self._log.failure("building the library index of {root}", reason, root=os.fsdecode(self.root))

        def finished(result: Any) -> Any:
            self.indexing = False
            if self._indexDirty and self.running:
                self.buildIndex()
            return result

        return running.addCallbacks(built, failed).addBoth(finished)

    def currentIndex(self) -> tuple[IndexEntry, ...] | None:
        """
        The search index as it is, starting a new build in the background
        when it is older than L{INDEX_MAX_AGE} seconds or missing.

        @return: the index, or L{None} while none has been built yet.
        """
        if not self.indexing and (self.indexedAt is None or self.clock.seconds() - self.indexedAt > INDEX_MAX_AGE):
            self.buildIndex()
        return self.index

    def _warm(self, index: tuple[IndexEntry, ...]) -> None:
        """
        Fill the listing cache from an index, one job at a time, in the
        background: the first pages of L{WARM_FOLDERS} folders, then the song
        lists of L{WARM_TREES} sub-trees.  It stops when the service stops,
        another index replaces this one, or the library is busy.  Each page
        listed is given to the L{listedObservers}; the L{warmObservers} are
        told when it ends.

        @param index: the index just built.
        """
        folders = warmFolders(index, WARM_FOLDERS)
        trees = [f for f in folders if f.count(b"/") < 1][:WARM_TREES]
        work: list[tuple[bytes, bool]] = [(f, False) for f in folders] + [(f, True) for f in trees]

        def ended() -> None:
            for observer in list(self.warmObservers):
                observer()

        def step(_: object = None) -> None:
            while work:
                if not self.running or self.index is not index:
                    return
                relative, tree = work.pop(0)
                try:
                    real, info = self.resolve(relative.split(b"/") if relative else [])
                except PathRefused:
                    continue
                try:
                    if tree:
                        pending = self.songs(real, relative, True, info)
                    else:
                        pending = self.listFolder(real, relative, 1, info).addCallback(listed, relative)
                except LibraryBusy:
                    return
                pending.addErrback(failed).addCallback(later)
                return
            ended()

        def later(_: object) -> None:
            # One job per reactor turn; cancelled when the service stops.
            if self.running:
                self._warming = self.clock.callLater(0, step)

        def listed(listing: FolderListing, relative: bytes) -> None:
            for observer in list(self.listedObservers):
                observer(relative, listing)

        def failed(reason: Failure) -> None:
            if not reason.check(LibraryBusy):
                self._log.failure("warming the library's caches", reason)

        step()

    def search(self, query: str, within: bytes = b"") -> Deferred:
        """
        Search titles, artists, albums and file names, in a thread.

        Every word must match.  A search also starts a new index build when
        the index is older than L{INDEX_MAX_AGE} seconds or missing.

        @param query: what the user typed.
        @param within: limit to a folder (its path from the root).
        @return: a L{Deferred} of C{(results, more)}; C{results} is L{None}
            while no index has been built yet.
        @raise LibraryBusy: when too many jobs run and wait (for an index
            too large to search on the reactor).
        """
        terms = searchTerms(query)
        index = self.currentIndex()
        if index is None:
            return succeed((None, False))
        if not terms:
            return succeed(([], False))
        if len(index) > REACTOR_SEARCH_MAX:
            return self.run(searchIndex, index, terms, within)
        key = (tuple(terms), within)
        found = self.searches.get(key, id(index))
        if found is not None:
            return succeed(found.value)
        result = searchIndex(index, terms, within)
        self.searches.put(key, id(index), result, len(result[0]), self.clock.seconds())
        return succeed(result)
