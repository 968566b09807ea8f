"""
A real-browser test of the station page: headless Chromium, driven over the
DevTools protocol, opens C{/} of a radio running in this process, presses
play, hears the stream advance, and sees "now playing" change after a track
change without a reload.  It also checks the page's layout at a phone's and
a desktop's width, and saves screenshots of both when C{TXRADIO_SCREENSHOTS}
names a folder.

The DevTools protocol is spoken over a pipe (C{--remote-debugging-pipe}:
JSON messages separated by NUL bytes on the child's file descriptors 3 and
4), so no WebSocket client and no driver program are needed: only Debian's
C{chromium} package.  The test is skipped when no Chromium is installed
(C{TXRADIO_CHROMIUM} may name the program).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import tempfile
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.protocol import ProcessProtocol
from twisted.internet.task import deferLater
from twisted.python.failure import Failure
from twisted.trial.unittest import SkipTest, TestCase

from txradio.library.index import Library
from txradio.service import RadioService
from txradio.sources.playlist import PlaylistSource
from txradio.sources.tracks import demoTracks
from txradio.stream.station import Station
from txradio.web.hls import HLSSettings
from txradio.wire.icy import StreamInfo

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--mute-audio",
    "--autoplay-policy=no-user-gesture-required",
    "--remote-debugging-pipe",
]

PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True}
DESKTOP = {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False}


def findChromium() -> str | None:
    """
    Find the Chromium program.

    @return: its path, or L{None} when none is installed.
    """
    named = os.environ.get("TXRADIO_CHROMIUM")
    if named:
        return named
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


class DevToolsError(Exception):
    """
    The browser answered a command with an error.
    """


class Browser(ProcessProtocol):
    """
    A headless Chromium child process and a minimal DevTools protocol client
    for it, over the debugging pipe.

    @ivar output: what the browser wrote to stdout and stderr (for failure
        messages).
    @ivar events: the events received, as C{(method, params, sessionId)}.
    """

    def __init__(self) -> None:
        self._buffer = b""
        self._next = 0
        self._waiting: dict[int, Deferred] = {}
        self._eventWaiters: list[tuple[str, str | None, Deferred]] = []
        self.events: list[tuple[str, dict, str | None]] = []
        self.output = b""
        self.ended: Deferred = Deferred()
        self.sessionId: str | None = None
        self.profile = tempfile.mkdtemp(prefix="txradio-chromium-")

    @classmethod
    def launch(cls, program: str) -> Browser:
        """
        Start Chromium.

        @param program: its path.
        @return: the running browser.
        """
        browser = cls()
        argv = [program, *CHROMIUM_FLAGS, f"--user-data-dir={browser.profile}", "about:blank"]
        reactor.spawnProcess(
            browser,
            program,
            argv,
            env={**os.environ, "HOME": browser.profile},
            childFDs={0: "w", 1: "r", 2: "r", 3: "w", 4: "r"},
        )
        return browser

    def childDataReceived(self, childFD: int, data: bytes) -> None:
        """
        Read replies and events from descriptor 4; keep the rest as output.

        @param childFD: the descriptor.
        @param data: the bytes.
        """
        if childFD != 4:
            self.output = (self.output + data)[-20000:]
            return
        self._buffer += data
        while b"\0" in self._buffer:
            message, self._buffer = self._buffer.split(b"\0", 1)
            self._dispatch(json.loads(message))

    def _dispatch(self, message: dict) -> None:
        """
        Hand a reply to its command, or record an event.

        @param message: the decoded message.
        """
        if "id" in message:
            waiting = self._waiting.pop(message["id"], None)
            if waiting is None:
                return
            if "error" in message:
                waiting.errback(DevToolsError(message["error"]))
            else:
                waiting.callback(message.get("result", {}))
            return
        method, params, session = message.get("method"), message.get("params", {}), message.get("sessionId")
        self.events.append((method, params, session))
        for waiter in list(self._eventWaiters):
            if waiter[0] == method and waiter[1] in (None, session):
                self._eventWaiters.remove(waiter)
                waiter[2].callback(params)

    def send(self, method: str, params: dict | None = None, session: bool = True) -> Deferred:
        """
        Send a command.

        @param method: e.g. C{"Page.navigate"}.
        @param params: its parameters.
        @param session: send it to the attached page rather than the browser.
        @return: a L{Deferred} firing with the result.
        """
        self._next += 1
        message: dict[str, Any] = {"id": self._next, "method": method, "params": params or {}}
        if session and self.sessionId is not None:
            message["sessionId"] = self.sessionId
        waiting: Deferred = Deferred()
        self._waiting[self._next] = waiting
        self.transport.writeToChild(3, json.dumps(message).encode("utf-8") + b"\0")
        return waiting

    def nextEvent(self, method: str) -> Deferred:
        """
        Wait for an event of the attached page.

        @param method: e.g. C{"Page.loadEventFired"}.
        @return: a L{Deferred} firing with its parameters.
        """
        waiting: Deferred = Deferred()
        self._eventWaiters.append((method, self.sessionId, waiting))
        return waiting

    @inlineCallbacks
    def openPage(self, viewport: dict) -> Any:
        """
        Open a tab and attach to it.

        @param viewport: the device metrics to emulate.
        """
        target = yield self.send("Target.createTarget", {"url": "about:blank"}, session=False)
        attached = yield self.send(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}, session=False
        )
        self.sessionId = attached["sessionId"]
        yield self.send("Page.enable")
        yield self.send("Runtime.enable")
        yield self.send("Log.enable")
        yield self.setViewport(viewport)

    def setViewport(self, viewport: dict) -> Deferred:
        """
        Emulate a screen size.

        @param viewport: width, height, deviceScaleFactor and mobile.
        @return: a L{Deferred} that fires when it applies.
        """
        return self.send("Emulation.setDeviceMetricsOverride", viewport)

    @inlineCallbacks
    def navigate(self, url: str) -> Any:
        """
        Load a page and wait for its load event.

        @param url: the address.
        """
        loaded = self.nextEvent("Page.loadEventFired")
        yield self.send("Page.navigate", {"url": url})
        yield loaded

    @inlineCallbacks
    def evaluate(self, expression: str) -> Any:
        """
        Evaluate JavaScript in the page.

        @param expression: the expression; a promise is awaited.
        @return: its value (JSON-serializable).
        """
        result = yield self.send(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True}
        )
        if "exceptionDetails" in result:
            raise DevToolsError(result["exceptionDetails"])
        return result["result"].get("value")

    @inlineCallbacks
    def waitFor(self, expression: str, timeout: float = 10.0, interval: float = 0.1) -> Any:
        """
        Evaluate an expression until it is true.

        @param expression: the JavaScript condition.
        @param timeout: seconds to wait at most.
        @param interval: seconds between tries.
        @return: its last (true) value.
        @raise AssertionError: when it is still false after C{timeout}.
        """
        waited = 0.0
        while True:
            value = yield self.evaluate(expression)
            if value:
                return value
            if waited >= timeout:
                raise AssertionError(f"still false after {timeout} s: {expression}")
            yield deferLater(reactor, interval, lambda: None)
            waited += interval

    @inlineCallbacks
    def click(self, selector: str) -> Any:
        """
        Press and release the mouse on the middle of an element, as a user
        would.

        @param selector: a CSS selector for it.
        """
        box = yield self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)}); e.scrollIntoView();"
            " const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()"
        )
        x, y = box
        for kind in ("mousePressed", "mouseReleased"):
            yield self.send(
                "Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1}
            )

    @inlineCallbacks
    def screenshot(self) -> Any:
        """
        Capture the viewport.

        @return: PNG bytes.
        """
        shot = yield self.send("Page.captureScreenshot", {"format": "png"})
        return base64.b64decode(shot["data"])

    def problems(self) -> list[str]:
        """
        The page's script errors and logged errors (such as content security
        policy violations or failed loads) so far.

        @return: their texts.
        """
        found = []
        for method, params, _ in self.events:
            if method == "Runtime.exceptionThrown":
                found.append(repr(params.get("exceptionDetails")))
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                found.append(params["entry"].get("text", ""))
        return found

    def processEnded(self, reason: Failure) -> None:
        """
        The browser exited: fail whatever still waits.

        @param reason: how it ended.
        """
        for waiting in list(self._waiting.values()):
            waiting.errback(DevToolsError(f"the browser exited: {self.output[-2000:]!r}"))
        self._waiting.clear()
        shutil.rmtree(self.profile, ignore_errors=True)
        self.ended.callback(None)

    @inlineCallbacks
    def close(self) -> Any:
        """
        Ask the browser to quit, and kill it if it does not within 5 s.
        """
        if self.ended.called:
            return
        try:
            self.send("Browser.close", session=False).addErrback(lambda _: None)
        except Exception:
            pass
        killer = reactor.callLater(5, self._kill)
        yield self.ended
        if killer.active():
            killer.cancel()

    def _kill(self) -> None:
        """
        Kill the browser process.
        """
        try:
            self.transport.signalProcess("KILL")
        except Exception:
            pass


class BrowserTests(TestCase):
    """
    The station page in a real browser.
    """

    timeout = 60

    @inlineCallbacks
    def setUp(self) -> Any:
        program = findChromium()
        if program is None:
            raise SkipTest("Chromium is not installed (apt-get install chromium)")
        tracks = demoTracks()
        self.source = PlaylistSource(tracks, clock=reactor, name="/stream")
        self.station = Station(
            self.source,
            mount="/stream",
            info=StreamInfo(name="Browser Test FM", description="Three short demo pieces.", genre="Demo"),
            clock=reactor,
        )
        self.music = tempfile.mkdtemp(prefix="txradio-browser-music-")
        self.addCleanup(shutil.rmtree, self.music, True)
        os.makedirs(os.path.join(self.music, "txradio demo"))
        os.makedirs(os.path.join(self.music, "More music"))
        for path in tracks.paths:
            shutil.copy(path, os.path.join(self.music, "txradio demo", os.path.basename(path)))
        shutil.copy(tracks.paths[2], os.path.join(self.music, "More music", "Chimes again.mp3"))
        shutil.copy(tracks.paths[0], os.path.join(self.music, "Arpeggio.mp3"))
        # The ICY player: integration/test_hls_browser.py plays HLS.
        self.radio = RadioService(
            [self.station],
            listen=["tcp:0:interface=127.0.0.1"],
            reactor=reactor,
            library=Library(self.music),
            hls=HLSSettings(enabled=False),
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
        # Let the reactor notice the browser's connections closing.
        yield deferLater(reactor, 0.2, lambda: None)

    @inlineCallbacks
    def test_playAndFollow(self) -> Any:
        """
        Pressing play starts the stream (its C{currentTime} advances), and a
        track change shows as "now playing" without reloading the page.
        """
        browser = self.browser
        yield browser.navigate(self.url + "/")
        title = '[data-mount="/stream"] [data-field=title]'
        first = yield browser.evaluate(f"document.querySelector({json.dumps(title)}).textContent")
        self.assertEqual(first, "txradio - Morning Arpeggio")
        yield browser.evaluate("window.notReloaded = true")
        yield browser.waitFor("window.txradioEvents && window.txradioEvents.readyState === 1")
        yield browser.click('[data-mount="/stream"] button.play')
        pressed = yield browser.evaluate('document.querySelector("button.play").getAttribute("aria-pressed")')
        self.assertEqual(pressed, "true")
        yield browser.waitFor('document.querySelector("audio").currentTime > 1.0')
        yield browser.waitFor(
            f'document.querySelector({json.dumps(title.split(" ")[0] + " [data-field=listeners]")}).textContent === "1"'
        )
        self.source.skip()
        changed = yield browser.waitFor(
            f'document.querySelector({json.dumps(title)}).textContent === "txradio - Walking Bass"'
            " && window.notReloaded"
        )
        self.assertTrue(changed)
        history = yield browser.evaluate('document.querySelector("[data-field=history]").textContent')
        self.assertIn("Morning Arpeggio", history)
        before = yield browser.evaluate('document.querySelector("audio").currentTime')
        yield deferLater(reactor, 0.6, lambda: None)
        after = yield browser.evaluate('document.querySelector("audio").currentTime')
        self.assertGreater(after, before)
        self.assertEqual(browser.problems(), [])

    @inlineCallbacks
    def test_upNextWithTimes(self) -> Any:
        """
        "Up next" shows the next track with the time it should start, and
        after a track change C{requests.js} fills it again from the status,
        the time in the reader's own time zone.
        """
        browser = self.browser
        yield browser.navigate(self.url + "/")
        upNext = '[data-mount="/stream"] [data-field=upcoming] li'
        first = yield browser.evaluate(f"document.querySelector({json.dumps(upNext)}).textContent")
        self.assertRegex(first, r"^txradio - Walking Bass about \d\d:\d\d$")
        yield browser.waitFor("window.txradioEvents && window.txradioEvents.readyState === 1")
        self.source.skip()
        refreshed = yield browser.waitFor(
            f"document.querySelector({json.dumps(upNext)}).firstChild.textContent === 'txradio - Night Chimes'"
            f" && document.querySelector({json.dumps(upNext + ' small')}) !== null",
            timeout=15,
        )
        self.assertTrue(refreshed)
        when = yield browser.evaluate(f"document.querySelector({json.dumps(upNext + ' small')}).textContent")
        self.assertRegex(when, r"^ about \d")
        self.assertEqual(browser.problems(), [])

    @inlineCallbacks
    def test_layout(self) -> Any:
        """
        The page fits a phone's width without sideways scrolling and the
        play button is large enough to touch; the library page too.
        Screenshots of both widths are saved when C{TXRADIO_SCREENSHOTS}
        names a folder.
        """
        browser = self.browser
        folder = os.environ.get("TXRADIO_SCREENSHOTS")
        for name, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
            yield browser.setViewport(viewport)
            for page, path in (("stations", "/"), ("library", "/library/")):
                yield browser.navigate(self.url + path)
                yield browser.evaluate("document.fonts.ready.then(() => true)")
                fits = yield browser.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
                self.assertTrue(fits, f"{page} page scrolls sideways at {viewport['width']} px")
                if page == "stations":
                    height = yield browser.evaluate(
                        'document.querySelector("button.play").getBoundingClientRect().height'
                    )
                    self.assertGreaterEqual(height, 44)
                if folder:
                    image = yield browser.screenshot()
                    with open(os.path.join(folder, f"{page}-{name}.png"), "wb") as f:
                        f.write(image)
        self.assertEqual(browser.problems(), [])

    @inlineCallbacks
    def test_libraryPlayer(self) -> Any:
        """
        A song of the library plays in the page's player, and seeking in it
        works (the browser fetches ranges of the file).
        """
        browser = self.browser
        yield browser.navigate(self.url + "/library/txradio%20demo/")
        yield browser.click("table.tracks tbody tr:nth-child(2) button.track")
        audio = "window.txradioLibrary.audio"
        yield browser.waitFor(f"{audio}.currentTime > 0.5")
        source = yield browser.evaluate(f"{audio}.src")
        self.assertTrue(source.endswith("/library/txradio%20demo/02-walking-bass.mp3"), source)
        yield browser.evaluate(f"{audio}.currentTime = 15")
        yield browser.waitFor(f"{audio}.currentTime > 15.2 && !{audio}.paused")
        now = yield browser.evaluate('document.querySelector(".dock p").textContent')
        self.assertEqual(now, "txradio - Walking Bass")
        self.assertEqual(browser.problems(), [])
