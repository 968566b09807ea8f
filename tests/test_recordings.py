"""
Tests for L{txradio.operations.recordings}, L{txradio.wire.shows} and
L{txradio.web.shows}: recordings of live shows, their cue sheets, limits,
retention and the podcast feed.
"""

from __future__ import annotations

import errno
import os
from collections import namedtuple
from typing import Any

import feedparser
from twisted.internet.task import Clock
from twisted.trial.unittest import TestCase
from twisted.web.server import Site

from tests._web import SiteClient
from txradio.operations.recordings import Recorder, RecordingLimits
from txradio.sources.live import LiveSource
from txradio.stream.events import SourceConnected
from txradio.stream.station import Station
from txradio.testing import FakeFrameSource, syntheticFrame
from txradio.web.site import RadioRoot
from txradio.wire.icy import StreamInfo
from txradio.wire.shows import cueIndex, parseCueSheet, safeName

Usage = namedtuple("Usage", "total used free")
START = 1_796_000_000.0  # 2026-11-30


class Observer:
    """
    Counts what the broadcaster sends while the live source is current.
    """

    peer = "observer"

    def __init__(self, station: Station) -> None:
        self.station = station
        self.chunks: list[Any] = []

    def deliver(self, chunk: Any) -> None:
        self.chunks.append((chunk, self.station.switcher.current))

    def disconnect(self, reason: str = "") -> None:
        pass


class RecorderTests(TestCase):
    """
    A recorder writes exactly what listeners got while a show was live.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(START)
        self.folder = os.path.abspath(self.mktemp())
        self.free = 10 << 30
        self.station = Station(FakeFrameSource(["Programme"], framesPerTrack=10**9), clock=self.clock)
        self.station.startService()
        self.addCleanup(self.station.stopService)
        self.observer = Observer(self.station)
        self.station.broadcaster.addObserver(self.observer)

    def recorder(self, opener: Any = None, **limits: Any) -> Recorder:
        limits.setdefault("minFree", 1 << 20)
        recorder = Recorder(
            self.station,
            self.folder,
            self.clock,
            RecordingLimits(**limits),
            diskUsage=lambda path: Usage(0, 0, self.free),
            opener=opener,
        )
        recorder.start()
        self.addCleanup(recorder.stop)
        return recorder

    def goLive(self, name: str = "Night Shift!") -> LiveSource:
        live = LiveSource(title="Night Shift")
        self.assertTrue(self.station.attachLive(live, StreamInfo(name=name)))
        self.station.events.emit(SourceConnected(self.station, self.clock.seconds(), "peer", "agent"))
        return live

    def feed(self, live: LiveSource, count: int, first: int = 1) -> bytes:
        data = b"".join(syntheticFrame(1 + (first + n) % 200).data for n in range(count))
        live.feed(data)
        return data

    def play(self, seconds: int) -> None:
        for _ in range(seconds):
            self.clock.advance(1)

    def liveBytes(self, live: LiveSource) -> bytes:
        return b"".join(chunk.data for chunk, current in self.observer.chunks if current is live)

    def test_safeName(self) -> None:
        """
        Show names become safe file name pieces.
        """
        self.assertEqual(safeName("Night Shift!"), "Night-Shift")
        self.assertEqual(safeName("../../etc"), "etc")
        self.assertEqual(safeName("Café"), "Cafe")
        self.assertEqual(safeName("///"), "live")

    def test_recordsWhatListenersGot(self) -> None:
        """
        The file holds exactly the bytes the broadcaster sent from the live
        source, the programme before and after excluded; its name has the
        date and the show's name; the cue sheet lists the titles at exact
        offsets counted in samples.
        """
        recorder = self.recorder()
        self.play(3)
        live = self.goLive()
        sent = self.feed(live, 100)
        self.play(2)
        live.setTitle("Artist - Second Song")
        sent += self.feed(live, 150, 100)
        self.play(2)
        live.end()
        self.station.detachLive(live, "peer")
        self.play(10)
        names = sorted(os.listdir(self.folder))
        self.assertEqual(names, ["2026-11-30T00-53-23_Night-Shift.cue", "2026-11-30T00-53-23_Night-Shift.mp3"])
        with open(os.path.join(self.folder, names[1]), "rb") as f:
            recorded = f.read()
        self.assertEqual(recorded, sent)
        # The listeners got it, in one piece, the live chunks in full.
        everything = b"".join(chunk.data for chunk, _ in self.observer.chunks)
        self.assertIn(sent, everything)
        self.assertTrue(recorded.startswith(self.liveBytes(live)))
        with open(os.path.join(self.folder, names[0]), encoding="utf-8") as f:
            tracks = parseCueSheet(f.read())
        self.assertEqual(
            tracks, [("", "Night Shift", "00:00:00"), ("Artist", "Second Song", cueIndex(100 * 1152, 44100))]
        )
        self.assertEqual(cueIndex(100 * 1152, 44100), "00:02:45")
        [finished] = recorder.finished()
        self.assertEqual(finished.size, len(sent))
        self.assertAlmostEqual(finished.seconds, 250 * 1152 / 44100, places=5)
        self.assertEqual(finished.show, "Night Shift!")

    def test_liveOnlyMount(self) -> None:
        """
        On a mount with no programme, the recording ends when the source
        leaves (no chunk follows).
        """
        self.station = Station(None, clock=self.clock)
        self.station.startService()
        self.addCleanup(self.station.stopService)
        recorder = self.recorder()
        live = self.goLive()
        sent = self.feed(live, 100)
        self.play(5)
        live.end()
        self.station.detachLive(live, "peer")
        self.play(1)
        [finished] = recorder.finished()
        self.assertEqual(finished.size, len(sent))

    def test_notListedWhileWriting(self) -> None:
        """
        The recording being written is not in the finished list.
        """
        recorder = self.recorder()
        live = self.goLive()
        self.feed(live, 100)
        self.play(2)
        self.assertIsNotNone(recorder.current)
        self.assertEqual(recorder.finished(), [])

    def test_maxBytesStartsParts(self) -> None:
        """
        At the size limit the part is closed and the show goes on in a new
        part; together they hold every byte.
        """
        self.recorder(maxBytes=20000)
        live = self.goLive()
        sent = self.feed(live, 300)
        self.play(12)
        live.end()
        self.station.detachLive(live, "peer")
        self.play(3)
        parts = sorted(n for n in os.listdir(self.folder) if n.endswith(".mp3"))
        self.assertGreater(len(parts), 2)
        self.assertIn("2026-11-30T00-53-20_Night-Shift-part2.mp3", parts)
        data = b""
        for name in sorted(parts, key=lambda n: int(n.split("part")[1][:-4]) if "part" in n else 1):
            with open(os.path.join(self.folder, name), "rb") as f:
                chunk = f.read()
            self.assertLessEqual(len(chunk), 20000)
            data += chunk
        self.assertEqual(data, sent)

    def test_maxSeconds(self) -> None:
        """
        At the time limit a new part starts.
        """
        self.recorder(maxSeconds=2)
        live = self.goLive()
        self.feed(live, 300)
        self.play(12)
        parts = [n for n in os.listdir(self.folder) if n.endswith(".mp3")]
        self.assertGreater(len(parts), 2)

    def test_lowSpaceBeforeStart(self) -> None:
        """
        Too little free space: nothing is recorded, and one error is logged.
        """
        self.free = 1000
        recorder = self.recorder()
        live = self.goLive()
        self.feed(live, 100)
        self.play(3)
        self.assertEqual([n for n in os.listdir(self.folder) if n.endswith(".mp3")], [])
        self.assertIn("bytes free", recorder.stoppedReason)
        self.assertEqual(len(self.flushLoggedErrors()), 0)

    def test_lowSpaceWhileRecording(self) -> None:
        """
        The free space is checked periodically; below the threshold the
        recording stops, the listeners' stream goes on.
        """
        recorder = self.recorder(checkInterval=2)
        live = self.goLive()
        self.feed(live, 400)
        self.play(3)
        self.free = 1000
        self.play(3)
        self.assertIsNone(recorder.current)
        self.assertIn("bytes free", recorder.stoppedReason)
        before = len(self.observer.chunks)
        self.play(3)
        self.assertGreater(len(self.observer.chunks), before)
        self.assertIs(self.observer.chunks[-1][1], live)

    def test_writeErrorStopsOnlyTheRecording(self) -> None:
        """
        ENOSPC on a write stops the recording; the station plays on.
        """

        class Full:
            def __init__(self, path: str) -> None:
                self.handle = open(path, "xb")

            def write(self, data: bytes) -> int:
                raise OSError(errno.ENOSPC, "No space left on device")

            def close(self) -> None:
                self.handle.close()

        recorder = self.recorder(opener=Full)
        live = self.goLive()
        self.feed(live, 300)
        self.play(3)
        self.assertIsNone(recorder.current)
        self.assertIn("No space left", recorder.stoppedReason)
        before = len(self.observer.chunks)
        self.play(2)
        self.assertGreater(len(self.observer.chunks), before)
        self.assertNotIn(recorder, list(self.station.broadcaster._observers))

    def test_retention(self) -> None:
        """
        Beyond C{keep}, and older than C{maxAgeDays}, recordings go, with
        their cue sheets; at start too.
        """
        os.makedirs(self.folder)
        for day in range(1, 8):
            for ext in ("mp3", "cue"):
                with open(os.path.join(self.folder, f"2026-11-{day:02d}T10-00-00_Show.{ext}"), "w") as f:
                    f.write(f"REM STARTED {START - (30 - day) * 86400}\r\n" if ext == "cue" else "x")
        with open(os.path.join(self.folder, "other.txt"), "w") as f:
            f.write("kept")
        recorder = self.recorder(keep=5, maxAgeDays=26)
        left = sorted(os.listdir(self.folder))
        self.assertEqual(len(left), 9)
        self.assertIn("other.txt", left)
        self.assertEqual(
            [r.name for r in recorder.finished()],
            [f"2026-11-{day:02d}T10-00-00_Show.mp3" for day in (7, 6, 5, 4)],
        )


class FeedTests(TestCase):
    """
    The podcast feed and its enclosures.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(START)
        self.folder = os.path.abspath(self.mktemp())
        os.makedirs(self.folder)
        self.station = Station(
            FakeFrameSource(), clock=self.clock, info=StreamInfo(name="Radio X", description="Good music")
        )
        self.recorder = Recorder(self.station, self.folder, self.clock)
        self.station.recorder = self.recorder
        self.content = bytes(range(256)) * 40
        for name, started in (
            ("2026-11-29T20-00-00_Night-Shift.mp3", START - 86400),
            ("2026-11-30T08-00-00_Morning.mp3", START),
        ):
            with open(os.path.join(self.folder, name), "wb") as f:
                f.write(self.content)
            with open(os.path.join(self.folder, name[:-4] + ".cue"), "w") as f:
                f.write(f'REM STARTED {started}\r\nREM SECONDS 125.4\r\nPERFORMER "{name[20:-4]}"\r\n')
        with open(os.path.join(os.path.dirname(self.folder), "secret.mp3"), "wb") as f:
            f.write(b"SECRET")
        root = RadioRoot([self.station], clock=self.clock)
        self.client = SiteClient(self, Site(root), self.clock)

    def test_feed(self) -> None:
        """
        The feed is RSS 2.0 that feedparser reads without complaint, newest
        first, each enclosure with the file's exact length.
        """
        response = self.client.request("/stream/shows.rss")
        self.assertEqual(response.status, 200)
        self.assertEqual(response.header("content-type"), "application/rss+xml; charset=utf-8")
        feed = feedparser.parse(response.body)
        self.assertFalse(feed.bozo, feed.get("bozo_exception"))
        self.assertEqual(feed.version, "rss20")
        self.assertEqual(feed.feed.title, "Radio X shows")
        self.assertEqual(
            [e.guid for e in feed.entries], ["2026-11-30T08-00-00_Morning.mp3", "2026-11-29T20-00-00_Night-Shift.mp3"]
        )
        entry = feed.entries[0]
        self.assertEqual(entry.itunes_duration, "0:02:05")
        [enclosure] = entry.enclosures
        self.assertEqual(int(enclosure.length), len(self.content))
        self.assertEqual(enclosure.type, "audio/mpeg")
        self.assertEqual(enclosure.href, "http://radio.example:8000/stream/shows/2026-11-30T08-00-00_Morning.mp3")
        self.assertEqual(entry.published_parsed[:4], (2026, 11, 30, 0))

    def test_enclosureRange(self) -> None:
        """
        An enclosure answers a range with 206 and exactly those bytes, with
        an entity tag; HEAD gives the exact length.
        """
        path = "/stream/shows/2026-11-30T08-00-00_Morning.mp3"
        response = self.client.request(path, headers={"Range": "bytes=0-99"})
        self.assertEqual(response.status, 206)
        self.assertEqual(response.body, self.content[:100])
        self.assertEqual(response.header("content-range"), f"bytes 0-99/{len(self.content)}")
        self.assertTrue(response.header("etag"))
        head = self.client.request(path, method=b"HEAD")
        self.assertEqual(head.status, 200)
        self.assertEqual(head.header("content-length"), str(len(self.content)))
        full = self.client.request(path)
        self.assertEqual(full.body, self.content)

    def test_traversalRefused(self) -> None:
        """
        Only finished recordings in the mount's folder are served.
        """
        for path in (
            "/stream/shows/../secret.mp3",
            "/stream/shows/..%2fsecret.mp3",
            "/stream/shows/%2e%2e/secret.mp3",
            "/stream/shows/2026-11-30T08-00-00_Morning.cue",
            "/stream/shows/secret.mp3",
            "/stream/shows/",
            "/stream/shows/.%2e%2fsecret.mp3",
            "/stream/shows/2026-11-30T08-00-00_Morning.mp3%00",
        ):
            response = self.client.request(path)
            self.assertNotEqual(response.status, 200, path)
            self.assertNotIn(b"SECRET", response.body, path)


class ConfigTests(TestCase):
    """
    C{record = true} gives a mount a recorder and its feed.
    """

    def test_recordNeedsAFolder(self) -> None:
        """
        A recorded mount without a folder is a configuration error.
        """
        from txradio.config import ConfigError
        from txradio.config.document import parseConfig

        with self.assertRaises(ConfigError) as caught:
            parseConfig('[[mount]]\npath = "/live"\nlive = true\nsource_password = "pw"\nrecord = true\n')
        self.assertIn("recordings_dir", str(caught.exception))

    def test_builtRecorder(self) -> None:
        """
        The builder gives the station a recorder in DIR/MOUNT with the
        configured limits; a reload without C{record} takes it away.
        """
        from txradio.build import buildStation, configureRecorder
        from txradio.config.document import parseConfig

        folder = os.path.abspath(self.mktemp())
        os.makedirs(folder)
        config = parseConfig(
            f'[server]\nrecordings_dir = "{folder}"\nrecordings_min_free = 0\n'
            '[[mount]]\npath = "/live"\nlive = true\nsource_password = "pw"\nrecord = true\n'
            "recordings_keep = 3\nrecord_max_megabytes = 2\n"
        )
        clock = Clock()
        station = buildStation(config.mounts[0], config.server, clock, None)
        recorder = station.recorder
        self.assertIsInstance(recorder, Recorder)
        self.assertEqual(recorder.folder, os.path.join(folder, "live"))
        self.assertEqual((recorder.limits.keep, recorder.limits.maxBytes, recorder.limits.minFree), (3, 2 << 20, 0))
        self.assertIn(recorder, list(station))
        configureRecorder(station, config.mounts[0], config.server, clock)
        self.assertIs(station.recorder, recorder)
        plain = parseConfig('[[mount]]\npath = "/live"\nlive = true\nsource_password = "pw"\n')
        configureRecorder(station, plain.mounts[0], plain.server, clock)
        self.assertIsNone(station.recorder)
        self.assertNotIn(recorder, list(station))
