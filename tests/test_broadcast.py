"""
Tests for L{txradio.stream.broadcast}: pacing, chunks and bursts.
"""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from zope.interface import implementer
from zope.interface.verify import verifyClass, verifyObject

from txradio.interfaces import IBroadcaster, IFrameSource, IListener
from txradio.stream.broadcast import Broadcaster, Chunk, RecentAudio
from txradio.testing import FakeFrameSource, syntheticFrame
from txradio.wire.icy import encodeMetadata

OLD_SHOW = syntheticFrame(marker=60)
NEW_SHOW = syntheticFrame(marker=140)

FRAME = syntheticFrame()
FRAME_SECONDS = FRAME.header.duration
FRAME_BYTES = len(FRAME.data)


@implementer(IListener)
class RecordingListener:
    """
    A listener that records the chunks it is given.
    """

    id = None
    userAgent = ""
    connectedAt = None
    seconds = 0.0
    lag = 0
    internal = False

    def __init__(self) -> None:
        self.peer = "recorder"
        self.bytesSent = 0
        self.chunks: list[Chunk] = []
        self.reasons: list[str] = []

    def deliver(self, chunk: Chunk) -> None:
        self.chunks.append(chunk)
        self.bytesSent += len(chunk.data)

    def disconnect(self, reason: str) -> None:
        self.reasons.append(reason)


verifyClass(IListener, RecordingListener)


@implementer(IFrameSource)
class ScriptedSource:
    """
    A source that returns prepared batches, then nothing (like a live source
    that ran dry).
    """

    title = None
    onAir = True

    def __init__(self, batches: list[list]) -> None:
        self.batches = list(batches)

    def pull(self, duration: float) -> list:
        return self.batches.pop(0) if self.batches else []

    def close(self) -> None:
        self.batches = []


verifyClass(IFrameSource, ScriptedSource)


@implementer(IFrameSource)
class QueueSource:
    """
    A source that plays the frames a test queued, up to the duration asked
    for, then nothing (like a live source fed in real time).
    """

    title = None
    onAir = True

    def __init__(self) -> None:
        self.frames: list = []

    def pull(self, duration: float) -> list:
        out: list = []
        while self.frames and duration > 0:
            frame = self.frames.pop(0)
            out.append(frame)
            duration -= frame.header.duration
        return out

    def close(self) -> None:
        self.frames = []


verifyClass(IFrameSource, QueueSource)


def makeBroadcaster(source=None, **kwargs) -> tuple[Broadcaster, Clock]:
    """
    Make a started broadcaster on a fake clock, ticking every half second
    unless told otherwise.
    """
    kwargs.setdefault("tickInterval", 0.5)
    clock = Clock()
    broadcaster = Broadcaster(source or FakeFrameSource(), clock=clock, **kwargs)
    broadcaster.startService()
    return broadcaster, clock


class BroadcasterPacingTests(SynchronousTestCase):
    """
    The broadcaster sends audio at the pace of the clock.
    """

    def test_interface(self) -> None:
        """
        L{Broadcaster} provides L{IBroadcaster}.
        """
        broadcaster, _ = makeBroadcaster()
        self.assertTrue(verifyObject(IBroadcaster, broadcaster))

    def test_simulatedHour(self) -> None:
        """
        After an hour of simulated time the audio sent equals the time
        elapsed plus the lead, to within one frame: no drift.
        """
        broadcaster, clock = makeBroadcaster(tickInterval=0.5)
        for _ in range(7200):
            clock.advance(0.5)
        expected = 3600 + broadcaster.lead
        self.assertGreaterEqual(broadcaster.audioSeconds, expected)
        self.assertLess(broadcaster.audioSeconds - expected, FRAME_SECONDS)
        self.assertEqual(broadcaster.bytesSent, broadcaster.framesSent * FRAME_BYTES)

    def test_unevenTicks(self) -> None:
        """
        Ticks that run late (the reactor was busy) catch up, and the total
        still follows the clock.
        """
        broadcaster, clock = makeBroadcaster(tickInterval=0.5)
        for step in [0.7, 1.3, 0.2, 0.9] * 250:
            clock.advance(step)
        expected = 775 + broadcaster.lead
        self.assertGreaterEqual(broadcaster.audioSeconds, expected)
        self.assertLess(broadcaster.audioSeconds - expected, FRAME_SECONDS)

    def test_clockJumpsBack(self) -> None:
        """
        A clock that goes backwards does not silence the station: pacing
        starts afresh from the new time.
        """
        broadcaster, clock = makeBroadcaster(tickInterval=0.5, lead=0)
        clock.advance(10)
        sentBefore = broadcaster.audioSeconds
        clock.rightNow -= 3600
        broadcaster.tick()
        clock.advance(1)
        broadcaster.tick()
        self.assertGreater(broadcaster.audioSeconds, sentBefore + 0.9)

    def test_longStallDoesNotFlood(self) -> None:
        """
        After the clock leaps far ahead (a stalled reactor, a wall clock
        jump), the broadcaster does not send the whole gap at once.
        """
        broadcaster, clock = makeBroadcaster(tickInterval=0.5)
        clock.advance(1)
        before = broadcaster.audioSeconds
        clock.rightNow += 3600
        broadcaster.tick()
        self.assertLess(broadcaster.audioSeconds - before, broadcaster.maxCatchUp + 1)

    def test_sourceRunsDry(self) -> None:
        """
        When the source has nothing, nothing is delivered, and when audio
        returns it is sent without a flood of catch-up.
        """
        source = ScriptedSource([[FRAME] * 10])
        broadcaster, clock = makeBroadcaster(source, tickInterval=0.5)
        listener = RecordingListener()
        broadcaster.addListener(listener)
        clock.advance(60)
        self.assertEqual(len(listener.chunks), 0)
        source.batches = [[FRAME] * 5]
        clock.advance(0.5)
        self.assertEqual(len(listener.chunks), 1)
        self.assertEqual(len(listener.chunks[0].data), 5 * FRAME_BYTES)

    def test_stopCleansUp(self) -> None:
        """
        Stopping the broadcaster leaves no timer behind and disconnects its
        listeners.
        """
        broadcaster, clock = makeBroadcaster()
        listener = RecordingListener()
        broadcaster.addListener(listener)
        broadcaster.stopService()
        self.assertEqual(clock.getDelayedCalls(), [])
        self.assertEqual(listener.reasons, ["station stopped"])
        self.assertEqual(list(broadcaster.listeners), [])


class BroadcasterFanOutTests(SynchronousTestCase):
    """
    Every listener gets the same chunk object on each tick.
    """

    def test_sameChunkForEveryone(self) -> None:
        """
        All listeners receive the identical (shared) chunk objects.
        """
        broadcaster, clock = makeBroadcaster()
        listeners = [RecordingListener() for _ in range(5)]
        for listener in listeners:
            broadcaster.addListener(listener)
        clock.advance(0.5)
        clock.advance(0.5)
        first = listeners[0].chunks
        self.assertEqual(len(first), 2)
        for listener in listeners[1:]:
            self.assertEqual(len(listener.chunks), 2)
            for mine, theirs in zip(listener.chunks, first):
                self.assertIs(mine, theirs)

    def test_chunksAreContiguous(self) -> None:
        """
        Each chunk starts where the previous one ended and holds whole
        frames.
        """
        broadcaster, clock = makeBroadcaster()
        listener = RecordingListener()
        broadcaster.addListener(listener)
        for _ in range(20):
            clock.advance(0.5)
        position = listener.chunks[0].position
        for chunk in listener.chunks:
            self.assertEqual(chunk.position, position)
            self.assertEqual(len(chunk.data) % FRAME_BYTES, 0)
            self.assertEqual(chunk.frameStarts, tuple(range(0, len(chunk.data), FRAME_BYTES)))
            position += len(chunk.data)

    def test_titleMarks(self) -> None:
        """
        A title change inside a tick is marked at the offset of the first
        frame of the new track.
        """
        source = FakeFrameSource(titles=["One", "Two"], framesPerTrack=30)
        broadcaster, clock = makeBroadcaster(source, tickInterval=0.5)
        listener = RecordingListener()
        broadcaster.addListener(listener)
        for _ in range(4):
            clock.advance(0.5)
        marks = [
            (chunk.position + offset, block)
            for chunk in [broadcaster.recent._chunks[0], *listener.chunks]
            for offset, block in chunk.marks
            if offset or chunk.position == 0
        ]
        self.assertIn((0, encodeMetadata("One")), marks)
        self.assertIn((30 * FRAME_BYTES, encodeMetadata("Two")), marks)
        self.assertEqual(broadcaster.title, "Two")

    def test_removeListener(self) -> None:
        """
        A removed listener gets no more chunks.
        """
        broadcaster, clock = makeBroadcaster()
        listener = RecordingListener()
        broadcaster.addListener(listener)
        clock.advance(0.5)
        broadcaster.removeListener(listener)
        broadcaster.removeListener(listener)
        clock.advance(0.5)
        self.assertEqual(len(listener.chunks), 1)

    def test_setSource(self) -> None:
        """
        Switching sources takes effect at the next frame, and the new
        source's title is announced.
        """
        broadcaster, clock = makeBroadcaster(FakeFrameSource(["Playlist"]))
        clock.advance(0.5)
        broadcaster.setSource(FakeFrameSource(["Live"]))
        clock.advance(0.5)
        self.assertEqual(broadcaster.title, "Live")


class BurstTests(SynchronousTestCase):
    """
    New listeners get recent audio that starts on a frame boundary and runs
    up to the live position.
    """

    def test_burstStartsOnFrameAndEndsAtLive(self) -> None:
        """
        The burst is at most the burst size, at least the burst size minus a
        frame, starts on a frame and ends where the next delivery begins.
        """
        broadcaster, clock = makeBroadcaster(burstSize=65536)
        for _ in range(20):
            clock.advance(0.5)
        listener = RecordingListener()
        burst = broadcaster.addListener(listener)
        size = sum(len(chunk.data) for chunk in burst)
        self.assertLessEqual(size, 65536)
        self.assertGreater(size, 65536 - FRAME_BYTES)
        self.assertEqual(burst[0].data[:4], FRAME.data[:4])
        self.assertEqual(burst[0].frameStarts[0], 0)
        end = burst[-1].position + len(burst[-1].data)
        clock.advance(0.5)
        self.assertEqual(listener.chunks[0].position, end)

    def test_burstBeforeAnyAudio(self) -> None:
        """
        A listener who joins before any audio was sent gets an empty burst.
        """
        source = ScriptedSource([])
        broadcaster, _ = makeBroadcaster(source)
        self.assertEqual(broadcaster.addListener(RecordingListener()), [])

    def test_recentAudioIsBounded(self) -> None:
        """
        The recent-audio buffer keeps about the burst size, not the whole
        stream.
        """
        recent = RecentAudio(10000)
        for _ in range(1000):
            recent.append(Chunk(FRAME.data * 4, (0, 417, 834, 1251), ((0, b"\x00"),)))
        held = sum(len(chunk.data) for chunk in recent._chunks)
        self.assertLess(held, 10000 + 4 * FRAME_BYTES)
        self.assertGreaterEqual(held, 10000)

    def test_tailKeepsTitle(self) -> None:
        """
        A chunk cut at a frame keeps the title in effect at the cut.
        """
        one, two = encodeMetadata("One"), encodeMetadata("Two")
        chunk = Chunk(FRAME.data * 4, (0, 417, 834, 1251), ((0, one), (834, two)), position=100)
        self.assertEqual(chunk.tail(417).marks, ((0, one), (417, two)))
        self.assertEqual(chunk.tail(834).marks, ((0, two),))
        self.assertEqual(chunk.tail(1251).marks, ((0, two),))
        self.assertEqual(chunk.tail(1251).position, 1351)
        self.assertEqual(chunk.tail(417).frameStarts, (0, 417, 834))

    def test_blockAt(self) -> None:
        """
        L{Chunk.blockAt} finds the title in effect at an offset.
        """
        one, two, three = (encodeMetadata(t) for t in ("1", "2", "3"))
        chunk = Chunk(b"x" * 300, (0,), ((0, one), (100, two), (200, three)))
        self.assertEqual(
            [chunk.blockAt(offset) for offset in (0, 99, 100, 199, 200, 300)],
            [one, one, two, two, three, three],
        )


def markersOf(chunks: list[Chunk]) -> set[int]:
    """
    The markers (last bytes) of the synthetic frames in some chunks.
    """
    data = b"".join(chunk.data for chunk in chunks)
    return {data[start + FRAME_BYTES - 1] for start in range(0, len(data), FRAME_BYTES)}


class BurstAfterGapTests(SynchronousTestCase):
    """
    The burst never holds audio from before a gap in the mount's audio: a
    tick at which the source had nothing while the audio sent so far had
    all played out.
    """

    def playShow(self, source: QueueSource, clock: Clock, frame, seconds: float) -> None:
        """
        Feed C{source} half a second of C{frame} before each half-second
        tick, as a live source client sending in real time would.
        """
        for _ in range(int(seconds * 2)):
            source.frames.extend([frame] * 20)
            clock.advance(0.5)

    def test_burstAfterGapHoldsOnlyNewAudio(self) -> None:
        """
        After a show, four seconds with no audio and a new show, a new
        listener's burst holds only the new show.
        """
        source = QueueSource()
        broadcaster, clock = makeBroadcaster(source, tickInterval=0.5)
        self.playShow(source, clock, OLD_SHOW, 6)
        self.assertEqual(markersOf(broadcaster.addListener(RecordingListener())), {60})
        clock.pump([0.5] * 8)
        self.playShow(source, clock, NEW_SHOW, 1)
        burst = broadcaster.addListener(RecordingListener())
        self.assertEqual(markersOf(burst), {140})
        self.assertEqual(sum(len(chunk.data) for chunk in burst), 40 * FRAME_BYTES)

    def test_burstDuringGapIsEmpty(self) -> None:
        """
        A listener who joins while the mount has had no audio for a few
        seconds gets an empty burst.
        """
        source = QueueSource()
        broadcaster, clock = makeBroadcaster(source, tickInterval=0.5)
        self.playShow(source, clock, OLD_SHOW, 6)
        clock.pump([0.5] * 8)
        self.assertEqual(broadcaster.addListener(RecordingListener()), [])

    def test_tickBetweenFramesKeepsBurst(self) -> None:
        """
        A tick that finds no frames while the audio sent ahead still plays
        is no gap: the burst stays, until the audio sent has played out.
        """
        source = ScriptedSource([[FRAME] * 40])
        broadcaster, clock = makeBroadcaster(source, tickInterval=0.5)
        clock.advance(0.5)
        clock.advance(0.5)
        self.assertLess(broadcaster.audioSeconds - 1.0, FRAME_SECONDS * 2)
        self.assertGreater(broadcaster.audioSeconds, 1.0)
        self.assertEqual(len(broadcaster.addListener(RecordingListener())[0].data), 40 * FRAME_BYTES)
        clock.advance(0.5)
        self.assertEqual(broadcaster.addListener(RecordingListener()), [])

    def test_playlistKeepsBurstAcrossTrackChanges(self) -> None:
        """
        A source that never runs dry keeps a full burst on every tick,
        across its track changes.
        """
        source = FakeFrameSource(titles=["One", "Two"], framesPerTrack=30)
        broadcaster, clock = makeBroadcaster(source, tickInterval=0.5, burstSize=16384)
        clock.pump([0.5] * 8)
        for _ in range(40):
            clock.advance(0.5)
            size = sum(len(chunk.data) for chunk in broadcaster.recent.burst())
            self.assertGreater(size, 16384 - FRAME_BYTES)
        self.assertGreater(len(broadcaster.history), 10)

    def test_liveToPlaylistKeepsBurst(self) -> None:
        """
        A hand-over from a source that ran dry to one with audio, within
        the audio sent ahead, is no gap: the burst keeps both.
        """
        source = QueueSource()
        broadcaster, clock = makeBroadcaster(source, tickInterval=0.5)
        self.playShow(source, clock, OLD_SHOW, 2)
        broadcaster.setSource(FakeFrameSource())
        clock.pump([0.5] * 2)
        markers = markersOf(broadcaster.addListener(RecordingListener()))
        self.assertIn(60, markers)
        self.assertGreater(len(markers), 1)


class SlicedFanOutTests(SynchronousTestCase):
    """
    With more listeners than L{Broadcaster.fanoutSlice}, a tick's chunk
    reaches them over several reactor turns, each listener once, in stream
    order.
    """

    def makeStation(self, count: int, fanoutSlice: int = 2):
        """
        Make a broadcaster on a fake clock with C{count} listeners attached
        before its first tick, and start it: the first tick runs at once.
        """
        clock = Clock()
        broadcaster = Broadcaster(FakeFrameSource(), clock=clock, tickInterval=0.5, fanoutSlice=fanoutSlice)
        listeners = [RecordingListener() for _ in range(count)]
        for listener in listeners:
            broadcaster.addListener(listener)
        broadcaster.startService()
        return broadcaster, clock, listeners

    def assertContiguous(self, chunks: list[Chunk]) -> None:
        """
        Assert that C{chunks} follow each other in the stream, without gap
        or overlap.
        """
        for before, after in zip(chunks, chunks[1:]):
            self.assertEqual(after.position, before.position + len(before.data))

    def test_slices(self) -> None:
        """
        A tick writes to the first C{fanoutSlice} listeners; the others get
        the same chunk object once the clock advances by 0 (the next
        reactor turns).
        """
        broadcaster, clock, listeners = self.makeStation(5)
        self.assertEqual([len(each.chunks) for each in listeners], [1, 1, 0, 0, 0])
        clock.advance(0)
        chunk = listeners[0].chunks[0]
        for listener in listeners:
            self.assertEqual(len(listener.chunks), 1)
            self.assertIs(listener.chunks[0], chunk)
        self.assertEqual(len(clock.getDelayedCalls()), 1)

    def test_smallStationInOneTurn(self) -> None:
        """
        With no more listeners than C{fanoutSlice}, every listener gets the
        chunk in the tick itself and nothing is scheduled but the next tick.
        """
        broadcaster, clock, listeners = self.makeStation(5, fanoutSlice=5)
        self.assertEqual([len(each.chunks) for each in listeners], [1] * 5)
        self.assertEqual(len(clock.getDelayedCalls()), 1)

    def test_joinDuringFanOut(self) -> None:
        """
        A listener that joins while a fan-out is under way gets that chunk
        in its burst, not from the fan-out, and the next tick's chunk next.
        """
        broadcaster, clock, listeners = self.makeStation(5)
        newcomer = RecordingListener()
        burst = broadcaster.addListener(newcomer)
        clock.advance(0)
        self.assertEqual(newcomer.chunks, [])
        clock.advance(0.5)
        clock.advance(0)
        self.assertEqual(len(newcomer.chunks), 1)
        self.assertContiguous(burst + newcomer.chunks)
        self.assertEqual(listeners[-1].chunks[-1], newcomer.chunks[0])

    def test_leaveDuringFanOut(self) -> None:
        """
        A listener that leaves while a fan-out is under way gets nothing
        more; the others are served.
        """
        broadcaster, clock, listeners = self.makeStation(5)
        broadcaster.removeListener(listeners[3])
        clock.advance(0)
        self.assertEqual([len(each.chunks) for each in listeners], [1, 1, 1, 0, 1])

    def test_nextTickFinishesFanOut(self) -> None:
        """
        A tick that finds the previous fan-out unfinished (the reactor was
        busy) completes it before sending its own chunk, so every listener
        gets both, in order, once.
        """
        broadcaster, clock, listeners = self.makeStation(5)
        clock.rightNow += 0.5
        broadcaster.tick()
        clock.advance(0)
        for listener in listeners:
            self.assertEqual(len(listener.chunks), 2)
            self.assertContiguous(listener.chunks)
            self.assertIs(listener.chunks[1], listeners[0].chunks[1])

    def test_stopCancelsFanOut(self) -> None:
        """
        Stopping the station during a fan-out leaves no timer behind.
        """
        broadcaster, clock, listeners = self.makeStation(5)
        broadcaster.stopService()
        self.assertEqual(clock.getDelayedCalls(), [])
        self.assertEqual([each.reasons for each in listeners], [["station stopped"]] * 5)

    def test_sliceAtLeastOne(self) -> None:
        """
        A slice of fewer than one listener is refused.
        """
        self.assertRaises(ValueError, Broadcaster, FakeFrameSource(), Clock(), fanoutSlice=0)
