"""
Integration tests of dynamic mounts with real source clients over
127.0.0.1: ffmpeg (C{PUT}, legacy C{SOURCE}, and a chunked C{PUT} through
its plain HTTP output), ezstream (libshout, reading a playlist of MP3 files),
liquidsoap, and a small raw-socket chunked client each broadcast on a mount
that was never configured; a real mpg123 decodes audio from it with no
error; then the source stops and the mount disappears from
C{/status-json.xsl}.

Every wait is bounded; a test is skipped when a program it needs is
missing.
"""

from __future__ import annotations

import base64
import json
import os
from array import array

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.task import deferLater
from twisted.trial.unittest import SkipTest, TestCase

from integration._realpeers import (
    ChildProcess,
    Timeout,
    connectRaw,
    fetch,
    makeTracks,
    parseResponse,
    requireProgram,
    spawn,
    withTimeout,
)
from txradio.build import serviceFromConfig
from txradio.config import parseConfig

PASSWORD = "dyn-secret"
"""The global source password of the test radio."""

CONFIG = f"""
[server]
listen = "tcp:0:interface=127.0.0.1"
source_password = "{PASSWORD}"
[[mount]]
path = "/main"
live = true
source_password = "main-only"
[mount_template]
name = "Dynamic test"
"""

RATE = 8000
"""The sample rate mpg123 decodes to (mono, signed 16 bit)."""


class PCMListener(ChildProcess):
    """
    mpg123 decoding a stream to 8 kHz mono PCM on its standard output; only
    the count of loud samples is kept.

    @ivar samples: samples decoded so far.
    @ivar loud: samples whose amplitude is above a whisper.
    """

    def __init__(self, args, timeout: float) -> None:
        ChildProcess.__init__(self, args, timeout)
        self.samples = 0
        self.loud = 0
        self._rest = b""

    def outReceived(self, data: bytes) -> None:
        data = self._rest + data
        whole = len(data) - len(data) % 2
        self._rest = data[whole:]
        samples = array("h")
        samples.frombytes(data[:whole])
        self.samples += len(samples)
        self.loud += sum(1 for sample in samples if abs(sample) > 300)
        self._waiters.check()

    def waitForAudio(self, seconds: float, wanted: float = 2.0):
        """
        Wait until mpg123 has decoded C{wanted} seconds of sound (not
        silence).

        @return: a L{Deferred}.
        """
        return self._waiters.wait(
            lambda: self.loud >= wanted * RATE * 0.8, seconds, f"{wanted} s of sound from {self.describe()}"
        )


def listen(testCase, url: str, timeout: float = 60) -> PCMListener:
    """
    Start mpg123 on a stream.

    @return: the L{PCMListener}.
    """
    executable = requireProgram("mpg123")
    args = ["mpg123", "-q", "--no-control", "-s", "-m", "-r", str(RATE), "-e", "s16", url]
    child = PCMListener(args, timeout)
    reactor.spawnProcess(child, executable, args, env=dict(os.environ, LC_ALL="C.UTF-8"))
    testCase.addCleanup(child.stop)
    return child


def sineSource(mount: str, port: int, extra=(), url: str | None = None) -> list[str]:
    """
    @return: an ffmpeg command line broadcasting a 1 kHz tone to a mount.
    """
    return [
        "ffmpeg", "-nostdin", "-hide_banner", "-v", "warning", "-re",
        "-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=44100",
        "-c:a", "libmp3lame", "-b:a", "128k", "-ar", "44100", "-ac", "2",
        "-content_type", "audio/mpeg", *extra,
        "-f", "mp3", url or f"icecast://source:{PASSWORD}@127.0.0.1:{port}{mount}",
    ]  # fmt: skip


class DynamicMountTests(TestCase):
    """
    Real source clients make a mount that was never configured; mpg123 hears
    it; it goes when they stop.
    """

    timeout = 120

    @inlineCallbacks
    def setUp(self):
        requireProgram("mpg123")
        self.radio = serviceFromConfig(parseConfig(CONFIG), reactor, encoder=None)
        self.radio.startService()
        self.addCleanup(lambda: self.radio.stopService() if self.radio.running else None)
        ports = yield withTimeout(self.radio.whenListening(), 10, "the radio's port")
        self.port = ports[0].getHost().port

    @inlineCallbacks
    def mounts(self):
        """
        @return: (a L{Deferred} of) the mounts /status-json.xsl lists.
        """
        raw = yield fetch(self, self.port, b"GET /status-json.xsl HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        _, _, body = parseResponse(raw)
        sources = json.loads(body)["icestats"].get("source", [])
        if isinstance(sources, dict):
            sources = [sources]
        return ["/" + source["listenurl"].split("/", 3)[3] for source in sources]

    @inlineCallbacks
    def waitForMounts(self, condition, what: str, seconds: float = 20):
        """
        Poll /status-json.xsl until C{condition(mounts)} holds.
        """
        deadline = reactor.seconds() + seconds
        while True:
            mounts = yield self.mounts()
            if condition(mounts):
                return mounts
            if reactor.seconds() > deadline:
                raise Timeout(f"{what}: /status-json.xsl lists {mounts}")
            yield deferLater(reactor, 0.2, lambda: None)

    @inlineCallbacks
    def heardThenGone(self, mount: str, source: ChildProcess | None, stop):
        """
        The mount appears, mpg123 hears sound on it, the source stops
        (C{stop()}), and the mount disappears.

        @param mount: the mount.
        @param source: the source client's process, for messages.
        @param stop: stops the source; may return a L{Deferred}.
        """
        what = source.describe() if source is not None else mount
        yield self.waitForMounts(lambda mounts: mount in mounts, f"{mount} to appear ({what})")
        listener = listen(self, f"http://127.0.0.1:{self.port}{mount}")
        yield listener.waitForAudio(30)
        self.assertTrue(listener.running, listener.describe())
        self.assertNotIn("error", listener.err.decode("utf-8", "replace").lower(), listener.describe())
        yield stop()
        yield self.waitForMounts(lambda mounts: mount not in mounts, f"{mount} to go")
        self.assertEqual(self.radio.dynamicStations, [])
        yield withTimeout(listener.whenEnded(), 20, "mpg123 to end after the mount went")

    def killed(self, child: ChildProcess):
        """
        @return: a callable that kills a child and waits for its end.
        """

        def stop():
            child.kill("TERM")
            return withTimeout(child.whenEnded(), 20, f"{child.args[0]} to end")

        return stop

    def test_ffmpegPut(self):
        """
        ffmpeg's icecast output (C{PUT}) makes /show.
        """
        source = spawn(self, sineSource("/show", self.port), 90)
        return self.heardThenGone("/show", source, self.killed(source))

    def test_ffmpegLegacySource(self):
        """
        ffmpeg with C{-legacy_icecast 1} (the C{SOURCE} method) makes /old.
        """
        source = spawn(self, sineSource("/old", self.port, ["-legacy_icecast", "1"]), 90)
        return self.heardThenGone("/old", source, self.killed(source))

    def test_ffmpegChunkedPut(self):
        """
        ffmpeg's plain HTTP output, C{PUT} with chunked transfer coding (its
        C{-chunked_post} default) and Basic credentials sent at once, makes
        /chunky.
        """
        url = f"http://source:{PASSWORD}@127.0.0.1:{self.port}/chunky"
        source = spawn(
            self,
            sineSource("/chunky", self.port, ["-method", "PUT", "-auth_type", "basic", "-chunked_post", "1"], url=url),
            90,
        )
        return self.heardThenGone("/chunky", source, self.killed(source))

    @inlineCallbacks
    def test_rawChunkedClient(self):
        """
        A raw-socket client sends an MP3 file as a chunked C{PUT}, in real
        time; its last chunk ends the source and the mount goes.
        """
        requireProgram("ffmpeg")
        folder = os.path.abspath(self.mktemp())
        yield makeTracks(self, folder, [("Raw", "Chunks", 700, 8)])
        with open(os.path.join(folder, "01.mp3"), "rb") as f:
            audio = f.read()
        credentials = base64.b64encode(f"source:{PASSWORD}".encode())
        client = yield connectRaw(
            self,
            self.port,
            b"PUT /raw HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic " + credentials + b"\r\n"
            b"Content-Type: audio/mpeg\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n",
        )
        yield client.waitFor(lambda: b"100 Continue" in client.data, 10, "100 Continue")
        step = 16000 // 5  # 128 kbps in fifths of a second

        sent = [0]

        def send():
            chunk = audio[sent[0] : sent[0] + step]
            sent[0] += len(chunk)
            client.transport.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunk else b"0\r\n\r\n")
            if chunk:
                reactor.callLater(0.2, send)

        send()
        finished = client.waitForClose(40)
        yield self.heardThenGone("/raw", None, lambda: finished)

    def test_ezstream(self):
        """
        ezstream (libshout) streams a playlist of MP3 files once to /ez.
        """
        requireProgram("ezstream")
        return self._ezstream()

    @inlineCallbacks
    def _ezstream(self):
        folder = os.path.abspath(self.mktemp())
        yield makeTracks(self, folder, [("Ez", "One", 500, 6), ("Ez", "Two", 800, 6)])
        playlist = os.path.join(folder, "playlist.txt")
        with open(playlist, "w") as f:
            f.write("".join(os.path.join(folder, name) + "\n" for name in ("01.mp3", "02.mp3")))
        config = os.path.join(folder, "ezstream.xml")
        with open(config, "w") as f:
            f.write(
                f"""<?xml version="1.0" encoding="UTF-8"?>
<ezstream>
  <servers>
    <server>
      <protocol>HTTP</protocol>
      <hostname>127.0.0.1</hostname>
      <port>{self.port}</port>
      <user>source</user>
      <password>{PASSWORD}</password>
    </server>
  </servers>
  <streams>
    <stream>
      <mountpoint>/ez</mountpoint>
      <format>MP3</format>
      <stream_name>Ezstream test</stream_name>
    </stream>
  </streams>
  <intakes>
    <intake>
      <type>playlist</type>
      <filename>{playlist}</filename>
      <stream_once>Yes</stream_once>
    </intake>
  </intakes>
</ezstream>
"""
            )
        os.chmod(config, 0o600)
        source = spawn(self, ["ezstream", "-c", config], 60)
        yield self.heardThenGone(
            "/ez", source, lambda: withTimeout(source.whenEnded(), 30, "ezstream to finish its playlist")
        )
        self.assertEqual(source.exitCode, 0, source.describe())

    @inlineCallbacks
    def test_liquidsoap(self):
        """
        liquidsoap's C{output.icecast} (a sine) makes /liq.
        """
        requireProgram("liquidsoap")
        script = (
            # Liquidsoap refuses to run as root unless told (CI containers).
            "settings.init.allow_root.set(true)\n"
            "settings.log.stdout.set(true)\n"
            f'output.icecast(%mp3(bitrate=128, samplerate=44100), host="127.0.0.1", port={self.port}, '
            f'password="{PASSWORD}", mount="/liq", sine())\n'
        )
        path = os.path.abspath(self.mktemp()) + ".liq"
        with open(path, "w") as f:
            f.write(script)
        source = spawn(self, ["liquidsoap", path], 60)
        try:
            yield self.waitForMounts(lambda mounts: "/liq" in mounts, "/liq to appear", seconds=40)
        except Timeout:
            if not source.running and ("mp3" in source.output.lower() or "encoder" in source.output.lower()):
                raise SkipTest(f"this liquidsoap cannot encode MP3: {source.output[-500:]}") from None
            raise
        yield self.heardThenGone("/liq", source, self.killed(source))

    @inlineCallbacks
    def test_wrongPasswordNewMount(self):
        """
        ffmpeg with a wrong password on a new name is refused with 401 and
        no mount appears.
        """
        args = sineSource("/nope", self.port)
        args[-1] = args[-1].replace(PASSWORD, "guess")
        source = spawn(self, args, 30)
        yield withTimeout(source.whenEnded(), 20, "ffmpeg to give up")
        self.assertIn(401, source.httpStatuses, source.describe())
        mounts = yield self.mounts()
        self.assertNotIn("/nope", mounts)
