"""
Tests for L{txradio.sources.transcode}: keeping a mount's format, derived
mounts, titles across the encoder delay, and encoder failures, with a fake
process reactor standing in for ffmpeg.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from zope.interface.verify import verifyObject

from tests._process import FakeProcessReactor
from tests.test_encoder import frames, stream
from txradio.interfaces import IEncoder
from txradio.sources.encoder import HANG_TIMEOUT, PRIME_FRAMES, Backoff, EncoderSettings
from txradio.sources.transcode import ALWAYS, TranscodingSource
from txradio.stream.station import Station
from txradio.testing import connectInMemory
from txradio.wire.audioformat import SKIP, TRANSCODE, AudioFormat
from txradio.wire.mp3 import Frame
from txradio.wire.programme import TitleChange

FRAME = 1152 / 44100


class ScriptedSource:
    """
    An L{IFrameSource} that hands out a fixed list of items, as much as is
    asked for, then nothing.
    """

    def __init__(self, items: list) -> None:
        self.items = list(items)
        self.title = None
        self.onAir = True
        self.closed = False
        self.standbys = 0

    def pull(self, duration: float) -> list:
        out: list = []
        got = 0.0
        while self.items and got < duration:
            item = self.items.pop(0)
            out.append(item)
            if type(item) is Frame:
                got += item.header.duration
            else:
                self.title = item.title
        return out

    def standby(self) -> None:
        self.standbys += 1

    def close(self) -> None:
        self.closed = True


def kinds(items: list) -> list:
    """
    Summarise pulled items: titles as strings, frames as
    C{(sampleRate, channels, bitrate)}.
    """
    return [
        item.title if type(item) is TitleChange else (item.header.sampleRate, item.header.channels, item.header.bitrate)
        for item in items
    ]


class TranscodingSourceTests(SynchronousTestCase):
    """
    Tests for L{TranscodingSource} as a mount's format keeper.
    """

    def setUp(self) -> None:
        self.reactor = FakeProcessReactor()

    def source(self, items, policy=TRANSCODE, **kwargs) -> TranscodingSource:
        self.inner = ScriptedSource(items)
        kwargs.setdefault("backoff", Backoff(1.0, 60.0, 2.0, jitter=lambda: 0))
        return TranscodingSource(
            self.inner, EncoderSettings(AudioFormat(44100, 2), name="/test"), policy, reactor=self.reactor, **kwargs
        )

    def test_interface(self) -> None:
        """
        L{TranscodingSource} provides L{IEncoder} (and so L{IStandby} and
        L{IFrameSource}).
        """
        self.assertTrue(verifyObject(IEncoder, self.source([])))

    def test_passthrough(self) -> None:
        """
        Frames of the mount's format pass as they are, the same objects,
        without any encoder and without reading ahead.
        """
        items = [TitleChange("A"), *frames(100)]
        source = self.source(items)
        out = source.pull(10 * FRAME)
        self.assertEqual(out[0], TitleChange("A"))
        self.assertEqual(len(out), 11)
        self.assertTrue(all(a is b for a, b in zip(out, items)))
        self.assertEqual(len(self.inner.items), 90)
        self.assertEqual(self.reactor.spawnCalls, [])
        self.assertEqual(source.title, "A")

    def test_transcodeMismatch(self) -> None:
        """
        A track of another format goes through an encoder for the mount's
        format; its title comes before its first encoded frame, after the
        frames that passed.
        """
        items = [TitleChange("A"), *frames(5), TitleChange("B"), *frames(200, sampleRate=48000)]
        source = self.source(items, lookahead=1.0)
        out = source.pull(10 * FRAME)
        self.assertEqual(kinds(out), ["A"] + [(44100, 2, 128)] * 5)
        [call] = self.reactor.spawnCalls
        self.assertIn("-ar", call["args"])
        self.assertEqual(call["args"][call["args"].index("-ar") + 1], "44100")
        process = self.reactor.spawned[0]
        # A new run is fed what ffmpeg probes before its first output.
        fed = len(process.written) // frames(1, sampleRate=48000)[0].header.length
        self.assertGreaterEqual(fed, PRIME_FRAMES)
        self.assertLess(fed, PRIME_FRAMES + 5)
        process.protocol.childDataReceived(1, stream(30))
        out = source.pull(10 * FRAME)
        self.assertEqual(kinds(out), ["B"] + [(44100, 2, 128)] * 10)
        # Once it gives output back, it reads ahead: what is asked for,
        # plus the lookahead, and no more.
        process.protocol.childDataReceived(1, stream(PRIME_FRAMES - 30))
        for _ in range(3):
            source.pull(10 * FRAME)
            fed = len(process.written) // frames(1, sampleRate=48000)[0].header.length
            process.protocol.childDataReceived(1, stream(fed - round(process.protocol.outputSeconds / FRAME)))
        ready = sum(item.header.duration for item in source._segments[-1].items if type(item) is Frame)
        self.assertGreaterEqual(ready, 1.0 - 0.05)
        self.assertLess(ready, 10 * FRAME + 1.0 + 0.05)

    def test_backToPassthrough(self) -> None:
        """
        When matching audio follows, the encoder's input is closed, and the
        matching frames wait until the encoder has given back everything.
        """
        items = [TitleChange("B"), *frames(10, sampleRate=48000), TitleChange("C"), *frames(100)]
        source = self.source(items, lookahead=1.0)
        self.assertEqual(source.pull(5 * FRAME), [])
        process = self.reactor.spawned[0]
        self.assertTrue(process.stdinClosed)
        self.assertEqual(len(process.written), len(stream(10, sampleRate=48000)))
        process.protocol.childDataReceived(1, stream(12))
        self.assertEqual(kinds(source.pull(5 * FRAME)), ["B"] + [(44100, 2, 128)] * 5)
        # The rest of the run is out; the run has not ended yet.
        self.assertEqual(kinds(source.pull(20 * FRAME)), [(44100, 2, 128)] * 7)
        self.assertEqual(source.pull(5 * FRAME), [])
        process.exit(0)
        out = source.pull(5 * FRAME)
        self.assertEqual(kinds(out), ["C"] + [(44100, 2, 128)] * 5)
        self.assertEqual(source.restarts, 0)

    def test_skipPolicy(self) -> None:
        """
        With the policy L{SKIP}, audio of another format is dropped and its
        title never announced; no encoder starts.
        """
        items = [TitleChange("B"), *frames(10, channels=1), TitleChange("C"), *frames(10)]
        source = self.source(items, SKIP)
        out = source.pull(5 * FRAME)
        self.assertEqual(kinds(out), ["C"] + [(44100, 2, 128)] * 5)
        self.assertEqual(self.reactor.spawnCalls, [])
        self.assertEqual(source.framesDropped, 10)

    def test_noEncoder(self) -> None:
        """
        Without an encoder program, the policy L{TRANSCODE} skips.
        """
        items = [TitleChange("B"), *frames(10, sampleRate=22050, channels=1, bitrate=32), *frames(3)]
        source = self.source(items, encoderAvailable=False)
        self.assertEqual(kinds(source.pull(FRAME * 5)), [(44100, 2, 128)] * 3)
        self.assertEqual(self.reactor.spawnCalls, [])

    def test_flowControl(self) -> None:
        """
        While the encoder's stdin pipe is full, frames wait and no more is
        read from the inner source; they are written once it has room.
        """
        items = [TitleChange("B"), *frames(500, sampleRate=48000)]
        source = self.source(items, lookahead=1.0)
        source.pull(FRAME)
        process = self.reactor.spawned[0]
        written = len(process.written)
        process.protocol.pauseProducing()
        left = len(self.inner.items)
        for _ in range(5):
            process.protocol.childDataReceived(1, stream(40))
            source.pull(40 * FRAME)
        self.assertEqual(len(process.written), written)
        # One more batch was read and is held; nothing beyond it.
        self.assertLess(left - len(self.inner.items), 100)
        process.protocol.resumeProducing()
        source.pull(FRAME)
        self.assertGreater(len(process.written), written)

    def test_closeKills(self) -> None:
        """
        Closing kills the encoder, closes the inner source and leaves no
        timer behind.
        """
        source = self.source([TitleChange("B"), *frames(200, sampleRate=48000)])
        source.pull(FRAME)
        process = self.reactor.spawned[0]
        source.close()
        self.assertEqual(process.signals, ["KILL"])
        process.exit(signal=9)
        self.assertTrue(self.inner.closed)
        self.assertEqual(self.reactor.getDelayedCalls(), [])
        self.assertEqual(source.restarts, 0)
        self.assertFalse(source.onAir)
        source.close()


class TitleTimingTests(SynchronousTestCase):
    """
    Titles on a derived mount change where its audio changes: the encoder
    delay later than on the parent, counted in audio, not wall time.
    """

    def test_delayedTitle(self) -> None:
        """
        A title that starts at input frame 100 is announced before the
        first output frame that starts at or after frame 100's start plus
        1105 samples: output frame 101.
        """
        reactor = FakeProcessReactor()
        items = [TitleChange("A"), *frames(100), TitleChange("B"), *frames(100)]
        inner = ScriptedSource(items)
        source = TranscodingSource(inner, EncoderSettings(AudioFormat(44100, 2, 64)), ALWAYS, reactor=reactor, lookahead=10.0)
        source.pull(FRAME)
        process = reactor.spawned[0]
        self.assertEqual(len(process.written), len(stream(200)))
        process.protocol.childDataReceived(1, stream(201, bitrate=64))
        out = source.pull(300 * FRAME)
        self.assertEqual(out[0], TitleChange("A"))
        index = out.index(TitleChange("B"))
        framesBefore = sum(1 for item in out[:index] if type(item) is Frame)
        self.assertEqual(framesBefore, 101)
        self.assertEqual({item.header.bitrate for item in out if type(item) is Frame}, {64})

    def test_exactBoundary(self) -> None:
        """
        With a delay of a whole number of frames, the title moves by exactly
        that many frames.
        """
        reactor = FakeProcessReactor()
        items = [TitleChange("A"), *frames(10), TitleChange("B"), *frames(10)]
        source = TranscodingSource(
            ScriptedSource(items), EncoderSettings(AudioFormat(44100, 2, 64)), ALWAYS, reactor=reactor, lookahead=10.0
        )
        self.patch(AudioFormat, "delay", property(lambda self: 2 * 1152 / 44100))
        source.pull(FRAME)
        reactor.spawned[0].protocol.childDataReceived(1, stream(25, bitrate=64))
        out = source.pull(30 * FRAME)
        index = out.index(TitleChange("B"))
        self.assertEqual(sum(1 for item in out[:index] if type(item) is Frame), 12)


class DerivedMountTests(SynchronousTestCase):
    """
    A derived mount's encoder crashing or hanging: it is restarted with
    backoff, and the mount's listeners stay connected meanwhile.
    """

    def setUp(self) -> None:
        self.reactor = FakeProcessReactor()
        self.inner = ScriptedSource([TitleChange("A"), *frames(20000)])
        self.source = TranscodingSource(
            self.inner,
            EncoderSettings(AudioFormat(44100, 2, 64), name="/stream-64"),
            ALWAYS,
            reactor=self.reactor,
            backoff=Backoff(1.0, 60.0, 2.0, jitter=lambda: 0),
        )
        self.station = Station(self.source, mount="/stream-64", clock=self.reactor)
        self.station.startService()
        self.listener, self.transport = connectInMemory(self.station)

    def tearDown(self) -> None:
        self.station.stopService()
        for process in self.reactor.spawned:
            if not process.ended:
                process.exit(signal=9)
        self.assertEqual(self.reactor.getDelayedCalls(), [])

    def feedOutput(self, seconds: float = 1.0) -> None:
        """
        Make the running encoder give back C{seconds} of audio.
        """
        process = self.reactor.spawned[-1]
        process.protocol.childDataReceived(1, stream(round(seconds / FRAME), bitrate=64))

    def test_crashRestartsWithBackoff(self) -> None:
        """
        An encoder that crashes is restarted after 1, 2, 4 s…; meanwhile the
        mount, which has no fallback, plays silence and its listener stays
        connected; audio flows again from the new encoder.
        """
        # Two seconds: what the broadcaster sends by its second tick, so
        # nothing encoded is left to play when the encoder crashes.
        self.feedOutput(2)
        self.reactor.advance(1)
        before = len(self.transport.value())
        self.assertGreater(before, 1000)
        delays = []
        for _expected in (1.0, 2.0, 4.0):
            self.reactor.spawned[-1].exit(signal=11)
            self.assertTrue(self.source.backingOff)
            self.assertTrue(self.station.onAir)
            count = len(self.reactor.spawned)
            waited = 0.0
            while len(self.reactor.spawned) == count and waited < 30:
                self.reactor.advance(0.5)
                waited += 0.5
            delays.append(waited)
            self.assertTrue(self.source.onAir)
        # Restarts follow the ticks (1 s) after the backoff.
        self.assertEqual([round(d) for d in delays], [1, 2, 4])
        self.assertEqual(self.source.restarts, 3)
        self.assertGreater(self.source.silentSeconds, 6)
        self.assertFalse(self.transport.disconnecting)
        self.assertIn(self.listener, list(self.station.broadcaster.listeners))
        self.feedOutput(2)
        self.reactor.advance(1)
        self.assertGreater(len(self.transport.value()), before)

    def test_fallbackWhileBackingOff(self) -> None:
        """
        A derived mount with a fallback goes off the air while its encoder
        waits to restart, so that the fallback plays instead of silence.
        """
        other = Station(ScriptedSource([TitleChange("F"), *frames(20000)]), mount="/other", clock=self.reactor)
        self.station.setFallback(other)
        self.assertTrue(self.source.yieldsToFallback)
        self.reactor.spawned[-1].exit(signal=11)
        self.assertFalse(self.source.onAir)
        self.station.setFallback(None)
        self.assertTrue(self.source.onAir)

    def test_hangRestarts(self) -> None:
        """
        An encoder that takes input and gives nothing back is killed by the
        watchdog and restarted; the listener stays.
        """
        process = self.reactor.spawned[0]
        self.reactor.advance(HANG_TIMEOUT)
        self.assertEqual(process.signals, ["KILL"])
        process.exit(signal=9)
        self.assertEqual(self.source.restarts, 1)
        self.reactor.advance(2)
        self.assertEqual(len(self.reactor.spawned), 2)
        self.assertFalse(self.transport.disconnecting)

    def test_fallbackMeanwhile(self) -> None:
        """
        While the encoder is being restarted, the mount plays its fallback.
        """
        fallback = Station(ScriptedSource([TitleChange("Fallback"), *frames(2000)]), mount="/fb", clock=self.reactor)
        fallback.startService()
        self.addCleanup(fallback.stopService)
        self.station.setFallback(fallback)
        self.source._backoff = Backoff(5.0, 60.0, 2.0, jitter=lambda: 0)
        self.feedOutput(2)
        self.reactor.advance(1)
        self.reactor.spawned[-1].exit(signal=11)
        # The follower attaches at the next tick, and hears the fallback's
        # audio from the one after.
        self.reactor.advance(1)
        self.reactor.advance(1)
        self.assertEqual(self.station.broadcaster.title, "Fallback")
        self.assertTrue(self.station.onAir)
        self.assertFalse(self.transport.disconnecting)
        self.reactor.advance(4)
        self.assertEqual(len(self.reactor.spawned), 2)


class SilenceWhileBackingOffTests(SynchronousTestCase):
    """
    While a crashed encoder waits to be restarted, the mount plays silence
    in its own format instead of stalling.
    """

    def test_silenceThenAudio(self) -> None:
        """
        A mount whose tracks need transcoding keeps its listener fed with
        silent frames of its format during the backoff, then plays the new
        encoder's audio.
        """
        reactor = FakeProcessReactor()
        inner = ScriptedSource([TitleChange("A"), *frames(20000, sampleRate=48000)])
        source = TranscodingSource(
            inner,
            EncoderSettings(AudioFormat(44100, 2), name="/stream"),
            TRANSCODE,
            reactor=reactor,
            backoff=Backoff(4.0, 60.0, 2.0, jitter=lambda: 0),
        )
        station = Station(source, clock=reactor)
        station.startService()
        self.addCleanup(station.stopService)
        listener, transport = connectInMemory(station)
        reactor.spawned[0].protocol.childDataReceived(1, stream(80))
        reactor.advance(1)
        reactor.spawned[0].exit(signal=9)
        self.assertTrue(source.backingOff)
        before = len(transport.value())
        reactor.pump([1] * 3)
        self.assertFalse(transport.disconnecting)
        silence = transport.value()[before:]
        # About three seconds of 128 kbps silence at 44.1 kHz, frame after
        # frame, each one all zeros after its header.
        self.assertGreater(len(silence), 3 * 16000 * 0.9)
        self.assertGreater(source.silentSeconds, 2.5)
        frameLength = 417
        start = silence.find(b"\xff\xfb\x90\x00")
        self.assertNotEqual(start, -1)
        self.assertEqual(silence[start + 4 : start + frameLength], bytes(frameLength - 4))
        reactor.pump([1] * 3)
        self.assertEqual(len(reactor.spawned), 2)
        reactor.spawned[1].protocol.childDataReceived(1, stream(200))
        filled = source.silentSeconds
        reactor.pump([1] * 2)
        self.assertEqual(source.silentSeconds, filled)
