"""
A real-peer test of the admin page's audience charts
(L{txradio.web.chartroutes}): a radio on 127.0.0.1 keeping its statistics
in a real SQLite file (written by its real worker thread), scripted
sessions and tracks over the last day fed through the real recorder, and
headless Chromium (as in L{integration.test_admin_browser}) logged in as
the admin.  The charts must load as pictures of a real size, and the SVG
behind each must hold what was scripted: a line through every hour of the
day reaching the scripted peak, and a bar for each track heard.

Screenshots of the charts at a phone's and a desktop's width go to the
test's folder, and to C{docs/images/admin-charts-*.png} with
C{TXRADIO_UPDATE_SCREENSHOTS=1}.  Skipped without Chromium.
"""

from __future__ import annotations

import base64
import os
from typing import Any
from xml.etree import ElementTree

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.trial.unittest import SkipTest, TestCase

from integration import test_browser as browsing
from integration._realpeers import LOCAL_ENDPOINT, withTimeout
from integration.test_admin_browser import DESKTOP, PASSWORD, PHONE, saveScreenshots
from txradio.service import RadioService
from txradio.sources.playlist import PlaylistSource
from txradio.sources.tracks import demoTracks
from txradio.stream.events import CLIENT_LEFT, ListenerJoined, ListenerLeft, TitleChanged
from txradio.stream.station import Station
from txradio.wire.icy import StreamInfo

PEAK = 4
"""The most scripted listeners at once."""

TRACKS = ["Alpha Band - First Light", "Beta Trio - Second Wind", "Gamma - Third Eye"]
"""The scripted tracks, most heard first."""


class _ScriptedStation:
    """
    What the recorder reads of a station, with the listener count the
    scripted events imply (the real mount has no scripted listeners).
    """

    mount = b"/stream"
    listenerCount = 0


class _Player:
    """
    What the recorder reads of a listener.
    """

    userAgent = "ScriptedPlayer/1.0"
    bytesSent = 0


def scriptedEvents(station: Any, now: float) -> list[Any]:
    """
    A day of events ending now, oldest first.

    Every hour of the last 24 has C{1 + hour % PEAK} listeners at once for
    its first half hour; in the last hour's, while four listen, three
    tracks play for 15, 10 and 5 minutes, so the first is heard most.

    @param station: the station they happen at.
    @param now: the time now, in seconds since the epoch.
    @return: the events.
    """
    events: list[tuple[float, int, Any]] = []
    start = now - 24 * 3600
    for hour in range(24):
        begin = start + hour * 3600 + 60
        for n in range(1 + hour % PEAK):
            peer = f"192.0.2.{hour * PEAK + n}:4000{n}"
            player = _Player()
            events.append((begin + n, 1, ListenerJoined(station, begin + n, player, None, peer)))
            end = begin + 1800 + n
            events.append(
                (end, 0, ListenerLeft(station, end, player, None, peer, CLIENT_LEFT, end - begin - n, begin + n))
            )
    trackStart = now - 3600 + 30
    for title, minutes in zip(TRACKS, (15, 10, 5)):
        events.append((trackStart, 2, TitleChanged(station, trackStart, title)))
        trackStart += minutes * 60
    events.append((trackStart, 2, TitleChanged(station, trackStart, "Closing - Theme")))
    return [event for _, _, event in sorted(events, key=lambda item: (item[0], item[1]))]


class AdminChartsBrowserTests(TestCase):
    """
    The audience charts in a real browser, after scripted sessions.
    """

    timeout = 90

    @inlineCallbacks
    def setUp(self) -> Any:
        program = browsing.findChromium()
        if program is None:
            raise SkipTest("Chromium is not installed (apt-get install chromium)")
        self.station = Station(
            PlaylistSource(demoTracks(), clock=reactor, name="/stream"),
            mount="/stream",
            info=StreamInfo(name="Charts Test FM", description="Scripted audience."),
            clock=reactor,
        )
        self.service = RadioService([self.station], listen=[LOCAL_ENDPOINT], adminPassword=PASSWORD)
        self.service.startService()
        self.addCleanup(self.service.stopService)
        ports = yield withTimeout(self.service.whenListening(), 10, "the radio's port")
        self.url = f"http://127.0.0.1:{ports[0].getHost().port}"
        self.service.keepAudience(os.path.join(os.path.abspath(self.mktemp()) + ".sqlite"))
        recorder = self.service.audience
        assert recorder is not None
        # The demo playlist's own title changes are left out: only the
        # scripted tracks are heard, by the scripted listeners.
        self.service.events.unsubscribe(recorder)
        scripted = _ScriptedStation()
        for event in scriptedEvents(scripted, reactor.seconds()):
            scripted.listenerCount += {ListenerJoined: 1, ListenerLeft: -1}.get(type(event), 0)
            recorder(event)
        yield withTimeout(recorder.flush(), 20, "the scripted rows to be written")
        self.assertEqual(recorder.dropped, 0)
        self.browser = browsing.Browser.launch(program)
        self.addCleanup(self.browser.close)
        yield withTimeout(self.browser.openPage(DESKTOP), 20, "Chromium to open a tab")
        yield self.browser.send("Network.enable")
        token = base64.b64encode(f"admin:{PASSWORD}".encode()).decode()
        yield self.browser.send("Network.setExtraHTTPHeaders", {"headers": {"Authorization": f"Basic {token}"}})

    @inlineCallbacks
    def test_charts(self) -> Any:
        """
        The charts load as pictures of a real size at both widths, and the
        SVG of each holds the scripted figures.
        """
        browser = self.browser
        yield withTimeout(browser.navigate(self.url + "/admin/"), 15, "the admin page to load")
        charts = "Array.from(document.querySelectorAll('img[data-chart]'))"
        yield browser.waitFor(f"{charts}.length === 3 && {charts}.every(i => i.complete && i.naturalWidth > 0)", 15)
        for viewport in (PHONE, DESKTOP):
            yield browser.setViewport(viewport)
            sizes = yield browser.evaluate(
                f"{charts}.map(i => {{ const r = i.getBoundingClientRect(); return [r.width, r.height]; }})"
            )
            self.assertEqual(len(sizes), 3)
            for width, height in sizes:
                self.assertGreater(width, 100, sizes)
                self.assertGreater(height, 50, sizes)
                self.assertLessEqual(width, viewport["width"], sizes)
            wide = yield browser.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
            self.assertTrue(wide, f"the page scrolls sideways at {viewport['width']} px")

        # The SVG behind each picture (fetched by the page, with its
        # credentials), parsed here: parsed in the page, its inline style
        # would break the page's content security policy.
        texts = yield browser.evaluate(f"Promise.all({charts}.map(i => fetch(i.src).then(r => r.text())))")
        svg = "{http://www.w3.org/2000/svg}"
        hourly, _, top = (ElementTree.fromstring(text) for text in texts)
        self.assertEqual(hourly.tag, svg + "svg")
        (line,) = hourly.iter(svg + "polyline")
        self.assertGreaterEqual(len(line.get("points", "").split()), 24)
        self.assertIn(str(PEAK), [label.text for label in hourly.iter(svg + "text")])
        labels = [label.text for label in top.iter(svg + "text")]
        self.assertEqual([label for label in labels if label in TRACKS], TRACKS, labels)
        widths = [float(bar.get("width", "0")) for bar in top.iter(svg + "rect") if bar.get("fill") == "#2a7ab9"]
        self.assertEqual(len(widths), len(labels) // 2)
        self.assertEqual(widths[: len(TRACKS)], sorted(widths[: len(TRACKS)], reverse=True))
        self.assertGreater(widths[len(TRACKS) - 1], 0, widths)

        phone, desktop = yield saveScreenshots(
            self, browser, "admin-charts", "document.getElementById('admin-charts').scrollIntoView()"
        )
        self.assertTrue(os.path.getsize(phone) > 10000 and os.path.getsize(desktop) > 10000)
        self.assertEqual(browser.problems(), [])
