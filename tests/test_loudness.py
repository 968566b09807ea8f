"""
Tests for L{txradio.sources.loudness} and the loudness and silence
handling of L{txradio.sources.playlist.PlaylistSource}.
"""

from __future__ import annotations

import os
import shutil

from twisted.internet.testing import EventLoggingObserver
from twisted.logger import LogLevel, globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from tests._process import FakeProcessReactor
from tests.test_playlist import DEMO, audioOf, pullAll
from txradio.sources.loudness import (
    ANALYSIS_TIMEOUT,
    EDGE_MARGIN,
    FILTERS,
    Leveller,
    LoudnessAnalyser,
    Measurement,
    TrackPlan,
    parseAnalysis,
    readReplayGain,
)
from txradio.sources.playlist import PlaylistSource
from txradio.sources.tracks import ListTracks
from txradio.wire.gain import globalGains
from txradio.wire.mp3 import Frame, Framer, mainDataBegin
from txradio.wire.programme import TitleChange

# Real output of Debian's ffmpeg 5.1 measuring 2.5 s of silence, 4 s of a
# 440 Hz tone and 2.5 s of silence (128 kbps, 44.1 kHz), with FILTERS.
TRACK_LOG = b"""\
Input #0, mp3, from 'file:t.mp3':
  Metadata:
    encoder         : Lavf59.27.100
  Duration: 00:00:09.04, start: 0.025057, bitrate: 128 kb/s
  Stream #0:0: Audio: mp3, 44100 Hz, stereo, fltp, 128 kb/s
Stream mapping:
  Stream #0:0 -> #0:0 (mp3 (mp3float) -> pcm_s16le (native))
Output #0, null, to 'pipe:':
  Stream #0:0: Audio: pcm_s16le, 44100 Hz, stereo, s16, 1411 kb/s
[silencedetect @ 0x55d9ba0ab340] silence_start: 0
[silencedetect @ 0x55d9ba0ab340] silence_end: 2.50018 | silence_duration: 2.50018
[silencedetect @ 0x55d9ba0ab340] silence_start: 6.49984
size=N/A time=00:00:09.00 bitrate=N/A speed=67.4x    \r
video:0kB audio:1550kB subtitle:0kB other streams:0kB global headers:0kB muxing overhead: unknown
[Parsed_ebur128_0 @ 0x55d9ba0ab340] Summary:

  Integrated loudness:
    I:         -41.7 LUFS
    Threshold: -51.7 LUFS

  Loudness range:
    LRA:         6.3 LU
    Threshold: -63.3 LUFS
    LRA low:   -47.7 LUFS
    LRA high:  -41.4 LUFS

  True peak:
    Peak:      -41.2 dBFS
[silencedetect @ 0x55d9ba0ab340] silence_end: 9 | silence_duration: 2.50016
"""

# The same ffmpeg on 3 s of a full-scale tone with no silence.
TONE_LOG = b"""\
size=N/A time=00:00:03.00 bitrate=N/A speed= 232x    \r
video:0kB audio:258kB subtitle:0kB other streams:0kB global headers:0kB muxing overhead: unknown
[Parsed_ebur128_0 @ 0x559766d68480] Summary:

  Integrated loudness:
    I:         -22.2 LUFS
    Threshold: -32.2 LUFS

  Loudness range:
    LRA:        20.0 LU
    Threshold: -42.2 LUFS
    LRA low:   -42.2 LUFS
    LRA high:  -22.2 LUFS

  True peak:
    Peak:      -18.5 dBFS
"""


class ParseTests(SynchronousTestCase):
    """
    L{parseAnalysis} reads ffmpeg's ebur128 and silencedetect log.
    """

    def test_track(self) -> None:
        """
        Loudness, true peak, and the silence at both ends are read.
        """
        self.assertEqual(parseAnalysis(TRACK_LOG), Measurement(-41.7, -41.2, 2.50018, 6.49984, "ebur128", 9.0))

    def test_noSilence(self) -> None:
        """
        A track without silence has none to trim.
        """
        self.assertEqual(parseAnalysis(TONE_LOG), Measurement(-22.2, -18.5, 0.0, None, "ebur128", 3.0))

    def test_silenceToEndUnterminated(self) -> None:
        """
        A trailing silence with no C{silence_end} (older ffmpeg) still ends
        the track; a silence in the middle is not trailing.
        """
        log = TONE_LOG + b"[silencedetect @ 0x1] silence_start: 1.5\n"
        self.assertEqual(parseAnalysis(log).trailingSilence, 1.5)
        middle = TONE_LOG + b"[silencedetect @ 0x1] silence_start: 1.0\n[silencedetect @ 0x1] silence_end: 1.6\n"
        self.assertIsNone(parseAnalysis(middle).trailingSilence)
        self.assertEqual(parseAnalysis(middle).leadingSilence, 0.0)

    def test_allSilent(self) -> None:
        """
        A track silent throughout measures C{-inf} and has no edges to trim.
        """
        log = TONE_LOG.replace(b"-22.2 LUFS", b"-inf LUFS", 1).replace(b"-18.5 dBFS", b"-inf dBFS")
        log += b"[silencedetect @ 0x1] silence_start: 0\n[silencedetect @ 0x1] silence_end: 3\n"
        measurement = parseAnalysis(log)
        self.assertEqual(measurement.loudness, float("-inf"))
        self.assertEqual(measurement.leadingSilence, 0.0)

    def test_failure(self) -> None:
        """
        A log without a summary (ffmpeg could not read the file) is an error.
        """
        self.assertRaises(ValueError, parseAnalysis, b"file:/x.mp3: No such file or directory\n")


class ReplayGainTests(SynchronousTestCase):
    """
    L{readReplayGain} reads ReplayGain tags with mutagen.
    """

    def test_id3(self) -> None:
        """
        ID3 TXXX frames give the loudness (-18 LUFS minus the gain) and the
        peak in dBFS.
        """
        from mutagen.id3 import ID3, TXXX

        path = self.mktemp()
        shutil.copy(DEMO[0], path)
        tags = ID3()
        tags.add(TXXX(encoding=3, desc="REPLAYGAIN_TRACK_GAIN", text=["-6.50 dB"]))
        tags.add(TXXX(encoding=3, desc="REPLAYGAIN_TRACK_PEAK", text=["0.5"]))
        tags.save(path)
        measurement = readReplayGain(path)
        assert measurement is not None
        self.assertAlmostEqual(measurement.loudness, -11.5)
        assert measurement.truePeak is not None
        self.assertAlmostEqual(measurement.truePeak, -6.0206, places=3)
        self.assertEqual(measurement.method, "replaygain")

    def test_none(self) -> None:
        """
        A file without the tags, or no file, gives L{None}.
        """
        self.assertIsNone(readReplayGain(DEMO[0]))
        self.assertIsNone(readReplayGain(self.mktemp()))


def fakeStat(sizes: dict[str, int]):
    """
    @return: an C{os.stat} stand-in for files of the given sizes.
    """

    def stat(path: str) -> os.stat_result:
        if path not in sizes:
            raise FileNotFoundError(path)
        return os.stat_result((0o100644, 0, 0, 1, 0, 0, sizes[path], 0, 0, 0))

    return stat


class AnalyserTests(SynchronousTestCase):
    """
    L{LoudnessAnalyser} measures tracks in child processes, a bounded few at
    a time, and caches the results by path, time and size.
    """

    def setUp(self) -> None:
        self.reactor = FakeProcessReactor()
        self.sizes = {f"/m/{i}.mp3": 1000 + i for i in range(10)}
        self.tags: dict[str, Measurement] = {}
        self.analyser = LoudnessAnalyser(
            self.reactor,
            concurrency=2,
            cacheSize=3,
            queueSize=4,
            readTags=self.tags.get,
            stat=fakeStat(self.sizes),
        )

    def test_spawnsFfmpeg(self) -> None:
        """
        A track is measured by ffmpeg with the filters, output discarded.
        """
        self.analyser.request(["/m/0.mp3"])
        [call] = self.reactor.spawnCalls
        self.assertEqual(call["executable"], "ffmpeg")
        self.assertIn("file:/m/0.mp3", call["args"])
        self.assertIn(FILTERS, call["args"])
        self.assertEqual(call["args"][-3:], ["-f", "null", "-"])
        self.assertIsNone(self.analyser.lookup("/m/0.mp3"))

    def test_measuredAndCached(self) -> None:
        """
        When ffmpeg exits its log is parsed and cached; asking again spawns
        nothing.
        """
        self.analyser.request(["/m/0.mp3"])
        process = self.reactor.spawned[0]
        process.protocol.childDataReceived(2, TRACK_LOG[:100])
        process.protocol.childDataReceived(2, TRACK_LOG[100:])
        process.exit(0)
        self.assertEqual(self.analyser.lookup("/m/0.mp3"), parseAnalysis(TRACK_LOG))
        self.analyser.request(["/m/0.mp3"])
        self.assertEqual(len(self.reactor.spawnCalls), 1)
        self.assertEqual(self.reactor.getDelayedCalls(), [])

    def test_bounded(self) -> None:
        """
        At most C{concurrency} analyses run; the rest wait in a bounded
        queue, and each exit starts the next.
        """
        paths = sorted(self.sizes)
        self.analyser.request(paths[:3])
        self.analyser.request(paths[:3])
        self.assertEqual(len(self.reactor.spawned), 2)
        self.assertEqual(self.analyser.pending, 3)
        self.analyser.request(paths[3:])
        self.assertEqual(self.analyser.dropped, 10 - 2 - 4)
        self.reactor.spawned[0].protocol.childDataReceived(2, TONE_LOG)
        self.reactor.spawned[0].exit(0)
        self.assertEqual(len(self.reactor.spawned), 3)
        self.assertIn("file:/m/2.mp3", self.reactor.spawned[2].args)

    def test_changedFile(self) -> None:
        """
        A file whose size or time changed is not answered from the cache.
        """
        self.analyser.request(["/m/0.mp3"])
        self.reactor.spawned[0].protocol.childDataReceived(2, TONE_LOG)
        self.reactor.spawned[0].exit(0)
        self.sizes["/m/0.mp3"] += 1
        self.assertIsNone(self.analyser.lookup("/m/0.mp3"))
        self.analyser.request(["/m/0.mp3"])
        self.assertEqual(len(self.reactor.spawned), 2)

    def test_lru(self) -> None:
        """
        The cache keeps the most recently used measurements only.
        """
        for i in range(4):
            path = f"/m/{i}.mp3"
            self.analyser.request([path])
            self.reactor.spawned[-1].protocol.childDataReceived(2, TONE_LOG)
            self.reactor.spawned[-1].exit(0)
            if i == 2:
                self.assertIsNotNone(self.analyser.lookup("/m/0.mp3"))
        self.assertIsNotNone(self.analyser.lookup("/m/0.mp3"))
        self.assertIsNone(self.analyser.lookup("/m/1.mp3"))

    def test_failureCached(self) -> None:
        """
        A failed analysis is logged and not retried for the same file.
        """
        logged = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        self.analyser.request(["/m/0.mp3"])
        self.reactor.spawned[0].protocol.childDataReceived(2, b"No such file or directory\n")
        self.reactor.spawned[0].exit(1)
        self.assertIsNone(self.analyser.lookup("/m/0.mp3"))
        self.analyser.request(["/m/0.mp3"])
        self.assertEqual(len(self.reactor.spawned), 1)
        self.assertEqual(self.analyser.failed, 1)
        self.assertEqual([e["path"] for e in logged if e["log_level"] is LogLevel.warn], ["/m/0.mp3"])

    def test_timeout(self) -> None:
        """
        An analysis that takes too long is killed.
        """
        self.analyser.request(["/m/0.mp3"])
        process = self.reactor.spawned[0]
        self.reactor.advance(ANALYSIS_TIMEOUT)
        self.assertEqual(process.signals, ["KILL"])
        process.exit(signal=9)
        self.assertEqual(self.analyser.failed, 1)

    def test_spawnFails(self) -> None:
        """
        When ffmpeg cannot be started the failure is logged and cached.
        """
        self.reactor.failSpawn = OSError("no ffmpeg")
        self.analyser.request(["/m/0.mp3", "/m/1.mp3"])
        self.assertEqual(self.analyser.failed, 2)
        self.assertEqual(len(self.flushLoggedErrors(OSError)), 2)

    def test_replayGainSparesAnalysis(self) -> None:
        """
        A track with ReplayGain tags is not analysed unless silence is
        wanted.
        """
        tagged = Measurement(-12.0, -1.0, method="replaygain")
        self.tags["/m/0.mp3"] = tagged
        self.analyser.request(["/m/0.mp3"])
        self.assertEqual(self.reactor.spawned, [])
        self.assertEqual(self.analyser.lookup("/m/0.mp3"), tagged)
        self.analyser.needSilence = True
        self.tags["/m/1.mp3"] = tagged
        self.analyser.request(["/m/1.mp3"])
        self.assertEqual(len(self.reactor.spawned), 1)

    def test_stop(self) -> None:
        """
        Stopping kills the analyses running, forgets the queue, and leaves
        no timer behind.
        """
        self.analyser.request(sorted(self.sizes)[:4])
        self.analyser.stop()
        for process in self.reactor.spawned:
            self.assertEqual(process.signals, ["KILL"])
            process.exit(signal=9)
        self.assertEqual(self.analyser.pending, 0)
        self.assertEqual(self.reactor.getDelayedCalls(), [])


class FixedAnalyser:
    """
    An analyser whose measurements are set by the test, recording requests.
    """

    def __init__(self) -> None:
        self.known: dict[str, Measurement] = {}
        self.requested: list[str] = []

    def lookup(self, path: str) -> Measurement | None:
        return self.known.get(path)

    def request(self, paths) -> None:
        self.requested.extend(paths)

    def stop(self) -> None:
        self.stopped = True


class LevellerTests(SynchronousTestCase):
    """
    L{Leveller.planFor} turns measurements into gains and trims.
    """

    def test_plan(self) -> None:
        """
        The gain brings the track to the target within the peak cap; the
        silence edges keep a margin of audio.
        """
        analyser = FixedAnalyser()
        analyser.known["a"] = Measurement(-22.0, -10.0, 2.5, 6.5, duration=9.0)
        leveller = Leveller(analyser, -16.0, True)  # type: ignore[arg-type]
        self.assertEqual(leveller.planFor("a"), TrackPlan(4, 2.5 - EDGE_MARGIN, 6.5 + EDGE_MARGIN, 9.0, -16.0))
        self.assertIsNone(leveller.planFor("b"))
        self.assertEqual(Leveller(analyser, None, True).planFor("a").steps, 0)  # type: ignore[arg-type, union-attr]
        self.assertFalse(Leveller(analyser, -16.0, False).planFor("a").trims)  # type: ignore[arg-type, union-attr]

    def test_prepare(self) -> None:
        """
        Only the next C{lookahead} tracks are asked for.
        """
        analyser = FixedAnalyser()
        Leveller(analyser, -16.0, True, lookahead=2).prepare(["a", "b", "c"])  # type: ignore[arg-type]
        self.assertEqual(analyser.requested, ["a", "b"])


def frameTimes(frames: list[Frame]) -> float:
    """@return: the frames' total duration in seconds."""
    return sum(frame.duration for frame in frames)


class PlaylistLevellingTests(SynchronousTestCase):
    """
    L{PlaylistSource} applies a leveller's plan to every frame of a track.
    """

    def setUp(self) -> None:
        self.analyser = FixedAnalyser()
        self.leveller = Leveller(self.analyser, -16.0, True)  # type: ignore[arg-type]
        self.source = PlaylistSource(ListTracks(DEMO[:2]), clock=FakeProcessReactor(), leveller=self.leveller)
        framer = Framer()
        with open(DEMO[0], "rb") as f:
            self.original = framer.feed(f.read()) + framer.flush()

    def firstTrack(self) -> list[Frame]:
        """@return: the frames of the first track the source plays."""
        items = pullAll(self.source, frameTimes(self.original) + 5)
        titles = [i for i, item in enumerate(items) if isinstance(item, TitleChange)]
        return [item for item in items[titles[0] : titles[1]] if isinstance(item, Frame)]

    def test_notMeasuredPlaysUnchanged(self) -> None:
        """
        A track not measured yet plays as it is, with a debug line, and the
        coming tracks are asked for.
        """
        logged = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        frames = self.firstTrack()
        self.assertEqual(b"".join(f.data for f in frames), audioOf(DEMO[0]))
        self.assertEqual(self.analyser.requested[:2], [DEMO[0], DEMO[1]])
        self.assertTrue(any(e.get("path") == DEMO[0] and e["log_level"] is LogLevel.debug for e in logged))

    def test_gain(self) -> None:
        """
        A measured track gets the gain on every frame: the same bytes but
        for the global gains, each moved by the steps.
        """
        self.analyser.known[DEMO[0]] = Measurement(-22.0, -12.0, 0.0, None)
        frames = self.firstTrack()
        self.assertEqual(len(frames), len(self.original))
        for before, after in zip(self.original, frames):
            self.assertEqual(globalGains(after), [min(g + 4, 255) for g in globalGains(before)])

    def test_peakCap(self) -> None:
        """
        The boost stops short of the peak ceiling.
        """
        self.analyser.known[DEMO[0]] = Measurement(-40.0, -5.0, 0.0, None)
        frames = self.firstTrack()
        self.assertEqual(globalGains(frames[10]), [g + 2 for g in globalGains(self.original[10])])

    def test_trim(self) -> None:
        """
        Frames before the leading silence's end and after the trailing
        silence's start are dropped; the first frame kept borrows nothing
        from the frames dropped.
        """
        duration = self.original[0].duration
        self.analyser.known[DEMO[0]] = Measurement(-16.0, -3.0, 2.0, 10.0)
        frames = self.firstTrack()
        first = int((2.0 - EDGE_MARGIN) // duration)
        last = int((10.0 + EDGE_MARGIN) / duration + 1)
        self.assertEqual(len(frames), last - first)
        self.assertEqual(mainDataBegin(frames[0]), 0)
        self.assertEqual([f.data for f in frames[5:]], [f.data for f in self.original[first + 5 : last]])

    def test_leadingSilenceLongerThanABlock(self) -> None:
        """
        A silence longer than one read block still leaves the title first
        and the audio after it.
        """
        self.analyser.known[DEMO[0]] = Measurement(-16.0, -3.0, 15.0, None)
        items = pullAll(self.source, 3)
        self.assertIsInstance(items[0], TitleChange)
        self.assertTrue(all(isinstance(item, Frame) for item in items[1:]))

    def test_closeStopsAnalyses(self) -> None:
        """
        Closing the playlist stops its measurements.
        """
        self.source.close()
        self.assertTrue(self.analyser.stopped)
