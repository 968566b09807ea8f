"""
Tests for what comes next on a mount: the block changes of the programme
clock, the tracks foreseen with their expected start times, and the
requests' expected times (L{txradio.web.upcoming}), on a fake clock.
"""

from __future__ import annotations

import os
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from txradio.interfaces import IProgramme
from txradio.sources.playlist import PlaylistSource
from txradio.sources.requests import Limits, RequestQueue, attachRequests
from txradio.sources.schedule import Block, ScheduledSource, ScheduledTracks
from txradio.sources.tags import Durations
from txradio.sources.tracks import ListTracks
from txradio.testing import FakeFrameSource, syntheticFrame
from txradio.web.status import isoTime
from txradio.web.upcoming import comingNext, programmeStatus, requestQueueOf, scheduleJSON, upNextTags
from txradio.wire.schedule import blockChanges, expectedStarts, parseWhen

ZONE = ZoneInfo("Europe/Berlin")
MONDAY = datetime(2026, 1, 5, 0, 0, tzinfo=ZONE)
LENGTHS = {"a": 100.0, "b": 90.0, "news": 45.0, "req": 30.0}


class PureTests(SynchronousTestCase):
    """
    Tests for L{blockChanges} and L{expectedStarts}.
    """

    def test_blockChanges(self) -> None:
        """
        Only the moments where the block on changes are listed, with the
        block then on; overlaps keep the earlier block; the count and the
        horizon bound the list.
        """
        slots = [parseWhen("Mon-Fri 06:00-10:00"), parseWhen("daily 08:00-12:00")]
        changes = blockChanges(slots, MONDAY + timedelta(hours=7), 4)
        self.assertEqual(
            [(at.strftime("%a %H:%M"), index) for at, index in changes],
            [("Mon 10:00", 1), ("Mon 12:00", None), ("Tue 06:00", 0), ("Tue 10:00", 1)],
        )
        # Each weekday 06:00, 10:00 and 12:00; Saturday and Sunday 08:00 and 12:00.
        self.assertEqual(len(blockChanges(slots, MONDAY, 1000)), 5 * 3 + 2 * 2)
        self.assertEqual(blockChanges([], MONDAY, 5), [])

    def test_expectedStarts(self) -> None:
        """
        Tracks start one after another; after a track of unknown length,
        the starts are unknown.
        """
        self.assertEqual(expectedStarts(10.0, [5.0, 7.0, None, 3.0]), [10.0, 15.0, 22.0, None])
        self.assertEqual(expectedStarts(None, [5.0]), [None])
        self.assertEqual(expectedStarts(1.0, []), [])


class DurationsTests(SynchronousTestCase):
    """
    Tests for L{Durations}.
    """

    def test_cached(self) -> None:
        """
        A file's length is read once per version of the file; a missing file
        has none; the cache keeps its bound.
        """
        folder = self.mktemp()
        os.makedirs(folder)
        reads: list[str] = []
        durations = Durations(lambda path: reads.append(path) or 12.5, size=2)
        paths = []
        for name in "xyz":
            path = os.path.join(folder, name)
            with open(path, "wb") as f:
                f.write(b"1")
            paths.append(path)
        self.assertEqual(durations(paths[0]), 12.5)
        self.assertEqual(durations(paths[0]), 12.5)
        self.assertEqual(reads, [paths[0]])
        os.utime(paths[0], ns=(1, 1))
        durations(paths[0])
        self.assertEqual(len(reads), 2)
        durations(paths[1])
        durations(paths[2])
        durations(paths[0])
        self.assertEqual(len(reads), 5)
        self.assertIsNone(durations(os.path.join(folder, "missing")))
        os.mkfifo(os.path.join(folder, "pipe.mp3"))
        self.assertIsNone(durations(os.path.join(folder, "pipe.mp3")))
        self.assertEqual(len(reads), 5)

    def test_readDuration(self) -> None:
        """
        The real reader reads an MP3 file's length; a file that is not
        audio has none.
        """
        from txradio.sources.tags import readDuration

        demo = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "txradio", "demo")
        name = sorted(os.listdir(demo))[0]
        length = readDuration(os.path.join(demo, name))
        assert length is not None
        self.assertAlmostEqual(length, 20.04, places=1)
        self.assertIsNone(readDuration(__file__))


@dataclass
class FakeBroadcaster:
    history: deque = field(default_factory=deque)


@dataclass
class FakeStation:
    """
    What the forecast reads of a station.
    """

    programme: Any
    clock: Clock
    broadcaster: FakeBroadcaster = field(default_factory=FakeBroadcaster)
    mount: bytes = b"/stream"


def lengthOf(path: str) -> float | None:
    return LENGTHS.get(os.path.splitext(os.path.basename(path))[0])


class ForecastTests(SynchronousTestCase):
    """
    L{comingNext} and the status on a programme clock with a fake clock.
    """

    def setUp(self) -> None:
        folder = self.mktemp()
        os.makedirs(folder)
        frame = syntheticFrame().data
        self.paths = {}
        for name, seconds in LENGTHS.items():
            path = os.path.join(folder, name + ".mp3")
            with open(path, "wb") as f:
                f.write(frame * int(seconds / syntheticFrame().header.duration))
            self.paths[name] = path
        self.clock = Clock()
        self.clock.advance((MONDAY + timedelta(hours=5, minutes=50)).timestamp())
        news = Block(
            "News",
            parseWhen("daily 06:00-06:01"),
            ListTracks([self.paths["news"]]),
            hard=True,
            when="daily 06:00-06:01",
            plays="folder",
        )
        default = Block("default", None, ListTracks([self.paths["a"], self.paths["b"]]), plays="playlist")
        self.tracks = ScheduledTracks([news], default, self.clock, zone=ZONE, tagsOf=lambda p: ("", p))
        self.source = ScheduledSource(self.tracks, clock=self.clock, titleOf=os.path.basename, name="/stream")
        self.addCleanup(self.source.close)
        self.station = FakeStation(self.source, self.clock)
        self.queue = RequestQueue(self.clock, Limits())
        attachRequests(self.source, self.queue)

    def onAir(self) -> float:
        """
        Start the first track and put its title on the air now.
        """
        self.source.pull(1.0)
        started = self.clock.seconds()
        self.station.broadcaster.history.append((started, self.source.title))
        return started

    def test_forecast(self) -> None:
        """
        The tracks the block would choose (the rest of its pass, or its
        next pass once that is used up) follow the track on the air, from
        its expected end.
        """
        started = self.onAir()
        self.clock.advance(30)
        coming, requests = comingNext(self.station, self.clock.seconds(), 3, lengthOf)
        self.assertEqual([(c.title, c.expected) for c in coming], [("b.mp3", started + 100)])
        self.assertEqual(requests, [])
        while self.source.title != "b.mp3":
            self.source.pull(0.5)
        self.station.broadcaster.history.append((started + 100, self.source.title))
        coming, _ = comingNext(self.station, self.clock.seconds(), 3, lengthOf)
        # The pass was used up: the block's next pass is listed.
        self.assertEqual([(c.title, c.expected) for c in coming], [("a.mp3", started + 190), ("b.mp3", started + 290)])

    def test_requests(self) -> None:
        """
        Requests come first after the track on the air, each with its
        expected time; the status and the page show them.
        """
        started = self.onAir()
        self.queue.add(self.paths["req"], "req.mp3", "Req", "", "192.0.2.1")
        self.queue.add(self.paths["b"], "b.mp3", "Bee", "", "192.0.2.2")
        coming, requests = comingNext(self.station, self.clock.seconds(), 3, lengthOf)
        self.assertEqual([(c.title, c.request) for c in coming], [("Req", True), ("Bee", True), ("b.mp3", False)])
        self.assertEqual(requests, [started + 100, started + 130])
        self.assertEqual(coming[2].expected, started + 220)

    def test_chosenAheadBeforeRequests(self) -> None:
        """
        A track already chosen ahead for a crossfade plays before the
        requests waiting, so it is listed before them, then the requests,
        then the rest of the forecast.
        """
        started = self.onAir()
        self.source._queue.append(self.paths["b"])  # as choosing early leaves it
        self.queue.add(self.paths["req"], "req.mp3", "Req", "", "192.0.2.1")
        self.assertEqual(self.source.chosenAhead(), [(self.paths["b"], "b.mp3")])
        coming, requests = comingNext(self.station, self.clock.seconds(), 3, lengthOf)
        self.assertEqual([(c.title, c.request) for c in coming][:2], [("b.mp3", False), ("Req", True)])
        self.assertEqual(coming[0].expected, started + 100)
        self.assertEqual(requests, [started + 190])

    def test_readAhead(self) -> None:
        """
        Once the next track is read ahead, it is expected when the audio
        before it has played.
        """
        from txradio.wire.programme import TitleChange

        self.onAir()
        self.assertIsNone(self.source.readAhead())
        # As a playlist that reads the next track early leaves it: frames
        # of this track, then the next one's title.
        frame = syntheticFrame()
        self.source._pending.extend([frame, frame, TitleChange("b.mp3")])
        self.source.trackPath = self.paths["b"]
        ahead = self.source.readAhead()
        assert ahead is not None
        title, before = ahead
        self.assertEqual(title, "b.mp3")
        # The rest of what was read of this track, and the two frames.
        self.assertGreater(before, 2 * frame.header.duration)
        coming, _ = comingNext(self.station, self.clock.seconds(), 2, lengthOf)
        self.assertEqual(coming[0].title, "b.mp3")
        self.assertEqual(coming[0].expected, self.clock.seconds() + before)
        self.assertEqual(coming[1].expected, self.clock.seconds() + before + 90)

    def test_unknown(self) -> None:
        """
        Before anything is on the air, and after a track of unknown length,
        the times are not known; a failing forecast is empty.
        """
        coming, _ = comingNext(self.station, self.clock.seconds(), 2, lambda path: None)
        self.assertEqual([c.expected for c in coming], [None, None])

        def broken(path: str) -> float:
            raise OSError("gone")

        self.assertEqual(comingNext(self.station, self.clock.seconds(), 2, broken), ([], []))

    def test_schedule(self) -> None:
        """
        The schedule names the block on now, until when, every block, and
        the coming changes in UTC and in the station's time.
        """
        schedule = scheduleJSON(self.station, isoTime, count=3)  # type: ignore[arg-type]
        assert schedule is not None
        self.assertEqual(schedule["timezone"], "Europe/Berlin")
        self.assertEqual(
            schedule["current"],
            {"name": "default", "when": None, "start": "soft", "plays": "playlist", "until": "2026-01-05T05:00:00Z"},
        )
        self.assertIsNone(schedule["playing"])
        self.assertEqual([b["name"] for b in schedule["blocks"]], ["News", "default"])
        self.assertEqual(
            schedule["changes"][:2],
            [
                {
                    "at": "2026-01-05T05:00:00Z",
                    "local": "2026-01-05T06:00:00+01:00",
                    "name": "News",
                    "when": "daily 06:00-06:01",
                    "start": "hard",
                    "plays": "folder",
                },
                {
                    "at": "2026-01-05T05:01:00Z",
                    "local": "2026-01-05T06:01:00+01:00",
                    "name": "default",
                    "when": None,
                    "start": "soft",
                    "plays": "playlist",
                },
            ],
        )
        self.assertEqual(len(schedule["changes"]), 3)
        self.onAir()
        status = programmeStatus(self.station, isoTime)  # type: ignore[arg-type]
        self.assertEqual(status["schedule"]["playing"], "default")
        # The real lengths of the files: 100 s, to a frame.
        self.assertEqual(status["next"][0]["title"], "b.mp3")
        self.assertIn(status["next"][0]["expected"], ["2026-01-05T04:51:39Z", "2026-01-05T04:51:40Z"])
        self.assertEqual(status["upcoming"], ["b.mp3"])
        self.assertEqual(status["requests"], [])

    def test_page(self) -> None:
        """
        The station page lists the next tracks with their times in the
        station's time zone, and the coming block changes.
        """
        from twisted.web.template import flattenString

        self.onAir()
        self.queue.add(self.paths["req"], "req.mp3", "Req", "", "192.0.2.1")
        rendered: list[bytes] = []
        flattenString(None, upNextTags(self.station)[0]).addCallback(rendered.append)  # type: ignore[arg-type]
        page = rendered[0].decode()
        self.assertIn("<li>Req <small>about 05:51</small></li>", page)
        self.assertIn("<h3>Schedule</h3>", page)
        self.assertIn("<li>Mon 06:00 News</li>", page)
        self.assertIn("On now: <strong>default</strong>", page)


class PlainPlaylistTests(SynchronousTestCase):
    """
    A plain playlist's requests have expected times too.
    """

    def test_requests(self) -> None:
        """
        The requests follow the track on the air; the playlist's next file
        is known by title only.
        """
        folder = self.mktemp()
        os.makedirs(folder)
        frame = syntheticFrame().data
        paths = []
        for name in ("a", "b", "req"):
            path = os.path.join(folder, name + ".mp3")
            with open(path, "wb") as f:
                f.write(frame * 100)
            paths.append(path)
        clock = Clock()
        clock.advance(1000)
        source = PlaylistSource(ListTracks(paths[:2]), clock=clock, titleOf=os.path.basename)
        self.addCleanup(source.close)
        queue = RequestQueue(clock, Limits())
        attachRequests(source, queue)
        station = FakeStation(source, clock)
        source.pull(1.0)
        station.broadcaster.history.append((clock.seconds(), source.title))
        self.assertEqual([c.title for c in comingNext(station, clock.seconds(), 3, lengthOf)[0]], ["b.mp3"])
        queue.add(paths[2], "req.mp3", "Req", "", "192.0.2.1")
        coming, requests = comingNext(station, clock.seconds(), 3, lengthOf)
        self.assertEqual([c.title for c in coming], ["Req"])
        self.assertEqual(requests, [1000 + 100])
        self.assertIsNone(scheduleJSON(station, isoTime))  # type: ignore[arg-type]


class DeclaredTests(SynchronousTestCase):
    """
    What comes next is read from what a programme declares (L{IProgramme}),
    not from the attributes it happens to have.
    """

    def test_scheduledTrackList(self) -> None:
        """
        L{attachRequests} gives a L{ScheduledSource} and its track list the
        same queue (the list plays requests after a due jingle).
        """
        clock = Clock()
        default = Block("default", None, ListTracks([__file__]), plays="playlist")
        source = ScheduledSource(ScheduledTracks([], default, clock, zone=ZONE), clock=clock)
        self.addCleanup(source.close)
        queue = RequestQueue(clock, Limits())
        attachRequests(source, queue)
        self.assertTrue(IProgramme.providedBy(source))
        self.assertIs(source.requests, queue)
        self.assertIs(source.tracks.requests, queue)
        self.assertIs(requestQueueOf(FakeStation(source, clock)), queue)  # type: ignore[arg-type]

    def test_undeclared(self) -> None:
        """
        A programme that is not an L{IProgramme} (a relay, an encoder) has
        no request queue and no forecast, whatever attributes it has.
        """
        clock = Clock()
        programme = FakeFrameSource(["Relayed"])
        programme.requests = RequestQueue(clock, Limits())  # type: ignore[attr-defined]
        programme.upcoming = lambda: "Next"  # type: ignore[attr-defined]
        station = FakeStation(programme, clock)
        self.assertIsNone(requestQueueOf(station))  # type: ignore[arg-type]
        self.assertEqual(comingNext(station, clock.seconds()), ([], []))  # type: ignore[arg-type]
        self.assertEqual(upNextTags(station), [])  # type: ignore[arg-type]
