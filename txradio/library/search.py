# -*- test-case-name: tests.test_library -*-
"""
The library's search index: a walk of the music folder reading every song's
tags, and the search of that index for the words of a query.
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Callable

from txradio.library.entries import IndexEntry, TrackTags, readTrackTags
from txradio.library.paths import hasControl, isAudio
from txradio.sources.tracks import naturalKey
from txradio.wire.icy import cleanTitle

MAX_INDEX = 100000
"""Songs in the search index at most."""

MAX_RESULTS = 1000
"""Search results kept at most (shown a page at a time)."""

MAX_QUERY = 200
"""Characters of a search query used at most."""

MAX_TERMS = 10
"""Words of a search query used at most."""

REACTOR_SEARCH_MAX = 20000
"""Songs in the index up to which searches run on the reactor thread."""

SEARCH_CACHE_SIZE = 512
"""Searches whose results are kept (per index) at most."""

INDEX_MAX_AGE = 600.0
"""Seconds after which a search starts rebuilding the index."""


def _natural(name: bytes) -> tuple:
    """
    Sort a file name in natural order.

    @param name: the name, as bytes.
    @return: its natural sort key.
    """
    return naturalKey(name.decode("utf-8", "replace"))


def walkIndex(
    root: bytes,
    maxIndex: int,
    inside: Callable[[bytes], bool],
    cachedTags: Callable[[bytes, os.stat_result], TrackTags | None],
    stopping: threading.Event,
    maxNewTags: int,
) -> tuple[tuple[IndexEntry, ...], bool, dict]:
    """
    Walk the library and read every song's tags.  Blocking; stops early
    when C{stopping} is set.

    @param root: the library's real path.
    @param maxIndex: songs in the index at most.
    @param inside: tells whether a resolved path may be served.
    @param cachedTags: looks a song's tags up in the cache.
    @param stopping: set when the service stops.
    @param maxNewTags: tags read from files kept for the cache at most.
    @return: the index, whether it was cut at C{maxIndex} songs, and the
        tags read.
    """
    entries: list[IndexEntry] = []
    newTags: dict = {}
    truncated = False
    for folder, folders, files in os.walk(root):
        folders[:] = sorted((f for f in folders if not f.startswith(b".")), key=_natural)
        relativeFolder = os.path.relpath(folder, root)
        relativeFolder = b"" if relativeFolder == b"." else relativeFolder
        for name in sorted(files, key=_natural):
            if stopping.is_set():
                return tuple(entries), truncated, newTags
            if name.startswith(b".") or not isAudio(name) or hasControl(name):
                continue
            if len(entries) >= maxIndex:
                truncated = True
                break
            path = os.path.join(folder, name)
            try:
                if os.path.islink(path) and not inside(os.path.realpath(path)):
                    continue
                info = os.stat(path)
            except OSError:
                continue
            if not stat.S_ISREG(info.st_mode):
                continue
            tags = cachedTags(path, info)
            if tags is None:
                tags = readTrackTags(path)
                if len(newTags) < maxNewTags:
                    newTags[(path, info.st_mtime_ns, info.st_size)] = tags
            relative = os.path.join(relativeFolder, name) if relativeFolder else name
            haystack = " ".join((tags.title, tags.artist, tags.album, relative.decode("utf-8", "replace"))).casefold()
            entries.append(IndexEntry(relative, tags, info.st_size, haystack))
        if truncated:
            break
    return tuple(entries), truncated, newTags


def searchIndex(index: tuple[IndexEntry, ...], terms: list[str], within: bytes) -> tuple[list[IndexEntry], bool]:
    """
    Find the songs matching every term.  Blocking (a scan of the index).

    @param index: the index to search.
    @param terms: case-folded words.
    @param within: a folder's path from the root, or C{b""} for all.
    @return: at most L{MAX_RESULTS} songs, and whether there were more.
    """
    prefix = within + b"/" if within else b""
    results: list[IndexEntry] = []
    for entry in index:
        if prefix and not entry.relative.startswith(prefix):
            continue
        if all(term in entry.haystack for term in terms):
            if len(results) >= MAX_RESULTS:
                return results, True
            results.append(entry)
    return results, False


def searchTerms(query: str) -> list[str]:
    """
    Split a query into the words searched for.

    @param query: what the user typed.
    @return: at most L{MAX_TERMS} case-folded words.
    """
    return cleanTitle(query[:MAX_QUERY]).casefold().split()[:MAX_TERMS]
