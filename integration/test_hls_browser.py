"""
The station page's HLS player in headless Chromium (driven over the DevTools
pipe by L{integration.test_browser.Browser}): it plays the mount's HLS playlist
with the shipped hls.js where the browser has no HLS of its own (or where
its own fails, as Chromium's does on MP3 packed audio), shows the title it
hears in the segments' timed metadata while the server's live updates go on,
and falls back to the ICY stream where neither plays.

The radio cuts one-second segments, so that a player a few segments behind
the live edge hears a title change within seconds.  Every wait is bounded;
what is checked is content (titles, sources, engines), not speed.
"""

from __future__ import annotations

import json
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.task import deferLater
from twisted.trial.unittest import SkipTest, TestCase

from integration.test_browser import DESKTOP, Browser, findChromium
from txradio.service import RadioService
from txradio.sources.playlist import PlaylistSource
from txradio.sources.tracks import demoTracks
from txradio.stream.station import Station
from txradio.web.hls import HLSSettings
from txradio.wire.icy import StreamInfo

NO_NATIVE_HLS = """
(() => {
  const canPlayType = HTMLMediaElement.prototype.canPlayType;
  HTMLMediaElement.prototype.canPlayType = function (type) {
    return /mpegurl/i.test(type) ? "" : canPlayType.call(this, type);
  };
})();
"""
"""A page script that makes the browser say it plays no HLS itself."""

NO_MEDIA_SOURCE = NO_NATIVE_HLS + "delete window.MediaSource; delete window.ManagedMediaSource;\n"
"""A page script that leaves neither the browser's HLS nor hls.js a way to play."""

PLAYER = '[data-mount="/stream"].player'
TITLE = '[data-mount="/stream"] [data-field=title]'
ARTICLE = 'article[data-mount="/stream"]'


def js(selector: str) -> str:
    """
    @return: JavaScript finding the element a CSS selector names.
    """
    return f"document.querySelector({json.dumps(selector)})"


class HLSPlayerTests(TestCase):
    """
    The station page plays HLS and shows the titles it hears.
    """

    timeout = 90

    @inlineCallbacks
    def setUp(self) -> Any:
        program = findChromium()
        if program is None:
            raise SkipTest("Chromium is not installed (apt-get install chromium)")
        self.source = PlaylistSource(demoTracks(), clock=reactor, name="/stream")
        self.station = Station(self.source, mount="/stream", info=StreamInfo(name="HLS Test FM"), clock=reactor)
        self.radio = RadioService(
            [self.station],
            listen=["tcp:0:interface=127.0.0.1"],
            reactor=reactor,
            hls=HLSSettings(targetDuration=1, windowSegments=4),
        )
        self.radio.startService()
        self.addCleanup(self.radio.stopService)
        ports = yield self.radio.whenListening()
        self.url = f"http://127.0.0.1:{ports[0].getHost().port}"
        self.browser = Browser.launch(program)
        self.addCleanup(self._stop)
        yield self.browser.openPage(DESKTOP)

    @inlineCallbacks
    def _stop(self) -> Any:
        yield self.browser.close()
        # Let the reactor notice the browser's connections closing.
        yield deferLater(reactor, 0.2, lambda: None)

    @inlineCallbacks
    def play(self, pageScript: str | None = None) -> Any:
        """
        Open the station page (after a script that changes what the browser
        says it can do, if given) and press play.
        """
        if pageScript is not None:
            yield self.browser.send("Page.addScriptToEvaluateOnNewDocument", {"source": pageScript})
        yield self.browser.navigate(self.url + "/")
        yield self.browser.waitFor("window.txradioEvents && window.txradioEvents.readyState === 1")
        yield self.browser.click(PLAYER + " button.play")
        yield self.browser.waitFor(f"{js('audio')}.currentTime > 1.0", timeout=30)

    @inlineCallbacks
    def test_hlsJsTimedTitles(self) -> Any:
        """
        In a browser without HLS of its own, the player plays the HLS
        playlist with the shipped hls.js, and "now playing" shows the title
        the segments' ID3 tags carry, changing when the player reaches the
        segment where it changes, while the server's live updates announce
        it first and still fill the history.
        """
        browser = self.browser
        yield self.play(NO_NATIVE_HLS)
        engine = yield browser.evaluate(f"{js(PLAYER)}.getAttribute('data-engine')")
        self.assertEqual(engine, "hls.js")
        source = yield browser.evaluate(f"{js('audio')}.currentSrc")
        self.assertTrue(source.startswith("blob:"), source)
        heard = f"{js(PLAYER)}.getAttribute('data-heard')"
        yield browser.waitFor(f"{heard} === 'txradio - Morning Arpeggio'", timeout=20)
        shown = yield browser.evaluate(f"{js(TITLE)}.textContent")
        self.assertEqual(shown, "txradio - Morning Arpeggio")

        self.source.skip()
        yield browser.waitFor(f"{js(ARTICLE)}.getAttribute('data-announced') === 'txradio - Walking Bass'")
        # While the player has not reached the change, it shows what it
        # hears, not what was announced.
        pair = yield browser.evaluate(f"[{js(TITLE)}.textContent, {heard}]")
        self.assertEqual(pair[0], pair[1])
        history = yield browser.evaluate(f"{js('[data-field=history]')}.textContent")
        self.assertIn("Morning Arpeggio", history)
        yield browser.waitFor(f"{heard} === 'txradio - Walking Bass'", timeout=30)
        shown = yield browser.evaluate(f"{js(TITLE)}.textContent")
        self.assertEqual(shown, "txradio - Walking Bass")

        before = yield browser.evaluate(f"{js('audio')}.currentTime")
        yield deferLater(reactor, 1.0, lambda: None)
        after = yield browser.evaluate(f"{js('audio')}.currentTime")
        self.assertGreater(after, before)
        # All of it came over HLS: no ICY listener, an HLS session.
        self.assertEqual(self.station.listenerCount, 0)
        hls = self.radio.factory.site.resource.hls.mounts[b"/stream"]
        self.assertEqual(hls.sessions.count(), 1)
        self.assertGreater(sum(hls.segmentRequests.values()), 2)

        # Stopping shows what the server announced again.
        yield browser.click(PLAYER + " button.play")
        shown = yield browser.evaluate(
            f"[{js(TITLE)}.textContent, {js(PLAYER)}.hasAttribute('data-heard'), {js(PLAYER)}.hasAttribute('data-engine')]"
        )
        self.assertEqual(shown, ["txradio - Walking Bass", False, False])
        self.assertEqual(browser.problems(), [])

    @inlineCallbacks
    def test_browserAsItIs(self) -> Any:
        """
        In the browser as it is, the player ends up playing HLS: natively if
        the browser's own HLS plays MP3 packed audio, else with hls.js after
        the browser's own failed (Chromium 156 says "maybe" and then rejects
        the segments), never the ICY stream.
        """
        browser = self.browser
        yield self.play()
        native = yield browser.evaluate(f"{js('audio')}.canPlayType('application/vnd.apple.mpegurl')")
        engine = yield browser.evaluate(f"{js(PLAYER)}.getAttribute('data-engine')")
        self.assertIn(engine, ("native", "hls.js"))
        if not native:
            self.assertEqual(engine, "hls.js")
        yield browser.waitFor(f"{js(PLAYER)}.getAttribute('data-heard') === 'txradio - Morning Arpeggio'", timeout=20)
        self.assertEqual(self.station.listenerCount, 0)
        self.assertEqual(browser.problems(), [])

    @inlineCallbacks
    def test_icyFallback(self) -> Any:
        """
        Where neither the browser nor hls.js can play HLS (no Media Source
        Extensions), the player plays the ICY stream, and "now playing"
        follows the server's announcements.
        """
        browser = self.browser
        yield self.play(NO_MEDIA_SOURCE)
        engine = yield browser.evaluate(f"{js(PLAYER)}.getAttribute('data-engine')")
        self.assertEqual(engine, "icy")
        source = yield browser.evaluate(f"{js('audio')}.currentSrc")
        self.assertEqual(source, self.url + "/stream")
        loaded = yield browser.evaluate("typeof window.Hls")
        self.assertEqual(loaded, "undefined")
        self.assertEqual(self.station.listenerCount, 1)
        self.source.skip()
        yield browser.waitFor(f"{js(TITLE)}.textContent === 'txradio - Walking Bass'")
        self.assertEqual(browser.problems(), [])
