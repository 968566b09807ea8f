"""
Tests for L{txradio.web.shoutcast}: the SHOUTcast DNAS endpoints widgets
and directories poll.
"""

from __future__ import annotations

import json
import os
import re
from xml.etree import ElementTree

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from tests._web import DEMO, SiteClient
from txradio.sources.live import LiveSource
from txradio.sources.playlist import PlaylistSource
from txradio.sources.tracks import ListTracks
from txradio.stream.station import Station
from txradio.testing import FakeFrameSource, connectInMemory, syntheticFrame
from txradio.web.site import buildSite
from txradio.wire.icy import StreamInfo

DEMO_FILES = [os.path.join(DEMO, name) for name in sorted(os.listdir(DEMO))]
TRICKY = "Artist, Jr. - <b>Song</b> & more, 3"
"""A title with commas and markup."""

STATS_FIELDS = [
    "CURRENTLISTENERS",
    "PEAKLISTENERS",
    "MAXLISTENERS",
    "UNIQUELISTENERS",
    "AVERAGETIME",
    "SERVERGENRE",
    "SERVERURL",
    "SERVERTITLE",
    "SONGTITLE",
    "STREAMHITS",
    "STREAMSTATUS",
    "STREAMPATH",
    "STREAMUPTIME",
    "BITRATE",
    "CONTENT",
]


def sevenValues(body: bytes) -> list[str]:
    """
    Read C{/7.html} as a widget does: the text of the body, split on the
    first six commas, HTML entities decoded.

    @param body: the page.
    @return: the seven fields.
    """
    match = re.fullmatch(rb"<html><body>(.*)</body></html>", body, re.S)
    assert match is not None, body
    text = ElementTree.fromstring(b"<x>" + match.group(1) + b"</x>").text or ""
    return text.split(",", 6)


class WidgetMixin:
    """
    A playlist mount C{/stream} (the demo files, 128 kbps) and a synthetic
    mount C{/other} whose title has commas and markup.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1_700_000_000)
        self.playlist = PlaylistSource(ListTracks(DEMO_FILES), clock=self.clock, titleOf=os.path.basename)
        info = StreamInfo(name="Demo Radio", genre="Ambient", url="http://radio.example/")
        self.station = Station(self.playlist, clock=self.clock, maxListeners=50, info=info)
        self.other = Station(FakeFrameSource([TRICKY]), mount="/other", clock=self.clock)
        for station in (self.station, self.other):
            station.startService()
            self.addCleanup(station.stopService)
        self.clock.advance(0)
        self.site = buildSite([self.station, self.other], clock=self.clock)
        self.client = SiteClient(self, self.site)

    def status(self, mount: str) -> dict:
        """
        @return: a mount's entry in C{/status-json.xsl}.
        """
        sources = self.client.request("/status-json.xsl").json()["icestats"]["source"]
        return next(source for source in sources if source["listenurl"].endswith(mount))


class SevenTests(WidgetMixin, SynchronousTestCase):
    """
    C{/7.html}.
    """

    def test_fields(self) -> None:
        """
        Listeners, status, peak, limit, unique listeners, bitrate and title,
        agreeing with C{/status-json.xsl}.
        """
        connectInMemory(self.station, peer="192.0.2.1:1000")
        connectInMemory(self.station, peer="192.0.2.1:1001")
        connectInMemory(self.station, peer="192.0.2.2:1000")
        self.clock.advance(1)
        response = self.client.request("/7.html?sid=1")
        self.assertEqual(response.status, 200)
        self.assertEqual(response.header("content-type"), "text/html; charset=utf-8")
        self.assertEqual(response.header("access-control-allow-origin"), "*")
        values = sevenValues(response.body)
        status = self.status("/stream")
        self.assertEqual(values, ["3", "1", "3", "50", "2", "128", status["title"]])
        self.assertEqual(int(values[0]), status["listeners"])
        self.assertEqual(int(values[5]), status["bitrate"])

    def test_titleLastWithCommas(self) -> None:
        """
        A title with commas and markup is the last field, escaped.
        """
        self.clock.advance(1)
        response = self.client.request("/7.html?sid=2")
        self.assertNotIn(b"<b>", response.body)
        values = sevenValues(response.body)
        self.assertEqual(values[-1], TRICKY)
        self.assertEqual(values[3], "0")

    def test_defaultSid(self) -> None:
        """
        Without C{sid} the first mount answers.
        """
        self.clock.advance(1)
        self.assertEqual(self.client.request("/7.html").body, self.client.request("/7.html?sid=1").body)

    def test_unknownSid(self) -> None:
        """
        A stream id that names no mount is a 404.
        """
        for sid in ("0", "3", "x", "-1", "99999999999"):
            self.assertEqual(self.client.request(f"/7.html?sid={sid}").status, 404, sid)

    def test_preflight(self) -> None:
        """
        A CORS preflight is answered as for the status JSON.
        """
        response = self.client.request("/7.html", method=b"OPTIONS")
        self.assertEqual(response.status, 204)
        self.assertEqual(response.header("access-control-allow-origin"), "*")


class SongTests(WidgetMixin, SynchronousTestCase):
    """
    C{/currentsong} and C{/nextsong}.
    """

    def test_currentSong(self) -> None:
        """
        The title as plain text, the same as in C{/status-json.xsl}.
        """
        self.clock.advance(1)
        for sid, mount in (("1", "/stream"), ("2", "/other")):
            response = self.client.request(f"/currentsong?sid={sid}")
            self.assertEqual(response.header("content-type"), "text/plain; charset=utf-8")
            self.assertEqual(response.header("access-control-allow-origin"), "*")
            self.assertEqual(response.text, self.status(mount)["title"])
        self.assertEqual(self.client.request("/currentsong?sid=2").text, TRICKY)

    def test_nextSong(self) -> None:
        """
        The playlist's next title; nothing when the mount cannot tell.
        """
        self.clock.advance(1)
        self.assertEqual(self.client.request("/nextsong?sid=1").text, os.path.basename(DEMO_FILES[1]))
        response = self.client.request("/nextsong?sid=2")
        self.assertEqual(response.status, 200)
        self.assertEqual(response.body, b"")

    def test_nextSongWhileLive(self) -> None:
        """
        While a live source plays, the next title is not known.
        """
        self.station.sourcePassword = "src"
        live = LiveSource(title="Live")
        self.station.attachLive(live)
        live.feed(syntheticFrame().data * 100)
        self.clock.advance(1)
        self.assertEqual(self.client.request("/nextsong?sid=1").body, b"")


class StatsTests(WidgetMixin, SynchronousTestCase):
    """
    C{/stats}.
    """

    def test_xml(self) -> None:
        """
        C{<SHOUTCASTSERVER>} with DNAS's fields.
        """
        connectInMemory(self.station, peer="192.0.2.1:1000")
        self.clock.advance(10)
        connectInMemory(self.station, peer="192.0.2.1:1001")
        self.clock.advance(10)
        response = self.client.request("/stats?sid=1")
        self.assertEqual(response.header("content-type"), "text/xml; charset=utf-8")
        self.assertEqual(response.header("access-control-allow-origin"), "*")
        root = ElementTree.fromstring(response.body)
        self.assertEqual(root.tag, "SHOUTCASTSERVER")
        self.assertEqual([child.tag for child in root][: len(STATS_FIELDS)], STATS_FIELDS)
        values = {child.tag: child.text or "" for child in root}
        self.assertEqual(values["CURRENTLISTENERS"], "2")
        self.assertEqual(values["PEAKLISTENERS"], "2")
        self.assertEqual(values["MAXLISTENERS"], "50")
        self.assertEqual(values["UNIQUELISTENERS"], "1")
        self.assertEqual(values["AVERAGETIME"], "15")
        self.assertEqual(values["SERVERGENRE"], "Ambient")
        self.assertEqual(values["SERVERURL"], "http://radio.example/")
        self.assertEqual(values["SERVERTITLE"], "Demo Radio")
        self.assertEqual(values["SONGTITLE"], self.status("/stream")["title"])
        self.assertEqual(values["STREAMHITS"], "2")
        self.assertEqual(values["STREAMSTATUS"], "1")
        self.assertEqual(values["STREAMPATH"], "/stream")
        self.assertEqual(values["STREAMUPTIME"], "20")
        self.assertEqual(values["BITRATE"], "128")
        self.assertEqual(values["CONTENT"], "audio/mpeg")
        self.assertEqual(values["NEXTTITLE"], os.path.basename(DEMO_FILES[1]))

    def test_json(self) -> None:
        """
        With C{json=1}, the same fields in JSON with lower-case names.
        """
        self.clock.advance(1)
        response = self.client.request("/stats?sid=2&json=1")
        self.assertEqual(response.header("content-type"), "application/json; charset=utf-8")
        value = response.json()
        for name in STATS_FIELDS:
            self.assertIn(name.lower(), value)
        self.assertEqual(value["songtitle"], TRICKY)
        self.assertEqual(value["currentlisteners"], 0)
        self.assertEqual(value["streampath"], "/other")
        self.assertNotIn("nexttitle", value)


class PlayedTests(WidgetMixin, SynchronousTestCase):
    """
    C{/played.html}.
    """

    def test_json(self) -> None:
        """
        With C{type=json}, the titles with their start times, most recent
        first.
        """
        self.clock.advance(1)
        self.playlist.skip()
        self.clock.advance(5)
        response = self.client.request("/played.html?sid=1&type=json")
        self.assertEqual(response.header("access-control-allow-origin"), "*")
        played = response.json()
        self.assertEqual([entry["title"] for entry in played], [os.path.basename(p) for p in DEMO_FILES[1::-1]])
        self.assertTrue(all(isinstance(entry["playedat"], int) for entry in played))
        self.assertGreater(played[0]["playedat"], played[1]["playedat"])
        self.assertEqual(self.client.request("/played?sid=1&type=json").json(), played)

    def test_html(self) -> None:
        """
        Without C{type=json}, an HTML table; titles are escaped.
        """
        self.clock.advance(1)
        response = self.client.request("/played.html?sid=2")
        self.assertEqual(response.header("content-type"), "text/html; charset=utf-8")
        self.assertNotIn(b"<b>Song", response.body)
        self.assertIn(b"&lt;b&gt;Song&lt;/b&gt; &amp; more", response.body)
        self.assertIn(b"<th>Song Title</th>", response.body)


class RoutingTests(SynchronousTestCase):
    """
    A mount whose path is a DNAS endpoint's keeps it.
    """

    def test_mountWins(self) -> None:
        """
        A mount named C{/stats} is still a stream (and its playlist works).
        """
        clock = Clock()
        station = Station(FakeFrameSource(), mount="/stats", clock=clock)
        site = buildSite([station], clock=clock)
        client = SiteClient(self, site)
        self.assertEqual(client.request("/stats.m3u").status, 200)
        self.assertEqual(client.request("/currentsong").status, 200)
        self.assertNotIn(b"SHOUTCASTSERVER", client.request("/stats").body)
        self.assertEqual(json.loads(client.request("/played.html?type=json").body), [])
