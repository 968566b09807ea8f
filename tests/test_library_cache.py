"""
Tests for the library's caches and wait queue (L{txradio.library.cache}),
their use by L{txradio.library.index.Library}, and the playlist producer of
L{txradio.web.browse}.
"""

from __future__ import annotations

import os

from twisted.internet.defer import CancelledError, succeed
from twisted.internet.interfaces import IPushProducer
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase

from zope.interface.verify import verifyObject

from tests._web import HeldJobs, MusicFolder, SiteClient, requestBytes
from txradio.library.cache import JobQueue, QueueFull, VersionedCache
from txradio.library.index import RECHECK_AFTER, Entry, Library, TrackTags
from txradio.stream.station import Station
from txradio.testing import FakeFrameSource
from txradio.web.browse import PlaylistProducer, _m3u, _m3uSlices
from txradio.web.site import buildSite


class VersionedCacheTests(SynchronousTestCase):
    """
    L{VersionedCache} answers for one version of a source, within bounds of
    entries and weight, least recently used first out.
    """

    def test_hit(self) -> None:
        """
        A value kept for a version is found for that version.
        """
        cache: VersionedCache[str] = VersionedCache(10, 100)
        cache.put("a", 1, "value", 5, 0.0)
        found = cache.get("a", 1)
        assert found is not None
        self.assertEqual(found.value, "value")
        self.assertEqual((cache.hits, cache.misses), (1, 0))

    def test_otherVersion(self) -> None:
        """
        A value kept for another version is not given, and is dropped.
        """
        cache: VersionedCache[str] = VersionedCache(10, 100)
        cache.put("a", 1, "value", 5, 0.0)
        self.assertIsNone(cache.get("a", 2))
        self.assertEqual(len(cache), 0)
        self.assertEqual(cache.weight, 0)

    def test_entriesBound(self) -> None:
        """
        Beyond C{maxEntries}, the least recently used entry goes.
        """
        cache: VersionedCache[int] = VersionedCache(2, 100)
        cache.put("a", 0, 1, 1, 0.0)
        cache.put("b", 0, 2, 1, 0.0)
        cache.get("a", 0)
        cache.put("c", 0, 3, 1, 0.0)
        self.assertIsNone(cache.peek("b"))
        self.assertIsNotNone(cache.peek("a"))
        self.assertIsNotNone(cache.peek("c"))

    def test_weightBound(self) -> None:
        """
        Beyond C{maxWeight}, the oldest entries go; a value heavier than the
        bound is not kept at all.
        """
        cache: VersionedCache[int] = VersionedCache(10, 10)
        cache.put("a", 0, 1, 6, 0.0)
        cache.put("b", 0, 2, 6, 0.0)
        self.assertIsNone(cache.peek("a"))
        self.assertEqual(cache.weight, 6)
        cache.put("c", 0, 3, 11, 0.0)
        self.assertIsNone(cache.peek("c"))
        self.assertEqual(cache.weight, 6)

    def test_off(self) -> None:
        """
        A cache of no entries keeps nothing.
        """
        cache: VersionedCache[int] = VersionedCache(0, 10)
        cache.put("a", 0, 1, 1, 0.0)
        self.assertEqual(len(cache), 0)


class JobQueueTests(SynchronousTestCase):
    """
    L{JobQueue} runs a bounded number of jobs and lets a bounded number wait,
    each for a bounded time.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.held = HeldJobs()
        self.queue = JobQueue(self.held, self.clock, maxRunning=1, maxWaiting=2, timeout=10.0)

    def test_waitThenRun(self) -> None:
        """
        A job submitted while the slot is taken runs when it frees.
        """
        first = self.queue.submit(lambda: 1)
        second = self.queue.submit(lambda: 2)
        self.assertEqual((self.queue.running, self.queue.waiting), (1, 1))
        self.held.release()
        self.assertEqual(self.successResultOf(first), 1)
        self.assertNoResult(second)
        self.held.release()
        self.assertEqual(self.successResultOf(second), 2)
        self.assertEqual((self.queue.running, self.queue.waiting), (0, 0))
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_full(self) -> None:
        """
        With C{maxWaiting} jobs waiting, another is refused at once.
        """
        for _ in range(3):
            self.queue.submit(lambda: 0)
        self.assertRaises(QueueFull, self.queue.submit, lambda: 4)

    def test_timeout(self) -> None:
        """
        A job that waited C{timeout} seconds fails with L{QueueFull} and
        never runs.
        """
        self.queue.submit(lambda: 1)
        waiting = self.queue.submit(lambda: 2)
        self.clock.advance(10.0)
        self.failureResultOf(waiting, QueueFull)
        self.held.release()
        self.assertEqual(self.held.jobs, [])

    def test_leave(self) -> None:
        """
        A job that leaves the queue frees its place and never runs; leaving
        a running job does nothing.
        """
        running = self.queue.submit(lambda: 1)
        waiting = self.queue.submit(lambda: 2)
        self.assertTrue(self.queue.leave(waiting))
        self.failureResultOf(waiting, CancelledError)
        self.assertFalse(self.queue.leave(running))
        self.assertEqual(self.queue.waiting, 0)
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.held.release()
        self.assertEqual(self.held.jobs, [])
        self.assertEqual(self.successResultOf(running), 1)


class ListingCacheTests(SynchronousTestCase):
    """
    Folder pages and playlists are answered from the cache, without a thread
    job, while their folder is unchanged.
    """

    def setUp(self) -> None:
        self.folder = MusicFolder()
        self.addCleanup(self.folder.remove)
        self.clock = Clock()
        self.held = HeldJobs()
        self.library = Library(self.folder.root, runInThread=self.held, clock=self.clock)
        self.site = buildSite([Station(FakeFrameSource(), clock=self.clock)], clock=self.clock, library=self.library)
        self.client = SiteClient(self, self.site)

    def fetch(self, path: str) -> bytes:
        """
        Request a path, releasing thread jobs as they come.

        @return: what was written back.
        """
        protocol, transport = self.client.connect()
        protocol.dataReceived(requestBytes(path))
        self.held.release()
        self.clock.advance(0)
        self.clock.advance(0)
        return transport.value()

    def test_hit(self) -> None:
        """
        The second request for a folder page starts no thread job and gives
        the same page.
        """
        first = self.fetch("/library/Jazz/")
        self.assertIn(b"Walking Bass", first)
        protocol, transport = self.client.connect()
        protocol.dataReceived(requestBytes("/library/Jazz/"))
        self.assertEqual(self.held.jobs, [])
        self.assertEqual(transport.value().split(b"\r\n\r\n", 1)[1], first.split(b"\r\n\r\n", 1)[1])

    def test_revalidated(self) -> None:
        """
        A song added to a folder changes its time: the page is read again.
        """
        self.fetch("/library/Jazz/")
        path = self.folder.write("Jazz/11 New.mp3", b"new")
        info = os.stat(os.path.dirname(path))
        os.utime(os.path.dirname(path), ns=(info.st_atime_ns, info.st_mtime_ns + 10**9))
        protocol, transport = self.client.connect()
        protocol.dataReceived(requestBytes("/library/Jazz/"))
        self.assertEqual(len(self.held.jobs), 1)
        self.held.release()
        self.assertIn(b"11 New", transport.value())

    def test_recheckedInBackground(self) -> None:
        """
        An answer older than L{RECHECK_AFTER} is given at once and read again
        in the background.
        """
        self.fetch("/library/Jazz/")
        self.clock.advance(RECHECK_AFTER + 1)
        protocol, transport = self.client.connect()
        protocol.dataReceived(requestBytes("/library/Jazz/"))
        self.assertIn(b"Walking Bass", transport.value())
        self.assertEqual(len(self.held.jobs), 1)
        self.held.release()
        found = self.library.listings.peek(("page", self.library.root + b"/Jazz", 1))
        assert found is not None
        self.assertEqual(found.checkedAt, self.clock.seconds())

    def test_unchangedRefreshKeepsAnswer(self) -> None:
        """
        A background refresh that finds the same entries keeps the answer it
        had, so the page rendered from it is still given without rendering
        again; one that finds a change replaces it.
        """
        self.fetch("/library/Jazz/")
        key = ("page", self.library.root + b"/Jazz", 1)
        before = self.library.listings.peek(key)
        assert before is not None
        self.clock.advance(RECHECK_AFTER + 1)
        self.fetch("/library/Jazz/")
        after = self.library.listings.peek(key)
        assert after is not None
        self.assertIs(after.value, before.value)
        self.assertEqual(after.checkedAt, self.clock.seconds())
        with open(os.path.join(self.folder.root, "Jazz", "10 Bass.mp3"), "r+b") as f:
            # a change inside a file leaves the folder's time as it was
            f.seek(0, os.SEEK_END)
            f.write(b"\0" * 100)
        self.clock.advance(RECHECK_AFTER + 1)
        self.fetch("/library/Jazz/")
        changed = self.library.listings.peek(key)
        assert changed is not None
        self.assertIsNot(changed.value, before.value)

    def test_treePlaylistCached(self) -> None:
        """
        A sub-tree playlist is answered from the cache the second time.
        """
        first = self.fetch("/library/?m3u=tree")
        protocol, transport = self.client.connect()
        protocol.dataReceived(requestBytes("/library/?m3u=tree"))
        self.assertEqual(self.held.jobs, [])
        self.assertIn(b"/library/Jazz/Bop/Chimes.mp3", transport.value())
        self.assertIn(b"/library/Jazz/Bop/Chimes.mp3", first)

    def test_searchOnReactor(self) -> None:
        """
        With the index built, searches start no thread job; a new index
        forgets the cached results.
        """
        self.library.buildIndex()
        self.held.release()
        self.assertIn(b"Walking Bass", self.fetch("/library/?q=walking"))
        protocol, transport = self.client.connect()
        protocol.dataReceived(requestBytes("/library/?q=walking"))
        self.assertEqual(self.held.jobs, [])
        self.assertIn(b"Walking Bass", transport.value())
        self.assertEqual(self.library.searches.hits, 1)
        self.library.buildIndex()
        self.held.release()
        self.assertEqual(len(self.library.searches), 0)


def _songs(count: int) -> list[Entry]:
    """
    @param count: how many.
    @return: songs with tags, for playlists.
    """
    return [
        Entry(b"Folder/%04d Song.mp3" % n, False, 1000, 0.0, TrackTags(f"Song {n}", "Artist", "", 61.4))
        for n in range(count)
    ]


class RecordingRequest:
    """
    The part of a request a L{PlaylistProducer} uses, recording it.

    @ivar written: the pieces written.
    @ivar producer: the registered producer, or L{None}.
    @ivar finished: how many times C{finish} was called.
    """

    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.producer: object | None = None
        self.finished = 0

    def registerProducer(self, producer: object, streaming: bool) -> None:
        assert streaming
        self.producer = producer

    def unregisterProducer(self) -> None:
        self.producer = None

    def write(self, data: bytes) -> None:
        self.written.append(data)
        if len(self.written) == 1 and self.producer is not None:
            # As a transport whose buffer filled up.
            self.producer.pauseProducing()  # type: ignore[attr-defined]

    def finish(self) -> None:
        self.finished += 1


class PlaylistProducerTests(SynchronousTestCase):
    """
    L{PlaylistProducer} writes a playlist a slice per reactor turn, pausing
    when asked, and its output is the one-piece playlist's.
    """

    def test_sameOutput(self) -> None:
        """
        The slices joined are the one-piece playlist.
        """
        songs = _songs(1000)
        base = "http://radio.example:8000"
        self.assertEqual(b"".join(_m3uSlices(songs, base, 7)), _m3u(songs, base))
        self.assertTrue(_m3u(songs, base).startswith(b"#EXTM3U\r\n#EXTINF:61,Artist - Song 0\r\n"))

    def test_pauseResume(self) -> None:
        """
        Nothing is written while paused; the whole playlist once resumed.
        """
        clock = Clock()
        request = RecordingRequest()
        songs = _songs(1000)
        producer = PlaylistProducer(
            request,  # type: ignore[arg-type]
            _m3uSlices(songs, "http://x"),
            clock,
            keepAtMost=10**7,
        )
        verifyObject(IPushProducer, producer)
        producer.start()
        self.assertIs(request.producer, producer)
        clock.advance(1)
        self.assertEqual(len(request.written), 1)
        self.assertEqual(request.finished, 0)
        producer.resumeProducing()
        for _ in range(10):
            clock.advance(0)
        self.assertEqual(b"".join(request.written), _m3u(songs, "http://x"))
        self.assertEqual(request.finished, 1)
        self.assertEqual(self.successResultOf(producer.done), _m3u(songs, "http://x"))

    def test_stop(self) -> None:
        """
        A client that leaves stops the writing.
        """
        clock = Clock()
        request = RecordingRequest()
        producer = PlaylistProducer(
            request,  # type: ignore[arg-type]
            _m3uSlices(_songs(1000), "http://x"),
            clock,
        )
        producer.start()
        producer.stopProducing()
        self.assertEqual(clock.getDelayedCalls(), [])
        self.assertIsNone(self.successResultOf(producer.done))
        self.assertEqual(request.finished, 0)

    def test_throughSite(self) -> None:
        """
        A large playlist goes through a real channel and its transport.
        """
        folder = MusicFolder()
        self.addCleanup(folder.remove)
        os.mkdir(os.path.join(folder.root, "Many"))
        for n in range(300):
            folder.write(f"Many/{n:03d}.mp3", b"x")
        clock = Clock()
        library = Library(folder.root, runInThread=lambda f, *a: succeed(f(*a)), clock=clock)
        site = buildSite([Station(FakeFrameSource(), clock=clock)], clock=clock, library=library)
        protocol = site.buildProtocol(None)
        transport = StringTransport()
        protocol.makeConnection(transport)
        protocol.dataReceived(requestBytes("/library/Many/?m3u"))
        for _ in range(5):
            clock.advance(0)
        body = transport.value()
        self.assertIn(b"/library/Many/299.mp3", body)
        self.assertIn(b"Transfer-Encoding: chunked", body)
        self.assertTrue(body.endswith(b"0\r\n\r\n"))
