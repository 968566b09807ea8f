"""
Tests for L{txradio.sources.encoder}: the ffmpeg child process, driven by hand
through a fake process reactor.
"""

from __future__ import annotations

from twisted.internet.error import ProcessDone, ProcessTerminated
from twisted.trial.unittest import SynchronousTestCase

from tests._process import FakeProcessReactor
from tests.test_audioformat import headerBytes
from txradio.sources.encoder import HANG_TIMEOUT, Backoff, EncoderProcess, EncoderSettings, encoderArguments
from txradio.wire.audioformat import AudioFormat
from txradio.wire.mp3 import Frame, parseHeader


def frames(count: int, **kwargs) -> list[Frame]:
    """
    Make silent frames of one format.

    @param count: how many.
    @param kwargs: L{headerBytes} arguments.
    @return: the frames.
    """
    head = headerBytes(**kwargs)
    parsed = parseHeader(head)
    return [Frame(parsed, head + bytes(parsed.length - 4)) for _ in range(count)]


def stream(count: int, **kwargs) -> bytes:
    """
    @return: the bytes of L{frames}.
    """
    return b"".join(frame.data for frame in frames(count, **kwargs))


class ArgumentsTests(SynchronousTestCase):
    """
    Tests for L{encoderArguments}.
    """

    def test_pipesAndFormat(self) -> None:
        """
        ffmpeg reads MP3 on stdin and writes MP3 of the format on stdout,
        with no ID3 tag, no Xing frame and no buffering.
        """
        args = encoderArguments(AudioFormat(48000, 1, 64))
        text = " ".join(args)
        self.assertIn("-f mp3 -i pipe:0", text)
        self.assertIn("-c:a libmp3lame -b:a 64k -ar 48000 -ac 1", text)
        self.assertIn("-id3v2_version 0 -write_xing 0", text)
        self.assertIn("-flush_packets 1", text)
        self.assertEqual(args[-1], "pipe:1")

    def test_defaultBitrate(self) -> None:
        """
        A format without a bitrate is encoded at 128 kbps.
        """
        self.assertIn("128k", encoderArguments(AudioFormat(44100, 2)))


class BackoffTests(SynchronousTestCase):
    """
    Tests for L{Backoff}.
    """

    def test_grows(self) -> None:
        """
        Each failure waits longer, up to the maximum; a success starts over.
        """
        backoff = Backoff(1.0, 10.0, 2.0, jitter=lambda: 0)
        self.assertEqual([backoff.failed() for _ in range(6)], [1.0, 2.0, 4.0, 8.0, 10.0, 10.0])
        backoff.succeeded()
        self.assertEqual(backoff.failed(), 1.0)


class EncoderProcessTests(SynchronousTestCase):
    """
    Tests for L{EncoderProcess}.
    """

    def setUp(self) -> None:
        self.reactor = FakeProcessReactor()
        self.output: list[Frame] = []
        self.ends: list = []
        self.process = EncoderProcess(
            self.reactor,
            EncoderSettings(AudioFormat(44100, 2, 64), executable="/usr/bin/ffmpeg", name="/test"),
            onFrames=self.output.extend,
            onEnded=lambda process, reason: self.ends.append(reason),
        )

    def test_spawn(self) -> None:
        """
        L{EncoderProcess.start} spawns ffmpeg with stdin to write, stdout and
        stderr to read, and registers as the producer of its stdin.
        """
        self.process.start()
        [call] = self.reactor.spawnCalls
        self.assertEqual(call["executable"], "/usr/bin/ffmpeg")
        self.assertEqual(call["args"][0], "/usr/bin/ffmpeg")
        self.assertEqual(call["childFDs"], {0: "w", 1: "r", 2: "r"})
        transport = self.reactor.spawned[0]
        self.assertIs(transport.producer, self.process)
        self.assertTrue(transport.streaming)

    def test_writeAndRead(self) -> None:
        """
        Frames written go to stdin; stdout split anywhere comes back as
        whole frames; the counts of seconds follow.
        """
        self.process.start()
        transport = self.reactor.spawned[0]
        self.process.write(frames(10))
        self.assertEqual(transport.written, stream(10))
        self.assertAlmostEqual(self.process.inputSeconds, 10 * 1152 / 44100)
        data = stream(5, bitrate=64)
        for start in range(0, len(data), 7):
            self.process.childDataReceived(1, data[start : start + 7])
        self.process.processEnded(ProcessDone(0))
        self.assertEqual(len(self.output), 5)
        self.assertEqual({frame.header.bitrate for frame in self.output}, {64})
        self.assertAlmostEqual(self.process.outputSeconds, 5 * 1152 / 44100)

    def test_finish(self) -> None:
        """
        L{EncoderProcess.finish} closes stdin; writes after it are ignored.
        """
        self.process.start()
        transport = self.reactor.spawned[0]
        self.process.finish()
        self.assertTrue(transport.stdinClosed)
        self.process.write(frames(1))
        self.assertEqual(transport.written, b"")

    def test_ended(self) -> None:
        """
        The end of the child is reported once, with its reason, and the
        last frame held by the framer is delivered first.
        """
        self.process.start()
        self.process.childDataReceived(1, stream(3, bitrate=64))
        self.process.childDataReceived(2, b"oops\n")
        self.reactor.spawned[0].exit(1)
        self.assertEqual(len(self.output), 3)
        [reason] = self.ends
        self.assertTrue(reason.check(ProcessTerminated))
        self.assertEqual(self.process.stderr, b"oops\n")
        self.assertTrue(self.process.ended)

    def test_spawnFails(self) -> None:
        """
        A spawn that raises is reported as an end, not raised.
        """
        self.reactor.failSpawn = OSError("no such file")
        self.process.start()
        self.assertEqual(len(self.ends), 1)
        self.assertTrue(self.process.ended)

    def test_hang(self) -> None:
        """
        A child that holds more than the priming audio and gives nothing
        back for a watchdog period is killed.
        """
        self.process.start()
        transport = self.reactor.spawned[0]
        self.process.write(frames(100))
        self.reactor.advance(HANG_TIMEOUT)
        self.assertEqual(transport.signals, ["KILL"])
        self.assertEqual(self.process.failure, "hung")

    def test_primingIsNoHang(self) -> None:
        """
        A child that holds less than the priming audio is not killed.
        """
        self.process.start()
        transport = self.reactor.spawned[0]
        self.process.write(frames(40))
        self.reactor.advance(HANG_TIMEOUT * 3)
        self.assertEqual(transport.signals, [])

    def test_fallsBehind(self) -> None:
        """
        A child that encodes much slower than real time while it holds
        input is killed.
        """
        self.process.start()
        transport = self.reactor.spawned[0]
        self.process.write(frames(400))
        self.process.childDataReceived(1, stream(20, bitrate=64))
        self.reactor.advance(HANG_TIMEOUT)
        self.assertEqual(transport.signals, ["KILL"])
        self.assertEqual(self.process.failure, "fell behind")

    def test_healthy(self) -> None:
        """
        A child that keeps up is left alone, and the watchdog stops with
        the child.
        """
        self.process.start()
        transport = self.reactor.spawned[0]
        for _ in range(10):
            self.process.write(frames(40))
            self.process.childDataReceived(1, stream(40, bitrate=64))
            self.reactor.advance(1)
        self.assertEqual(transport.signals, [])
        transport.exit(0)
        self.assertEqual(self.reactor.getDelayedCalls(), [])

    def test_pause(self) -> None:
        """
        The stdin pipe's producer callbacks set L{EncoderProcess.paused}.
        """
        self.process.start()
        self.process.pauseProducing()
        self.assertTrue(self.process.paused)
        self.process.resumeProducing()
        self.assertFalse(self.process.paused)
