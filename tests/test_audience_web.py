"""
Tests for L{txradio.web.reports}: the audience reports as JSON and CSV,
behind the admin password, and the radio's wiring of the statistics.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from zope.interface.verify import verifyObject

from tests._web import SiteClient, basicAuth
from tests.test_audience import T0, _Unclosed, scriptedDay
from txradio.interfaces import IAudienceSite
from txradio.operations.audiencedb import SESSION_COLUMNS, AudienceDatabase
from txradio.stream.station import Station
from txradio.testing import FakeFrameSource
from txradio.web.reports import CSVExport
from txradio.web.site import buildSite

PASSWORD = "report-pw"
RANGE = "from=2026-12-01&to=2026-12-02"


class ReportsTests(SynchronousTestCase):
    """
    The reports of the scripted day, through the site.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(T0 + 86400)
        station = Station(FakeFrameSource(["Fake"]), clock=self.clock)
        self.site = buildSite([station], clock=self.clock, adminPassword=PASSWORD)
        self.client = SiteClient(self, self.site, self.clock)
        self.database = AudienceDatabase(":memory:")
        recorder, _ = scriptedDay(self, _Unclosed(self.database))
        self.site.setAudience(recorder)

    def get(self, path: str, auth: tuple[str, str] | None = ("admin", PASSWORD)):
        headers = {"Authorization": basicAuth(*auth)} if auth is not None else {}
        return self.client.request(path, headers=headers)

    def test_interface(self) -> None:
        """
        The built-in site serves reports: it provides L{IAudienceSite}.
        """
        self.assertTrue(verifyObject(IAudienceSite, self.site))

    def test_credentials(self) -> None:
        """
        Without the admin's credentials every report is a 401.
        """
        for path in ("/admin/reports/sessions.csv", "/admin/reports/plays.csv", "/api/v1/stats/listeners"):
            self.assertEqual(self.get(path, auth=None).status, 401)
            self.assertEqual(self.get(path, auth=("admin", "wrong")).status, 401)

    def test_off(self) -> None:
        """
        Without statistics the reports are a 404 saying how to turn them on.
        """
        self.site.setAudience(None)
        response = self.get("/api/v1/stats/listeners")
        self.assertEqual(response.status, 404)
        self.assertIn("stats_db", response.json()["error"])

    def test_sessionsCSV(self) -> None:
        """
        C{sessions.csv} parses with C{csv}: a header, then one row a session
        with ISO 8601 times, and its seconds add up to the script's.
        """
        response = self.get("/admin/reports/sessions.csv?" + RANGE)
        self.assertEqual(response.status, 200)
        self.assertEqual(response.header("content-type"), "text/csv; charset=utf-8")
        rows = list(csv.DictReader(io.StringIO(response.text)))
        self.assertEqual(tuple(rows[0].keys()), SESSION_COLUMNS)
        self.assertEqual(len(rows), 4)
        self.assertEqual(sum(float(row["seconds"]) for row in rows), 3600 + 7200 + 100 + 100)
        self.assertEqual(rows[0]["start"], "2026-12-01T00:10:00Z")
        self.assertEqual({row["protocol"] for row in rows}, {"icy"})

    def test_sessionsFiltered(self) -> None:
        """
        C{from}, C{to} and C{mount} select the sessions that started in the range.
        """
        rows = list(csv.DictReader(io.StringIO(self.get(
            "/admin/reports/sessions.csv?from=2026-12-01T01:00:00Z&to=2026-12-01T03:00:00Z&mount=/stream"
        ).text)))
        self.assertEqual([row["start"] for row in rows], ["2026-12-01T02:01:40Z"])

    def test_playsCSV(self) -> None:
        """
        C{plays.csv} has one row a track; its listener hours add up.
        """
        rows = list(csv.DictReader(io.StringIO(self.get("/admin/reports/plays.csv?" + RANGE).text)))
        self.assertEqual([row["title"] for row in rows], ["Artist One - Song A", "Song B", "Artist One - Song A"])
        self.assertAlmostEqual(sum(float(row["listener_hours"]) for row in rows), (3602 + 3200 + 4100) / 3600, 2)

    def test_performancesCSV(self) -> None:
        """
        C{performances.csv} counts plays and tuning hours per recording.
        """
        rows = list(csv.DictReader(io.StringIO(self.get("/admin/reports/performances.csv?" + RANGE).text)))
        self.assertEqual([(r["artist"], r["title"], r["plays"]) for r in rows], [("Artist One", "Song A", "2"), ("", "Song B", "1")])

    def test_listenersJSON(self) -> None:
        """
        C{/api/v1/stats/listeners} answers the report by hour.
        """
        response = self.get("/api/v1/stats/listeners?mount=/stream&by=hour&from=2026-12-01T00:00:00Z&to=2026-12-01T03:00:00Z")
        self.assertEqual(response.status, 200)
        body = response.json()
        self.assertEqual([period["peak"] for period in body["periods"]], [2, 2, 2])
        self.assertEqual(body["by"], "hour")

    def test_tracksJSON(self) -> None:
        """
        C{/api/v1/stats/tracks} lists the tracks with their audience.
        """
        body = self.get("/api/v1/stats/tracks?limit=1&" + RANGE).json()
        self.assertEqual(
            [(t["title"], t["gained"], t["lost"]) for t in body["tracks"]], [("Artist One - Song A", 3, 1)]
        )

    def test_badQuery(self) -> None:
        """
        Bad times, periods, limits and report names are refused.
        """
        self.assertEqual(self.get("/api/v1/stats/listeners?from=yesterday").status, 400)
        self.assertEqual(self.get("/api/v1/stats/listeners?by=week").status, 400)
        self.assertEqual(self.get("/api/v1/stats/listeners?from=2020-01-01&by=hour").status, 400)
        self.assertEqual(self.get("/api/v1/stats/tracks?limit=0").status, 400)
        self.assertEqual(self.get("/api/v1/stats/nothing").status, 404)
        self.assertEqual(self.get("/admin/reports/nothing.csv").status, 404)

    def test_formulaCells(self) -> None:
        """
        A player name a spreadsheet would run as a formula is quoted.
        """
        self.database.write([("session", (T0 + 5, T0 + 65, "/stream", 60.0, "icy", "=cmd()", "a", "x"))])
        rows = list(csv.DictReader(io.StringIO(self.get("/admin/reports/sessions.csv?" + RANGE).text)))
        self.assertIn("'=cmd()", [row["player"] for row in rows])


class ExportTests(SynchronousTestCase):
    """
    CSV exports stream a page at a time while the client keeps up.
    """

    def test_interface(self) -> None:
        """
        L{CSVExport} is a push producer.
        """
        from twisted.internet.interfaces import IPushProducer
        from twisted.web.test.requesthelper import DummyRequest

        export = CSVExport(DummyRequest([b""]), None, lambda after: [], ("a",), list)  # type: ignore[arg-type]
        self.assertTrue(verifyObject(IPushProducer, export))

    def test_paused(self) -> None:
        """
        A paused export reads no further page until resumed.
        """
        from twisted.web.test.requesthelper import DummyRequest

        from tests._web import runNow

        class Recorder:
            def query(self, function, *args):
                return runNow(function, *args)

        pagesRead = []

        def fetch(after):
            pagesRead.append(after)
            return [] if after == (3.0, 3) else [(len(pagesRead), float(len(pagesRead)), "x")]

        request = DummyRequest([b""])
        export = CSVExport(request, Recorder(), fetch, ("a",), lambda row: [row[2]])  # type: ignore[arg-type]
        request.registerProducer = lambda producer, streaming: export.pauseProducing()  # type: ignore[method-assign]
        export.start()
        self.assertEqual(len(pagesRead), 1)
        export.resumeProducing()
        self.assertEqual(pagesRead, [None, (1.0, 1), (2.0, 2), (3.0, 3)])
        self.assertEqual(request.finished, 1)
        self.assertEqual(b"".join(request.written), b"a\r\nx\r\nx\r\nx\r\n")


class ServiceTests(SynchronousTestCase):
    """
    The radio keeps statistics as configured and stops them with itself.
    """

    def test_configured(self) -> None:
        """
        C{server.stats_db} makes the radio record its stations' events into
        the file and serve the reports from it; stopping the radio writes
        them; turning it off again stops serving them.
        """
        from tests._web import runNow
        from tests.test_audience import FakeListener
        from txradio.config import ServerConfig
        from txradio.service import RadioService
        from txradio.stream.events import CLIENT_LEFT, ListenerLeft
        from txradio.wiring import configureOperations

        clock = Clock()
        clock.advance(T0)
        station = Station(FakeFrameSource(["Fake"]), clock=clock)
        site = buildSite([station], clock=clock, adminPassword=PASSWORD)
        radio = RadioService([station], site=site, reactor=clock, listen=[])
        path = os.path.join(tempfile.mkdtemp(), "audience.sqlite")
        configureOperations(radio, ServerConfig(statsDB=path, statsRetentionDays=30), (), clock)
        recorder = radio.audience
        assert recorder is not None
        recorder._run = runNow  # No thread in a unit test.
        self.assertEqual((recorder.path, recorder.retentionDays), (path, 30))
        self.assertIs(site.root.reports.recorder, recorder)
        radio.startService()
        clock.advance(100)
        station.events.emit(ListenerLeft(station, clock.seconds(), FakeListener(), None, "192.0.2.1:5", CLIENT_LEFT, 60.0, clock.seconds() - 60))
        self.successResultOf(radio.stopService())
        rows = AudienceDatabase(path).sessionPage(0, T0 + 1000, None, None)
        self.assertEqual([(row[3], row[4], row[7]) for row in rows], [("/stream", 60.0, "192.0.2.1")])
        configureOperations(radio, ServerConfig(), (), clock)
        self.assertIsNone(radio.audience)
        self.assertIsNone(site.root.reports.recorder)

    def test_option(self) -> None:
        """
        The file is the C{[server] stats_db} setting.
        """
        from txradio.config import parseConfig

        path = os.path.join(tempfile.mkdtemp(), "audience.sqlite")
        demo = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "txradio", "demo")
        config = parseConfig(
            f'[server]\nstats_db = "{path}"\nstats_retention_days = 30\n[[mount]]\npath = "/stream"\nplaylist = "{demo}"\n'
        )
        self.assertEqual((config.server.statsDB, config.server.statsRetentionDays), (path, 30))
