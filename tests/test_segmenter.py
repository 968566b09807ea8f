"""
Tests for L{txradio.stream.segmenter}: cutting a broadcaster's stream into HLS
segments on frame boundaries, with exact durations, continuous timestamps,
titles as timed metadata, discontinuities and a bounded window.
"""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.internet.testing import EventLoggingObserver
from twisted.logger import globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from zope.interface.verify import verifyObject

from txradio.interfaces import IListener
from txradio.stream.broadcast import Broadcaster, Chunk
from txradio.stream.segmenter import Segmenter
from txradio.stream.station import Station
from txradio.testing import FakeFrameSource, syntheticFrame
from txradio.wire.hls import PTS_CLOCK, Segment
from txradio.wire.icy import encodeMetadata
from txradio.wire.mp3 import parseHeader

HZ48 = b"\xff\xfb\x94\x64"
"""MPEG-1 Layer III, 128 kbps, 48000 Hz, joint stereo."""

LOW = b"\xff\xfb\x50\x64"
"""MPEG-1 Layer III, 64 kbps, 44100 Hz, joint stereo."""


def splitSegment(segment: Segment) -> tuple[bytes, list[bytes]]:
    """
    Take a segment apart.

    @param segment: the segment.
    @return: its ID3 tag and its frames, each parsed from its header.
    """
    data = segment.data
    assert data[:3] == b"ID3"
    size = (data[6] << 21) | (data[7] << 14) | (data[8] << 7) | data[9]
    tag, audio = data[: 10 + size], data[10 + size :]
    frames = []
    offset = 0
    while offset < len(audio):
        length = parseHeader(audio, offset).length
        frames.append(audio[offset : offset + length])
        offset += length
    assert offset == len(audio), "the segment ends inside a frame"
    return tag, frames


def running(seconds: float, titles=("Artist - Title",), framesPerTrack: int = 100000, start: float = 0.0, **kwargs):
    """
    Run a broadcaster of synthetic frames with a segmenter on a fake clock.

    @param seconds: how long to run.
    @param titles: the source's titles.
    @param framesPerTrack: frames a title lasts.
    @param start: the clock's time at start.
    @param kwargs: more L{Segmenter} arguments.
    @return: C{(segmenter, broadcaster, clock, source)}.
    """
    clock = Clock()
    clock.advance(start)
    source = FakeFrameSource(titles, framesPerTrack=framesPerTrack)
    broadcaster = Broadcaster(source, clock=clock)
    segmenter = Segmenter(broadcaster, clock=clock, **kwargs)
    segmenter.startService()
    broadcaster.startService()
    for _ in range(int(seconds)):
        clock.advance(1)
    return segmenter, broadcaster, clock, source


class Feeder:
    """
    Hands a segmenter chunks made by hand, keeping the clock on time.
    """

    def __init__(self, segmenter: Segmenter, clock: Clock) -> None:
        self.segmenter = segmenter
        self.clock = clock
        self.block = encodeMetadata("Artist - Title")

    def feed(self, frames, title: str | None = None, changeAt: int = 0) -> None:
        """
        Deliver frames as one chunk, then advance the clock by their
        duration.

        @param frames: L{txradio.wire.mp3.Frame}s.
        @param title: a new title, or L{None} to keep the current one.
        @param changeAt: the index of the frame the new title starts at.
        """
        starts, offset = [], 0
        for frame in frames:
            starts.append(offset)
            offset += len(frame.data)
        marks = [(0, self.block)]
        if title is not None:
            self.block = encodeMetadata(title)
            if changeAt:
                marks.append((starts[changeAt], self.block))
            else:
                marks = [(0, self.block)]
        self.segmenter.deliver(Chunk(b"".join(f.data for f in frames), tuple(starts), tuple(marks)))
        self.clock.advance(sum(f.header.duration for f in frames))


class SegmentingTests(SynchronousTestCase):
    """
    Segments are cut on frame boundaries with exact durations and
    continuous timestamps.
    """

    def test_interface(self) -> None:
        """
        A segmenter has the shape of an L{IListener}.
        """
        verifyObject(IListener, Segmenter(clock=Clock()))

    def test_wholeFrames(self) -> None:
        """
        Every segment is its ID3 tag and whole frames, all the frames the
        broadcaster sent, in order, none twice.
        """
        segmenter, broadcaster, _, _ = running(60, maxRetained=100, windowSegments=100)
        markers = []
        for segment in segmenter.segments:
            _, frames = splitSegment(segment)
            self.assertEqual(len(frames), segment.frames)
            self.assertEqual(segment.samples, 1152 * len(frames))
            markers.extend(frame[-1] for frame in frames)
        self.assertEqual(markers, [(n % 255) + 1 for n in range(len(markers))])
        self.assertEqual(len(markers) + segmenter._frames, broadcaster.framesSent)

    def test_durations(self) -> None:
        """
        Segments last the target duration within a frame, the first
        excepted, and never round above it.
        """
        segmenter, _, _, _ = running(120, windowSegments=100, maxRetained=100)
        segments = list(segmenter.segments)
        self.assertIn(len(segments), (19, 20))
        for segment in segments[1:]:
            self.assertLessEqual(abs(segment.duration - 6), 1152 / 44100)
        for segment in segments:
            self.assertLessEqual(round(segment.duration), 6)
            self.assertEqual(segment.duration, segment.samples / 44100)

    def test_timestampsContinue(self) -> None:
        """
        Each segment's timestamp is the first one's plus the exact duration
        of the audio before it, in 90 kHz ticks.
        """
        segmenter, _, _, _ = running(90, start=1795000000.25, windowSegments=100, maxRetained=100)
        segments = list(segmenter.segments)
        base = round(1795000000.25 * PTS_CLOCK)
        samples = 0
        for segment in segments:
            self.assertEqual(segment.pts, (base + samples * PTS_CLOCK // 44100) % 2**33)
            self.assertLessEqual(abs(segment.programDateTime - (1795000000.25 + samples / 44100)), 1 / PTS_CLOCK)
            samples += segment.samples

    def test_gridFollowsTheClock(self) -> None:
        """
        Cuts fall at the frame boundary nearest to each multiple of the
        target duration on the wall clock, so mounts started together cut
        together.
        """
        segmenter, _, _, _ = running(40, start=1000.0, targetDuration=4, windowSegments=50, maxRetained=50)
        for segment in list(segmenter.segments)[1:]:
            start = segment.programDateTime
            self.assertLessEqual(abs(start - round(start / 4) * 4), 1152 / 44100 / 2)

    def test_sameCutsAtAnotherBitrate(self) -> None:
        """
        Two mounts of the same programme at different bitrates, started
        together, have segments with the same timestamps.
        """
        low, _, _, _ = running(0, start=50.0)
        clock = low._clock
        lowSource = FakeFrameSource(framesPerTrack=100000)
        lowSource._frames = [syntheticFrame(m, LOW) for m in range(1, 256)]
        lowBroadcaster = Broadcaster(lowSource, clock=clock)
        lowSegmenter = Segmenter(lowBroadcaster, clock=clock)
        lowSegmenter.startService()
        lowBroadcaster.startService()
        for _ in range(40):
            clock.advance(1)
        self.assertEqual([s.pts for s in low.segments], [s.pts for s in lowSegmenter.segments])
        self.assertNotEqual([len(s.data) for s in low.segments], [len(s.data) for s in lowSegmenter.segments])

    def test_sequenceFromClock(self) -> None:
        """
        Sequence numbers start at the wall clock's second, so a restarted
        server does not reuse the URIs a cache still holds, and grow by one.
        """
        segmenter, _, _, _ = running(30, start=1795000000.5)
        numbers = [s.sequence for s in segmenter.segments]
        self.assertEqual(numbers, list(range(1795000000, 1795000000 + len(numbers))))

    def test_notAListener(self) -> None:
        """
        A station's segmenter gets every chunk but is not one of its
        listeners: it does not count against limits nor show in status.
        """
        clock = Clock()
        station = Station(FakeFrameSource(), clock=clock, maxListeners=1)
        segmenter = Segmenter(station.broadcaster, clock=clock)
        segmenter.startService()
        station.startService()
        clock.advance(10)
        self.assertEqual(station.listenerCount, 0)
        self.assertTrue(station.admit())
        self.assertEqual(segmenter.bytesSent, station.broadcaster.bytesSent)
        station.stopService()
        segmenter.stopService()
        self.assertEqual(clock.getDelayedCalls(), [])

    def test_stopDetaches(self) -> None:
        """
        A stopped segmenter gets no more chunks, and keeps its segments.
        """
        segmenter, broadcaster, clock, _ = running(20)
        kept = list(segmenter.segments)
        segmenter.stopService()
        clock.advance(20)
        self.assertEqual(list(segmenter.segments), kept)
        broadcaster.stopService()

    def test_failureIsContained(self) -> None:
        """
        A chunk the segmenter cannot read is logged and dropped; the
        broadcaster that delivered it goes on.
        """
        events = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        segmenter = Segmenter(clock=Clock())
        segmenter.deliver(Chunk(b"\x00" * 10, (0,), ((0, encodeMetadata("")),)))
        self.assertEqual(len(self.flushLoggedErrors(ValueError)), 1)
        self.assertTrue(any("failed" in e.get("log_format", "") for e in events))


class WindowTests(SynchronousTestCase):
    """
    The playlist window slides and memory stays bounded.
    """

    def test_slides(self) -> None:
        """
        Each new segment slides the window by one: six segments, the first
        numbered one more than before.
        """
        segmenter, _, clock, _ = running(60)
        firsts = []
        for _ in range(30):
            generation = segmenter.generation
            while segmenter.generation == generation:
                clock.advance(1)
            window = segmenter.window()
            self.assertEqual(len(window), 6)
            firsts.append(window[0].sequence)
            self.assertEqual([s.sequence for s in window], list(range(firsts[-1], firsts[-1] + 6)))
        self.assertEqual(firsts, list(range(firsts[0], firsts[0] + 30)))

    def test_bounded(self) -> None:
        """
        After an hour, the segmenter keeps only what late clients may still
        ask for: two windows and two target durations of audio.
        """
        segmenter, _, _, _ = running(3600)
        self.assertIn(len(segmenter.segments), (14, 15))
        self.assertEqual(segmenter.segment(segmenter.segments[0].sequence - 1), None)
        newest = segmenter.segments[-1]
        self.assertIs(segmenter.segment(newest.sequence), newest)
        self.assertIsNone(segmenter.segment(newest.sequence + 1))

    def test_threeTargetDurations(self) -> None:
        """
        A window of short segments is extended to three target durations
        (RFC 8216 section 6.2.2).
        """
        segmenter, _, _, _ = running(60, titles=["A", "B"], framesPerTrack=40, windowSegments=3)
        window = segmenter.window()
        self.assertGreaterEqual(sum(s.duration for s in window), 18)
        self.assertGreater(len(window), 3)


class TitleTests(SynchronousTestCase):
    """
    Titles travel as ID3 text frames at the start of the segment where they
    change.
    """

    def test_cutAtTitleChange(self) -> None:
        """
        A segment starts where the title changes, and its tag holds the new
        title; the segments before hold the old one.
        """
        segmenter, _, _, _ = running(40, titles=["A - One", "B - Two"], framesPerTrack=500, windowSegments=100)
        samples = 0
        changed = None
        for segment in segmenter.segments:
            if samples == 500 * 1152:
                changed = segment
            samples += segment.samples
        self.assertIsNotNone(changed)
        tag, _ = splitSegment(changed)
        self.assertIn(b"TIT2\x00\x00\x00\x04\x00\x00\x03Two", tag)
        self.assertIn(b"TPE1\x00\x00\x00\x02\x00\x00\x03B", tag)
        before = segmenter.segments[list(segmenter.segments).index(changed) - 1]
        self.assertEqual(before.title, "A - One")
        self.assertIn(b"\x03One", splitSegment(before)[0])
        self.assertEqual(changed.title, "B - Two")

    def test_artURL(self) -> None:
        """
        The C{StreamUrl} sent with a title (the album art's URL) goes into
        the segment's tag as a C{WXXX} frame described C{StreamUrl}; a
        title without one has none.
        """
        clock = Clock()
        source = FakeFrameSource(["A - One", "B - Two"], framesPerTrack=500)
        broadcaster = Broadcaster(source, clock=clock)
        broadcaster.metadataURL = lambda title: "http://radio.example/art/1.jpg" if "One" in title else None
        segmenter = Segmenter(broadcaster, clock=clock, windowSegments=100)
        segmenter.startService()
        broadcaster.startService()
        for _ in range(40):
            clock.advance(1)
        frame = b"WXXX\x00\x00\x00\x29\x00\x00\x03StreamUrl\x00http://radio.example/art/1.jpg"
        tags = {segment.title: splitSegment(segment)[0] for segment in segmenter.segments}
        self.assertIn(frame, tags["A - One"])
        self.assertNotIn(b"WXXX", tags["B - Two"])

    def test_titleSoonAfterCut(self) -> None:
        """
        A title that changes less than 0.4 s into a segment becomes that
        segment's title: no segment of a few frames is made for it.
        """
        clock = Clock()
        segmenter = Segmenter(clock=clock)
        feeder = Feeder(segmenter, clock)
        frames = [syntheticFrame() for _ in range(5)]
        for _ in range(46):
            feeder.feed(frames)
        # 230 frames make the first segment (6.008 s); the next frame cuts
        # it, and the title changes three frames (78 ms) later.
        feeder.feed(frames, title="New - Song", changeAt=3)
        self.assertEqual(len(segmenter.segments), 1)
        self.assertEqual(segmenter.segments[0].frames, 230)
        for _ in range(50):
            feeder.feed(frames)
        second = segmenter.segments[1]
        self.assertEqual(second.title, "New - Song")
        self.assertEqual(segmenter.segments[0].title, "Artist - Title")


class DiscontinuityTests(SynchronousTestCase):
    """
    A format change or a gap in time makes the next segment a
    discontinuity.
    """

    def test_formatChange(self) -> None:
        """
        Where the sample rate changes, the segment is cut and the next one
        is marked; timestamps go on from the end of the last frame.
        """
        clock = Clock()
        segmenter = Segmenter(clock=clock, windowSegments=3)
        feeder = Feeder(segmenter, clock)
        for _ in range(20):
            feeder.feed([syntheticFrame() for _ in range(10)])
        feeder.feed([syntheticFrame() for _ in range(3)] + [syntheticFrame(0, HZ48) for _ in range(7)])
        for _ in range(60):
            feeder.feed([syntheticFrame(0, HZ48) for _ in range(10)])
        segments = list(segmenter.segments)
        changed = [s for s in segments if s.discontinuity]
        self.assertEqual(len(changed), 1)
        index = segments.index(changed[0])
        self.assertEqual(changed[0].sampleRate, 48000)
        self.assertEqual(segments[index - 1].sampleRate, 44100)
        self.assertEqual(sum(s.samples for s in segments[:index]), 203 * 1152)
        self.assertEqual(changed[0].pts, 203 * 1152 * PTS_CLOCK // 44100)
        self.assertEqual(segmenter.discontinuities, 1)
        window = segmenter.window()
        self.assertEqual(segmenter.discontinuitySequence(window), 1 if changed[0] not in window else 0)

    def test_gap(self) -> None:
        """
        When audio resumes after a gap (here ten seconds), the next segment
        is a discontinuity and its program date-time is back on the clock.
        """
        clock = Clock()
        segmenter = Segmenter(clock=clock, windowSegments=10)
        feeder = Feeder(segmenter, clock)
        for _ in range(40):
            feeder.feed([syntheticFrame() for _ in range(10)])
        clock.advance(10)
        resumed = clock.seconds()
        for _ in range(40):
            feeder.feed([syntheticFrame() for _ in range(10)])
        after = [s for s in segmenter.segments if s.discontinuity]
        self.assertEqual(len(after), 1)
        self.assertAlmostEqual(after[0].programDateTime, resumed, places=4)
        self.assertEqual(after[0].pts, round(resumed * PTS_CLOCK))

    def test_smallDelayIsNoGap(self) -> None:
        """
        A broadcaster catching up on a late tick (two seconds) is no gap.
        """
        clock = Clock()
        segmenter = Segmenter(clock=clock)
        feeder = Feeder(segmenter, clock)
        for _ in range(20):
            feeder.feed([syntheticFrame() for _ in range(10)])
        clock.advance(2)
        for _ in range(40):
            feeder.feed([syntheticFrame() for _ in range(10)])
        self.assertFalse(any(s.discontinuity for s in segmenter.segments))

    def test_disconnect(self) -> None:
        """
        When the stream ends, the open segment is published and the next
        one is a discontinuity.
        """
        clock = Clock()
        segmenter = Segmenter(clock=clock)
        feeder = Feeder(segmenter, clock)
        for _ in range(10):
            feeder.feed([syntheticFrame() for _ in range(10)])
        segmenter.disconnect("the source left")
        self.assertEqual(sum(s.frames for s in segmenter.segments), 100)
        for _ in range(30):
            feeder.feed([syntheticFrame() for _ in range(10)])
        self.assertTrue(segmenter.segments[-(len(segmenter.segments) - 1)].discontinuity)
