"""
A real-peer test of the admin page (L{txradio.web.adminpage}): a radio on
127.0.0.1 with two mounts and an admin password, two real mpg123 players on
C{/stream}, and headless Chromium (driven over the DevTools pipe as in
L{integration.test_browser}) logged in as the admin.  In the page, without
reloading it, the operator sees both players, kicks one (that mpg123
exits, the other plays on), moves the other to C{/two} (the public status
shows it there), and skips a track and sees the title change.

Basic credentials are sent by Chromium as an C{Authorization} header set
with C{Network.setExtraHTTPHeaders}: it applies to the page and to the
script's C{fetch} calls alike, where credentials in the URL would not
reach C{fetch} (Chromium refuses to build requests from such URLs).

Screenshots at a phone's (390 x 844) and a desktop's (1280 x 800) width go
to the test's temporary folder, and to C{docs/images/admin-*.png} when
C{TXRADIO_UPDATE_SCREENSHOTS=1} is set (so that a test run leaves the
checkout as it found it).  Every
wait is bounded; the test is skipped without Chromium or mpg123.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.task import deferLater
from twisted.trial.unittest import SkipTest, TestCase

from integration import test_browser as browsing
from integration._realpeers import requireProgram, spawn, startRadio, withTimeout
from txradio.sources.playlist import PlaylistSource
from txradio.sources.tracks import demoTracks
from txradio.stream.station import Station
from txradio.wire.icy import StreamInfo

PASSWORD = "browser-admin-pw"

PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True}
DESKTOP = {"width": 1280, "height": 800, "deviceScaleFactor": 1, "mobile": False}

DOCS_IMAGES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "images")
"""Where the screenshots are copied for C{docs/admin.md}."""


def rows(mount: str) -> str:
    """
    @param mount: a mount's path.
    @return: a JavaScript expression: its listener rows in the page.
    """
    return f"document.querySelectorAll('article[data-mount={json.dumps(mount)}] tr[data-listener]')"


@inlineCallbacks
def saveScreenshots(testCase: TestCase, browser: Any, name: str, before: str = "") -> Any:
    """
    Save a page at a phone's and a desktop's width, in the test's folder
    and, with C{TXRADIO_UPDATE_SCREENSHOTS=1}, in C{docs/images/}.

    @param testCase: the running test.
    @param browser: the L{integration.test_browser.Browser} showing it.
    @param name: the file name's stem, e.g. C{"admin"}.
    @param before: JavaScript run after each resize, before the shot
        (e.g. scrolling to what is shown).
    @return: the paths written in the test's folder.
    """
    folder = os.path.abspath(testCase.mktemp())
    os.makedirs(folder)
    written = []
    for label, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        yield browser.setViewport(viewport)
        if before:
            yield browser.evaluate(before)
        yield deferLater(reactor, 0.3, lambda: None)
        png = yield browser.screenshot()
        path = os.path.join(folder, f"{name}-{label}.png")
        with open(path, "wb") as f:
            f.write(png)
        if os.environ.get("TXRADIO_UPDATE_SCREENSHOTS") == "1" and os.path.isdir(DOCS_IMAGES):
            shutil.copy(path, os.path.join(DOCS_IMAGES, f"{name}-{label}.png"))
        written.append(path)
    yield browser.setViewport(DESKTOP)
    return written


class AdminBrowserTests(TestCase):
    """
    The admin page in a real browser, with real players.
    """

    timeout = 120

    @inlineCallbacks
    def setUp(self) -> Any:
        program = browsing.findChromium()
        if program is None:
            raise SkipTest("Chromium is not installed (apt-get install chromium)")
        requireProgram("mpg123")
        tracks = demoTracks()
        self.stream = Station(
            PlaylistSource(tracks, clock=reactor, name="/stream"),
            mount="/stream",
            info=StreamInfo(name="Admin Test FM", description="The first mount."),
            clock=reactor,
        )
        self.two = Station(
            PlaylistSource(demoTracks(), clock=reactor, name="/two"),
            mount="/two",
            info=StreamInfo(name="Second Programme", description="The second mount."),
            clock=reactor,
        )
        self.port = yield startRadio(self, [self.stream, self.two], adminPassword=PASSWORD, reactor=reactor)
        self.url = f"http://127.0.0.1:{self.port}"
        self.browser = browsing.Browser.launch(program)
        self.addCleanup(self.browser.close)
        yield withTimeout(self.browser.openPage(DESKTOP), 20, "Chromium to open a tab")
        yield self.browser.send("Network.enable")
        token = base64.b64encode(f"admin:{PASSWORD}".encode()).decode()
        yield self.browser.send("Network.setExtraHTTPHeaders", {"headers": {"Authorization": f"Basic {token}"}})

    def player(self):
        """
        Start mpg123 on C{/stream}, decoding to nowhere until it is stopped.

        @return: the L{integration._realpeers.ChildProcess}.
        """
        return spawn(self, ["mpg123", "-v", "-w", "/dev/null", self.url + "/stream"], 90)

    def waitUntil(self, condition, seconds: float, what: str):
        """
        Check a Python condition every 50 ms.

        @return: a L{Deferred} firing once it holds, failing after
            C{seconds}.
        """
        deadline = reactor.seconds() + seconds

        def check():
            if condition():
                return True
            if reactor.seconds() > deadline:
                raise AssertionError(f"{what}: not after {seconds} s")
            return deferLater(reactor, 0.05, check)

        return deferLater(reactor, 0, check)

    def screenshots(self, name: str) -> Any:
        """
        Save the page at a phone's and a desktop's width; see
        L{saveScreenshots}.
        """
        return saveScreenshots(self, self.browser, name)

    @inlineCallbacks
    def test_controlRoom(self) -> Any:
        """
        Log in, see two players, kick one, move the other, skip a track:
        the page follows each change without a reload.
        """
        browser = self.browser
        first, second = self.player(), self.player()
        yield self.waitUntil(lambda: self.stream.listenerCount == 2, 15, "two players on /stream")

        yield withTimeout(browser.navigate(self.url + "/admin/"), 15, "the admin page to load")
        yield browser.evaluate("window.notReloaded = true")
        heading = yield browser.evaluate("document.querySelector('h1').textContent")
        self.assertEqual(heading, "Control room")
        yield browser.waitFor(f"{rows('/stream')}.length === 2", timeout=10)
        agents = yield browser.evaluate(f"Array.from({rows('/stream')}, r => r.querySelector('.agent').textContent)")
        self.assertTrue(all(agent.startswith("mpg123") for agent in agents), agents)
        phone, desktop = yield self.screenshots("admin")
        # The page fits a phone without sideways scrolling.
        yield browser.setViewport(PHONE)
        wide = yield browser.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        self.assertTrue(wide, "the admin page scrolls sideways on a phone")
        yield browser.setViewport(DESKTOP)

        # Kick the first row's player.
        kicked = yield browser.evaluate(f"{rows('/stream')}[0].dataset.listener")
        byId = {str(listener.id): listener for listener in self.stream.broadcaster.listeners}
        self.assertIn(kicked, byId)
        yield browser.click(f'article[data-mount="/stream"] tr[data-listener="{kicked}"] button[data-action=kick]')
        yield browser.waitFor(f"{rows('/stream')}.length === 1", timeout=10)
        ended = yield withTimeout(
            self.waitUntil(lambda: first.ended or second.ended, 15, "the kicked player to exit"), 20, "a player to exit"
        )
        self.assertTrue(ended)
        self.assertFalse(first.ended and second.ended, "both players stopped")
        survivor = second if first.ended else first
        notice = yield browser.evaluate("document.querySelector('[data-notice]').textContent")
        self.assertEqual(notice, f"Listener {kicked} kicked.")

        # Move the other to /two: it shows there, in the page and in the
        # public status, and keeps playing.
        kept = yield browser.evaluate(f"{rows('/stream')}[0].dataset.listener")
        yield browser.evaluate(
            f"document.querySelector('tr[data-listener=\"{kept}\"] select[data-destination]').value = '/two'"
        )
        yield browser.click(f'tr[data-listener="{kept}"] button[data-action=move]')
        yield browser.waitFor(f"{rows('/stream')}.length === 0 && {rows('/two')}.length === 1", timeout=10)
        moved = yield browser.evaluate(f"{rows('/two')}[0].dataset.listener")
        self.assertEqual(moved, kept)
        status = yield browser.evaluate("fetch('/api/v1/status').then(r => r.json())")
        listeners = {m["mount"]: m["listeners"] for m in status["mounts"]}
        self.assertEqual((listeners["/stream"], listeners["/two"]), (0, 1), status)
        (listener,) = list(self.two.broadcaster.listeners)
        before = listener.bytesSent
        yield deferLater(reactor, 1.5, lambda: None)
        self.assertGreater(listener.bytesSent, before, "the moved player gets no audio")
        self.assertFalse(survivor.ended, survivor.describe())

        # Skip a track on /two and see its title change.
        title = "document.querySelector('article[data-mount=\"/two\"] [data-field=title]').textContent"
        was = yield browser.evaluate(title)
        self.assertEqual(was, "txradio - Morning Arpeggio")
        yield browser.click('article[data-mount="/two"] button[data-action=skip]')
        yield browser.waitFor(f"{title} === 'txradio - Walking Bass'", timeout=10)
        self.assertTrue((yield browser.evaluate("window.notReloaded === true")))
        # A failing action shows the error line: kicking a listener that
        # has gone (a row made and pressed in one step, before a poll can
        # redraw the table).
        yield browser.evaluate(
            "(() => { const tr = document.createElement('tr'); tr.dataset.listener = 'gone';"
            " const b = document.createElement('button'); b.dataset.action = 'kick'; b.type = 'button';"
            " tr.append(b); document.querySelector('article[data-mount=\"/stream\"] tbody').append(tr);"
            " b.click(); })()"
        )
        yield browser.waitFor("!document.querySelector('[data-error]').hidden", timeout=10)
        error = yield browser.evaluate("document.querySelector('[data-error]').textContent")
        self.assertEqual(error, "kick failed: no such listener on this mount")
        # The next poll redraws the table without the made-up row.
        yield browser.waitFor("!document.querySelector('tr[data-listener=gone]')", timeout=10)
        yield browser.evaluate("window.scrollTo(0, 0)")
        yield self.screenshots("admin-after")
        # The one failed load the console reports is the refused kick.
        self.assertEqual(len(browser.problems()), 1, browser.problems())
        self.assertIn("404", browser.problems()[0])
        self.assertTrue(os.path.getsize(phone) > 10000 and os.path.getsize(desktop) > 10000)
