"""
Tests for L{txradio.stream.listener}: metadata splicing, bursts and flow control.
"""

from __future__ import annotations

from twisted.internet.interfaces import IPushProducer
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase

from zope.interface.verify import verifyObject

from txradio.interfaces import IListener
from txradio.stream.station import Station
from txradio.testing import FakeFrameSource, connectInMemory, syntheticFrame
from txradio.wire.icy import MetadataDemuxer
from txradio.wire.mp3 import Framer

FRAME_BYTES = len(syntheticFrame().data)


def splitResponse(raw: bytes) -> tuple[bytes, bytes]:
    """
    Split what a listener received into its response head and body.
    """
    head, _, body = raw.partition(b"\r\n\r\n")
    return head, body


def makeStation(**kwargs) -> tuple[Station, Clock, FakeFrameSource]:
    """
    Make a started station on a fake clock with a synthetic source.
    """
    clock = Clock()
    source = kwargs.pop("source", None) or FakeFrameSource(
        titles=["First Song", "Second Song", "Third Song"], framesPerTrack=200
    )
    station = Station(source, clock=clock, **kwargs)
    station.startService()
    return station, clock, source


class ListenerInterfaceTests(SynchronousTestCase):
    """
    L{Listener} provides the interfaces it claims.
    """

    def test_interfaces(self) -> None:
        """
        A listener provides L{IListener} and L{IPushProducer}, and registers
        itself as its transport's streaming producer.
        """
        station, _, _ = makeStation()
        listener, transport = connectInMemory(station)
        self.assertTrue(verifyObject(IListener, listener))
        self.assertTrue(verifyObject(IPushProducer, listener))
        self.assertIs(transport.producer, listener)
        self.assertTrue(transport.streaming)


class MetadataSplicingTests(SynchronousTestCase):
    """
    A listener that asked for metadata gets a well-formed block after every
    C{metaint} bytes of audio, and every byte of audio is accounted for.
    """

    def assertRoundTrip(self, metaint: int, joinAfter: float, seconds: float) -> list[str]:
        """
        Run a station, join after C{joinAfter} seconds, collect for
        C{seconds}, and check the stream demultiplexes into exactly the
        audio the broadcaster sent, as whole frames.

        @return: the titles seen, in order.
        """
        station, clock, _ = makeStation(metaint=metaint)
        clock.pump([0.25] * int(joinAfter / 0.25) + [joinAfter % 0.25])
        plain, plainTransport = connectInMemory(station, wantsMetadata=False)
        meta, metaTransport = connectInMemory(station, wantsMetadata=True)
        steps = int(seconds / 0.25)
        for _ in range(steps):
            clock.advance(0.25)
        plainHead, plainAudio = splitResponse(plainTransport.value())
        metaHead, metaBody = splitResponse(metaTransport.value())
        self.assertIn(b"icy-metaint:%d" % metaint, metaHead.split(b"\r\n"))
        self.assertNotIn(b"\r\nicy-metaint:", plainHead)
        demuxer = MetadataDemuxer(metaint)
        audio = b""
        titles = []
        for item in demuxer.feed(metaBody):
            if isinstance(item, bytes):
                audio += item
            else:
                titles.append(item["StreamTitle"])
        self.assertEqual(audio, plainAudio)
        self.assertEqual(demuxer.blocks, len(audio) // metaint)
        framer = Framer()
        frames = framer.feed(audio) + framer.flush()
        self.assertEqual(b"".join(f.data for f in frames), audio)
        self.assertEqual(framer.skippedBytes, 0)
        return titles

    def test_roundTrip(self) -> None:
        """
        With the default interval, the titles change with the tracks.
        """
        titles = self.assertRoundTrip(16000, 0, 30)
        self.assertEqual(titles, ["First Song", "Second Song", "Third Song"] * 2)

    def test_lateJoiner(self) -> None:
        """
        A listener who joins mid-track first hears the title of the audio its
        burst starts with.
        """
        titles = self.assertRoundTrip(16000, 12, 20)
        self.assertEqual(titles[0], "Second Song")

    def test_smallInterval(self) -> None:
        """
        An interval much smaller than a chunk puts many blocks in one chunk.
        """
        self.assertRoundTrip(100, 1.1, 5)

    def test_oddIntervals(self) -> None:
        """
        Intervals that do not divide anything evenly still round-trip.
        """
        for metaint in (1, 417, 8191, 8192, 16001, 100000):
            self.assertRoundTrip(metaint, 2.7, 12)

    def test_titleBlockOnlyWhenChanged(self) -> None:
        """
        Blocks repeat the title only when it changed: other blocks are a
        single zero byte.
        """
        station, clock, _ = makeStation(metaint=1000, source=FakeFrameSource(framesPerTrack=10000))
        _, transport = connectInMemory(station, wantsMetadata=True)
        for _ in range(20):
            clock.advance(0.25)
        _, body = splitResponse(transport.value())
        demuxer = MetadataDemuxer(1000)
        items = demuxer.feed(body)
        full = [item for item in items if isinstance(item, dict)]
        self.assertEqual(len(full), 1)
        self.assertGreater(demuxer.blocks, 50)


class FlowControlTests(SynchronousTestCase):
    """
    A listener whose transport stops draining is paused, holds what it
    missed up to its lag limit, and is then dropped, without slowing others.
    """

    def test_pausedListenerCatchesUp(self) -> None:
        """
        A listener paused for a while and resumed gets exactly the audio it
        missed, in order.
        """
        station, clock, _ = makeStation()
        steady, steadyTransport = connectInMemory(station)
        paused, pausedTransport = connectInMemory(station)
        paused.pauseProducing()
        before = len(pausedTransport.value())
        for _ in range(10):
            clock.advance(0.5)
        self.assertEqual(len(pausedTransport.value()), before)
        self.assertGreater(paused.lag, 0)
        paused.resumeProducing()
        self.assertEqual(paused.lag, 0)
        self.assertEqual(pausedTransport.value(), steadyTransport.value())

    def test_droppedAtLagLimit(self) -> None:
        """
        Past its lag limit a paused listener is disconnected and leaves the
        broadcaster, while another keeps receiving.
        """
        station, clock, _ = makeStation(lagLimit=50000)
        steady, steadyTransport = connectInMemory(station)
        stalled, stalledTransport = StringTransport(), None
        stalled, stalledTransport = connectInMemory(station)
        stalled.pauseProducing()
        clock.advance(0.5)
        self.assertFalse(stalledTransport.disconnecting)
        for _ in range(8):
            clock.advance(0.5)
        self.assertTrue(stalledTransport.disconnected or stalledTransport.disconnecting)
        self.assertNotIn(stalled, list(station.broadcaster.listeners))
        self.assertIn(steady, list(station.broadcaster.listeners))
        received = len(steadyTransport.value())
        clock.advance(0.5)
        self.assertGreater(len(steadyTransport.value()), received)

    def test_lagIsBounded(self) -> None:
        """
        A paused listener never holds more than its lag limit plus one
        chunk.
        """
        station, clock, _ = makeStation(lagLimit=100000)
        stalled, _ = connectInMemory(station)
        stalled.pauseProducing()
        highest = 0
        for _ in range(100):
            clock.advance(0.5)
            highest = max(highest, stalled.lag)
        chunkFrames = int(station.broadcaster.tickInterval / syntheticFrame().duration) + 2
        self.assertLessEqual(highest, 100000 + chunkFrames * FRAME_BYTES)

    def test_stopProducingLeaves(self) -> None:
        """
        When the transport goes away the listener leaves the broadcaster.
        """
        station, clock, _ = makeStation()
        listener, _ = connectInMemory(station)
        listener.stopProducing()
        listener.stopProducing()
        self.assertEqual(station.listenerCount, 0)


class BurstOnConnectTests(SynchronousTestCase):
    """
    A new listener gets recent audio at once, starting on a frame.
    """

    def test_burst(self) -> None:
        """
        The first bytes after the head are a burst of about the burst size
        that starts with a frame header.
        """
        station, clock, _ = makeStation(burstSize=32768)
        for _ in range(20):
            clock.advance(0.5)
        _, transport = connectInMemory(station)
        _, body = splitResponse(transport.value())
        self.assertLessEqual(len(body), 32768)
        self.assertGreater(len(body), 32768 - FRAME_BYTES)
        self.assertEqual(body[:2], b"\xff\xfb")

    def test_joinerHearsNowNotTheStart(self) -> None:
        """
        A listener who joins later receives the same bytes as an earlier one
        from the point it joined, not the stream's beginning.
        """
        station, clock, _ = makeStation(burstSize=0)
        _, early = connectInMemory(station)
        for _ in range(20):
            clock.advance(0.5)
        _, late = connectInMemory(station)
        offset = len(splitResponse(early.value())[1])
        for _ in range(10):
            clock.advance(0.5)
        earlyAudio = splitResponse(early.value())[1]
        lateAudio = splitResponse(late.value())[1]
        self.assertGreater(len(lateAudio), 0)
        self.assertEqual(earlyAudio[offset:], lateAudio)
