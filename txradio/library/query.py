# -*- test-case-name: tests.test_query -*-
"""
A programme block that plays a query over the library index
(L{QueryTracks}): the songs whose artist, album, genre and year tags match
a L{TrackQuery}, listed afresh from the index on every pass.

The index is built, and kept up to date, by L{Library} in a thread; this
module only filters it.  An index of up to L{REACTOR_QUERY_MAX} songs is
filtered on the reactor (a few milliseconds, once per index build); a
larger one in the library's threads, the block playing its previous list
(or, before the first, the default block) meanwhile.
"""

from __future__ import annotations

import os
import random
from collections.abc import Sequence

from twisted.logger import Logger
from twisted.python.failure import Failure

from txradio.library.entries import IndexEntry
from txradio.library.index import Library, LibraryBusy
from txradio.sources.tracks import NoTracks
from txradio.wire.query import TrackQuery, matcher

REACTOR_QUERY_MAX = 5000
"""Songs in the index up to which a query filters it on the reactor (a few milliseconds)."""


def selectSongs(index: Sequence[IndexEntry], query: TrackQuery, root: bytes) -> list[str]:
    """
    The songs of an index that match a query, in the index's order (by
    folder, then natural order of names).

    @param index: the library's search index.
    @param query: the query.
    @param root: the library's real path.
    @return: their absolute paths.
    """
    match = matcher(query)
    return [
        os.fsdecode(os.path.join(root, entry.relative))
        for entry in index
        if match(entry.tags.artist, entry.tags.album, entry.tags.genre, entry.tags.year)
    ]


class QueryTracks:
    """
    A track list (see L{txradio.sources.playlist.Tracks}) of the library's
    songs matching a query.

    @ivar query: the query.
    @ivar shuffle: whether each pass is in a random order.
    @ivar songs: the paths matched in the index last filtered.
    """

    _log = Logger()

    def __init__(
        self, library: Library, query: TrackQuery, shuffle: bool = False, rng: random.Random | None = None
    ) -> None:
        """
        @param library: the library whose index is queried.
        @param query: which songs to play.
        @param shuffle: play each pass in a random order.
        @param rng: the random generator for shuffling (tests pass a seeded
            one).
        """
        self.library = library
        self.query = query
        self.shuffle = shuffle
        self.songs: list[str] = []
        self._random = rng or random.Random()
        self._filtered: tuple[IndexEntry, ...] | None = None
        self._filtering: tuple[IndexEntry, ...] | None = None

    def nextPass(self) -> list[str]:
        """
        List the matching songs for the next pass.

        @return: a non-empty list of paths, shuffled if asked.
        @raise NoTracks: while the index is not built, or when no song
            matches.
        """
        index = self.library.currentIndex()
        if index is None:
            raise NoTracks("the library index is not built yet")
        if index is not self._filtered:
            if len(index) <= REACTOR_QUERY_MAX:
                self._found(selectSongs(index, self.query, self.library.root), index)
            else:
                self._filterInThread(index)
        if not self.songs:
            if self._filtered is None:
                raise NoTracks("the library index is being searched")
            raise NoTracks(f"no song of the library matches the query ({self.query.describe()})")
        paths = list(self.songs)
        if self.shuffle:
            self._random.shuffle(paths)
        return paths

    def _found(self, songs: list[str], index: tuple[IndexEntry, ...]) -> None:
        """
        @param songs: the paths matched.
        @param index: the index they were matched in.
        """
        self.songs = songs
        self._filtered = index
        self._log.info(
            "library query {query}: {count} songs of {total}",
            query=self.query.describe(),
            count=len(songs),
            total=len(index),
        )

    def _filterInThread(self, index: tuple[IndexEntry, ...]) -> None:
        """
        Filter a large index in the library's threads, once per index.

        @param index: the index.
        """
        if self._filtering is index:
            return
        try:
            work = self.library.run(selectSongs, index, self.query, self.library.root)
        except LibraryBusy:
            return  # tried again at the next pass

        def failed(reason: Failure) -> None:
            self._filtering = None
            self._log.failure("filtering the library index for {query}", reason, query=self.query.describe())

        self._filtering = index
        work.addCallback(self._found, index).addErrback(failed)

    def __repr__(self) -> str:
        return f"<QueryTracks {self.query.describe()}{' shuffled' if self.shuffle else ''}>"
