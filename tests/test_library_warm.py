# -*- test-case-name: tests.test_library_warm -*-
"""
Tests for the library's warm-up after an index build (L{Library._warm}),
the pages the web renders from it, and the heap freeze that follows.
"""

from __future__ import annotations

import gc

from twisted.trial.unittest import SynchronousTestCase

from tests.test_library import LibraryTestMixin
from txradio.library.entries import IndexEntry, TrackTags
from txradio.library.index import warmFolders
from txradio.service import RadioService, freezeHeap
from txradio.web.browse import LibraryResource


def entry(relative: bytes) -> IndexEntry:
    """
    @return: an index entry for a song at C{relative}.
    """
    return IndexEntry(relative, TrackTags(), 1, relative.decode())


class WarmFoldersTests(SynchronousTestCase):
    """
    L{warmFolders} lists the folders an index names, shallowest first.
    """

    index = [
        entry(b"Jazz/Bop/Chimes.mp3"),
        entry(b"Rock/song.mp3"),
        entry(b"Jazz/10 Bass.mp3"),
        entry(b"Jazz/2 Morning.mp3"),
        entry(b"top.mp3"),
        entry(b"a/b/c/d.mp3"),
    ]

    def test_order(self) -> None:
        """
        The root, then each depth in natural order, with the folders above
        every song's folder.
        """
        self.assertEqual(warmFolders(self.index, 100), [b"", b"a", b"Jazz", b"Rock", b"a/b", b"Jazz/Bop", b"a/b/c"])

    def test_limit(self) -> None:
        """
        No more than the limit.
        """
        self.assertEqual(warmFolders(self.index, 2), [b"", b"a"])


class WarmTests(LibraryTestMixin, SynchronousTestCase):
    """
    After an index build the library lists its folders one job per reactor
    turn; the web renders each page as it comes.
    """

    pageSize = 200

    def warmUp(self) -> tuple[list[bytes], list[bool]]:
        """
        Start the library and let its warm-up run to the end.

        @return: the folders listed, and one C{True} per end of warm-up.
        """
        listed: list[bytes] = []
        ended: list[bool] = []
        self.library.listedObservers.append(lambda relative, listing: listed.append(relative))
        self.library.warmObservers.append(lambda: ended.append(True))
        self.library.startService()
        self.addCleanup(self.library.stopService)
        for _ in range(100):
            if not self.clock.getDelayedCalls():
                break
            self.clock.advance(0)
        return listed, ended

    def test_listed(self) -> None:
        """
        Every folder with songs, and those above them, is listed once, in
        L{warmFolders}' order, and the end is told once.
        """
        listed, ended = self.warmUp()
        assert self.library.index is not None
        self.assertEqual(listed, warmFolders(self.library.index, 256))
        self.assertIn(b"Jazz/Bop", listed)
        self.assertEqual(ended, [True])

    def test_cached(self) -> None:
        """
        The warmed pages and sub-tree song lists are in the listing cache.
        """
        self.warmUp()
        real, _ = self.library.resolve([b"Jazz"])
        self.assertIsNotNone(self.library.listings.peek(("page", real, 1)))
        self.assertIsNotNone(self.library.listings.peek(("songs", real, True)))

    def test_prerendered(self) -> None:
        """
        The site's library pages are rendered as the folders are listed, and
        a request gets the same page.
        """
        self.warmUp()
        resources = [
            o.__self__
            for o in self.library.listedObservers
            if isinstance(getattr(o, "__self__", None), LibraryResource)
        ]
        self.assertEqual(len(resources), 1)
        found = resources[0].bodies.peek(("folder", b"Jazz", 1))
        self.assertIsNotNone(found)
        assert found is not None
        response = self.get("/library/Jazz/")
        self.assertEqual(response.status, 200)
        self.assertEqual(response.body, found.value[1])

    def test_stopped(self) -> None:
        """
        Stopping the library stops its warm-up: nothing is left scheduled.
        """
        ended: list[bool] = []
        self.library.warmObservers.append(lambda: ended.append(True))
        self.library.startService()
        self.library.stopService()
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.assertEqual(ended, [])


class FreezeTests(SynchronousTestCase):
    """
    The radio freezes its heap once the library's caches are warm.
    """

    def test_freeze(self) -> None:
        """
        L{freezeHeap} moves the live objects to the permanent generation.
        """
        self.addCleanup(gc.unfreeze)
        gc.unfreeze()
        freezeHeap()
        self.assertGreater(gc.get_freeze_count(), 0)

    def test_afterWarmUp(self) -> None:
        """
        A radio with a library freezes after the library's warm-up.
        """
        from twisted.internet.task import Clock

        from tests._web import MusicFolder
        from txradio.library.index import Library
        from txradio.stream.station import Station
        from txradio.testing import FakeFrameSource

        folder = MusicFolder()
        self.addCleanup(folder.remove)
        clock = Clock()
        library = Library(folder.root, clock=clock)
        RadioService([Station(FakeFrameSource(), clock=clock)], listen=[], reactor=clock, library=library)
        self.assertEqual(library.warmObservers, [freezeHeap])
