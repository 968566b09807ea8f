"""
Tests for re-airing recorded shows on the programme clock:
L{txradio.wire.shows}'s recording names and cue times,
L{txradio.sources.reair}, and a re-air block from the configuration to the
titles listeners see, on a simulated clock.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from txradio.sources.reair import LATEST, ROTATION, CueMarks, RecordingTracks, readCueTitles
from txradio.sources.schedule import Block, ScheduledSource, ScheduledTracks
from txradio.sources.tracks import ListTracks, NoTracks
from txradio.testing import syntheticFrame
from txradio.wire.mp3 import Frame
from txradio.wire.programme import TitleChange
from txradio.wire.schedule import parseWhen
from txradio.wire.shows import CueTrack, RecordingName, cueSeconds, cueSheet, cueTitles, readRecordingName

ZONE = ZoneInfo("Europe/Berlin")
MONDAY = datetime(2026, 1, 5, 0, 0, tzinfo=ZONE)
FRAME = syntheticFrame()
RATE = FRAME.header.sampleRate
SAMPLES = round(FRAME.header.duration * RATE)
"""Samples per channel in one frame."""


def writeRecording(folder: str, name: str, seconds: float, titles: list[tuple[float, str]] | None) -> str:
    """
    Write a recording as the recorder does: whole frames, and (unless
    C{titles} is L{None}, a recording still being written) a cue sheet.

    @param folder: where.
    @param name: its file name.
    @param seconds: its length.
    @param titles: C{(seconds, title)} of its cue sheet.
    @return: its path.
    """
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, name)
    with open(path, "wb") as f:
        f.write(FRAME.data * int(seconds / FRAME.header.duration))
    if titles is not None:
        # The recorder counts whole frames' samples before each title.
        tracks = [CueTrack(int(at / FRAME.header.duration) * SAMPLES, title) for at, title in titles]
        with open(path[:-4] + ".cue", "w", encoding="utf-8") as sheet:
            sheet.write(cueSheet(name, "alice", tracks, RATE))
    return path


class WireTests(SynchronousTestCase):
    """
    Reading recordings' names and cue sheets back.
    """

    def test_recordingName(self) -> None:
        """
        A recording's name gives its start, show and part; others are
        L{None}.
        """
        self.assertEqual(
            readRecordingName("2026-01-05T20-00-00_alice.mp3"), RecordingName("2026-01-05T20-00-00", "alice", 1)
        )
        self.assertEqual(
            readRecordingName("2026-01-05T20-00-00_Night-Shift-part3.mp3"),
            RecordingName("2026-01-05T20-00-00", "Night-Shift", 3),
        )
        for name in ["alice.mp3", "2026-01-05T20-00-00_alice.cue", "../2026-01-05T20-00-00_alice.mp3"]:
            self.assertIsNone(readRecordingName(name))

    def test_cueTitles(self) -> None:
        """
        The titles of a sheet L{cueSheet} wrote come back with their
        offsets, performer and title joined as the stream carried them.
        """
        tracks = [CueTrack(0, "A - One"), CueTrack(RATE * 90 + RATE // 2, "Two")]
        titles = cueTitles(cueSheet("x.mp3", "show", tracks, RATE))
        self.assertEqual(titles, [(0.0, "A - One"), (90 + 37 / 75, "Two")])
        self.assertEqual(cueSeconds("61:05:74"), 3665 + 74 / 75)
        for bad in ["1:60:00", "00:00:75", "x", "1:2"]:
            self.assertRaises(ValueError, cueSeconds, bad)
        broken = 'TRACK 01 AUDIO\n TITLE "ok"\n INDEX 01 00:01:00\nTRACK 02 AUDIO\n TITLE "bad"\n INDEX 01 9:99:99\n'
        self.assertEqual(cueTitles(broken), [(1.0, "ok")])


class RecordingTracksTests(SynchronousTestCase):
    """
    L{RecordingTracks} lists the finished recordings of a folder.
    """

    def setUp(self) -> None:
        self.folder = self.mktemp()
        self.old = writeRecording(self.folder, "2026-01-05T20-00-00_alice.mp3", 2, [])
        self.bob = writeRecording(self.folder, "2026-01-06T20-00-00_bob.mp3", 2, [])
        self.part1 = writeRecording(self.folder, "2026-01-07T20-00-00_alice.mp3", 2, [])
        self.part2 = writeRecording(self.folder, "2026-01-07T20-00-00_alice-part2.mp3", 2, [])
        # Being written (no cue sheet yet), and files that are not recordings.
        writeRecording(self.folder, "2026-01-08T20-00-00_alice.mp3", 2, None)
        writeRecording(self.folder, "notes.mp3", 2, [])
        os.symlink(self.old, os.path.join(self.folder, "2026-01-09T20-00-00_alice.mp3"))
        with open(os.path.join(self.folder, "2026-01-09T20-00-00_alice.cue"), "w") as f:
            f.write("")

    def test_latest(self) -> None:
        """
        L{LATEST}: the newest finished show, all its parts in order.
        """
        self.assertEqual(RecordingTracks(self.folder).nextPass(), [self.part1, self.part2])
        self.assertEqual(RecordingTracks(self.folder, show="bob", pick=LATEST).nextPass(), [self.bob])

    def test_rotation(self) -> None:
        """
        L{ROTATION}: every finished show, oldest first; C{show} keeps one
        show's.
        """
        tracks = RecordingTracks(self.folder, pick=ROTATION)
        self.assertEqual(tracks.nextPass(), [self.old, self.bob, self.part1, self.part2])
        alice = RecordingTracks(self.folder, show="alice", pick=ROTATION)
        self.assertEqual(alice.nextPass(), [self.old, self.part1, self.part2])

    def test_none(self) -> None:
        """
        Without a finished recording, or without the folder, L{NoTracks}
        says where; a wrong C{pick} is refused.
        """
        error = self.assertRaises(NoTracks, RecordingTracks(self.folder, show="carol").nextPass)
        self.assertIn("of carol", str(error))
        self.assertRaises(NoTracks, RecordingTracks(os.path.join(self.folder, "nope")).nextPass)
        self.assertRaises(ValueError, RecordingTracks, self.folder, pick="best")


class CueMarksTests(SynchronousTestCase):
    """
    L{CueMarks} puts cue titles among frames.
    """

    def test_marks(self) -> None:
        """
        Each cue title goes before the first frame starting at or after
        its offset; a track without a sheet gets none, and the titles of a
        track dropped from the read-ahead are never announced.
        """
        folder = self.mktemp()
        path = writeRecording(folder, "2026-01-05T20-00-00_alice.mp3", 1, [(0, "A - One"), (0.05, "B - Two")])
        marks = CueMarks()
        first = marks.started(path, TitleChange("file name"))
        self.assertEqual(first, TitleChange("A - One"))
        dropped = marks.started(path, TitleChange("dropped"))
        plain = TitleChange("plain")
        self.assertIs(marks.started(os.path.join(folder, "none.mp3"), plain), plain)
        out = marks.apply([first, FRAME, FRAME, FRAME, plain, FRAME, FRAME, FRAME])
        titles = [(index, item.title) for index, item in enumerate(out) if isinstance(item, TitleChange)]
        # The recorder saw "B - Two" after one frame (26 ms): the sheet
        # says 00:00:01 (rounded down to 1/75 s), so it goes before the
        # second frame, where it was recorded.
        self.assertEqual(titles, [(0, "A - One"), (2, "B - Two"), (5, "plain")])
        self.assertFalse(any(item is dropped for item in out))
        self.assertEqual(readCueTitles(os.path.join(folder, "none.mp3")), [])


class ReairBlockTests(SynchronousTestCase):
    """
    A block of the programme clock re-airs the newest show, its titles
    announced at the offsets of its cue sheet, on a simulated clock.
    """

    def setUp(self) -> None:
        base = self.mktemp()
        self.recordings = os.path.join(base, "stream")
        self.cues = [(0.0, "Alice - Hello"), (30.0, "Bob - Song"), (61.2, "Carol - Night")]
        writeRecording(self.recordings, "2026-01-01T20-00-00_alice.mp3", 100, self.cues)
        music = os.path.join(base, "music")
        self.music = [writeRecording(music, f"{name}.mp3", 100, None) for name in "ab"]
        self.clock = Clock()
        self.clock.advance((MONDAY + timedelta(hours=5, minutes=59)).timestamp())
        reair = Block("re-air", parseWhen("daily 06:00-06:02"), RecordingTracks(self.recordings), hard=True)
        default = Block("default", None, ListTracks(self.music))
        tracks = ScheduledTracks([reair], default, self.clock, zone=ZONE, tagsOf=lambda p: ("", p))
        self.source = ScheduledSource(tracks, clock=self.clock, titleOf=os.path.basename, name="/stream")

    def play(self, seconds: int) -> list[tuple[float, float, str]]:
        """
        Pull a second of audio each second.

        @return: each title change, with the clock's time and the seconds
            of audio handed out before it.
        """
        titles = []
        audio = 0.0
        for _ in range(seconds):
            for item in self.source.pull(1.0):
                if isinstance(item, TitleChange):
                    titles.append((self.clock.seconds(), audio, item.title))
                else:
                    assert isinstance(item, Frame)
                    audio += item.header.duration
            self.clock.advance(1)
        return titles

    def test_reair(self) -> None:
        """
        At 06:00 the track playing is cut and the recording starts with
        its first cue title; the next titles follow at the very frames
        where the recorder saw them (the sheet's offsets are rounded down
        to 1/75 s, less than a frame).
        After the recording the block (still on) plays it again, then the
        default block resumes.
        """
        titles = self.play(300)
        names = [title for _, _, title in titles]
        cues = [title for _, title in self.cues]
        self.assertEqual(names, ["a.mp3", *cues, *cues, "b.mp3"])
        six = (MONDAY + timedelta(hours=6)).timestamp()
        self.assertEqual(titles[1][0], six)
        start = titles[1][1]
        frame = FRAME.header.duration
        for (_, audio, title), (offset, cue) in zip(titles[1:4], self.cues):
            self.assertEqual(title, cue)
            recorded = int(offset / frame) * frame
            self.assertAlmostEqual(audio - start, recorded, places=6)
        self.source.close()
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_upcoming(self) -> None:
        """
        While the block is on, the title foreseen next is the recording's
        first cue title, not its file's name.
        """
        self.clock.advance(60)
        self.assertEqual(self.source.upcomingTitles(1), ["Alice - Hello"])
        self.source.close()

    def test_title(self) -> None:
        """
        The source's C{title} is the last cue title handed out.
        """
        self.play(60 + 45)
        self.assertEqual(self.source.title, "Bob - Song")
        self.source.close()


class ConfigurationTests(SynchronousTestCase):
    """
    A re-air block from the configuration file.
    """

    def config(self, block: str, extra: str = "") -> str:
        """
        @param block: the block's re-air keys.
        @param extra: more mounts.
        @return: a configuration whose mount C{/stream} records and has a
            block with C{block}.
        """
        base = self.mktemp()
        os.makedirs(os.path.join(base, "music"))
        os.makedirs(os.path.join(base, "shows"))
        self.base = base
        return f"""
[server]
recordings_dir = "{base}/shows"
[[mount]]
path = "/stream"
playlist = "{base}/music"
live = true
source_password = "x"
record = true
[[mount.block]]
when = "Sun 10:00-12:00"
{block}
{extra}
"""

    def test_built(self) -> None:
        """
        C{recordings}, C{show} and C{pick} make a L{RecordingTracks} over
        the mount's recordings folder.
        """
        from txradio.build import playlistSource
        from txradio.config import parseConfig

        config = parseConfig(self.config('recordings = "/stream"\nshow = "alice"\npick = "rotation"'))
        block = config.mounts[0].blocks[0]
        self.assertEqual((block.recordings, block.show, block.pick), ("/stream", "alice", "rotation"))
        clock = Clock()
        source = playlistSource(config.mounts[0], clock, "transcode", config.server)
        assert isinstance(source, ScheduledSource)
        tracks = source.tracks.blocks[0].tracks
        assert isinstance(tracks, RecordingTracks)
        self.assertEqual(tracks.folder, os.path.abspath(os.path.join(self.base, "shows", "stream")))
        self.assertEqual((tracks.show, tracks.pick), ("alice", ROTATION))
        source.close()

    def test_ownFolder(self) -> None:
        """
        A mount re-airing its own recordings reads them from its own
        C{recordings_dir} when it has one.
        """
        from txradio.build import playlistSource
        from txradio.config import parseConfig

        text = self.config('recordings = "/stream"')
        own = os.path.join(self.base, "own")
        os.makedirs(own)
        config = parseConfig(text.replace("record = true", f'record = true\nrecordings_dir = "{own}"'))
        source = playlistSource(config.mounts[0], Clock(), "transcode", config.server)
        assert isinstance(source, ScheduledSource)
        tracks = source.tracks.blocks[0].tracks
        assert isinstance(tracks, RecordingTracks)
        self.assertEqual(tracks.folder, os.path.abspath(os.path.join(own, "stream")))
        self.assertEqual((tracks.show, tracks.pick), (None, LATEST))
        source.close()

    def test_refused(self) -> None:
        """
        A block with recordings and a folder, a show without recordings,
        recordings of a mount that does not record or is not here, and
        another mount's own recordings folder are refused, each saying why.
        """
        from txradio.config import ConfigError, parseConfig

        cases = [
            ('recordings = "/stream"\nfolder = "."', "exactly one of folder, playlist, query and recordings"),
            ('playlist = "."\nshow = "alice"', "give recordings too"),
            ('recordings = "/other"', "/other is not a mount with record = true"),
            ('recordings = "/stream"\npick = "best"', "pick"),
        ]
        for block, message in cases:
            error = self.assertRaises(ConfigError, parseConfig, self.config(block))
            self.assertIn(message, str(error))
        other = '[[mount]]\npath = "/other"\nlive = true\nsource_password = "y"\nrecordings_dir = "{}"\nrecord = true\n'
        text = self.config('recordings = "/other"')
        error = self.assertRaises(ConfigError, parseConfig, text + other.format(self.base))
        self.assertIn("only from [server] recordings_dir", str(error))
        text = self.config('recordings = "/other"')
        parseConfig(text + other.format(os.path.join(self.base, "shows")))
