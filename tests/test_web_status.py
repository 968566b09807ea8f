"""
Tests for L{txradio.web.status} (C{/status-json.xsl} in Icecast's shape)
and L{txradio.web.api} (C{/api/v1/…}), and for the broadcaster's title
history and start time they report.
"""

from __future__ import annotations

import re

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from tests._web import SiteClient
from txradio.stream.broadcast import TITLE_HISTORY
from txradio.stream.station import Station
from txradio.testing import FakeFrameSource, connectInMemory
from txradio.web.site import buildSite
from txradio.web.status import isoTime
from txradio.wire.icy import StreamInfo

ICECAST_KEYS = {
    "audio_info",
    "bitrate",
    "genre",
    "listener_peak",
    "listeners",
    "listenurl",
    "server_description",
    "server_name",
    "server_type",
    "server_url",
    "stream_start",
    "stream_start_iso8601",
    "title",
}
ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000")


class StatusTestMixin:
    """
    Two started stations on a fake clock that starts at a known date, and a
    live-only mount with nothing on the air.
    """

    START = 1_700_000_000.0

    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(self.START)
        self.main = Station(
            FakeFrameSource(["Artist - Song"], framesPerTrack=100000),
            mount="/stream",
            info=StreamInfo(name="Main", genre="Jazz", description="The main one", url="http://example.org/"),
            clock=self.clock,
        )
        self.hi = Station(FakeFrameSource(["Hi"]), mount="/live/hi", info=StreamInfo(name="Hi"), clock=self.clock)
        self.silent = Station(None, mount="/live", clock=self.clock, sourcePassword="pw")
        self.stations = [self.main, self.hi, self.silent]
        for station in self.stations:
            station.startService()
            self.addCleanup(station.stopService)
        self.clock.advance(0)
        self.site = buildSite(self.stations, clock=self.clock)
        self.client = SiteClient(self, self.site)

    def get(self, path: str, **headers: str):
        """
        @return: the response to a C{GET} of C{path}.
        """
        return self.client.request(path, headers=headers)


class IcecastStatusTests(StatusTestMixin, SynchronousTestCase):
    """
    C{/status-json.xsl} answers what Icecast 2.4 answers.
    """

    def test_shape(self) -> None:
        """
        C{icestats} has the server's fields and a list of the mounts on the
        air, each with Icecast's keys.
        """
        response = self.get("/status-json.xsl")
        self.assertEqual(response.status, 200)
        self.assertEqual(response.header("content-type"), "application/json; charset=utf-8")
        self.assertEqual(response.header("access-control-allow-origin"), "*")
        stats = response.json()["icestats"]
        self.assertEqual(stats["host"], "radio.example")
        self.assertTrue(stats["server_id"].startswith("txradio"))
        self.assertRegex(stats["server_start_iso8601"], ISO)
        sources = stats["source"]
        self.assertIsInstance(sources, list)
        self.assertEqual(
            [s["listenurl"] for s in sources], ["http://radio.example:8000/stream", "http://radio.example:8000/live/hi"]
        )
        main = sources[0]
        self.assertLessEqual(ICECAST_KEYS, set(main))
        self.assertEqual(main["title"], "Artist - Song")
        self.assertEqual(main["server_name"], "Main")
        self.assertEqual(main["server_description"], "The main one")
        self.assertEqual(main["genre"], "Jazz")
        self.assertEqual(main["server_type"], "audio/mpeg")
        self.assertEqual(main["bitrate"], 128)
        self.assertEqual(main["audio_info"], "bitrate=128")
        self.assertEqual(main["stream_start_iso8601"], "2023-11-14T22:13:20+0000")

    def test_listeners(self) -> None:
        """
        C{listeners} and C{listener_peak} count the mount's listeners.
        """
        first, _ = connectInMemory(self.main)
        connectInMemory(self.main)
        first.disconnect("test")
        main = self.get("/status-json.xsl").json()["icestats"]["source"][0]
        self.assertEqual((main["listeners"], main["listener_peak"]), (1, 2))

    def test_oneMount(self) -> None:
        """
        With one mount on the air, C{source} is an object.
        """
        self.hi.stopService()
        source = self.get("/status-json.xsl").json()["icestats"]["source"]
        self.assertIsInstance(source, dict)
        self.assertEqual(source["listenurl"], "http://radio.example:8000/stream")

    def test_noMount(self) -> None:
        """
        With nothing on the air, there is no C{source} at all.
        """
        site = buildSite([self.silent], clock=self.clock)
        stats = SiteClient(self, site).request("/status-json.xsl").json()["icestats"]
        self.assertNotIn("source", stats)

    def test_publicURL(self) -> None:
        """
        A configured public URL gives the listen URLs and host.
        """
        site = buildSite(self.stations, clock=self.clock, publicURL="https://radio.example.org/")
        stats = SiteClient(self, site).request("/status-json.xsl").json()["icestats"]
        self.assertEqual(stats["host"], "radio.example.org")
        self.assertEqual(stats["source"][0]["listenurl"], "https://radio.example.org/stream")

    def test_hostileTitle(self) -> None:
        """
        Quotes, markup and control characters in a title stay inside a
        valid JSON string.
        """
        self.main.updateTitle('He said "hi"</script>\n\x00\\')
        self.clock.advance(1)
        title = self.get("/status-json.xsl").json()["icestats"]["source"][0]["title"]
        self.assertEqual(title, 'He said "hi"</script> \\')

    def test_preflight(self) -> None:
        """
        C{OPTIONS} gets a CORS preflight answer.
        """
        response = self.client.request("/status-json.xsl", method=b"OPTIONS")
        self.assertEqual(response.status, 204)
        self.assertEqual(response.header("access-control-allow-origin"), "*")
        self.assertIn("GET", response.header("access-control-allow-methods"))

    def test_head(self) -> None:
        """
        C{HEAD} gives the headers.
        """
        response = self.client.request("/status-json.xsl", method=b"HEAD")
        self.assertEqual(response.status, 200)
        self.assertEqual(response.header("content-type"), "application/json; charset=utf-8")


class APITests(StatusTestMixin, SynchronousTestCase):
    """
    C{/api/v1/…} tells everything about the server and its mounts.
    """

    def test_index(self) -> None:
        """
        C{/api/v1/} lists the resources with absolute URLs.
        """
        endpoints = self.get("/api/v1/").json()["endpoints"]
        self.assertEqual(endpoints["status"], "http://radio.example:8000/api/v1/status")
        self.assertEqual(self.get("/api/v1").json()["version"], 1)
        self.assertEqual(self.get("/api/").json()["versions"], ["http://radio.example:8000/api/v1/"])

    def test_status(self) -> None:
        """
        C{/api/v1/status} gives the server's start and uptime, and every
        mount with its counters.
        """
        listener, _ = connectInMemory(self.main)
        self.clock.pump([0.5] * 20)
        response = self.get("/api/v1/status")
        self.assertEqual(response.header("access-control-allow-origin"), "*")
        status = response.json()
        self.assertEqual(status["server"]["startedAt"], "2023-11-14T22:13:20Z")
        self.assertEqual(status["server"]["uptime"], 10)
        self.assertEqual(status["library"], {"enabled": False})
        mounts = {m["mount"]: m for m in status["mounts"]}
        self.assertEqual(set(mounts), {"/stream", "/live/hi", "/live"})
        main = mounts["/stream"]
        self.assertEqual(main["title"], "Artist - Song")
        self.assertEqual(main["listeners"], 1)
        self.assertEqual(main["totalListeners"], 1)
        self.assertEqual(main["uptime"], 10)
        self.assertEqual(main["streamURL"], "http://radio.example:8000/stream")
        self.assertEqual(main["playlists"]["pls"], "http://radio.example:8000/stream.pls")
        self.assertGreater(main["bytesSent"], 10 * 16000 * 0.9)
        self.assertEqual(main["listenerBytesSent"], listener.bytesSent)
        self.assertFalse(mounts["/live"]["onAir"])
        self.assertIsNone(mounts["/live"]["title"])

    def test_mount(self) -> None:
        """
        C{/api/v1/mounts/…} gives one mount, even one whose path has several
        segments; C{/api/v1/mounts} gives all.
        """
        self.assertEqual(self.get("/api/v1/mounts/stream").json()["name"], "Main")
        self.assertEqual(self.get("/api/v1/mounts/live/hi").json()["mount"], "/live/hi")
        self.assertEqual(self.get("/api/v1/mounts/live").json()["mount"], "/live")
        self.assertEqual(len(self.get("/api/v1/mounts").json()["mounts"]), 3)

    def test_history(self) -> None:
        """
        C{…/history} lists recent titles, the most recent first, with times.
        """
        self.main.updateTitle("Second")
        self.clock.advance(60)
        self.main.updateTitle("Third")
        self.clock.advance(1)
        history = self.get("/api/v1/mounts/stream/history").json()
        self.assertEqual(history["mount"], "/stream")
        self.assertEqual([h["title"] for h in history["history"]], ["Third", "Second", "Artist - Song"])
        self.assertEqual(history["history"][-1]["startedAt"], "2023-11-14T22:13:20Z")
        self.assertEqual(self.get("/api/v1/mounts/live/hi/history").json()["history"][0]["title"], "Hi")

    def test_notFound(self) -> None:
        """
        Unknown mounts and resources get a JSON 404.
        """
        for path in ("/api/v1/mounts/nope", "/api/v1/mounts/stream/nope", "/api/v1/nope", "/api/v2/status"):
            response = self.get(path)
            self.assertEqual(response.status, 404, path)
            self.assertIn("error", response.json())


class HistoryTests(SynchronousTestCase):
    """
    The broadcaster remembers when it started and its recent titles.
    """

    def test_history(self) -> None:
        """
        Titles are remembered with their time, at most L{TITLE_HISTORY}.
        """
        clock = Clock()
        station = Station(FakeFrameSource([f"T{n}" for n in range(100)], framesPerTrack=10), clock=clock)
        self.assertIsNone(station.broadcaster.startedAt)
        clock.advance(5)
        station.startService()
        self.assertEqual(station.broadcaster.startedAt, 5)
        self.assertEqual(station.broadcaster.history[0], (5, "T0"))
        clock.pump([0.5] * 60)
        history = station.broadcaster.history
        self.assertEqual(len(history), TITLE_HISTORY)
        self.assertEqual(history[-1][1], station.broadcaster.title)
        station.stopService()

    def test_isoTime(self) -> None:
        """
        Times are formatted in UTC, in RFC 3339 or Icecast's form.
        """
        self.assertIsNone(isoTime(None))
        self.assertEqual(isoTime(0), "1970-01-01T00:00:00Z")
        self.assertEqual(isoTime(0, icecast=True), "1970-01-01T00:00:00+0000")


class SummaryTests(SynchronousTestCase):
    """
    The live summary counts HLS sessions beside ICY listeners.
    """

    def test_hlsListeners(self) -> None:
        """
        C{hlsListeners} is the mount's HLS session count, or L{None} for a
        mount without HLS.
        """
        from txradio.web.status import summary

        class Sessions:
            def count(self) -> int:
                return 3

        class HLSMount:
            sessions = Sessions()

        clock = Clock()
        station = Station(FakeFrameSource(), clock=clock)
        station.startService()
        self.addCleanup(station.stopService)
        connectInMemory(station)
        self.assertEqual((summary(station)["listeners"], summary(station)["hlsListeners"]), (1, None))
        self.assertEqual(summary(station, HLSMount())["hlsListeners"], 3)
