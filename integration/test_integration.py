"""
Integration tests: a radio running in the test process on the real reactor,
listened to over real sockets on 127.0.0.1 by real players (mpg123, ffmpeg)
and by raw TCP clients that see the exact bytes; and the C{twistd} plugin run
as a child process.

Tracks are made at test time with ffmpeg: short sine tones at different
pitches with distinct ID3 titles.  Every wait is on an event (bytes, a
closed connection, a process's end) bounded by a timeout; assertions are on
content, never on wall-clock speed.  A test is skipped where a program it
needs is not installed; CI installs mpg123 and ffmpeg (see C{.ci/run}).
"""

from __future__ import annotations

import os
import re
import sys

from twisted.internet import reactor
from twisted.internet.defer import Deferred, gatherResults, inlineCallbacks
from twisted.internet.task import deferLater
from twisted.logger import Logger, globalLogPublisher
from twisted.trial.unittest import TestCase

from integration._figures import recordFigure
from integration._realpeers import (
    CHECKOUT,
    ChildProcess,
    adoptSocket,
    childSignal,
    connectRaw,
    fetch,
    makeTracks,
    parseResponse,
    requireProgram,
    run,
    spawn,
    startRadio,
    titlesInOrder,
    withTimeout,
)
from txradio.sources.playlist import PlaylistSource
from txradio.sources.tracks import FolderTracks, demoTracks
from txradio.stream.station import Station

BYTES_PER_SECOND = 128000 // 8
"""Audio bytes a second at 128 kbps, the bitrate of the test and demo tracks."""

FRAMES_PER_SECOND = 44100 / 1152
"""MPEG-1 Layer III frames a second at 44.1 kHz."""

THREE_TRACKS = [
    ("Test Artist", "First Tone", 440, 3),
    ("Test Artist", "Second Tone", 660, 3),
    ("Other Artist", "Third Tone", 880, 3),
]
"""C{(artist, title, Hz, seconds)}: a short playlist with two boundaries."""

STREAM_REQUEST = b"GET /stream HTTP/1.0\r\nHost: 127.0.0.1\r\nUser-Agent: txradio-tests\r\n\r\n"
"""A player's request without ICY metadata."""

ICY_REQUEST = b"GET /stream HTTP/1.0\r\nHost: 127.0.0.1\r\nIcy-MetaData: 1\r\n\r\n"
"""A player's request asking for ICY metadata."""

_log = Logger()

PLAYER_TROUBLE = ("error", "resync", "illegal", "did not find", "warning")
"""Words in a player's output that mean it did not like the stream."""


def playlistStation(folder: str, **kwargs) -> Station:
    """
    A station on C{/stream} playing the tracks of a folder in order.

    @param folder: the music folder.
    @param kwargs: more arguments for L{Station}.
    @return: the station.
    """
    return Station(PlaylistSource(FolderTracks(folder), name="/stream"), mount="/stream", **kwargs)


def isFrameStart(data: bytes) -> bool:
    """
    @param data: bytes of a stream.
    @return: whether they start with an MPEG audio frame sync.
    """
    return len(data) >= 2 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0


class RadioTestCase(TestCase):
    """
    A test with a radio of one station on a free loopback port.

    @ivar port: the radio's port, once L{startStation} has fired.
    @ivar titles: the titles of the test tracks, in playlist order.
    """

    timeout = 60

    @inlineCallbacks
    def startStation(self, tracks=THREE_TRACKS, bitrate: int = 128, serviceOptions=None, **stationOptions):
        """
        Make test tracks and start a radio playing them.

        @param tracks: C{(artist, title, Hz, seconds)} for each track.
        @param bitrate: the tracks' bitrate in kbps.
        @param serviceOptions: more arguments for the L{RadioService}.
        @param stationOptions: more arguments for the L{Station}.
        @return: a L{Deferred} firing with the station once it listens.
        """
        folder = os.path.abspath(self.mktemp())
        self.titles = yield makeTracks(self, folder, tracks, bitrate)
        station = playlistStation(folder, **stationOptions)
        self.port = yield startRadio(self, [station], **(serviceOptions or {}))
        return station

    def url(self, path: str = "/stream") -> str:
        """
        @param path: a path on the radio.
        @return: its URL.
        """
        return f"http://127.0.0.1:{self.port}{path}"


class Mpg123Tests(RadioTestCase):
    """
    mpg123 plays the stream and shows its ICY titles.
    """

    def setUp(self):
        requireProgram("mpg123")
        return self.startStation(metaint=8192)

    @inlineCallbacks
    def test_titlesAcrossTracks(self):
        """
        mpg123 decodes across two track boundaries without a complaint and
        shows each track's title as its audio starts, in playlist order.
        """
        frames = int(7.8 * FRAMES_PER_SECOND)
        child = yield run(self, ["mpg123", "-v", "-n", str(frames), "-w", "/dev/null", self.url()], 40)
        self.assertEqual(child.exitCode, 0, child.describe())
        shown = re.findall(r"ICY-META: StreamTitle='([^']*)';", child.output)
        heard = titlesInOrder(shown)
        _log.info("mpg123 showed the titles {titles}", titles=heard)
        self.assertGreaterEqual(len(heard), 2, child.describe())
        self.assertEqual(heard, self.titles[: len(heard)], child.describe())
        self.assertIn("Decoding of stream finished", child.output)
        trouble = [word for word in PLAYER_TROUBLE if word in child.output.lower()]
        self.assertEqual(trouble, [], child.describe())


class FfmpegTests(RadioTestCase):
    """
    ffmpeg decodes the stream cleanly, with and without ICY metadata.
    """

    def setUp(self):
        requireProgram("ffmpeg")
        return self.startStation()

    @inlineCallbacks
    def test_decodesTenSeconds(self):
        """
        ffmpeg decodes 10 s of the stream across track boundaries and prints
        nothing at its error level: by default (when it asks for ICY
        metadata), with C{-icy 1} and with C{-icy 0}.
        """
        variants = [[], ["-icy", "1"], ["-icy", "0"]]
        children = yield gatherResults(
            [
                run(
                    self,
                    ["ffmpeg", "-nostdin", "-v", "error", *icy, "-t", "10", "-i", self.url(), "-f", "null", "-"],
                    40,
                )
                for icy in variants
            ]
        )
        for child in children:
            self.assertEqual((child.exitCode, child.err), (0, b""), child.describe())

    @inlineCallbacks
    def test_readsTitlesByDefault(self):
        """
        ffmpeg's HTTP client sends C{Icy-MetaData: 1} unless told
        C{-icy 0} and reads the titles out of the stream, so the default run
        above does decode a stream with metadata blocks in it.
        """
        child = yield run(
            self,
            ["ffmpeg", "-nostdin", "-v", "debug", "-t", "1", "-i", self.url(), "-f", "null", "-"],
            30,
        )
        self.assertEqual(child.exitCode, 0, child.describe())
        self.assertIn("Icy-MetaData: 1\r\n", child.output)
        self.assertIn(f"Metadata update for StreamTitle: {self.titles[0]}\n", child.output)
        self.assertIn("0 decoding errors", child.output)


class SharedStreamTests(TestCase):
    """
    Every listener hears the same stream; one who joins late hears now, not
    the start.
    """

    timeout = 60

    @inlineCallbacks
    def test_lateJoinerHearsNow(self):
        """
        With no burst, a listener who joins 10 s after another receives the
        bytes the first receives from then on, byte for byte, starting on a
        frame boundary where the first one was when it joined, not at the
        start (how far in, in seconds of audio, is a recorded figure).
        """
        station = Station(PlaylistSource(demoTracks(), name="/stream"), burstSize=0)
        port = yield startRadio(self, [station])
        early = yield connectRaw(self, port, STREAM_REQUEST)
        earlyHead = yield early.waitForHead(10)
        yield early.waitForBytes(earlyHead + 1, 10)
        yield deferLater(reactor, 10, lambda: None)
        earlyAtJoin = len(early.data) - earlyHead
        late = yield connectRaw(self, port, STREAM_REQUEST)
        lateHead = yield late.waitForHead(10)
        yield late.waitForBytes(lateHead + 3 * BYTES_PER_SECOND, 10)
        yield gatherResults([early.close(), late.close()])

        self.assertEqual(parseResponse(late.data)[0], b"HTTP/1.0 200 OK")
        earlyAudio = bytes(early.data[earlyHead:])
        lateAudio = bytes(late.data[lateHead:])
        self.assertTrue(isFrameStart(earlyAudio))
        self.assertTrue(isFrameStart(lateAudio))
        first = lateAudio[:4096]
        offset = earlyAudio.find(first)
        self.assertNotEqual(offset, -1, "the late listener's first bytes are not in the early one's stream")
        self.assertEqual(earlyAudio.find(first, offset + 1), -1, "the late listener's start is ambiguous")
        recordFigure(
            "late joiner",
            sleptSeconds=10,
            startedInto=round(offset / BYTES_PER_SECOND, 3),
            earlyHadAtJoin=round(earlyAtJoin / BYTES_PER_SECOND, 3),
        )
        # Now, not the start: the late listener's first byte is at or after
        # where the early one's stream stood when it joined, give or take
        # the frame the early one was reading (how far after depends on the
        # machine's speed, and is the figure above).
        self.assertGreaterEqual(
            offset,
            earlyAtJoin - 2 * 1044,
            f"the late listener started {offset / BYTES_PER_SECOND:.1f} s into the early one's stream, "
            f"which was {earlyAtJoin / BYTES_PER_SECOND:.1f} s in when it joined",
        )
        self.assertGreater(earlyAtJoin, 0)
        common = min(len(earlyAudio) - offset, len(lateAudio))
        self.assertGreaterEqual(common, 2 * BYTES_PER_SECOND)
        self.assertTrue(earlyAudio[offset : offset + common] == lateAudio[:common], "the streams differ")


class StalledListenerTests(RadioTestCase):
    """
    A listener who stops reading is dropped at the lag limit; the others
    play on.
    """

    @inlineCallbacks
    def test_stalledDroppedOthersPlayOn(self):
        """
        A client that never reads is disconnected once it falls a lag limit
        behind, while a reading client keeps receiving the stream and stays
        connected.
        """
        bitrate = 320
        yield self.startStation(
            [("Test Artist", "Loud Tone", 550, 6)],
            bitrate=bitrate,
            lagLimit=32768,
            serviceOptions={"sendBufferSize": 4096},
        )
        dropped: list[str] = []
        stalledPeer: list[str] = []
        whenDropped: Deferred = Deferred()

        def observe(event):
            if event.get("reason") == "lag limit" and "peer" in event:
                dropped.append(event["peer"])
                if stalledPeer and stalledPeer[0] in dropped and not whenDropped.called:
                    whenDropped.callback(None)

        globalLogPublisher.addObserver(observe)
        self.addCleanup(globalLogPublisher.removeObserver, observe)

        healthy = yield connectRaw(self, self.port, STREAM_REQUEST)
        yield healthy.waitForHead(10)
        stalled = adoptSocket(self, self.port, STREAM_REQUEST, receiveBuffer=4096)
        stalled.transport.pauseProducing()
        stalledPeer.append(f"127.0.0.1:{stalled.transport.getHost().port}")

        yield withTimeout(whenDropped, 30, "the stalled listener to be dropped")
        self.assertEqual(dropped, stalledPeer)
        # Read what the kernel kept for it: then the closed connection shows.
        stalled.transport.resumeProducing()
        yield stalled.waitForClose(10)
        afterDrop = len(healthy.data)
        yield healthy.waitForBytes(afterDrop + 2 * bitrate * 1000 // 8, 10)
        self.assertIsNone(healthy.lost)


class HTTPErrorTests(RadioTestCase):
    """
    Requests the radio refuses get the right status over a real socket, and
    the connection closes at once.
    """

    def setUp(self):
        # A header timeout far beyond the waits below: a close within them
        # is the refusal's, never the timeout's.
        return self.startStation(maxListeners=1, serviceOptions={"headerTimeout": 45})

    @inlineCallbacks
    def refused(self, request: bytes, code: int):
        """
        Send a request and check it is refused.

        @param request: the bytes to send.
        @param code: the status expected.
        @return: a L{Deferred} firing with C{(headers, body)}.
        """
        reply = yield fetch(self, self.port, request, 10)
        status, headers, body = parseResponse(reply)
        self.assertRegex(status, rb"^HTTP/1\.[01] %d " % (code,))
        return headers, body

    @inlineCallbacks
    def test_postStream(self):
        """
        C{POST} to a mount is refused with 405 and the methods allowed.
        """
        headers, body = yield self.refused(
            b"POST /stream HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n", 405
        )
        self.assertEqual(headers[b"allow"], b"GET, HEAD, OPTIONS")
        self.assertEqual(int(headers[b"content-length"]), len(body))

    @inlineCallbacks
    def test_unknownPath(self):
        """
        A path that is neither a mount nor a page gets 404.
        """
        yield self.refused(b"GET /no-such-thing HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", 404)

    @inlineCallbacks
    def test_longURL(self):
        """
        A 20000-byte request target gets 414.
        """
        yield self.refused(b"GET /" + b"a" * 20000 + b" HTTP/1.0\r\n\r\n", 414)

    @inlineCallbacks
    def test_manyHeaders(self):
        """
        A request with 200 header fields gets 431.
        """
        fields = b"".join(b"X-Field-%d: value\r\n" % (n,) for n in range(200))
        yield self.refused(b"GET /stream HTTP/1.0\r\n" + fields + b"\r\n", 431)

    @inlineCallbacks
    def test_garbage(self):
        """
        Bytes that are not HTTP (a TLS handshake, binary junk on a line) get
        400 and the connection closes at once, not at the header timeout.
        """
        yield self.refused(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(32)), 400)
        yield self.refused(b"\x00\x01garbage\xff\r\n\r\n", 400)

    @inlineCallbacks
    def test_head(self):
        """
        C{HEAD} on a mount gets the stream's head with its ICY headers and
        no body.
        """
        reply = yield fetch(self, self.port, ICY_REQUEST.replace(b"GET ", b"HEAD "), 10)
        status, headers, body = parseResponse(reply)
        self.assertEqual(status, b"HTTP/1.0 200 OK")
        self.assertEqual(headers[b"content-type"], b"audio/mpeg")
        self.assertEqual(headers[b"icy-name"], b"txradio")
        self.assertEqual(headers[b"icy-br"], b"128")
        self.assertEqual(headers[b"icy-metaint"], b"16000")
        self.assertEqual(body, b"")

    @inlineCallbacks
    def test_full(self):
        """
        When the station has all the listeners it may, the next gets 503;
        the one listening keeps its stream.
        """
        first = yield connectRaw(self, self.port, STREAM_REQUEST)
        head = yield first.waitForHead(10)
        self.assertEqual(parseResponse(first.data)[0], b"HTTP/1.0 200 OK")
        headers, body = yield self.refused(STREAM_REQUEST, 503)
        self.assertIn(b"retry-after", headers)
        yield first.waitForBytes(head + BYTES_PER_SECOND, 10)
        self.assertIsNone(first.lost)


class PlaylistTests(RadioTestCase):
    """
    Playlist files point players at the stream by the host they asked.
    """

    def setUp(self):
        return self.startStation()

    @inlineCallbacks
    def playlist(self, path: bytes, contentType: bytes):
        """
        Fetch a playlist with C{Host: radio.example:8000}.

        @param path: the playlist's path.
        @param contentType: the media type expected.
        @return: a L{Deferred} firing with the body.
        """
        reply = yield fetch(self, self.port, b"GET %s HTTP/1.0\r\nHost: radio.example:8000\r\n\r\n" % (path,))
        status, headers, body = parseResponse(reply)
        self.assertRegex(status, rb"^HTTP/1\.[01] 200 ")
        self.assertEqual(headers[b"content-type"].split(b";")[0].strip(), contentType)
        return body

    @inlineCallbacks
    def test_m3u(self):
        """
        C{/stream.m3u} is an M3U playlist of the stream's URL.
        """
        body = yield self.playlist(b"/stream.m3u", b"audio/x-mpegurl")
        self.assertIn(b"\nhttp://radio.example:8000/stream\r\n", body)

    @inlineCallbacks
    def test_pls(self):
        """
        C{/stream.pls} and SHOUTcast's C{/listen.pls} are PLS playlists of
        the stream's URL.
        """
        for path in (b"/stream.pls", b"/listen.pls"):
            body = yield self.playlist(path, b"audio/x-scpls")
            self.assertIn(b"File1=http://radio.example:8000/stream\r\n", body)


class Mpg123PlaylistTests(RadioTestCase):
    """
    mpg123 plays the M3U file's entries in turn, every one an MP3 stream.
    """

    def setUp(self):
        requireProgram("mpg123")
        return self.startStation()

    @inlineCallbacks
    def test_m3u(self):
        """
        C{mpg123 -@ …/stream.m3u} decodes every entry without a decoder
        error: the file lists no HLS playlist for it to take for MP3.
        """
        host = b"Host: 127.0.0.1:%d\r\n\r\n" % (self.port,)
        status, _, body = parseResponse((yield fetch(self, self.port, b"GET /stream.m3u HTTP/1.0\r\n" + host)))
        self.assertRegex(status, rb"^HTTP/1\.[01] 200 ")
        entries = [line for line in body.split(b"\r\n") if line and not line.startswith(b"#")]
        self.assertEqual(entries, [self.url().encode("ascii")])
        self.assertNotIn(b".m3u8", body)
        # The radio does serve HLS: its XSPF file lists the HLS playlist.
        _, _, xspf = parseResponse((yield fetch(self, self.port, b"GET /stream.xspf HTTP/1.0\r\n" + host)))
        self.assertIn(b"/stream.m3u8</location>", xspf)
        child = yield run(self, ["mpg123", "-v", "-n", "40", "-w", "/dev/null", "-@", self.url("/stream.m3u")], 40)
        _log.info("mpg123 -@ said: {output}", output=child.output)
        self.assertEqual(child.exitCode, 0, child.describe())
        self.assertIn("Decoding of stream finished", child.output)
        trouble = [word for word in ("error", "illegal", "giving up") if word in child.output.lower()]
        self.assertEqual(trouble, [], child.describe())


class TwistdPluginTests(TestCase):
    """
    The C{txradio} plugin, run by Twisted's runner as a child process from
    the checkout, serves a station and shuts down cleanly.
    """

    timeout = 60

    def launch(self, *options: str) -> ChildProcess:
        """
        Start C{python -m twisted txradio} on a free loopback port.

        @param options: the plugin's options.
        @return: the child process.
        """
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        env.pop("PYTHONPATH", None)
        args = [sys.executable, "-m", "twisted", "--log-format=text", "txradio"]
        args += ["--listen", "tcp:0:interface=127.0.0.1", *options]
        # From the checkout's root, as a developer runs it: the checkout's
        # txradio and twisted/plugins come first on sys.path.
        return spawn(self, args, 50, path=CHECKOUT, env=env)

    @inlineCallbacks
    def listening(self, child: ChildProcess):
        """
        Wait until the child's port listens.

        @param child: the child process.
        @return: a L{Deferred} firing with the port number.
        """
        match = yield child.waitForOutput(r"starting on (\d+)", 30)
        return int(match.group(1))

    @inlineCallbacks
    def stopCleanly(self, child: ChildProcess):
        """
        Send SIGTERM and check the process shuts down cleanly within 10 s.

        Twisted's runners stop the reactor on SIGTERM and then, once
        everything has stopped, end the process with that same signal so
        that a supervisor sees why it ended: so the process ends either with
        status 0 or by SIGTERM after the reactor's clean shutdown.

        @param child: the running process.
        """
        child.kill("TERM")
        yield withTimeout(child.whenEnded(), 10, "the radio to exit after SIGTERM")
        self.assertFalse(child.timedOut, child.describe())
        cleanly = child.exitCode == 0 or (
            child.signal == childSignal("TERM") and "Main loop terminated." in child.output
        )
        self.assertTrue(cleanly, child.describe())
        self.assertNotIn("Traceback", child.output, child.describe())
        self.assertNotIn("Unhandled", child.output, child.describe())

    @inlineCallbacks
    def test_musicFolder(self):
        """
        With C{--music-dir} and C{--name}, the radio announces the name and
        mpg123 plays the folder's first track, with its title.
        """
        requireProgram("mpg123")
        folder = os.path.abspath(self.mktemp())
        titles = yield makeTracks(self, folder, THREE_TRACKS)
        child = self.launch("--music-dir", folder, "--name", "Test FM")
        port = yield self.listening(child)
        client = yield connectRaw(self, port, ICY_REQUEST)
        yield client.waitForHead(10)
        status, headers, _ = parseResponse(client.data)
        self.assertEqual((status, headers[b"icy-name"]), (b"HTTP/1.0 200 OK", b"Test FM"))
        yield client.close()
        player = yield run(self, ["mpg123", "-v", "-n", "40", "-w", "/dev/null", f"http://127.0.0.1:{port}/stream"], 30)
        self.assertEqual(player.exitCode, 0, player.describe())
        self.assertIn(f"ICY-META: StreamTitle='{titles[0]}';", player.output, player.describe())
        self.assertIn("ICY-NAME: Test FM", player.output, player.describe())
        yield self.stopCleanly(child)

    @inlineCallbacks
    def test_demo(self):
        """
        Without C{--music-dir}, the radio says it plays the built-in demo
        playlist and streams it.
        """
        child = self.launch()
        port = yield self.listening(child)
        self.assertIn("demo", child.output)
        client = yield connectRaw(self, port, STREAM_REQUEST)
        head = yield client.waitForHead(10)
        yield client.waitForBytes(head + BYTES_PER_SECOND, 10)
        self.assertEqual(parseResponse(client.data)[1][b"icy-name"], b"txradio")
        self.assertTrue(isFrameStart(client.data[head:]))
        yield client.close()
        yield self.stopCleanly(child)

    @inlineCallbacks
    def test_missingFolder(self):
        """
        A C{--music-dir} that does not exist stops the radio at once with a
        non-zero status and a message naming the folder.
        """
        folder = "/nonexistent/txradio-integration-test"
        child = yield run(self, [sys.executable, "-m", "twisted", "txradio", "--music-dir", folder], 30, path=CHECKOUT)
        self.assertNotIn(child.exitCode, (0, None), child.describe())
        self.assertIn(folder, child.output)
        self.assertNotIn("Traceback", child.output, child.describe())
