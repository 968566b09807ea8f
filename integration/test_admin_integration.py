"""
Integration tests for Icecast's admin commands and SHOUTcast's widget
endpoints (L{txradio.web.icecastadmin}, L{txradio.web.shoutcast}): a radio
on the real reactor on 127.0.0.1, real mpg123 players, and the commands
sent over real sockets.

Every wait is on an event bounded by a timeout; the tests are skipped where
mpg123 or ffmpeg is missing.
"""

from __future__ import annotations

import base64
import os
import re
from xml.etree import ElementTree

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.task import deferLater
from twisted.logger import Logger
from twisted.trial.unittest import TestCase

from integration._realpeers import (
    Timeout,
    fetch,
    makeTracks,
    parseResponse,
    requireProgram,
    spawn,
    startRadio,
    withTimeout,
)
from integration.test_integration import FRAMES_PER_SECOND, PLAYER_TROUBLE, THREE_TRACKS
from txradio.sources.playlist import PlaylistSource
from txradio.sources.tracks import FolderTracks
from txradio.stream.station import Station

PASSWORD = "integration-admin"

OTHER_TRACKS = [
    ("Moved Artist", "Moved Tone", 550, 4),
    ("Moved Artist", "Moved Again", 330, 4),
]
"""The second mount's tracks, with titles of their own."""

_log = Logger()


class AdminIntegrationTests(TestCase):
    """
    Two mounts (C{/stream} and C{/two}) with admin on, and real players.
    """

    timeout = 90

    @inlineCallbacks
    def setUp(self):
        requireProgram("mpg123")
        first = os.path.abspath(self.mktemp())
        second = os.path.abspath(self.mktemp())
        self.titles = yield makeTracks(self, first, THREE_TRACKS)
        self.otherTitles = yield makeTracks(self, second, OTHER_TRACKS)
        self.stream = Station(PlaylistSource(FolderTracks(first), name="/stream"), mount="/stream", metaint=8192)
        self.two = Station(PlaylistSource(FolderTracks(second), name="/two"), mount="/two", metaint=8192)
        self.port = yield startRadio(self, [self.stream, self.two], adminPassword=PASSWORD)

    def url(self, path: str) -> str:
        """
        @return: the URL of a path on the radio.
        """
        return f"http://127.0.0.1:{self.port}{path}"

    @inlineCallbacks
    def get(self, path: str, admin: bool = False):
        """
        Send a C{GET} over a real connection.

        @param admin: send the admin's credentials.
        @return: a L{Deferred} firing with C{(status, body)}.
        """
        headers = b"Host: 127.0.0.1\r\nConnection: close\r\n"
        if admin:
            headers += b"Authorization: Basic " + base64.b64encode(b"admin:" + PASSWORD.encode()) + b"\r\n"
        raw = yield fetch(self, self.port, b"GET " + path.encode() + b" HTTP/1.1\r\n" + headers + b"\r\n")
        status, _, body = parseResponse(raw)
        return int(status.split(b" ")[1]), body

    def waitFor(self, condition, seconds: float, what: str):
        """
        Check a condition every 50 ms until it holds.

        @return: a L{Deferred} firing once it holds, failing with
            L{Timeout} after C{seconds}.
        """
        deadline = reactor.seconds() + seconds

        def check():
            if condition():
                return True
            if reactor.seconds() > deadline:
                raise Timeout(f"{what}: not after {seconds} s")
            return deferLater(reactor, 0.05, check)

        return deferLater(reactor, 0, check)

    def player(self, seconds: float | None, timeout: float = 40):
        """
        Start mpg123 on C{/stream}, decoding to nowhere.

        @param seconds: audio to decode before it stops, or L{None} for
            until the stream ends.
        @return: the L{tests._realpeers.ChildProcess}.
        """
        args = ["mpg123", "-v", "-w", "/dev/null"]
        if seconds is not None:
            args[2:2] = ["-n", str(int(seconds * FRAMES_PER_SECOND))]
        return spawn(self, [*args, self.url("/stream")], timeout)

    def assertClean(self, child) -> None:
        """
        The player ended by itself and said nothing of decoding trouble.
        """
        self.assertEqual(child.exitCode, 0, child.describe())
        trouble = [word for word in PLAYER_TROUBLE if word in child.output.lower()]
        self.assertEqual(trouble, [], child.describe())

    @inlineCallbacks
    def test_killClient(self):
        """
        Of two real players, C{killclient} disconnects exactly the one
        named; the other decodes on to its end without trouble.
        """
        kept = None
        doomed = self.player(None)
        yield self.waitFor(lambda: self.stream.listenerCount == 1, 15, "the first player to join")
        kept = self.player(14)
        yield self.waitFor(lambda: self.stream.listenerCount == 2, 15, "the second player to join")
        status, body = yield self.get("/admin/listclients?mount=/stream", admin=True)
        self.assertEqual(status, 200, body)
        entries = ElementTree.fromstring(body).findall("source/listener")
        self.assertEqual(len(entries), 2)
        self.assertTrue(all(entry.findtext("UserAgent").startswith("mpg123") for entry in entries), body)
        first = entries[0].get("id")
        status, body = yield self.get(f"/admin/killclient?mount=/stream&id={first}", admin=True)
        self.assertEqual(status, 200, body)
        self.assertEqual(ElementTree.fromstring(body).findtext("return"), "1")
        yield withTimeout(doomed.whenEnded(), 15, "the killed player to stop")
        self.assertFalse(doomed.timedOut, doomed.describe())
        self.assertEqual(self.stream.listenerCount, 1)
        self.assertNotEqual(str(next(iter(self.stream.broadcaster.listeners)).id), first)
        yield withTimeout(kept.whenEnded(), 40, "the other player to finish")
        _log.info("the player left alone said: {output}", output=kept.output[-400:])
        self.assertClean(kept)
        self.assertIn("Decoding of stream finished", kept.output)

    @inlineCallbacks
    def test_moveClients(self):
        """
        A real player moved to C{/two} keeps decoding without an error, and
        shows C{/two}'s titles from its next metadata block on.
        """
        child = self.player(16)
        yield self.waitFor(lambda: self.stream.listenerCount == 1, 15, "the player to join")
        yield deferLater(reactor, 1.0, lambda: None)
        status, body = yield self.get("/admin/moveclients?mount=/stream&destination=/two", admin=True)
        self.assertEqual(status, 200, body)
        self.assertEqual(ElementTree.fromstring(body).findtext("message"), "Clients moved from /stream to /two")
        self.assertEqual(self.stream.listenerCount, 0)
        self.assertEqual(self.two.listenerCount, 1)
        yield withTimeout(child.whenEnded(), 40, "the moved player to finish")
        _log.info("the moved player said: {output}", output=child.output[-600:])
        self.assertClean(child)
        self.assertIn("Decoding of stream finished", child.output)
        shown = re.findall(r"ICY-META: StreamTitle='([^']*)';", child.output)
        _log.info("the moved player showed the titles {titles}", titles=shown)
        self.assertIn(shown[0], self.titles, child.describe())
        self.assertIn(shown[-1], self.otherTitles, child.describe())

    @inlineCallbacks
    def test_widgetsAgreeWithStatus(self):
        """
        C{/7.html} and C{/currentsong} say what C{/status-json.xsl} says
        about the default mount, with a real player listening.
        """
        import json

        child = self.player(30)
        yield self.waitFor(lambda: self.stream.listenerCount == 1, 15, "the player to join")
        for _attempt in range(5):
            _, before = yield self.get("/status-json.xsl")
            _, seven = yield self.get("/7.html?sid=1")
            _, current = yield self.get("/currentsong?sid=1")
            _, after = yield self.get("/status-json.xsl")
            if before == after:
                break
            # A track changed between the requests: ask again.
        source = json.loads(before)["icestats"]["source"][0]
        self.assertTrue(source["listenurl"].endswith("/stream"), source)
        match = re.fullmatch(rb"<html><body>(.*)</body></html>", seven)
        self.assertIsNotNone(match, seven)
        fields = match.group(1).decode("utf-8").split(",", 6)
        self.assertEqual(int(fields[0]), source["listeners"])
        self.assertEqual(fields[0], "1")
        self.assertEqual(fields[1], "1")
        self.assertEqual(int(fields[5]), source["bitrate"])
        self.assertEqual(fields[6], source["title"])
        self.assertEqual(current.decode("utf-8"), source["title"])
        self.assertIn(source["title"], self.titles)
        child.kill()
