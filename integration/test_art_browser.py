"""
A real-peer test of the album art on the station page: a radio on
127.0.0.1 playing copies of the demo pieces, the first two with covers in
their ID3 tags (real PNG pictures, made here), and headless Chromium (as in
L{integration.test_browser}) on the page.  The picture of the track playing
shows, decoded by the browser; skipping to the next track changes it, and
to the third (no cover) hides it, all without reloading the page (the page
follows C{/events}).  Skipped without Chromium.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import tempfile
import zlib
from typing import Any

from mutagen.id3 import APIC, ID3
from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.task import deferLater
from twisted.trial.unittest import SkipTest, TestCase

from integration.test_browser import DESKTOP, Browser, findChromium
from txradio.service import RadioService
from txradio.sources.playlist import PlaylistSource
from txradio.sources.tracks import ListTracks, demoTracks
from txradio.stream.station import Station
from txradio.web.hls import HLSSettings
from txradio.wire.icy import StreamInfo

ART = '[data-mount="/stream"] img[data-field=art]'
"""The station's picture in the page."""


def solidPNG(size: int, rgb: tuple[int, int, int]) -> bytes:
    """
    @param size: the width and height in pixels.
    @param rgb: the colour.
    @return: a PNG of one colour.
    """

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes(rgb) * size for _ in range(size))
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


class ArtBrowserTests(TestCase):
    """
    The station page's album art in a real browser.
    """

    timeout = 60

    @inlineCallbacks
    def setUp(self) -> Any:
        program = findChromium()
        if program is None:
            raise SkipTest("Chromium is not installed (apt-get install chromium)")
        folder = tempfile.mkdtemp(prefix="txradio-art-browser-")
        self.addCleanup(shutil.rmtree, folder, True)
        paths = []
        for index, path in enumerate(demoTracks().paths[:3]):
            copy = os.path.join(folder, os.path.basename(path))
            shutil.copy(path, copy)
            if index < 2:
                tags = ID3()
                colour = (200, 60, 20) if index == 0 else (20, 90, 200)
                tags.add(APIC(encoding=3, mime="image/png", type=3, desc="Cover", data=solidPNG(64, colour)))
                tags.save(copy)
            paths.append(copy)
        self.source = PlaylistSource(ListTracks(paths), clock=reactor, name="/stream")
        self.station = Station(self.source, mount="/stream", info=StreamInfo(name="Art Test FM"), clock=reactor)
        self.radio = RadioService(
            [self.station], listen=["tcp:0:interface=127.0.0.1"], reactor=reactor, hls=HLSSettings(enabled=False)
        )
        self.radio.startService()
        ports = yield self.radio.whenListening()
        self.url = f"http://127.0.0.1:{ports[0].getHost().port}"
        self.browser = Browser.launch(program)
        self.addCleanup(self._stop)
        yield self.browser.openPage(DESKTOP)

    @inlineCallbacks
    def _stop(self) -> Any:
        yield self.browser.close()
        yield self.radio.stopService()
        yield deferLater(reactor, 0.2, lambda: None)

    def picture(self) -> Any:
        """
        @return: a L{Deferred} firing with the picture's C{src}, whether it
            is shown, and its decoded width.
        """
        return self.browser.evaluate(
            f"(() => {{ const i = document.querySelector({json.dumps(ART)});"
            " return [i.getAttribute('src'), !i.hidden && i.getBoundingClientRect().width > 0,"
            " i.complete ? i.naturalWidth : 0]; })()"
        )

    @inlineCallbacks
    def test_followsTracks(self) -> Any:
        """
        The cover of the track playing shows; it changes with the track and
        goes when a track has none, without a reload.
        """
        browser = self.browser
        yield browser.navigate(self.url + "/")
        yield browser.evaluate("window.notReloaded = true")
        yield browser.waitFor(f"document.querySelector({json.dumps(ART)}).naturalWidth === 64")
        first, shown, width = yield self.picture()
        self.assertTrue(first.startswith("/art/") and first.endswith(".png"), first)
        self.assertTrue(shown)
        self.assertEqual(width, 64)
        yield browser.waitFor("window.txradioEvents && window.txradioEvents.readyState === 1")

        self.source.skip()
        yield browser.waitFor(
            f"document.querySelector({json.dumps(ART)}).getAttribute('src') !== {json.dumps(first)}"
            f" && document.querySelector({json.dumps(ART)}).naturalWidth === 64",
            timeout=15,
        )
        second, shown, _ = yield self.picture()
        self.assertTrue(second.startswith("/art/") and second != first, second)
        self.assertTrue(shown)

        self.source.skip()
        yield browser.waitFor(f"document.querySelector({json.dumps(ART)}).hidden", timeout=15)
        self.assertTrue((yield browser.evaluate("window.notReloaded === true")))
        self.assertEqual(browser.problems(), [])
