"""
Tests for L{txradio.operations.audience}: the audience statistics kept in
SQLite, and their reports.
"""

from __future__ import annotations

import calendar
import os
import tempfile
from typing import Any

from twisted.internet.task import Clock
from twisted.internet.testing import EventLoggingObserver
from twisted.logger import globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from tests._web import HeldJobs, runNow
from txradio.operations import audiencedb
from txradio.operations.audience import FLUSH_INTERVAL, PROBE_SECONDS, STOP_TIMEOUT, AudienceRecorder
from txradio.operations.audiencedb import AudienceDatabase, pages, parseTime, periodEdges, splitTitle
from txradio.operations.logs import AddressPolicy
from txradio.stream.events import (
    CLIENT_LEFT,
    HLS_IDLE,
    KICKED,
    HLSSessionEnded,
    ListenerJoined,
    ListenerLeft,
    TitleChanged,
)

T0 = float(calendar.timegm((2026, 12, 1, 0, 0, 0)))
"""Midnight UTC, 1 December 2026: where the scripted day starts."""


class FakeStation:
    """
    Just what the events read of a station.
    """

    def __init__(self, mount: bytes = b"/stream") -> None:
        self.mount = mount
        self.listenerCount = 0


class FakeListener:
    """
    Just what the events read of a listener.
    """

    def __init__(self, userAgent: str = "mpg123/1.32") -> None:
        self.userAgent = userAgent
        self.bytesSent = 0


class Script:
    """
    Plays listeners and titles through a recorder on a clock, keeping the
    stations' listener counts as the real ones are after each event.
    """

    def __init__(self, recorder: AudienceRecorder, clock: Clock) -> None:
        self.recorder = recorder
        self.clock = clock
        self.stations: dict[bytes, FakeStation] = {}
        self.joined: dict[str, tuple[FakeStation, FakeListener, float, str]] = {}

    def at(self, seconds: float) -> None:
        """
        Advance the clock to C{T0 + seconds}.
        """
        self.clock.advance(T0 + seconds - self.clock.seconds())

    def station(self, mount: bytes) -> FakeStation:
        return self.stations.setdefault(mount, FakeStation(mount))

    def join(
        self, seconds: float, name: str, peer: str, mount: bytes = b"/stream", player: str = "mpg123/1.32"
    ) -> None:
        self.at(seconds)
        station = self.station(mount)
        listener = FakeListener(player)
        station.listenerCount += 1
        self.joined[name] = (station, listener, self.clock.seconds(), peer)
        self.recorder(ListenerJoined(station, self.clock.seconds(), listener, None, peer))

    def leave(self, seconds: float, name: str, reason: str = CLIENT_LEFT) -> None:
        self.at(seconds)
        station, listener, started, peer = self.joined.pop(name)
        station.listenerCount -= 1
        now = self.clock.seconds()
        self.recorder(ListenerLeft(station, now, listener, None, peer, reason, now - started, started))

    def title(self, seconds: float, title: str, mount: bytes = b"/stream") -> None:
        self.at(seconds)
        self.recorder(TitleChanged(self.station(mount), self.clock.seconds(), title))


def scriptedDay(
    testCase: SynchronousTestCase, database: AudienceDatabase | None = None
) -> tuple[AudienceRecorder, Clock]:
    """
    Record the scripted sessions and tracks used by the report tests.

    On C{/stream}: A listens from 600 s to 4200 s, B from 1800 s to 9000 s
    (kicked), a probe for 2 s at 1000 s, and A again (same address) from
    7300 s to 7400 s.  On C{/other}: C from 3700 s to 3800 s.  Tracks on
    C{/stream}: "Artist One - Song A" at 0 s, "Song B" at 3000 s, "Artist
    One - Song A" at 5000 s, and the recorder stops at 9600 s.

    @return: the stopped recorder and its clock.
    """
    clock = Clock()
    clock.advance(T0)
    recorder = AudienceRecorder(database or AudienceDatabase(":memory:"), clock, runNow)
    recorder.start()
    script = Script(recorder, clock)
    script.title(0, "Artist One - Song A")
    script.join(600, "A", "192.0.2.1")
    script.join(1000, "probe", "198.51.100.7", player="curl/8")
    script.leave(1002, "probe")
    script.join(1800, "B", "192.0.2.2", player="VLC/3.0")
    script.title(3000, "Song B")
    script.join(3700, "C", "192.0.2.3", mount=b"/other")
    script.leave(3800, "C")
    script.leave(4200, "A")
    script.title(5000, "Artist One - Song A")
    script.join(7300, "A2", "192.0.2.1")
    script.leave(7400, "A2")
    script.leave(9000, "B", reason=KICKED)
    script.at(9600)
    testCase.successResultOf(recorder.stop())
    return recorder, clock


class HelperTests(SynchronousTestCase):
    """
    Titles split, times read, periods laid out.
    """

    def test_splitTitle(self) -> None:
        """
        "Artist - Title" splits at the first C{" - "}; other titles have no artist.
        """
        self.assertEqual(splitTitle("Artist - Song - Live"), ("Artist", "Song - Live"))
        self.assertEqual(splitTitle("Just a title"), ("", "Just a title"))
        self.assertEqual(splitTitle(" - Song"), ("", "- Song"))

    def test_parseTime(self) -> None:
        """
        Dates, ISO 8601 times with a zone or without (UTC), and epoch seconds are read.
        """
        self.assertEqual(parseTime("2026-12-01"), T0)
        self.assertEqual(parseTime("2026-12-01T01:00:00Z"), T0 + 3600)
        self.assertEqual(parseTime("2026-12-01T02:00:00+01:00"), T0 + 3600)
        self.assertEqual(parseTime(str(T0)), T0)
        self.assertRaises(ValueError, parseTime, "yesterday")

    def test_periodEdges(self) -> None:
        """
        Hours and days are cut at UTC boundaries, months at the calendar's.
        """
        self.assertEqual(periodEdges("hour", T0 + 10, T0 + 3600), [T0, T0 + 3600])
        self.assertEqual(periodEdges("day", T0 + 10, T0 + 86401), [T0, T0 + 86400, T0 + 2 * 86400])
        jan = float(calendar.timegm((2027, 1, 1, 0, 0, 0)))
        feb = float(calendar.timegm((2027, 2, 1, 0, 0, 0)))
        self.assertEqual(periodEdges("month", T0 + 5, jan + 5), [T0, jan, feb])
        self.assertRaises(ValueError, periodEdges, "week", T0, T0 + 1)
        self.assertRaises(ValueError, periodEdges, "hour", T0, T0 + 3600 * (audiencedb.MAX_BUCKETS + 1))


class RecorderTests(SynchronousTestCase):
    """
    Sessions and tracks are stored as the events tell them.
    """

    def test_sessions(self) -> None:
        """
        Every session of at least L{PROBE_SECONDS} is stored with its times,
        mount, seconds, protocol, player and address; the probe is not.
        """
        database = AudienceDatabase(":memory:")
        recorder, clock = scriptedDay(self, _Unclosed(database))
        rows = database.sessionPage(T0, T0 + 86400, None, None)
        self.assertEqual(
            [row[1:] for row in rows],
            [
                (T0 + 600, T0 + 4200, "/stream", 3600.0, "icy", "mpg123/1.32", "192.0.2.1", "client_left"),
                (T0 + 1800, T0 + 9000, "/stream", 7200.0, "icy", "VLC/3.0", "192.0.2.2", "kicked"),
                (T0 + 3700, T0 + 3800, "/other", 100.0, "icy", "mpg123/1.32", "192.0.2.3", "client_left"),
                (T0 + 7300, T0 + 7400, "/stream", 100.0, "icy", "mpg123/1.32", "192.0.2.1", "client_left"),
            ],
        )
        self.assertTrue(PROBE_SECONDS > 2)
        self.assertEqual(recorder.written, 4 + 3)
        self.assertEqual(recorder.dropped, 0)

    def test_plays(self) -> None:
        """
        Each track is stored with the listeners at its start and end, those
        gained and lost during it and the listening time during it; the
        track airing at the stop ends then.
        """
        database = AudienceDatabase(":memory:")
        scriptedDay(self, _Unclosed(database))
        rows = [row[1:] for row in database.playPage(T0, T0 + 86400, None, None)]
        # Track 1, 0-3000 s: A from 600 (2400 s), the probe 2 s, B from 1800 (1200 s).
        # Track 2, 3000-5000 s: A until 4200 (1200 s), B all along (2000 s).
        # Track 3, 5000-9600 s: A2 100 s, B until 9000 (4000 s).
        self.assertEqual(
            rows,
            [
                (T0, T0 + 3000, "/stream", "Artist One - Song A", "Artist One", "Song A", "", 0, 2, 3, 1, 3602.0),
                (T0 + 3000, T0 + 5000, "/stream", "Song B", "", "Song B", "", 2, 1, 0, 1, 3200.0),
                (
                    T0 + 5000,
                    T0 + 9600,
                    "/stream",
                    "Artist One - Song A",
                    "Artist One",
                    "Song A",
                    "",
                    1,
                    0,
                    1,
                    2,
                    4100.0,
                ),
            ],
        )

    def test_listenersReport(self) -> None:
        """
        By hour, the peak, average, distinct addresses and hours equal the
        figures worked out by hand from the script.
        """
        database = AudienceDatabase(":memory:")
        scriptedDay(self, _Unclosed(database))
        report = database.listeners("hour", T0, T0 + 3 * 3600, "/stream")
        # Hour 0: A 3000 s + B 1800 s; both at once from 1800 s.
        # Hour 1: A 600 s + B 3600 s; both at 3600 s.
        # Hour 2: B 1800 s + A2 100 s, both at once at 7300 s; A2 is A's address.
        self.assertEqual(
            [(r["start"], r["peak"], r["unique"], r["hours"], r["average"]) for r in report],
            [
                ("2026-12-01T00:00:00Z", 2, 2, round(4800 / 3600, 3), round(4800 / 3600, 3)),
                ("2026-12-01T01:00:00Z", 2, 2, round(4200 / 3600, 3), round(4200 / 3600, 3)),
                ("2026-12-01T02:00:00Z", 2, 2, round(1900 / 3600, 3), round(1900 / 3600, 3)),
            ],
        )
        day = database.listeners("day", T0, T0 + 3600)
        self.assertEqual(
            [(r["mount"], r["peak"], r["unique"], r["hours"]) for r in day],
            [("/other", 1, 1, round(100 / 3600, 3)), ("/stream", 2, 2, round((3600 + 7200 + 100) / 3600, 3))],
        )
        month = database.listeners("month", T0, T0 + 1, "/stream")
        self.assertEqual(len(month), 1)
        self.assertEqual(month[0]["end"], "2027-01-01T00:00:00Z")
        self.assertEqual(month[0]["hours"], round(10900 / 3600, 3))

    def test_listenersStartedBefore(self) -> None:
        """
        A session that started before the report's range counts in it
        (peak, hours) from the range's start.
        """
        database = AudienceDatabase(":memory:")
        scriptedDay(self, _Unclosed(database))
        report = database.listeners("hour", T0 + 3600, T0 + 7200, "/stream")
        self.assertEqual([(r["peak"], r["hours"]) for r in report], [(2, round(4200 / 3600, 3))])

    def test_performances(self) -> None:
        """
        Performance counts sum plays, listeners heard and tuning hours per recording.
        """
        database = AudienceDatabase(":memory:")
        scriptedDay(self, _Unclosed(database))
        self.assertEqual(
            database.performances(T0, T0 + 86400, None, 10),
            [
                ("Artist One", "Song A", "", 2, (0 + 3) + (1 + 1), round((3602 + 4100) / 3600, 3)),
                ("", "Song B", "", 1, 2, round(3200 / 3600, 3)),
            ],
        )

    def test_tracksReport(self) -> None:
        """
        The tracks report lists each track's audience, bounded by its limit.
        """
        database = AudienceDatabase(":memory:")
        scriptedDay(self, _Unclosed(database))
        tracks = database.tracks(T0, T0 + 86400, "/stream", 2)
        self.assertEqual(
            [(t["title"], t["listenersStart"], t["listenersEnd"], t["gained"], t["lost"]) for t in tracks],
            [("Artist One - Song A", 0, 2, 3, 1), ("Song B", 2, 1, 0, 1)],
        )

    def test_pages(self) -> None:
        """
        Pages follow each other without a row lost or repeated, even with
        rows that share a start time.
        """
        database = AudienceDatabase(":memory:")
        database.write([("session", (T0 + i // 3, T0 + 100, "/s", 100.0, "icy", "", f"a{i}", "x")) for i in range(10)])
        seen = [
            row[7] for page in pages(lambda after: database.sessionPage(T0, T0 + 10, None, after, 4)) for row in page
        ]
        self.assertEqual(seen, [f"a{i}" for i in range(10)])

    def test_addressPolicy(self) -> None:
        """
        Addresses are stored as the privacy setting shows them, without the port.
        """
        database = AudienceDatabase(":memory:")
        clock = Clock()
        recorder = AudienceRecorder(_Unclosed(database), clock, runNow)
        script = Script(recorder, clock)
        from twisted.internet.address import IPv4Address

        for name, mode in (("full", "full"), ("net", "truncate"), ("hashed", "hash")):
            peer = AddressPolicy(mode, key=b"k").peer(IPv4Address("TCP", "192.0.2.77", 5555))
            script.join(0, name, peer)
            script.leave(60, name)
        self.successResultOf(recorder.flush())
        addresses = [row[7] for row in database.sessionPage(0, T0 + 86400, None, None)]
        self.assertEqual(addresses[:2], ["192.0.2.77", "192.0.2.0"])
        self.assertTrue(addresses[2].startswith("h-"))
        self.assertNotIn("192.0.2.77", addresses[2])

    def test_batched(self) -> None:
        """
        Nothing is written on the reactor thread at an event: rows wait for
        the worker until L{FLUSH_INTERVAL} passes.
        """
        jobs = HeldJobs()
        clock = Clock()
        recorder = AudienceRecorder(AudienceDatabase(":memory:"), clock, jobs)
        recorder.start()
        script = Script(recorder, clock)
        script.join(0, "A", "192.0.2.1")
        script.leave(60, "A")
        self.assertEqual(jobs.jobs, [])
        clock.advance(FLUSH_INTERVAL)
        self.assertEqual(len(jobs.jobs), 1)
        jobs.release()
        self.assertEqual(recorder.written, 1)

    def test_queryWritesFirst(self) -> None:
        """
        A report counts the rows still queued: they are handed to the
        worker before the report runs, without waiting for the tick.
        """
        database = AudienceDatabase(":memory:")
        clock = Clock()
        recorder = AudienceRecorder(database, clock, runNow)
        recorder.start()
        script = Script(recorder, clock)
        script.join(0, "A", "192.0.2.1")
        script.leave(60, "A")
        self.assertEqual(recorder.written, 0)
        rows = self.successResultOf(recorder.query(database.sessionPage, 0, T0 + 86400, None, None))
        self.assertEqual([(row[4], row[5]) for row in rows], [(60.0, "icy")])
        self.assertEqual(recorder.written, 1)

    def test_hlsSessions(self) -> None:
        """
        An ended HLS session is kept like a listener's, with the protocol
        C{hls}; a probe under L{PROBE_SECONDS} is not.
        """
        database = AudienceDatabase(":memory:")
        clock = Clock()
        clock.advance(T0 + 600)
        recorder = AudienceRecorder(database, clock, runNow)
        station = FakeStation()
        recorder(HLSSessionEnded(station, T0 + 600, "192.0.2.9", "AppleCoreMedia/1.0", HLS_IDLE, 540.0))
        recorder(HLSSessionEnded(station, T0 + 600, "192.0.2.8", "probe", HLS_IDLE, PROBE_SECONDS - 1))
        self.successResultOf(recorder.flush())
        rows = database.sessionPage(0, T0 + 86400, None, None)
        self.assertEqual(
            [row[1:] for row in rows],
            [(T0 + 60, T0 + 600, "/stream", 540.0, "hls", "AppleCoreMedia/1.0", "192.0.2.9", "hls_idle")],
        )

    def test_retention(self) -> None:
        """
        With a retention, rows that ended longer ago are deleted.
        """
        database = AudienceDatabase(":memory:")
        clock = Clock()
        clock.advance(T0)
        recorder = AudienceRecorder(_Unclosed(database), clock, runNow, retentionDays=1)
        database.write([("session", (T0 - 3 * 86400, T0 - 2 * 86400, "/s", 86400.0, "icy", "", "a", "x"))])
        database.write([("session", (T0 - 3600, T0 - 60, "/s", 3540.0, "icy", "", "b", "x"))])
        recorder.start()
        clock.advance(FLUSH_INTERVAL)
        self.assertEqual([row[7] for row in database.sessionPage(0, T0, None, None)], ["b"])


class FailureTests(SynchronousTestCase):
    """
    A disk that fails or is slow never stops the radio.
    """

    def test_unwritable(self) -> None:
        """
        A file that cannot be written is logged once, however many batches
        fail; their rows are counted as dropped and recording goes on.
        """
        logged = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        path = os.path.join(tempfile.mkdtemp(), "missing-folder", "audience.sqlite")
        clock = Clock()
        recorder = AudienceRecorder(AudienceDatabase(path), clock, runNow)
        recorder.start()
        script = Script(recorder, clock)
        for i in range(3):
            script.join(i * 2 * FLUSH_INTERVAL, "A", "192.0.2.1")
            script.leave(i * 2 * FLUSH_INTERVAL + 60, "A")
            clock.advance(FLUSH_INTERVAL)
        errors = [
            e for e in logged if "audience statistics" in e.get("log_format", "") and e["log_level"].name == "error"
        ]
        self.assertEqual(len(errors), 1)
        self.assertEqual(errors[0]["path"], path)
        self.assertEqual(recorder.dropped, 3)
        self.assertEqual(recorder.written, 0)
        self.successResultOf(recorder.stop())

    def test_queueBound(self) -> None:
        """
        While the worker is stuck the queue keeps its limit, dropping the
        oldest rows, counted, with one warning.
        """
        logged = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        jobs = HeldJobs()
        clock = Clock()
        recorder = AudienceRecorder(AudienceDatabase(":memory:"), clock, jobs, queueLimit=10)
        script = Script(recorder, clock)
        for i in range(25):
            script.join(i * 100, str(i), f"192.0.2.{i}")
            script.leave(i * 100 + 60, str(i))
        self.assertEqual(recorder.dropped, 15)
        warnings = [e for e in logged if "dropping the oldest" in e.get("log_format", "")]
        self.assertEqual(len(warnings), 1)
        recorder.flush()
        function, args, _ = jobs.jobs[0]
        self.assertEqual([row[4] for row in args[0]], [f"192.0.2.{i}" for i in range(15, 25)])

    def test_stopBounded(self) -> None:
        """
        Stopping waits for the last rows at most L{STOP_TIMEOUT} seconds,
        and leaves no timer behind.
        """
        jobs = HeldJobs()
        clock = Clock()
        recorder = AudienceRecorder(AudienceDatabase(":memory:"), clock, jobs)
        recorder.start()
        Script(recorder, clock).title(0, "Song")
        stopping = recorder.stop()
        self.assertNoResult(stopping)
        clock.advance(STOP_TIMEOUT)
        self.successResultOf(stopping)
        self.assertEqual(clock.getDelayedCalls(), [])

    def test_stopWrites(self) -> None:
        """
        Stopping writes what is queued and the track airing, then closes the file.
        """
        path = os.path.join(tempfile.mkdtemp(), "audience.sqlite")
        clock = Clock()
        clock.advance(T0)
        recorder = AudienceRecorder(AudienceDatabase(path), clock, runNow)
        recorder.start()
        Script(recorder, clock).title(10, "Song")
        clock.advance(50)
        self.successResultOf(recorder.stop())
        self.assertEqual(clock.getDelayedCalls(), [])
        rows = AudienceDatabase(path).playPage(0, T0 + 100, None, None)
        self.assertEqual([(row[1], row[2], row[4]) for row in rows], [(T0 + 10, T0 + 60, "Song")])


class _Unclosed:
    """
    A database whose C{close} keeps it open, to read an in-memory file
    after its recorder stopped.
    """

    def __init__(self, database: AudienceDatabase) -> None:
        self._database = database
        self.path = database.path

    def close(self) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self._database, name)
