"""
Tests for what the admin interfaces do to a station's listeners and
sources: listener ids, moving listeners to another mount
(L{txradio.stream.listener.Listener.moveTo},
L{txradio.stream.station.Station.moveListeners}), ending a live source
(L{txradio.stream.station.Station.killSource}), the fallback a station has
(L{txradio.stream.station.Station.fallback}) and the title a playlist plays
next (L{txradio.sources.playlist.PlaylistSource.upcoming}).
"""

from __future__ import annotations

import os

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from tests._web import DEMO
from txradio.sources.live import LiveSource
from txradio.sources.playlist import PlaylistSource
from txradio.sources.tracks import ListTracks
from txradio.stream.station import Station
from txradio.testing import FakeFrameSource, connectInMemory, syntheticFrame
from txradio.wire.icy import MetadataDemuxer
from txradio.wire.mp3 import Framer

DEMO_FILES = [os.path.join(DEMO, name) for name in sorted(os.listdir(DEMO))]


class Recorder:
    """
    An observer of a broadcaster that keeps every chunk it is handed.

    @ivar chunks: the chunks, in order.
    """

    def __init__(self) -> None:
        self.chunks: list = []

    def deliver(self, chunk) -> None:
        """
        Keep a chunk.

        @param chunk: the broadcaster's chunk.
        """
        self.chunks.append(chunk)


def twoStations(test: SynchronousTestCase, metaint: int = 1000) -> tuple[Station, Station, Clock]:
    """
    Two started stations on one clock, playing different titles.

    @return: C{(first, second, clock)}.
    """
    clock = Clock()
    first = Station(FakeFrameSource(["One A", "One B"], framesPerTrack=300), clock=clock, metaint=metaint)
    second = Station(FakeFrameSource(["Two A"], framesPerTrack=100000), mount="/two", clock=clock, metaint=metaint)
    for station in (first, second):
        station.startService()
        test.addCleanup(station.stopService)
    return first, second, clock


def demux(body: bytes, metaint: int) -> tuple[bytes, list[str], MetadataDemuxer]:
    """
    Split a listener's stream into its audio and titles.

    @param body: what followed the response head.
    @param metaint: the listener's metadata interval.
    @return: C{(audio, titles, demuxer)}.
    """
    demuxer = MetadataDemuxer(metaint)
    audio = b""
    titles = []
    for item in demuxer.feed(body):
        if isinstance(item, bytes):
            audio += item
        else:
            titles.append(item["StreamTitle"])
    return audio, titles, demuxer


class ListenerIdTests(SynchronousTestCase):
    """
    Every listener has a number of its own, fixed while it is connected.
    """

    def test_unique(self) -> None:
        """
        Listeners of different stations never share an id, and ids grow in
        the order listeners join.
        """
        first, second, clock = twoStations(self)
        listeners = [connectInMemory(station)[0] for station in (first, second, first)]
        ids = [listener.id for listener in listeners]
        self.assertEqual(len(set(ids)), 3)
        self.assertEqual(ids, sorted(ids))

    def test_stableAcrossMoves(self) -> None:
        """
        A listener keeps its id when it moves to another mount.
        """
        first, second, clock = twoStations(self)
        listener, _ = connectInMemory(first)
        before = listener.id
        first.moveListeners(second)
        self.assertEqual(listener.id, before)


class MoveTests(SynchronousTestCase):
    """
    L{Station.moveListeners} moves listeners to another mount at a frame
    boundary, without a reconnect.
    """

    def test_moved(self) -> None:
        """
        The listeners leave the first broadcaster and join the second; the
        count moved is returned and the destination's peak follows.
        """
        first, second, clock = twoStations(self)
        clock.advance(1)
        a, _ = connectInMemory(first)
        b, _ = connectInMemory(first)
        self.assertEqual(first.moveListeners(second), 2)
        self.assertEqual(list(first.broadcaster.listeners), [])
        self.assertEqual(list(second.broadcaster.listeners), [a, b])
        self.assertEqual(second.peakListeners, 2)
        self.assertEqual(first.listenerCount, 0)

    def test_streamContinues(self) -> None:
        """
        After the move the listener gets exactly the destination's chunks,
        whole frames, with a metadata block still after every C{metaint}
        bytes of audio and the destination's title in the next block.
        """
        metaint = 700
        first, second, clock = twoStations(self, metaint)
        clock.advance(1)
        listener, transport = connectInMemory(first, wantsMetadata=True)
        clock.pump([0.25] * 10)
        sentBefore = listener.bytesSent
        recorder = Recorder()
        second.broadcaster.addObserver(recorder)
        first.moveListeners(second)
        clock.pump([0.25] * 20)
        body = transport.value().partition(b"\r\n\r\n")[2]
        audio, titles, demuxer = demux(body, metaint)
        self.assertEqual(demuxer.blocks, len(audio) // metaint)
        framer = Framer()
        frames = framer.feed(audio) + framer.flush()
        self.assertEqual(b"".join(frame.data for frame in frames), audio)
        self.assertEqual(framer.skippedBytes, 0)
        after = b"".join(chunk.data for chunk in recorder.chunks)
        self.assertTrue(after)
        self.assertTrue(audio.endswith(after))
        # What came before the move is a whole number of frames too.
        self.assertEqual((len(audio) - len(after)) % len(syntheticFrame().data), 0)
        self.assertEqual(titles[0], "One A")
        self.assertEqual(titles[-1], "Two A")
        self.assertGreater(listener.bytesSent, sentBefore)

    def test_pausedListenerSendsHeldAudioFirst(self) -> None:
        """
        A paused listener that moves sends what it held from the first
        mount, then the second mount's audio, in order.
        """
        first, second, clock = twoStations(self)
        clock.advance(1)
        listener, transport = connectInMemory(first)
        clock.advance(0.25)
        listener.pauseProducing()
        held = Recorder()
        first.broadcaster.addObserver(held)
        clock.pump([0.25] * 8)
        first.broadcaster.removeObserver(held)
        moved = Recorder()
        second.broadcaster.addObserver(moved)
        first.moveListeners(second)
        clock.pump([0.25] * 8)
        transport.clear()
        listener.resumeProducing()
        expected = b"".join(chunk.data for chunk in held.chunks + moved.chunks)
        self.assertTrue(held.chunks and moved.chunks)
        self.assertEqual(transport.value(), expected)

    def test_leavesTheNewMount(self) -> None:
        """
        A moved listener whose connection goes away leaves the mount it
        moved to.
        """
        first, second, clock = twoStations(self)
        listener, _ = connectInMemory(first)
        first.moveListeners(second)
        listener.stopProducing()
        self.assertEqual(list(second.broadcaster.listeners), [])
        self.assertEqual(list(first.broadcaster.listeners), [])

    def test_endedListenerStays(self) -> None:
        """
        A listener that has ended is not attached anywhere by a move.
        """
        first, second, clock = twoStations(self)
        listener, _ = connectInMemory(first)
        listener.stopProducing()
        listener.moveTo(second.broadcaster)
        self.assertEqual(list(second.broadcaster.listeners), [])

    def test_followersStay(self) -> None:
        """
        A mount following the first one as its fallback is not moved.
        """
        first, second, clock = twoStations(self)
        third = Station(None, mount="/third", clock=clock)
        third.startService()
        self.addCleanup(third.stopService)
        third.setFallback(first)
        clock.advance(1)
        follower = list(first.broadcaster.listeners)
        self.assertEqual(len(follower), 1)
        listener, _ = connectInMemory(first)
        self.assertEqual(first.moveListeners(second), 1)
        self.assertEqual(list(first.broadcaster.listeners), follower)
        self.assertEqual(list(second.broadcaster.listeners), [listener])

    def test_sameMount(self) -> None:
        """
        Moving a mount's listeners to itself is refused.
        """
        first, second, clock = twoStations(self)
        connectInMemory(first)
        self.assertRaises(ValueError, first.moveListeners, first)
        self.assertEqual(first.listenerCount, 1)


class KillSourceTests(SynchronousTestCase):
    """
    L{Station.killSource} ends a live source: the mount plays its programme
    again from the next frame and the source's connection is closed.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.station = Station(FakeFrameSource(["Programme"]), clock=self.clock, sourcePassword="pw")
        self.station.startService()
        self.addCleanup(self.station.stopService)

    def test_kill(self) -> None:
        """
        The live source's queue is dropped, its hang-up called once, and
        the programme's title comes back.
        """
        live = LiveSource(title="Live show")
        hangUps = []
        live.hangUp = lambda: hangUps.append(True)
        self.assertTrue(self.station.attachLive(live))
        live.feed(syntheticFrame().data * 200)
        self.clock.advance(1)
        self.assertEqual(self.station.broadcaster.title, "Live show")
        self.assertTrue(self.station.killSource())
        self.assertEqual(hangUps, [True])
        self.assertFalse(live.onAir)
        self.clock.advance(1)
        self.assertEqual(self.station.broadcaster.title, "Programme")
        self.assertFalse(self.station.killSource())
        self.assertEqual(hangUps, [True])

    def test_noSource(self) -> None:
        """
        Without a live source there is nothing to end.
        """
        self.assertFalse(self.station.killSource())

    def test_endedSourceLetsGo(self) -> None:
        """
        A source whose connection ended no longer holds its hang-up (and so
        its connection).
        """
        live = LiveSource()
        live.hangUp = lambda: None
        live.end()
        self.assertIsNone(live.hangUp)


class FallbackTests(SynchronousTestCase):
    """
    L{Station.fallback} tells which station L{Station.setFallback} set.
    """

    def test_fallback(self) -> None:
        """
        It is L{None}, then the station set, then L{None} again.
        """
        first, second, clock = twoStations(self)
        self.assertIsNone(first.fallback)
        first.setFallback(second)
        self.assertIs(first.fallback, second)
        first.setFallback(None)
        self.assertIsNone(first.fallback)


class UpcomingTests(SynchronousTestCase):
    """
    L{PlaylistSource.upcoming} tells the next track's title.
    """

    def test_upcoming(self) -> None:
        """
        While the first track plays, the second is next; at the end of a
        pass the next is not known.
        """
        clock = Clock()
        source = PlaylistSource(ListTracks(DEMO_FILES), clock=clock, titleOf=os.path.basename)
        source.pull(1.0)
        self.assertEqual(source.title, os.path.basename(DEMO_FILES[0]))
        self.assertEqual(source.upcoming(), os.path.basename(DEMO_FILES[1]))
        source.skip()
        source.pull(0.1)
        source.skip()
        source.pull(0.1)
        self.assertEqual(source.title, os.path.basename(DEMO_FILES[2]))
        self.assertIsNone(source.upcoming())

    def test_unreadableTitle(self) -> None:
        """
        A title that cannot be read is not known.
        """

        def titleOf(path: str) -> str:
            if path == DEMO_FILES[1]:
                raise OSError("gone")
            return os.path.basename(path)

        source = PlaylistSource(ListTracks(DEMO_FILES), clock=Clock(), titleOf=titleOf)
        source.pull(1.0)
        self.assertIsNone(source.upcoming())
