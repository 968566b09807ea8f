"""
The station page's player and HLS in headless Chromium: the page offers
HLS only where the browser says it plays it, and falls back to the ICY
stream when the browser's own HLS fails (Chromium 156 says it plays HLS but
rejects MP3 packed audio).
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import inlineCallbacks
from twisted.trial.unittest import TestCase

from tests import test_browser


class PlayerFallbackTests(TestCase):
    """
    The player plays whatever the browser can: HLS natively, or the ICY
    stream.
    """

    timeout = 60
    setUp = test_browser.BrowserTests.setUp
    _stop = test_browser.BrowserTests._stop

    @inlineCallbacks
    def test_playsSomething(self) -> Any:
        """
        Pressing play ends with audio playing: from the HLS playlist where
        the browser plays it, else from the ICY stream.
        """
        browser = self.browser
        yield browser.navigate(self.url + "/")
        hls = yield browser.evaluate('document.querySelector(".player").getAttribute("data-hls")')
        self.assertEqual(hls, "/stream.m3u8")
        native = yield browser.evaluate('document.querySelector("audio").canPlayType("application/vnd.apple.mpegurl")')
        yield browser.click('[data-mount="/stream"] button.play')
        yield browser.waitFor('document.querySelector("audio").currentTime > 1.0', timeout=15)
        source = yield browser.evaluate('document.querySelector("audio").currentSrc')
        fallback = yield browser.evaluate('document.querySelector(".player").getAttribute("data-fallback")')
        if not native:
            self.assertEqual(source, self.url + "/stream")
        elif source == self.url + "/stream":
            self.assertEqual(fallback, "icy")
        else:
            self.assertEqual(source, self.url + "/stream.m3u8")
        self.assertEqual(browser.problems(), [])
