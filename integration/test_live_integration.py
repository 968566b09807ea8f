"""
Integration tests of live sources, fallbacks, relays and pushes with real
programs over 127.0.0.1: ffmpeg broadcasts to txradio as an Icecast source
client (C{PUT} and the legacy C{SOURCE}), a raw client speaks the SHOUTcast v1
source protocol, mpg123 listens, decoding to raw PCM, one txradio relays
another, and a txradio mount is pushed to a real C{icecast2}.

What a listener hears is told apart by pitch: the playlists play sine tones
made by ffmpeg (440 Hz, 660 Hz, 880 Hz) and the live sources a 1000 Hz tone
(or, in the stale burst test, two shows at 600 Hz and 1400 Hz, a recording
of which ffmpeg decodes).
mpg123 decodes the stream to 8 kHz mono PCM on its standard output; every
0.1 s window of it is classified with a small Goertzel filter, so a test
waits for "a second of 1000 Hz" rather than for a time.  mpg123's C{-v}
output gives the ICY titles on the same connection.

Every wait is on an event (PCM or text from a child, bytes on a socket, a
process's end), bounded by a timeout; the only polling is of Icecast's
status page and of its port coming up, each bounded too.  A test is skipped
when a program it needs is missing; CI installs ffmpeg, mpg123 and icecast2.
"""

from __future__ import annotations

import base64
import json
import math
import os
import pwd
import re
import shutil
import socket
import tempfile
from array import array

from twisted.internet import reactor
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.protocol import Protocol
from twisted.internet.task import LoopingCall, deferLater
from twisted.logger import formatEvent, globalLogPublisher
from twisted.trial.unittest import TestCase

from integration._realpeers import (
    LOCAL_ENDPOINT,
    ChildProcess,
    Timeout,
    connectRaw,
    fetch,
    makeTrack,
    makeTracks,
    parseResponse,
    requireProgram,
    run,
    spawn,
    titlesInOrder,
    withTimeout,
)
from txradio.net.push import PushClient
from txradio.service import RadioService
from txradio.sources.playlist import PlaylistSource
from txradio.sources.relay import RelaySource
from txradio.sources.tracks import FolderTracks
from txradio.stream.station import Station

PASSWORD = "hackme-live"
"""The source password of the test mounts."""

PLAYLIST_HZ = 440
"""The tone the test playlists play."""

LIVE_HZ = 1000
"""The tone the live sources send."""

FALLBACK_HZ = 880
"""The tone of the edge's local fallback in the relay test."""

SECOND_HZ = 660
"""The tone of the origin's second track in the relay test."""

TONES = (PLAYLIST_HZ, SECOND_HZ, FALLBACK_HZ, LIVE_HZ)
"""The tones a listener is asked to tell apart."""

RATE = 8000
"""The sample rate mpg123 decodes to (mono, signed 16 bit)."""

WINDOW = RATE // 10
"""Samples in one analysis window: 0.1 s, a 10 Hz Goertzel bin width."""

RUN = 10
"""Windows in a row (1 s of audio) that make a tone "heard"."""

LIVE_TITLE = "Live Show"
"""The C{ice-name} the live sources announce; txradio shows it as the title."""

PLAYLIST_TRACK = ("Test Artist", "Playlist Tone", PLAYLIST_HZ, 30)
"""C{(artist, title, Hz, seconds)}: the playlist of the live tests."""

PLAYLIST_TITLE = "Test Artist - Playlist Tone"


# --- telling tones apart ----------------------------------------------------


def toneShare(samples, frequency: float, rate: int = RATE) -> float:
    """
    The share of a window's energy at one frequency, by the Goertzel
    algorithm.

    @param samples: the window's samples.
    @param frequency: the frequency in Hz.
    @param rate: the sample rate.
    @return: about 1.0 for a pure tone at C{frequency}, about 0.0 for a tone
        elsewhere or for silence.
    """
    n = len(samples)
    coefficient = 2 * math.cos(2 * math.pi * round(n * frequency / rate) / n)
    previous = before = 0.0
    energy = 0.0
    for x in samples:
        previous, before = x + coefficient * previous - before, previous
        energy += x * x
    if energy == 0:
        return 0.0
    power = previous * previous + before * before - coefficient * previous * before
    return 2 * power / (n * energy)


def classify(samples) -> int | None:
    """
    Say which test tone a window holds.

    @param samples: one window of samples.
    @return: the frequency of L{TONES} holding most of the energy, or
        L{None} for silence, a mix or anything else.
    """
    if max(samples) - min(samples) < 200:
        return None
    shares = {frequency: toneShare(samples, frequency) for frequency in TONES}
    best = max(shares, key=shares.get)
    return best if shares[best] > 0.6 else None


class ToneListener(ChildProcess):
    """
    mpg123 listening to a stream, decoding it to 8 kHz mono PCM: each 0.1 s
    window is classified as it arrives, and the ICY titles it shows are
    collected.

    @ivar tones: for each window so far, its tone or L{None}.
    @ivar titles: the C{StreamTitle}s mpg123 showed, in order.
    """

    def __init__(self, args, timeout: float) -> None:
        ChildProcess.__init__(self, args, timeout)
        self.tones: list[int | None] = []
        self.titles: list[str] = []
        self._pcm = bytearray()
        self._text = ""

    def outReceived(self, data: bytes) -> None:
        # The PCM is analysed, not kept.
        self._pcm += data
        size = WINDOW * 2
        whole = len(self._pcm) - len(self._pcm) % size
        if not whole:
            return
        samples = array("h")
        samples.frombytes(bytes(self._pcm[:whole]))
        del self._pcm[:whole]
        for start in range(0, len(samples), WINDOW):
            self.tones.append(classify(samples[start : start + WINDOW]))
        self._waiters.check()

    def errReceived(self, data: bytes) -> None:
        # mpg123 -v redraws a progress line many times a second: keep the
        # other lines only.
        self._text += data.decode("utf-8", "replace")
        *lines, self._text = re.split(r"[\r\n]", self._text)
        kept = [line for line in lines if line and not line.startswith("> ")]
        for line in kept:
            match = re.match(r"ICY-META: StreamTitle='(.*)';", line)
            if match:
                self.titles.append(match.group(1))
        if kept:
            self.err += ("\n".join(kept) + "\n").encode("utf-8")
        self._waiters.check()

    def heard(self) -> str:
        """
        @return: the tones heard, as runs, e.g. C{"440x52 1000x31 440x12"},
            and the titles shown, for failure messages.
        """
        runs: list[list] = []
        for tone in self.tones:
            if runs and runs[-1][0] == tone:
                runs[-1][1] += 1
            else:
                runs.append([tone, 1])
        tones = " ".join(f"{tone or '-'}x{count}" for tone, count in runs)
        return f"tones {tones}; titles {titlesInOrder(self.titles)}"

    def findRun(self, frequency: int, start: int = 0, length: int = RUN) -> int | None:
        """
        @param frequency: a tone.
        @param start: the first window to look at.
        @param length: windows in a row wanted.
        @return: the index just after the first run of C{length} windows of
            C{frequency} from C{start}, or L{None}.
        """
        count = 0
        for index in range(start, len(self.tones)):
            count = count + 1 if self.tones[index] == frequency else 0
            if count == length:
                return index + 1
        return None

    def waitForTone(self, frequency: int, seconds: float, start: int = 0, length: int = RUN) -> Deferred:
        """
        Wait until mpg123 has decoded C{length} windows in a row of a tone.

        @param frequency: the tone.
        @param seconds: the time allowed.
        @param start: the first window that counts.
        @param length: windows in a row.
        @return: a L{Deferred} firing with the window index just after the
            run.
        """
        return self._waiters.wait(
            lambda: self.findRun(frequency, start, length),
            seconds,
            f"{length / 10:.1f} s of {frequency} Hz from {start / 10:.1f} s (heard {self.heard()})",
        )

    def waitForTitle(self, title: str, seconds: float, start: int = 0) -> Deferred:
        """
        Wait until mpg123 shows a title.

        @param title: the C{StreamTitle}.
        @param seconds: the time allowed.
        @param start: the first of L{titles} that counts.
        @return: a L{Deferred} firing with the index after it in L{titles}.
        """

        def shown():
            for index in range(start, len(self.titles)):
                if self.titles[index] == title:
                    return index + 1
            return None

        return self._waiters.wait(shown, seconds, f"the title {title!r} (heard {self.heard()})")


def listen(testCase, url: str, timeout: float = 80) -> ToneListener:
    """
    Start mpg123 on a stream, decoding to PCM for L{ToneListener}.

    @param testCase: the running test; mpg123 is killed at its end.
    @param url: the stream.
    @param timeout: seconds before it is killed.
    @return: the L{ToneListener}.
    """
    executable = requireProgram("mpg123")
    args = ["mpg123", "-v", "--no-control", "-s", "-m", "-r", str(RATE), "-e", "s16", url]
    child = ToneListener(args, timeout)
    env = dict(os.environ, LC_ALL="C.UTF-8")
    reactor.spawnProcess(child, executable, args, env=env)
    testCase.addCleanup(child.stop)
    return child


# --- sources ------------------------------------------------------------------


def ffmpegSource(
    testCase,
    port: int,
    mount: str = "/stream",
    password: str = PASSWORD,
    legacy: bool = False,
    timeout: float = 60,
    frequency: int = LIVE_HZ,
    seconds: float | None = None,
) -> ChildProcess:
    """
    Start ffmpeg broadcasting a tone (1000 Hz by default) in real time to a
    mount, as an Icecast source client.

    @param testCase: the running test; ffmpeg is killed at its end.
    @param port: the radio's port.
    @param mount: the mount.
    @param password: the source password to give.
    @param legacy: use the C{SOURCE} method instead of C{PUT}.
    @param timeout: seconds before it is killed.
    @param frequency: the tone in Hz.
    @param seconds: how long the tone lasts before ffmpeg ends (and
        disconnects); by default it never ends.
    @return: the child process.
    """
    duration = "" if seconds is None else f":duration={seconds}"
    args = [
        "ffmpeg", "-nostdin", "-hide_banner", "-v", "warning", "-re",
        "-f", "lavfi", "-i", f"sine=frequency={frequency}:sample_rate=44100{duration}",
        "-c:a", "libmp3lame", "-b:a", "128k", "-ar", "44100", "-ac", "2",
        "-content_type", "audio/mpeg", "-ice_name", LIVE_TITLE,
        *(["-legacy_icecast", "1"] if legacy else []),
        "-f", "mp3", f"icecast://source:{password}@127.0.0.1:{port}{mount}",
    ]  # fmt: skip
    return spawn(testCase, args, timeout)


class ShoutcastEncoder(Protocol):
    """
    A SHOUTcast v1 source client, as old encoders are: it sends the
    password line, waits for C{OK2}, sends its C{icy-*} lines and a blank
    line, then MP3 bytes paced in real time.

    @ivar received: what the server said.
    """

    def __init__(self, password: str, audio: bytes, bytesPerSecond: int, headers: list[str]) -> None:
        """
        @param password: the source password.
        @param audio: the MP3 file to send.
        @param bytesPerSecond: its bitrate in bytes.
        @param headers: the C{icy-*} lines.
        """
        self.received = b""
        self._password = password
        self._audio = audio
        self._sent = 0
        self._step = bytesPerSecond // 10
        self._headers = headers
        self._pacer = LoopingCall(self._send)
        self._ok: Deferred = Deferred()
        self.closed: Deferred = Deferred()

    def connectionMade(self) -> None:
        self.transport.write(self._password.encode() + b"\r\n")

    def dataReceived(self, data: bytes) -> None:
        self.received += data
        if b"OK2" in self.received and not self._ok.called:
            self._ok.callback(None)

    def connectionLost(self, reason=None) -> None:
        self.stop()
        if not self._ok.called:
            self._ok.errback(Timeout(f"the server closed the SHOUTcast source: {self.received!r}"))
        self.closed.callback(self.received)

    def start(self, seconds: float) -> Deferred:
        """
        Wait for C{OK2}, then send the header lines and start the audio.

        @param seconds: the time allowed for C{OK2}.
        @return: a L{Deferred} firing once the audio has started.
        """

        def ok(_):
            self.transport.write("".join(line + "\r\n" for line in self._headers).encode() + b"\r\n")
            self._pacer.start(0.1, now=True)

        what = f"OK2 from the SHOUTcast source port (got {self.received!r})"
        return withTimeout(self._ok, seconds, what).addCallback(ok)

    def _send(self) -> None:
        if self._sent >= len(self._audio):
            self._sent = 0  # loop the file
        chunk = self._audio[self._sent : self._sent + self._step]
        self._sent += len(chunk)
        self.transport.write(chunk)

    def stop(self) -> None:
        """
        Stop sending.
        """
        if self._pacer.running:
            self._pacer.stop()

    def hangUp(self) -> Deferred:
        """
        Stop and close the connection.

        @return: a L{Deferred} firing once it is closed.
        """
        self.stop()
        if not self.closed.called:
            self.transport.loseConnection()
        return withTimeout(self.closed, 10, "the SHOUTcast source connection to close")


# --- radios, logs, polling ----------------------------------------------------


def startService(testCase, stations, listen=(LOCAL_ENDPOINT,), **kwargs) -> Deferred:
    """
    Start a L{RadioService}, stopped at the end of the test unless the test
    stopped it.

    @param testCase: the running test.
    @param stations: its stations.
    @param listen: its listener endpoints.
    @param kwargs: more arguments for L{RadioService}.
    @return: a L{Deferred} firing with C{(service, [port numbers])}: the
        listener ports, then the SHOUTcast source ports.
    """
    service = RadioService(stations, listen=list(listen), **kwargs)
    service.startService()
    testCase.addCleanup(lambda: service.stopService() if service.running else None)
    return withTimeout(service.whenListening(), 10, "the radio's ports").addCallback(
        lambda ports: (service, [p.getHost().port for p in ports])
    )


def playlistStation(folder: str, mount: str = "/stream", **kwargs) -> Station:
    """
    @param folder: a folder of tracks.
    @param mount: the mount.
    @param kwargs: more arguments for L{Station}.
    @return: a station playing the folder in order, looping.
    """
    return Station(PlaylistSource(FolderTracks(folder), name=mount), mount=mount, **kwargs)


def captureLog(testCase) -> list[str]:
    """
    Collect the text of every log event until the test ends.

    @param testCase: the running test.
    @return: the list the texts are appended to.
    """
    texts: list[str] = []

    def observe(event):
        texts.append(formatEvent(event))

    globalLogPublisher.addObserver(observe)
    testCase.addCleanup(globalLogPublisher.removeObserver, observe)
    return texts


def basicAuth(user: str, password: str) -> bytes:
    """
    @return: an C{Authorization} header line for HTTP Basic.
    """
    return b"Authorization: Basic " + base64.b64encode(f"{user}:{password}".encode()) + b"\r\n"


@inlineCallbacks
def pollUntil(check, seconds: float, what: str, interval: float = 0.2):
    """
    Call C{check} (which may return a L{Deferred}) until it gives a true
    value, at an interval, within a time limit.  For state only readable by
    asking (a port coming up, Icecast's status page).

    @param check: returns the value, or something false to try again.
    @param seconds: the time allowed.
    @param what: what is awaited, for the failure message.
    @param interval: seconds between attempts.
    @return: a L{Deferred} firing with the first true value.
    """
    deadline = reactor.seconds() + seconds
    last = None
    while True:
        try:
            value = yield check()
        except Timeout:
            raise
        except Exception as error:  # noqa: BLE001 - reported if it never works
            value, last = None, error
        if value:
            return value
        if reactor.seconds() >= deadline:
            raise Timeout(f"{what}: not after {seconds} s (last error: {last})")
        yield deferLater(reactor, interval, lambda: None)


def freePort() -> int:
    """
    @return: a TCP port on 127.0.0.1 free just now (for a program that
        cannot be told to pick one and say which).
    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def logTail(path: str) -> str:
    """
    @return: the end of a log file, or a note that it is missing.
    """
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()[-3000:]
    except OSError as error:
        return f"({error})"


# --- the tests ----------------------------------------------------------------


class LiveSourceTests(TestCase):
    """
    Real source clients go live on a mount whose playlist plays 440 Hz; one
    mpg123 listener hears the live tone, then the playlist again, on one
    connection.
    """

    timeout = 90

    @inlineCallbacks
    def setUp(self):
        requireProgram("ffmpeg")
        requireProgram("mpg123")
        folder = os.path.abspath(self.mktemp())
        yield makeTracks(self, folder, [PLAYLIST_TRACK])
        self.station = playlistStation(folder, sourcePassword=PASSWORD)
        self.service, ports = yield startService(
            self,
            [self.station],
            listen=[LOCAL_ENDPOINT],
            shoutcastSources=[(LOCAL_ENDPOINT, self.station)],
        )
        self.port, self.shoutcastPort = ports
        self.url = f"http://127.0.0.1:{self.port}/stream"

    def assertStillConnected(self, listener: ToneListener) -> None:
        """
        The listener never left: mpg123 still runs and the mount has served
        exactly one listener, connected now.
        """
        self.assertTrue(listener.running, listener.describe())
        self.assertEqual(
            (self.station.totalListeners, self.station.listenerCount), (1, 1), listener.heard()
        )

    @inlineCallbacks
    def goLiveAndBack(self, legacy: bool):
        """
        mpg123 hears the playlist; ffmpeg goes live and mpg123 hears the
        live tone and title; ffmpeg is killed and mpg123, on the same
        connection, hears the playlist and its title again.

        @param legacy: whether ffmpeg uses C{SOURCE} instead of C{PUT}.
        """
        listener = listen(self, self.url)
        before = yield listener.waitForTone(PLAYLIST_HZ, 15)
        yield listener.waitForTitle(PLAYLIST_TITLE, 15)
        source = ffmpegSource(self, self.port, legacy=legacy)
        live = yield listener.waitForTone(LIVE_HZ, 20, start=before, length=2 * RUN)
        titleAt = yield listener.waitForTitle(LIVE_TITLE, 15)
        self.assertTrue(source.running, source.describe())
        self.assertTrue(self.station.liveSource.connected)
        self.assertEqual(self.station.currentInfo.name, LIVE_TITLE)
        # SIGKILL: no goodbye, most likely in the middle of a frame.
        source.kill("KILL")
        yield withTimeout(source.whenEnded(), 10, "ffmpeg to die")
        yield listener.waitForTone(PLAYLIST_HZ, 20, start=live)
        yield listener.waitForTitle(PLAYLIST_TITLE, 15, start=titleAt)
        self.assertStillConnected(listener)
        self.assertEqual(
            titlesInOrder(listener.titles)[:3], [PLAYLIST_TITLE, LIVE_TITLE, PLAYLIST_TITLE], listener.heard()
        )

    def test_putLiveAndBack(self):
        """
        ffmpeg's icecast output (C{PUT}, the default) goes live and, once
        killed, the listener hears the playlist again without a disconnect.
        """
        return self.goLiveAndBack(legacy=False)

    def test_legacySourceLiveAndBack(self):
        """
        The same with C{ffmpeg -legacy_icecast 1}, which uses the old
        C{SOURCE} method.
        """
        return self.goLiveAndBack(legacy=True)

    @inlineCallbacks
    def test_wrongPassword(self):
        """
        ffmpeg with a wrong password exits with an error saying 401, the
        radio logs the failed login, and the listener goes on hearing the
        playlist on its connection, never the live tone.
        """
        log = captureLog(self)
        listener = listen(self, self.url)
        yield listener.waitForTone(PLAYLIST_HZ, 15)
        source = ffmpegSource(self, self.port, password="not-" + PASSWORD)
        yield withTimeout(source.whenEnded(), 20, "ffmpeg to give up")
        self.assertNotIn(source.exitCode, (0, None), source.describe())
        self.assertIn(401, source.httpStatuses, source.describe())
        self.assertTrue(
            any("failed source login on /stream from 127.0.0.1" in text for text in log), "\n".join(log[-20:])
        )
        after = len(listener.tones)
        yield listener.waitForTone(PLAYLIST_HZ, 15, start=after)
        self.assertNotIn(LIVE_HZ, listener.tones, listener.heard())
        self.assertIsNone(self.station.liveSource)
        self.assertStillConnected(listener)

    @inlineCallbacks
    def test_metadataUpdateWhileLive(self):
        """
        While ffmpeg is live, an Icecast metadata update with the source
        credentials (and a UTF-8 title) reaches mpg123's C{ICY-META} line.
        """
        listener = listen(self, self.url)
        source = ffmpegSource(self, self.port)
        yield listener.waitForTone(LIVE_HZ, 20)
        titleAt = yield listener.waitForTitle(LIVE_TITLE, 15)
        title = "Caf\u00e9 Ol\u00e9 at Noon"
        reply = yield fetch(
            self,
            self.port,
            b"GET /admin/metadata?mount=/stream&mode=updinfo&song=Caf%C3%A9+Ol%C3%A9+at+Noon HTTP/1.0\r\n"
            b"Host: 127.0.0.1\r\nUser-Agent: test-encoder\r\n" + basicAuth("source", PASSWORD) + b"\r\n",
        )
        status, _, body = parseResponse(reply)
        self.assertEqual(status, b"HTTP/1.0 200 OK", reply)
        self.assertIn(b"<return>1</return>", body)
        yield listener.waitForTitle(title, 15, start=titleAt)
        # Still the live source, still the same connection.
        self.assertTrue(source.running, source.describe())
        self.assertIn(LIVE_HZ, listener.tones[-10:], listener.heard())
        self.assertStillConnected(listener)

    @inlineCallbacks
    def test_shoutcastV1Source(self):
        """
        A SHOUTcast v1 encoder (password line, C{OK2}, C{icy-*} lines, then
        MP3 in real time) goes live on the SHOUTcast source port: the
        listener hears its tone and its name as the title; a SHOUTcast
        C{/admin.cgi} update changes the title; when the encoder hangs up,
        the playlist comes back on the same connection.
        """
        folder = os.path.abspath(self.mktemp())
        os.makedirs(folder)
        # A file with an ID3 tag up front: the radio must skip it to find
        # the frames.
        path = yield makeTrack(self, os.path.join(folder, "live.mp3"), "Encoder Tone", "Encoder", LIVE_HZ, 20)
        with open(path, "rb") as f:
            audio = f.read()
        listener = listen(self, self.url)
        before = yield listener.waitForTone(PLAYLIST_HZ, 15)
        encoder = ShoutcastEncoder(
            PASSWORD, audio, 128000 // 8, ["icy-name:Old Encoder Show", "icy-genre:Test", "icy-pub:0", "icy-br:128"]
        )
        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", self.shoutcastPort, timeout=10)
        yield connectProtocol(endpoint, encoder)
        self.addCleanup(encoder.hangUp)
        yield encoder.start(10)
        self.assertTrue(encoder.received.startswith(b"OK2\r\n"), encoder.received)
        live = yield listener.waitForTone(LIVE_HZ, 20, start=before, length=2 * RUN)
        titleAt = yield listener.waitForTitle("Old Encoder Show", 15)

        reply = yield fetch(
            self,
            self.port,
            b"GET /admin.cgi?pass=" + PASSWORD.encode() + b"&mode=updinfo&song=Encoder+Update HTTP/1.0\r\n"
            b"Host: 127.0.0.1\r\nUser-Agent: Mozilla/3.0 (compatible)\r\n\r\n",
        )
        self.assertEqual(parseResponse(reply)[0], b"HTTP/1.0 200 OK", reply)
        titleAt = yield listener.waitForTitle("Encoder Update", 15, start=titleAt)

        yield encoder.hangUp()
        yield listener.waitForTone(PLAYLIST_HZ, 20, start=live)
        yield listener.waitForTitle(PLAYLIST_TITLE, 15, start=titleAt)
        self.assertStillConnected(listener)


class MountEnumerationTests(TestCase):
    """
    ffmpeg as a source client learns nothing about mounts without the right
    password: a wrong one gets 401 on a mount that exists and on one that
    does not.
    """

    timeout = 60

    @inlineCallbacks
    def setUp(self):
        requireProgram("ffmpeg")
        self.station = Station(None, mount="/live", sourcePassword=PASSWORD)
        _, (self.port,) = yield startService(self, [self.station])

    @inlineCallbacks
    def push(self, mount: str, password: str) -> Deferred:
        """
        Run ffmpeg as a source client on a mount until it gives up.

        @return: a L{Deferred} firing with the ended L{ChildProcess}.
        """
        source = ffmpegSource(self, self.port, mount=mount, password=password, timeout=30)
        yield withTimeout(source.whenEnded(), 20, "ffmpeg to give up")
        self.assertNotIn(source.exitCode, (0, None), source.describe())
        return source

    @inlineCallbacks
    def test_wrongPassword(self):
        """
        ffmpeg with a wrong password fails with 401 on the mount that
        exists and on one that does not, never with 404; with the right
        password, the mount that does not exist gets 404.
        """
        log = captureLog(self)
        for mount in ("/live", "/nosuchmount"):
            source = yield self.push(mount, "WRONG")
            self.assertIn(401, source.httpStatuses, source.describe())
            self.assertNotIn(404, source.httpStatuses, source.describe())
        failed = [text for text in log if "failed source login on" in text]
        self.assertEqual(len(failed), 2, "\n".join(log[-20:]))
        self.assertIn("/nosuchmount", failed[1])
        source = yield self.push("/nosuchmount", PASSWORD)
        self.assertIn(404, source.httpStatuses, source.describe())
        self.assertIsNone(self.station.liveSource)


class LiveOnlyFallbackTests(TestCase):
    """
    A live-only mount with a fallback mount: its listener hears the
    fallback, then the live source, then the fallback again, on one
    connection.
    """

    timeout = 90

    @inlineCallbacks
    def test_fallbackLiveFallback(self):
        """
        Before ffmpeg connects to C{/live}, its listener hears C{/stream}'s
        playlist; while ffmpeg broadcasts, the live tone; after ffmpeg is
        killed, the playlist again, without a disconnect.
        """
        requireProgram("ffmpeg")
        requireProgram("mpg123")
        folder = os.path.abspath(self.mktemp())
        yield makeTracks(self, folder, [PLAYLIST_TRACK])
        fallback = playlistStation(folder, mount="/stream")
        live = Station(None, mount="/live", sourcePassword=PASSWORD)
        live.setFallback(fallback)
        _, (port,) = yield startService(self, [live, fallback])

        listener = listen(self, f"http://127.0.0.1:{port}/live")
        before = yield listener.waitForTone(PLAYLIST_HZ, 15)
        yield listener.waitForTitle(PLAYLIST_TITLE, 15)
        source = ffmpegSource(self, port, mount="/live")
        during = yield listener.waitForTone(LIVE_HZ, 20, start=before, length=2 * RUN)
        titleAt = yield listener.waitForTitle(LIVE_TITLE, 15)
        source.kill("KILL")
        yield withTimeout(source.whenEnded(), 10, "ffmpeg to die")
        yield listener.waitForTone(PLAYLIST_HZ, 20, start=during)
        yield listener.waitForTitle(PLAYLIST_TITLE, 15, start=titleAt)
        self.assertTrue(listener.running, listener.describe())
        self.assertEqual((live.totalListeners, live.listenerCount), (1, 1), listener.heard())


OLD_SHOW_HZ = 600
"""The tone of the show that ends in the stale burst test."""

NEW_SHOW_HZ = 1400
"""The tone of the show that follows it after a gap."""


def tonesOf(pcm: bytes, frequencies: tuple[int, ...]) -> list[int | None]:
    """
    Classify each 0.1 s window of 8 kHz mono 16-bit PCM.

    @param pcm: the samples.
    @param frequencies: the tones to tell apart.
    @return: for each whole window, the tone holding most of its energy,
        or L{None} for silence or anything else.
    """
    samples = array("h")
    samples.frombytes(pcm[: len(pcm) - len(pcm) % 2])
    tones: list[int | None] = []
    for start in range(0, len(samples) - WINDOW + 1, WINDOW):
        window = samples[start : start + WINDOW]
        if max(window) - min(window) < 200:
            tones.append(None)
            continue
        shares = {frequency: toneShare(window, frequency) for frequency in frequencies}
        best = max(shares, key=shares.get)
        tones.append(best if shares[best] > 0.6 else None)
    return tones


class StaleBurstTests(TestCase):
    """
    On a live-only mount, a listener who tunes in as a new show goes live
    after a gap hears the new show, not a burst of the one that ended.
    """

    timeout = 90

    @inlineCallbacks
    def test_burstAfterGapIsNewShow(self):
        """
        ffmpeg sends 600 Hz for four seconds and ends; four seconds later
        another ffmpeg sends 1400 Hz; a listener who connects as soon as it
        is live records three seconds, and ffmpeg's decoding of them holds
        1400 Hz and never 600 Hz.
        """
        requireProgram("ffmpeg")
        station = Station(None, mount="/live", sourcePassword=PASSWORD)
        _, (port,) = yield startService(self, [station])
        first = ffmpegSource(self, port, mount="/live", frequency=OLD_SHOW_HZ, seconds=4, timeout=30)
        yield pollUntil(lambda: station.broadcaster.bytesSent > 32000, 15, "the first show on the air")
        yield withTimeout(first.whenEnded(), 20, "the first show's ffmpeg to end")
        self.assertEqual(first.exitCode, 0, first.describe())
        yield pollUntil(lambda: station.liveSource is None, 10, "the first show to leave")
        yield deferLater(reactor, 4, lambda: None)
        ffmpegSource(self, port, mount="/live", frequency=NEW_SHOW_HZ, timeout=40)
        yield pollUntil(
            lambda: station.liveSource is not None and station.liveSource.connected, 15, "the second show to go live"
        )
        client = yield connectRaw(self, port, b"GET /live HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        yield deferLater(reactor, 3, lambda: None)
        head, _, audio = bytes(client.data).partition(b"\r\n\r\n")
        self.assertIn(b" 200 ", head.split(b"\r\n")[0], head)
        path = os.path.abspath(self.mktemp()) + ".mp3"
        with open(path, "wb") as f:
            f.write(audio)
        decoder = yield run(
            self,
            ["ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-i", path,
             "-f", "s16le", "-ac", "1", "-ar", str(RATE), "pipe:1"],
            20,
        )  # fmt: skip
        tones = tonesOf(decoder.out, (OLD_SHOW_HZ, NEW_SHOW_HZ))
        first2s = tones[:20]
        summary = " ".join(str(tone or "-") for tone in tones)
        self.assertGreaterEqual(len(tones), 20, f"{len(audio)} bytes decoded to {summary}")
        self.assertNotIn(OLD_SHOW_HZ, tones, summary)
        self.assertGreaterEqual(first2s.count(NEW_SHOW_HZ), 16, summary)


class RelayTests(TestCase):
    """
    An edge txradio relays an origin txradio; when the origin goes away the
    edge's listener hears the edge's fallback, and the origin again when it
    comes back, all on one connection.
    """

    timeout = 90

    @inlineCallbacks
    def startOrigin(self, folder: str, port: int = 0):
        """
        Start the origin radio.

        @param folder: its tracks.
        @param port: its port, or 0 for a free one.
        @return: a L{Deferred} firing with C{(service, port)}.
        """
        station = playlistStation(folder)
        service, (port,) = yield startService(self, [station], listen=[f"tcp:{port}:interface=127.0.0.1"])
        return service, port

    @inlineCallbacks
    def test_relayFallbackResume(self):
        """
        mpg123 on the edge shows the origin's titles in order and hears its
        tones; the origin stops and the listener, still connected, hears the
        edge's local fallback playlist and its title; the origin starts
        again on the same port and the relay (retrying) brings its audio and
        titles back.
        """
        requireProgram("ffmpeg")
        requireProgram("mpg123")
        originFolder = os.path.abspath(self.mktemp())
        fallbackFolder = os.path.abspath(self.mktemp())
        originTitles = yield makeTracks(
            self,
            originFolder,
            [("Origin Artist", "First Tone", PLAYLIST_HZ, 3), ("Origin Artist", "Second Tone", SECOND_HZ, 3)],
        )
        (fallbackTitle,) = yield makeTracks(
            self, fallbackFolder, [("Edge Artist", "Fallback Tone", FALLBACK_HZ, 30)]
        )
        origin, originPort = yield self.startOrigin(originFolder)

        relay = RelaySource(
            f"http://127.0.0.1:{originPort}/stream", name="/stream", timeout=5, retryPolicy=lambda attempt: 0.5
        )
        edge = Station(relay, mount="/stream")
        local = playlistStation(fallbackFolder, mount="/local")
        edge.setFallback(local)
        _, (edgePort,) = yield startService(self, [edge, local])
        yield pollUntil(lambda: relay.connects, 10, "the relay to connect")

        listener = listen(self, f"http://127.0.0.1:{edgePort}/stream")
        first = yield listener.waitForTitle(originTitles[0], 20)
        yield listener.waitForTitle(originTitles[1], 20, start=first)
        heardFirst = yield listener.waitForTone(PLAYLIST_HZ, 20)
        yield listener.waitForTone(SECOND_HZ, 20, start=heardFirst)

        # The origin goes away: its listeners, the relay among them, are
        # disconnected and its port closes.
        yield origin.stopService()
        gone = len(listener.tones)
        titles = len(listener.titles)
        back = yield listener.waitForTone(FALLBACK_HZ, 20, start=gone)
        yield listener.waitForTitle(fallbackTitle, 15, start=titles)
        self.assertTrue(listener.running, listener.describe())

        # The origin comes back on the same port; the relay finds it.
        yield self.startOrigin(originFolder, originPort)
        titles = len(listener.titles)
        yield listener.waitForTone(PLAYLIST_HZ, 25, start=back)
        yield listener.waitForTitle(originTitles[0], 15, start=titles)
        self.assertTrue(listener.running, listener.describe())
        self.assertEqual((edge.totalListeners, edge.listenerCount), (1, 1), listener.heard())
        self.assertEqual(relay.connects, 2)


ICECAST_XML = """<icecast>
  <location>127.0.0.1</location>
  <admin>test@localhost</admin>
  <hostname>127.0.0.1</hostname>
  <limits>
    <clients>20</clients>
    <sources>4</sources>
    <queue-size>524288</queue-size>
    <client-timeout>30</client-timeout>
    <header-timeout>15</header-timeout>
    <source-timeout>10</source-timeout>
    <burst-on-connect>1</burst-on-connect>
    <burst-size>65536</burst-size>
  </limits>
  <authentication>
    <source-password>{password}</source-password>
    <relay-password>{password}</relay-password>
    <admin-user>admin</admin-user>
    <admin-password>{password}</admin-password>
  </authentication>
  <listen-socket>
    <port>{port}</port>
    <bind-address>127.0.0.1</bind-address>
  </listen-socket>
  <fileserve>1</fileserve>
  <paths>
    <basedir>/usr/share/icecast2</basedir>
    <logdir>{folder}</logdir>
    <pidfile>{folder}/icecast.pid</pidfile>
    <webroot>/usr/share/icecast2/web</webroot>
    <adminroot>/usr/share/icecast2/admin</adminroot>
  </paths>
  <logging>
    <accesslog>access.log</accesslog>
    <errorlog>error.log</errorlog>
    <loglevel>3</loglevel>
  </logging>
  <security>
    <chroot>0</chroot>
  </security>
</icecast>
"""
"""A minimal Icecast 2.4 configuration on 127.0.0.1, logging to a folder."""


def icecastAccount() -> tuple[int, int] | None:
    """
    The user to run Icecast as: it refuses to run as root.

    @return: C{(uid, gid)} of the Debian package's C{icecast2} user (or
        C{nobody}) when we are root, else L{None} (run as ourselves).
    """
    if os.getuid() != 0:
        return None
    for name in ("icecast2", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return entry.pw_uid, entry.pw_gid
    return None


class IcecastPushTests(TestCase):
    """
    txradio pushes a mount to a real Icecast, which ffmpeg decodes, and
    sends it its title changes.
    """

    timeout = 90

    @inlineCallbacks
    def startIcecast(self):
        """
        Run C{icecast2} on a free loopback port with a configuration in a
        temporary folder.

        @return: a L{Deferred} firing with its port once it accepts
            connections.
        """
        binary = shutil.which("icecast2") or shutil.which("icecast")
        if binary is None:
            requireProgram("icecast2")
        if not os.path.exists("/usr/share/icecast2/web/status-json.xsl"):
            self.skipTest("icecast2's web files are not in /usr/share/icecast2/web")
        folder = tempfile.mkdtemp(prefix="txradio-icecast-")
        self.addCleanup(shutil.rmtree, folder, True)
        port = freePort()
        self.icecastPassword = "push-" + PASSWORD
        self.icecastLog = os.path.join(folder, "error.log")
        config = os.path.join(folder, "icecast.xml")
        with open(config, "w") as f:
            f.write(ICECAST_XML.format(password=self.icecastPassword, port=port, folder=folder))
        os.chmod(config, 0o644)
        account = icecastAccount()
        uid = gid = None
        if account is None and os.getuid() == 0:
            self.skipTest("Icecast refuses to run as root and there is no icecast2 or nobody user")
        if account is not None:
            uid, gid = account
            os.chown(folder, uid, gid)
        args = [binary, "-c", config]
        child = ChildProcess(args, 80)
        reactor.spawnProcess(child, binary, args, env={"LC_ALL": "C.UTF-8", "PATH": os.environ.get("PATH", "")},
                             path=folder, uid=uid, gid=gid)
        self.addCleanup(child.stop)

        def accepting():
            if child.ended:
                raise Timeout(f"icecast exited: {child.describe()}\n{logTail(self.icecastLog)}")
            endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", port, timeout=2)
            return connectProtocol(endpoint, Protocol()).addCallback(
                lambda protocol: protocol.transport.loseConnection() or True
            )

        yield pollUntil(accepting, 15, f"icecast to accept connections on {port} ({child.describe()})", 0.1)
        return port

    @inlineCallbacks
    def icecastSource(self, port: int, mount: str):
        """
        Read Icecast's status page.

        @param port: Icecast's port.
        @param mount: a mount.
        @return: a L{Deferred} firing with the mount's source entry, or
            L{None} when it has no source.
        """
        reply = yield fetch(self, port, b"GET /status-json.xsl HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        status, _, body = parseResponse(reply)
        if b" 200 " not in status:
            return None
        sources = json.loads(body.decode("utf-8"))["icestats"].get("source", [])
        if isinstance(sources, dict):
            sources = [sources]
        for source in sources:
            if source.get("listenurl", "").endswith(mount):
                return source
        return None

    def explained(self, d: Deferred) -> Deferred:
        """
        Add the end of Icecast's log to a timeout's message.

        @param d: a L{Deferred} that may fail with L{Timeout}.
        @return: C{d}.
        """

        def addLog(failure):
            failure.trap(Timeout)
            raise Timeout(f"{failure.value}\nIcecast's error.log ends with:\n{logTail(self.icecastLog)}")

        return d.addErrback(addLog)

    @inlineCallbacks
    def test_pushToIcecast(self):
        """
        A L{PushClient} logs in to Icecast with C{PUT} and streams the
        mount: Icecast lists it, ffmpeg decodes 8 s of it from Icecast with
        no error, and a title change on the txradio side shows in Icecast's
        status.
        """
        requireProgram("ffmpeg")
        icecastPort = yield self.startIcecast()
        folder = os.path.abspath(self.mktemp())
        (title,) = yield makeTracks(self, folder, [("Push Artist", "Push Tone", PLAYLIST_HZ, 30)])
        station = playlistStation(folder)
        yield startService(self, [station])
        push = PushClient(station, f"http://127.0.0.1:{icecastPort}/relay", password=self.icecastPassword)
        push.startService()
        self.addCleanup(push.stopService)

        def listed(expected):
            def check():
                d = self.icecastSource(icecastPort, "/relay")
                return d.addCallback(lambda source: source if source and source.get("title") == expected else None)

            return check

        source = yield self.explained(pollUntil(listed(title), 20, f"Icecast to list /relay with the title {title!r}"))
        self.assertEqual(push.state, "streaming")
        self.assertEqual(push.connects, 1)
        self.assertEqual(source.get("server_type"), "audio/mpeg")

        relayURL = f"http://127.0.0.1:{icecastPort}/relay"
        decoder = spawn(self, ["ffmpeg", "-nostdin", "-v", "error", "-t", "8", "-i", relayURL, "-f", "null", "-"], 40)
        station.updateTitle("Pushed Title Change")
        yield self.explained(pollUntil(listed("Pushed Title Change"), 15, "the new title in Icecast's status"))
        yield withTimeout(decoder.whenEnded(), 40, "ffmpeg to decode 8 s from Icecast")
        self.assertEqual((decoder.exitCode, decoder.err), (0, b""), decoder.describe())
        self.assertEqual((push.connects, push.failures), (1, 0))
