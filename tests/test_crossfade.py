"""
Tests for crossfades: the seam planner (L{txradio.wire.crossfade}), the
child process making a seam (L{txradio.sources.seams}), and the playlist
playing A's frames, the seam, then B's frames
(L{txradio.sources.playlist.PlaylistSource}).
"""

from __future__ import annotations

import os
from dataclasses import replace

from twisted.internet.testing import EventLoggingObserver
from twisted.logger import globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from tests._process import FakeProcessReactor
from tests.test_loudness import FixedAnalyser
from tests.test_playlist import pullAll
from txradio.sources.loudness import Leveller, Measurement
from txradio.sources.playlist import PlaylistSource
from txradio.sources.requests import RequestQueue
from txradio.sources.seams import MAX_SEAM_BYTES, SEAM_TIMEOUT, Seam, SeamMaker
from txradio.sources.tracks import ListTracks
from txradio.wire.crossfade import (
    EVEN_CURVE,
    LEAD_FRAMES,
    LOUD_CURVE,
    SeamFormat,
    SeamPlan,
    TrackSpan,
    chooseCurves,
    filterGraph,
    handOver,
    planSeam,
    seamArguments,
)
from txradio.wire.mp3 import (
    Frame,
    granuleBlocks,
    mainDataBegin,
    mainDataBits,
    mainDataSize,
    silentFrame,
    withMainData,
)
from txradio.wire.programme import TitleChange

FORMAT = SeamFormat(44100, 2, 128)
FRAME = 1152 / 44100


def onGrid(seconds: float) -> bool:
    """
    @return: whether C{seconds} is a whole number of frames.
    """
    return abs(seconds / FRAME - round(seconds / FRAME)) < 1e-6


class PlannerTests(SynchronousTestCase):
    """
    L{planSeam} places the cut and the resume point on frame boundaries
    and makes the seam replace exactly what it covers.
    """

    def test_arithmetic(self) -> None:
        """
        The cut is the last frame boundary at least the crossfade's length
        before A's end; B resumes at the first frame boundary at least that
        far after its start; the seam holds whole frames, and its overlap is
        within a frame of what was asked, never longer.
        """
        a = TrackSpan("a.mp3", 2.44, 20.06, gain=-6.0, loudness=-16.0)
        b = TrackSpan("b.mp3", 2.44, 20.06, gain=3.0, loudness=-16.5)
        plan = planSeam(a, b, 3.0, FORMAT)
        assert plan is not None
        self.assertTrue(onGrid(plan.cut) and onGrid(plan.resume), plan)
        self.assertLessEqual(plan.cut, 20.06 - 3.0)
        self.assertGreater(plan.cut, 20.06 - 3.0 - FRAME)
        self.assertGreaterEqual(plan.resume, 2.44 + 3.0)
        self.assertLess(plan.resume, 2.44 + 3.0 + FRAME)
        # The encoding starts the lead frames before the cut; those are
        # left out.
        self.assertAlmostEqual(plan.start, plan.cut - LEAD_FRAMES * FRAME)
        self.assertAlmostEqual(
            (plan.lead + plan.frames) * FRAME, plan.outgoingLength + plan.incomingLength - plan.overlap
        )
        self.assertLessEqual(plan.overlap, 3.0 + 1e-9)
        self.assertGreater(plan.overlap, 3.0 - FRAME)
        self.assertLessEqual(plan.overlap, min(plan.outgoingLength, plan.incomingLength))
        self.assertEqual(plan.titleAt, plan.frames // 2)
        self.assertEqual(plan.curves, (EVEN_CURVE, EVEN_CURVE))

    def test_shortTracks(self) -> None:
        """
        A track keeping less than three times the crossfade gets no seam at
        either end; nor does a crossfade under half a second.
        """
        long = TrackSpan("a.mp3", 0.0, 30.0)
        short = TrackSpan("b.mp3", 1.0, 9.5)
        self.assertIsNone(planSeam(long, short, 3.0, FORMAT))
        self.assertIsNone(planSeam(short, long, 3.0, FORMAT))
        self.assertIsNone(planSeam(long, long, 0.4, FORMAT))
        self.assertIsNotNone(planSeam(long, TrackSpan("b.mp3", 0.0, 9.0), 3.0, FORMAT))

    def test_tooLate(self) -> None:
        """
        When A has already been read too close to the cut there is no time
        to make the seam.
        """
        a = TrackSpan("a.mp3", 0.0, 30.0)
        self.assertIsNotNone(planSeam(a, a, 3.0, FORMAT, played=25.0))
        self.assertIsNone(planSeam(a, a, 3.0, FORMAT, played=26.5))

    def test_curves(self) -> None:
        """
        Equal-power curves at about the same level; the louder track gets
        the faster curve; unknown levels get equal power.
        """
        self.assertEqual(chooseCurves(-16.0, -17.5), (EVEN_CURVE, EVEN_CURVE))
        self.assertEqual(chooseCurves(-8.0, -16.0), (LOUD_CURVE, EVEN_CURVE))
        self.assertEqual(chooseCurves(-20.0, -12.0), (EVEN_CURVE, LOUD_CURVE))
        self.assertEqual(chooseCurves(None, -12.0), (EVEN_CURVE, EVEN_CURVE))
        self.assertEqual(chooseCurves(float("-inf"), -12.0), (EVEN_CURVE, EVEN_CURVE))

    def test_arguments(self) -> None:
        """
        ffmpeg reads only each track's part of the seam, applies each
        track's gain, mixes with C{acrossfade} and writes CBR MP3 in A's
        format to its standard output, with no Xing frame and no tags.
        """
        a = TrackSpan("/m/a:b.mp3", 0.0, 30.0, gain=-4.5)
        b = TrackSpan("/m/b.mp3", 1.5, 30.0, gain=3.0)
        plan = planSeam(a, b, 3.0, SeamFormat(48000, 1, 96))
        assert plan is not None
        args = seamArguments(plan, "/usr/bin/ffmpeg")
        self.assertEqual(args[0], "/usr/bin/ffmpeg")
        self.assertEqual(args[args.index("-i") - 4 : args.index("-i") + 2],
                         ["-ss", f"{plan.start:.6f}", "-t", f"{plan.outgoingLength:.6f}", "-i", "file:/m/a:b.mp3"])  # fmt: skip
        self.assertIn("file:/m/b.mp3", args)
        self.assertEqual(args[args.index("file:/m/b.mp3") - 4], "1.500000")
        for pair in (["-c:a", "libmp3lame"], ["-b:a", "96k"], ["-ar", "48000"], ["-ac", "1"],
                     ["-write_xing", "0"], ["-id3v2_version", "0"], ["-f", "mp3"]):  # fmt: skip
            self.assertIn(pair[1], args[args.index(pair[0]) + 1 : args.index(pair[0]) + 2], pair)
        self.assertEqual(args[-1], "pipe:1")
        graph = filterGraph(plan)
        self.assertIn("[0:a]volume=-4.50dB,", graph)
        self.assertIn("[1:a]volume=3.00dB,", graph)
        self.assertIn("channel_layouts=mono", graph)
        self.assertIn(f"acrossfade=d={plan.overlap:.6f}:c1=qsin:c2=qsin[seam]", graph)


def coded(bitrate: int, used: int, begin: int = 0, fill: bytes = b"\x01", protected: bool = False) -> Frame:
    """
    A Layer III frame (44.1 kHz stereo) whose granules use C{used} bytes of
    audio data, starting C{begin} bytes back, and whose data area is
    C{fill} repeated.
    """
    frame = silentFrame(44100, 2, bitrate)
    if protected:
        data = bytearray(frame.data)
        data[1] &= 0xFE
        frame = Frame(replace(frame.header, protected=True), bytes(data[:4]) + b"\0\0" + bytes(data[4:-2]))
    start = 6 if frame.header.protected else 4
    side = int.from_bytes(frame.data[start : start + 32], "big")
    blocks = granuleBlocks(frame.header)
    share, extra = divmod(used * 8, len(blocks))
    for index, offset in enumerate(blocks):
        bits = share + (extra if index == 0 else 0)
        side |= bits << (256 - offset - 12)
    frame = Frame(frame.header, frame.data[:start] + side.to_bytes(32, "big") + frame.data[start + 32 :])
    size = mainDataSize(frame)
    return withMainData(frame, begin, (fill * size)[:size])


def chunks(frames: list[Frame]) -> list[bytes]:
    """
    Read each frame's audio data the way a decoder does: from
    C{main_data_begin} bytes back in the frames' data areas.
    """
    stream = b""
    out = []
    for frame in frames:
        at = len(stream)
        stream += frame.data[len(frame.data) - mainDataSize(frame) :]
        begin = at - mainDataBegin(frame)
        out.append(stream[begin : begin + (mainDataBits(frame) + 7) // 8])
    return out


class HandOverTests(SynchronousTestCase):
    """
    L{handOver} repacks a seam's last frames so that they end with the audio
    data the next frame borrows.
    """

    def test_repacked(self) -> None:
        """
        Every frame's audio data reads back the same, the frames' sizes and
        headers are unchanged, and the last bytes are the borrowed ones.
        """
        seam = [coded(128, 200, fill=bytes([index])) for index in range(1, 5)]
        borrowed = bytes(range(200, 256)) * 8
        repacked = handOver(seam, borrowed)
        assert repacked is not None
        self.assertEqual(chunks(repacked), chunks(seam))
        self.assertEqual([frame.header for frame in repacked], [frame.header for frame in seam])
        areas = b"".join(frame.data[len(frame.data) - mainDataSize(frame) :] for frame in repacked)
        self.assertEqual(areas[-len(borrowed) :], borrowed)
        self.assertTrue(all(mainDataBegin(frame) <= 511 for frame in repacked))
        # The next frame, borrowing those bytes, reads them.
        after = coded(128, 100, begin=len(borrowed), fill=b"\x09")
        self.assertEqual(chunks(repacked + [after])[-1], (borrowed + b"\x09" * 100)[:100])

    def test_noRoom(self) -> None:
        """
        Frames whose audio data fills them leave no room: L{None}.
        """
        full = coded(128, mainDataSize(silentFrame(44100, 2, 128)))
        self.assertIsNone(handOver([full, full], b"x" * 10))
        self.assertIsNone(handOver([coded(128, 200)], b"x" * 300))

    def test_nothingBorrowed(self) -> None:
        """
        Nothing borrowed: the frames as they are.
        """
        seam = [coded(128, 100)]
        self.assertEqual(handOver(seam, b""), seam)

    def test_protected(self) -> None:
        """
        A protected frame's CRC is recomputed over its new side information.
        """
        from txradio.wire.gain import crcMatches

        seam = [coded(128, 100, protected=True) for _ in range(2)]
        repacked = handOver(seam, b"y" * 300)
        assert repacked is not None
        self.assertTrue(all(crcMatches(frame) for frame in repacked))
        self.assertEqual(chunks(repacked), chunks(seam))


def aPlan(frames: int = 10) -> SeamPlan:
    """
    @return: a seam plan holding C{frames} frames.
    """
    span = TrackSpan("a.mp3", 0.0, 30.0)
    return SeamPlan(span, span, 27.0, 3.0, 3.0, frames, (EVEN_CURVE, EVEN_CURVE), FORMAT)


class SeamTests(SynchronousTestCase):
    """
    L{SeamMaker} runs ffmpeg for a seam, bounded in time and output.
    """

    def setUp(self) -> None:
        self.reactor = FakeProcessReactor()
        self.maker = SeamMaker(self.reactor, 3.0, "/usr/bin/ffmpeg", "/stream")
        self.events = EventLoggingObserver()
        globalLogPublisher.addObserver(self.events)
        self.addCleanup(globalLogPublisher.removeObserver, self.events)

    def warnings(self) -> list[str]:
        """
        @return: the log's warnings so far, formatted.
        """
        from twisted.logger import formatEvent

        return [formatEvent(event) for event in self.events if event["log_level"].name == "warn"]

    def test_ready(self) -> None:
        """
        When ffmpeg exits cleanly the seam holds exactly the planned number
        of frames (the lead frames and the encoder's flush frame are left
        out), and its timeout is cancelled.
        """
        seam = self.maker.make(aPlan(10))
        child = self.reactor.spawned[0]
        self.assertTrue(child.stdinClosed)
        self.assertEqual(child.args, seamArguments(aPlan(10), "/usr/bin/ffmpeg"))
        frame, lead, flush = silentFrame(44100, 2, 128), silentFrame(44100, 2, 32), silentFrame(44100, 2, 64)
        seam.childDataReceived(1, lead.data * LEAD_FRAMES + frame.data * 10 + flush.data)
        self.assertFalse(seam.ready)
        child.exit(0)
        self.assertTrue(seam.ready)
        self.assertEqual(seam.frames, [frame] * 10)
        self.assertEqual(self.reactor.getDelayedCalls(), [])
        self.assertEqual(self.warnings(), [])

    def test_failed(self) -> None:
        """
        ffmpeg failing, or making too few frames, is a seam not made, with
        one log line naming both tracks and the cause.
        """
        seam = self.maker.make(aPlan())
        seam.childDataReceived(2, b"a.mp3: No such file or directory\n")
        self.reactor.spawned[0].exit(1)
        self.assertFalse(seam.ready)
        self.assertEqual(seam.failure, "a.mp3: No such file or directory")
        short = self.maker.make(aPlan(10))
        short.childDataReceived(1, silentFrame(44100, 2, 128).data * 3)
        self.reactor.spawned[1].exit(0)
        self.assertFalse(short.ready)
        self.assertIn(f"3 frames, {10 + LEAD_FRAMES} were wanted", short.failure or "")
        warnings = self.warnings()
        self.assertEqual(len(warnings), 2, warnings)
        self.assertIn("no crossfade from a.mp3 into a.mp3", warnings[0])
        self.assertIn("clean cut", warnings[0])

    def test_timeout(self) -> None:
        """
        ffmpeg running longer than L{SEAM_TIMEOUT} is killed.
        """
        seam = self.maker.make(aPlan())
        self.reactor.advance(SEAM_TIMEOUT)
        self.assertEqual(self.reactor.spawned[0].signals, ["KILL"])
        self.reactor.spawned[0].exit(signal=9)
        self.assertFalse(seam.ready)
        self.assertIn("took more than", seam.failure or "")
        self.assertEqual(len(self.warnings()), 1)

    def test_boundedOutput(self) -> None:
        """
        Output beyond L{MAX_SEAM_BYTES} kills ffmpeg: the seam is abandoned.
        """
        seam = self.maker.make(aPlan())
        seam.childDataReceived(1, b"\0" * MAX_SEAM_BYTES)
        seam.childDataReceived(1, b"\0")
        self.assertEqual(self.reactor.spawned[0].signals, ["KILL"])
        self.reactor.spawned[0].exit(signal=9)
        self.assertFalse(seam.ready)
        self.assertIn("more than", seam.failure or "")

    def test_cancel(self) -> None:
        """
        A seam no longer wanted kills its child, says nothing, and is never
        ready.
        """
        seam = self.maker.make(aPlan(1))
        seam.cancel()
        self.assertEqual(self.reactor.spawned[0].signals, ["KILL"])
        seam.childDataReceived(1, silentFrame(44100, 2, 128).data)
        self.reactor.spawned[0].exit(signal=9)
        self.assertFalse(seam.ready)
        self.assertEqual(self.warnings(), [])
        self.assertEqual(self.reactor.getDelayedCalls(), [])

    def test_cannotStart(self) -> None:
        """
        A child that cannot start is a failed seam, not an exception.
        """
        self.reactor.failSpawn = OSError("no such program")
        seam = self.maker.make(aPlan())
        self.assertIn("cannot start", seam.failure or "")
        self.assertEqual(len(self.warnings()), 1)


TRACK_FRAMES = 400
"""Frames in each test track (about 10.4 s)."""

BITRATES = {"a.mp3": 128, "b.mp3": 96, "c.mp3": 112, "r.mp3": 80}
"""Each test track's frames have their own bitrate, so the output shows
which track a frame came from; the seams' frames are 160 kbps."""

SEAM_BITRATE = 160


class FakeSeams:
    """
    A seam maker whose seams are made when the test says.

    @ivar seams: the seams made, in order.
    """

    seconds = 2.0
    bitrate = None

    def __init__(self) -> None:
        self.seams: list[Seam] = []

    def make(self, plan: SeamPlan) -> Seam:
        seam = Seam(plan)
        self.seams.append(seam)
        return seam

    @staticmethod
    def finish(seam: Seam) -> None:
        """
        Make a seam ready: its frames are 160 kbps silence.
        """
        seam.frames = [silentFrame(44100, 2, SEAM_BITRATE)] * seam.plan.frames


def describe(items: list) -> list[str]:
    """
    @param items: frames and title changes.
    @return: a title for each change, and the bitrate and count of each run
        of frames, e.g. C{"128k x40"}.
    """
    out: list[str] = []
    for item in items:
        if isinstance(item, TitleChange):
            out.append(item.title)
            continue
        assert isinstance(item, Frame)
        label = f"{item.header.bitrate}k"
        if out and out[-1].startswith(label + " x"):
            out[-1] = f"{label} x{int(out[-1].split('x')[1]) + 1}"
        else:
            out.append(f"{label} x1")
    return out


class PlaylistCrossfadeTests(SynchronousTestCase):
    """
    L{PlaylistSource} with a seam maker plays A's frames up to the cut,
    the seam with B's title in its middle, then B's frames from where the
    seam ends.
    """

    def setUp(self) -> None:
        self.folder = self.mktemp()
        os.makedirs(self.folder)
        analyser = FixedAnalyser()
        self.paths = {}
        for name, bitrate in BITRATES.items():
            path = os.path.join(self.folder, name)
            with open(path, "wb") as f:
                f.write(silentFrame(44100, 2, bitrate).data * TRACK_FRAMES)
            self.paths[name] = path
            analyser.known[path] = Measurement(-16.0, -10.0, 0.0, None, duration=TRACK_FRAMES * FRAME)
        self.seams = FakeSeams()
        self.source = PlaylistSource(
            ListTracks([self.paths["a.mp3"], self.paths["b.mp3"], self.paths["c.mp3"]]),
            titleOf=os.path.basename,
            leveller=Leveller(analyser, None, False),  # type: ignore[arg-type]
        )
        self.source.seams = self.seams  # type: ignore[assignment]
        self.events = EventLoggingObserver()
        globalLogPublisher.addObserver(self.events)
        self.addCleanup(globalLogPublisher.removeObserver, self.events)

    def play(self, seconds: float) -> list[str]:
        """
        Pull audio, and describe it: a title, or the bitrate and count of a
        run of frames.
        """
        return describe(pullAll(self.source, seconds))

    def test_seamReady(self) -> None:
        """
        A seam ready in time replaces the end of A and the start of B: the
        timeline keeps exactly as many frames as the tracks give.
        """
        first = pullAll(self.source, 1.0)
        self.assertEqual(len(self.seams.seams), 1)
        seam = self.seams.seams[0]
        plan = seam.plan
        self.assertEqual((plan.outgoing.path, plan.incoming.path), (self.paths["a.mp3"], self.paths["b.mp3"]))
        self.seams.finish(seam)
        rest = pullAll(self.source, 2 * TRACK_FRAMES * FRAME)
        cut, resume = round(plan.cut / FRAME), round(plan.resume / FRAME)
        frames = plan.frames
        half = frames // 2
        played = describe(first + rest)
        self.assertEqual(
            played[:6],
            [
                "a.mp3",
                f"128k x{cut}",
                f"160k x{half}",
                "b.mp3",
                f"160k x{frames - half}",
                f"96k x{TRACK_FRAMES - resume}",
            ],
        )
        self.assertEqual(self.source.crossfades, 1)

    def test_seamFormat(self) -> None:
        """
        The seam takes A's sample rate and channels, and the mount's
        bitrate, or without one the highest of A's frames just read.
        """
        self.play(1.0)
        self.assertEqual(self.seams.seams[0].plan.format, SeamFormat(44100, 2, 128, 1152))
        self.source.skip()
        self.seams.bitrate = 64  # type: ignore[assignment]
        self.play(1.0)
        self.assertEqual(self.seams.seams[1].plan.format, SeamFormat(44100, 2, 64, 1152))

    def test_reservoirHandedOver(self) -> None:
        """
        When B's first frame kept borrows audio data from the frames the
        seam replaced, the seam's last frames are repacked to end with
        those bytes, and B's frame plays as it is instead of silenced.
        """
        own = coded(96, 100, begin=60, fill=b"\x42")
        with open(self.paths["b.mp3"], "wb") as f:
            f.write(own.data * TRACK_FRAMES)
        first = pullAll(self.source, 1.0)
        seam = self.seams.seams[0]
        self.seams.finish(seam)
        assert seam.frames is not None
        original = list(seam.frames)
        items = first + pullAll(self.source, TRACK_FRAMES * FRAME)
        frames = [item for item in items if isinstance(item, Frame)]
        cut = round(seam.plan.cut / FRAME)
        played = frames[cut : cut + seam.plan.frames]
        following = frames[cut + seam.plan.frames]
        self.assertEqual(following, own)
        self.assertEqual(played[:-8], original[:-8])
        self.assertNotEqual(played[-8:], original[-8:])
        areas = b"".join(frame.data[len(frame.data) - mainDataSize(frame) :] for frame in played)
        self.assertEqual(areas[-60:], b"\x42" * 60)
        self.assertEqual(chunks(played + [following])[-1], b"\x42" * 100)

    def test_notReady(self) -> None:
        """
        A seam not ready when the cut is read gives a clean cut, with one
        log line, and its child is no longer wanted.
        """
        self.play(1.0)
        seam = self.seams.seams[0]
        played = self.play(TRACK_FRAMES * FRAME + 1.0)
        self.assertEqual(played[:3], ["128k x" + played[0].split("x")[1], "b.mp3", "96k x" + played[2].split("x")[1]])
        self.assertTrue(seam._cancelled)
        messages = [e.get("log_format", "") for e in self.events]
        self.assertEqual(len([m for m in messages if "not ready in time" in m]), 1)
        self.assertEqual(self.source.crossfades, 0)

    def test_failedSeam(self) -> None:
        """
        A seam whose child failed gives a clean cut; the failure's own line
        is the only one.
        """
        self.play(1.0)
        seam = self.seams.seams[0]
        seam._fail("ffmpeg exploded")
        played = self.play(TRACK_FRAMES * FRAME + 1.0)
        self.assertEqual(played[1:3], ["b.mp3", played[2]])
        self.assertTrue(played[2].startswith("96k"))
        messages = [e.get("log_format", "") for e in self.events if e["log_level"].name == "warn"]
        self.assertEqual(len(messages), 1, messages)
        self.assertIn("no crossfade from", messages[0])
        self.assertEqual(self.source.crossfades, 0)

    def test_skipDiscards(self) -> None:
        """
        Skipping A while its seam is prepared discards the seam: B plays
        from its start, then the next seam is made.
        """
        self.play(1.0)
        seam = self.seams.seams[0]
        self.seams.finish(seam)
        self.source.skip()
        self.assertIsNone(seam.frames)
        played = self.play(1.0)
        self.assertEqual(played[0], "b.mp3")
        self.assertTrue(played[1].startswith("96k"))
        self.assertEqual(self.seams.seams[1].plan.incoming.path, self.paths["c.mp3"])

    def test_lateRequest(self) -> None:
        """
        A request arriving after the seam into B was ordered plays after B.
        """
        self.source.requests = RequestQueue(self.source._clock)
        self.play(1.0)
        self.source.requests.add(self.paths["r.mp3"], "r.mp3", "r.mp3", "", "192.0.2.1")
        self.seams.finish(self.seams.seams[0])
        played = self.play(2 * TRACK_FRAMES * FRAME)
        titles = [item for item in played if " x" not in item]
        self.assertEqual(titles[:2], ["b.mp3", "r.mp3"])
        self.assertEqual(self.source.crossfades, 1)
        self.assertEqual(self.seams.seams[1].plan.incoming.path, self.paths["r.mp3"])

    def test_nextChanged(self) -> None:
        """
        When the next track is no longer the one the seam was made for (the
        list was reloaded), a clean cut plays.
        """
        self.play(1.0)
        self.seams.finish(self.seams.seams[0])
        self.source.reload()
        played = self.play(TRACK_FRAMES * FRAME)
        self.assertNotIn("160k", " ".join(played))
        self.assertEqual(self.source.crossfades, 0)


class SettingTests(SynchronousTestCase):
    """
    C{crossfade} in the configuration: off by default, bounded, and wired
    where the playlist is built.
    """

    def config(self, line: str):
        from txradio.config import parseConfig
        from txradio.sources.tracks import demoTracks

        folder = os.path.dirname(demoTracks().paths[0])
        return parseConfig(f'[[mount]]\npath = "/stream"\nplaylist = "{folder}"\n{line}\n')

    def test_off(self) -> None:
        """
        Without it, no seam maker, and no measurement either.
        """
        from txradio.build import playlistSource

        mount = self.config("").mounts[0]
        self.assertIsNone(mount.crossfade)
        source = playlistSource(mount, FakeProcessReactor(), "skip")
        self.assertIsNone(source.seams)
        self.assertIsNone(source._leveller)

    def test_on(self) -> None:
        """
        With it (and ffmpeg installed), the playlist gets a seam maker at
        the mount's bitrate, and a leveller that measures every track with
        ffmpeg (a duration is needed) at unity gain.
        """
        from txradio.build import playlistSource
        from txradio.wire.audioformat import findEncoder

        if findEncoder("ffmpeg") is None:
            raise self.skipTest("ffmpeg is not installed")
        mount = self.config("crossfade = 2.5\nbitrate = 96").mounts[0]
        source = playlistSource(mount, FakeProcessReactor(), "skip")
        assert source.seams is not None and source._leveller is not None
        self.assertEqual((source.seams.seconds, source.seams.bitrate), (2.5, 96))
        self.assertIsNone(source._leveller.target)
        self.assertFalse(source._leveller.trimSilence)
        self.assertTrue(source._leveller.analyser.needSilence)

    def test_bounded(self) -> None:
        """
        More than 15 s, or 0, is refused, naming the key.
        """
        from txradio.config import ConfigError

        for value in ("16", "0", "-1"):
            error = self.assertRaises(ConfigError, self.config, f"crossfade = {value}")
            self.assertIn("crossfade", str(error))
