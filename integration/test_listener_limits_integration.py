"""
Real-peer tests of the listener limits: a mount's intro heard by a real
client before the programme (decoded by ffmpeg, checked by mpg123), an
intro in another sample rate converted by ffmpeg, and a real mpg123's
session ended by C{max_listener_duration}.

They need ffmpeg and mpg123 (skipped without them) and run a radio built
from a configuration file on a loopback port.
"""

from __future__ import annotations

import os
import time
from array import array

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.task import deferLater
from twisted.trial.unittest import TestCase

from integration._realpeers import RawClient, makeTrack, requireProgram, run, spawn, withTimeout
from integration.test_live_integration import toneShare
from txradio.build import serviceFromConfig
from txradio.config import parseConfig
from txradio.stream.events import ListenerLeft, reasonLabel
from txradio.wire.mp3 import Framer

INTRO_HZ = 440
PROGRAMME_HZ = 1000
INTRO_SECONDS = 3
RATE = 8000
WINDOW = RATE // 10


class ListenerLimitsIntegrationTests(TestCase):
    """
    The intro and the duration limit, heard by real clients.
    """

    timeout = 90

    def setUp(self) -> None:
        requireProgram("ffmpeg")
        self.folder = os.path.abspath(self.mktemp())
        self.music = os.path.join(self.folder, "music")
        os.makedirs(self.music)

    @inlineCallbacks
    def makeIntro(self, sampleRate: int = 44100):
        path = os.path.join(self.folder, f"intro-{sampleRate}.mp3")
        args = [
            "ffmpeg", "-nostdin", "-v", "error", "-y",
            "-f", "lavfi", "-i", f"sine=frequency={INTRO_HZ}:duration={INTRO_SECONDS}:sample_rate={sampleRate}",
            "-ac", "2", "-ar", str(sampleRate), "-c:a", "libmp3lame", "-b:a", "128k", path,
        ]  # fmt: skip
        child = yield run(self, args, 30)
        self.assertEqual(child.exitCode, 0, child.describe())
        return path

    @inlineCallbacks
    def startRadio(self, extra: str):
        yield makeTrack(self, os.path.join(self.music, "01.mp3"), "Tone", "Test", PROGRAMME_HZ, 30)
        config = parseConfig(
            '[server]\nlisten = ["tcp:0:interface=127.0.0.1"]\n'
            f'[[mount]]\npath = "/stream"\nname = "Limits Radio"\nplaylist = "{self.music}"\n{extra}',
            os.path.join(self.folder, "radio.toml"),
        )
        service = serviceFromConfig(config, reactor)
        service.startService()
        self.addCleanup(service.stopService)
        ports = yield withTimeout(service.whenListening(), 10, "the radio's port")
        self.station = service.stations[0]
        return ports[0].getHost().port

    @inlineCallbacks
    def record(self, port: int, seconds: float) -> bytes:
        """
        Listen like a player (no metadata) for some seconds.

        @return: the body received.
        """
        client = RawClient()
        yield connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), client)
        client.transport.write(b"GET /stream HTTP/1.0\r\nUser-Agent: test\r\n\r\n")
        yield deferLater(reactor, seconds, lambda: None)
        client.transport.loseConnection()
        return bytes(client.data).partition(b"\r\n\r\n")[2]

    @inlineCallbacks
    def decode(self, audio: bytes) -> list[str]:
        """
        Decode recorded audio with ffmpeg (to 8 kHz mono PCM), check that
        mpg123 decodes it without an error, and name each tenth of a second
        by its tone.

        @return: C{"intro"}, C{"programme"} or C{"-"} per window.
        """
        recorded = os.path.join(self.folder, "recorded.mp3")
        with open(recorded, "wb") as f:
            f.write(audio)
        pcm = os.path.join(self.folder, "recorded.raw")
        child = yield run(self, ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", recorded, "-ac", "1", "-ar",
                                 str(RATE), "-f", "s16le", pcm], 30)  # fmt: skip
        self.assertEqual(child.exitCode, 0, child.describe())
        requireProgram("mpg123")
        checked = yield run(self, ["mpg123", "-v", "-w", os.path.join(self.folder, "mpg123.wav"), recorded], 30)
        for word in ("error", "resync", "Illegal"):
            self.assertNotIn(word.lower(), checked.output.lower(), checked.output)
        samples = array("h")
        with open(pcm, "rb") as f:
            samples.frombytes(f.read())
        names = []
        for start in range(0, len(samples) - WINDOW + 1, WINDOW):
            window = samples[start : start + WINDOW]
            if toneShare(window, INTRO_HZ, RATE) > 0.8:
                names.append("intro")
            elif toneShare(window, PROGRAMME_HZ, RATE) > 0.8:
                names.append("programme")
            else:
                names.append("-")
        return names

    def assertIntroThenProgramme(self, names: list[str]) -> None:
        """
        The intro's tone first (about its length), then only the programme's.
        """
        text = "".join({"intro": "i", "programme": "p", "-": "."}[n] for n in names)
        if os.environ.get("TXRADIO_SHOW_TONES"):
            print("\n" + text)
        introWindows = INTRO_SECONDS * 10
        self.assertGreaterEqual(text[:introWindows].count("i"), introWindows - 4, text)
        first = text.find("p")
        self.assertTrue(introWindows - 3 <= first <= introWindows + 3, text)
        self.assertNotIn("i", text[first:], text)
        self.assertGreater(text[first:].count("p"), 20, text)

    @inlineCallbacks
    def test_introThenProgramme(self):
        """
        A real client hears the 440 Hz intro first, then the 1000 Hz
        programme, and mpg123 decodes the whole without an error.
        """
        intro = yield self.makeIntro()
        port = yield self.startRadio(f'intro = "{intro}"\n')
        self.assertIsNotNone(self.station.intro)
        yield deferLater(reactor, 1.0, lambda: None)
        audio = yield self.record(port, 3.0)
        names = yield self.decode(audio)
        self.assertIntroThenProgramme(names)

    @inlineCallbacks
    def test_introConverted(self):
        """
        An intro at another sample rate (22050 Hz) is converted by ffmpeg
        in the background; then listeners hear it at the mount's 44.1 kHz,
        followed by the programme.
        """
        intro = yield self.makeIntro(22050)
        port = yield self.startRadio(f'intro = "{intro}"\n')
        for _ in range(100):
            if self.station.intro is not None:
                break
            yield deferLater(reactor, 0.1, lambda: None)
        chunk = self.station.intro
        self.assertIsNotNone(chunk)
        frames = Framer().feed(chunk.data)
        self.assertTrue(frames and all(f.header.sampleRate == 44100 for f in frames))
        audio = yield self.record(port, 3.0)
        names = yield self.decode(audio)
        self.assertIntroThenProgramme(names)

    @inlineCallbacks
    def test_durationLimitEndsMpg123(self):
        """
        With C{max_listener_duration = 3}, a real mpg123's session ends
        after about 3 seconds, with the reason C{duration_limit}.
        """
        mpg123 = requireProgram("mpg123")
        port = yield self.startRadio("max_listener_duration = 3\n")
        left = []
        self.station.events.subscribe(lambda event: left.append(event) if isinstance(event, ListenerLeft) else None)
        started = time.monotonic()
        child = spawn(self, [mpg123, "-q", "-w", os.path.join(self.folder, "out.wav"), f"http://127.0.0.1:{port}/stream"], 20)
        yield child.whenEnded()
        elapsed = time.monotonic() - started
        self.assertFalse(child.timedOut, child.describe())
        self.assertEqual([reasonLabel(event.reason) for event in left], ["duration_limit"])
        self.assertTrue(2.9 <= left[0].seconds <= 3.5, left[0].seconds)
        # mpg123 ends once the server closes (it decodes as fast as it reads).
        self.assertTrue(2.5 <= elapsed <= 8.0, f"mpg123 ran {elapsed:.2f} s")
        if os.environ.get("TXRADIO_SHOW_TONES"):
            print(f"\nmpg123 ran {elapsed:.2f} s; the server counted {left[0].seconds:.2f} s")
