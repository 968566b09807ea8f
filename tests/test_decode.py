# -*- test-case-name: tests.test_decode -*-
"""
Tests for L{txradio.sources.decode}: a playlist plays FLAC, Ogg Vorbis,
Opus, AAC/M4A and WAV files through an ffmpeg child, and without ffmpeg
skips them with one log line per format.
"""

from __future__ import annotations

import os
import wave

from twisted.internet.error import ProcessDone
from twisted.internet.testing import EventLoggingObserver
from twisted.logger import globalLogPublisher
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from tests._process import FakeProcessReactor
from tests.test_playlist import DEMO, audioOf
from txradio.sources.decode import DECODE_STALL, MAX_BUFFERED, DecodedFile, Decoders, decoderArguments, formatOf
from txradio.sources.playlist import PlaylistSource
from txradio.sources.tags import readTitle
from txradio.sources.tracks import ListTracks, scanFolder
from txradio.wire.audioformat import AudioFormat
from txradio.wire.mp3 import Frame
from txradio.wire.programme import TitleChange


def makeWAV(path: str, seconds: float = 0.1) -> None:
    """
    Write a short silent WAV file.
    """
    with wave.open(path, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x00\x00" * int(8000 * seconds))


def pullSome(source: PlaylistSource, times: int = 20) -> list:
    items: list = []
    for _ in range(times):
        items.extend(source.pull(0.5))
    return items


def titles(items: list) -> list[str]:
    return [item.title for item in items if type(item) is TitleChange]


class FormatTests(SynchronousTestCase):
    """
    Which files are decoded, and how.
    """

    def test_formatOf(self) -> None:
        self.assertEqual(formatOf("/m/a.FLAC"), "FLAC")
        self.assertEqual(formatOf("/m/a.oga"), "Ogg Vorbis")
        self.assertEqual(formatOf("/m/a.opus"), "Opus")
        self.assertEqual(formatOf("/m/a.m4a"), "AAC/M4A")
        self.assertEqual(formatOf("/m/a.wav"), "WAV")
        self.assertIsNone(formatOf("/m/a.mp3"))

    def test_scanFolder(self) -> None:
        folder = self.mktemp()
        os.mkdir(folder)
        names = ["1.mp3", "2.flac", "3.ogg", "4.oga", "5.opus", "6.m4a", "7.aac", "8.wav", "9.txt"]
        for name in names:
            open(os.path.join(folder, name), "wb").close()
        found = [os.path.basename(path) for path in scanFolder(folder)]
        self.assertEqual(found, names[:-1])

    def test_arguments(self) -> None:
        arguments = decoderArguments("/m/-a.flac", AudioFormat(bitrate=96, sampleRate=48000, channels=1))
        self.assertIn("file:/m/-a.flac", arguments)
        self.assertNotIn("-t", arguments)
        self.assertEqual(arguments[arguments.index("-ar") + 1], "48000")
        self.assertEqual(arguments[arguments.index("-ac") + 1], "1")
        self.assertEqual(arguments[-3:], ["-f", "mp3", "pipe:1"])


class PausingTransport:
    """
    Records pauses of a child's output.
    """

    def __init__(self) -> None:
        self.paused = False
        self.signals: list[str] = []

    def pauseProducing(self) -> None:
        self.paused = True

    def resumeProducing(self) -> None:
        self.paused = False

    def signalProcess(self, name: str) -> None:
        self.signals.append(name)


class DecodedFileTests(SynchronousTestCase):
    """
    L{DecodedFile} reads like a file and paces its child.
    """

    def test_pacing(self) -> None:
        decoded = DecodedFile()
        transport = PausingTransport()
        decoded.transport = transport  # type: ignore[assignment]
        decoded.outReceived(b"x" * MAX_BUFFERED)
        self.assertTrue(transport.paused)
        self.assertEqual(len(decoded.read(MAX_BUFFERED // 2 + 1)), MAX_BUFFERED // 2 + 1)
        self.assertFalse(transport.paused)
        decoded.close()
        self.assertEqual(transport.signals, ["KILL"])
        self.assertEqual(decoded.read(10), b"")


class PlaylistDecodingTests(SynchronousTestCase):
    """
    A playlist plays other formats through ffmpeg children.
    """

    def setUp(self) -> None:
        self.folder = self.mktemp()
        os.mkdir(self.folder)
        self.wav = os.path.join(self.folder, "Tone_A.wav")
        makeWAV(self.wav)
        self.reactor = FakeProcessReactor()
        self.logged = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)

    def source(self, paths: list[str], executable: str | None = "/usr/bin/ffmpeg") -> PlaylistSource:
        source = PlaylistSource(ListTracks(paths), clock=self.reactor, name="/m")
        source.decoders = Decoders(self.reactor, AudioFormat(), executable)
        return source

    def test_decoded(self) -> None:
        """
        A WAV file plays from ffmpeg's output, with its title, once the
        child writes; then the next file plays.
        """
        source = self.source([self.wav, DEMO[0]])
        self.assertEqual(source.pull(1.0), [])
        [call] = self.reactor.spawnCalls
        self.assertEqual(call["executable"], "/usr/bin/ffmpeg")
        self.assertIn("file:" + os.path.abspath(self.wav), call["args"])
        [child] = self.reactor.spawned
        self.assertTrue(child.stdinClosed)
        audio = audioOf(DEMO[1])
        child.protocol.childDataReceived(1, audio[:5000])
        items = source.pull(0.1)
        self.assertEqual(titles(items), ["Tone A"])
        child.protocol.childDataReceived(1, audio[5000:])
        child.exit(0)
        items += pullSome(source, 200)
        frames = [item for item in items if type(item) is Frame]
        self.assertTrue(frames)
        self.assertEqual(titles(items)[0], "Tone A")
        self.assertEqual(len(titles(items)), 2)
        self.assertEqual(source.tracksPlayed, 2)

    def test_unreadable(self) -> None:
        """
        A file ffmpeg cannot read is skipped with one log line, and the next
        plays.
        """
        source = self.source([self.wav, DEMO[0]])
        source.pull(0.5)
        [child] = self.reactor.spawned
        child.protocol.childDataReceived(2, b"Invalid data found when processing input\n")
        child.exit(1)
        items = pullSome(source)
        self.assertEqual(len(titles(items)), 1)
        self.assertEqual(source.skipped, 1)
        messages = [e for e in self.logged if "ffmpeg cannot read it" in str(e.get("reason", ""))]
        self.assertEqual(len(messages), 1)
        self.assertIn("Invalid data found", messages[0]["reason"])

    def test_closeKills(self) -> None:
        """
        Closing the playlist kills the decoding child.
        """
        source = self.source([self.wav])
        source.pull(0.5)
        source.close()
        self.assertEqual(self.reactor.spawned[0].signals, ["KILL"])

    def test_noFFmpeg(self) -> None:
        """
        Without ffmpeg, other formats are skipped with one log line per
        format, not per file, and the MP3 files play.
        """
        paths = []
        for name in ["a.flac", "b.flac", "c.flac", "d.opus"]:
            paths.append(os.path.join(self.folder, name))
            open(paths[-1], "wb").close()
        source = self.source([*paths, self.wav, DEMO[0]], executable=None)
        items = pullSome(source, 100)
        self.assertEqual(self.reactor.spawnCalls, [])
        self.assertTrue(titles(items))
        lines = [e for e in self.logged if "ffmpeg is not installed" in e.get("log_format", "")]
        self.assertEqual(sorted((e["count"], e["kind"]) for e in lines), [(1, "Opus"), (1, "WAV"), (3, "FLAC")])

    def test_nothingElse(self) -> None:
        """
        Without ffmpeg, a list of only other formats has nothing to play.
        """
        source = self.source([self.wav], executable=None)
        self.assertEqual(source.pull(1.0), [])
        self.assertFalse(source.onAir)


class WAVTitleTests(SynchronousTestCase):
    """
    A WAV file's title comes from its RIFF INFO chunk.
    """

    def test_riffInfo(self) -> None:
        path = self.mktemp() + ".wav"
        makeWAV(path)
        fields = (
            b"INAM"
            + (6).to_bytes(4, "little")
            + b"Tone\x00\x00"
            + b"IART"
            + (5).to_bytes(4, "little")
            + b"Test\x00\x00"
        )
        with open(path, "ab") as out:
            out.write(b"LIST" + (len(fields) + 4).to_bytes(4, "little") + b"INFO" + fields)
        self.assertEqual(readTitle(path), "Test - Tone")


class WatchdogTests(SynchronousTestCase):
    """
    A decoding child that writes nothing for L{DECODE_STALL} seconds is
    killed, and the next track plays.
    """

    def setUp(self) -> None:
        self.folder = self.mktemp()
        os.mkdir(self.folder)
        self.wav = os.path.join(self.folder, "Tone_A.wav")
        makeWAV(self.wav)
        self.reactor = FakeProcessReactor()
        self.logged = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        self.source = PlaylistSource(ListTracks([self.wav, DEMO[0]]), clock=self.reactor, name="/m")
        self.source.decoders = Decoders(self.reactor, AudioFormat(), "/usr/bin/ffmpeg")
        self.addCleanup(self.source.close)

    def test_hungAtStart(self) -> None:
        """
        A child that never writes is killed after L{DECODE_STALL} seconds;
        the file is skipped with one log line saying so, and the next
        track plays.  Its exit afterwards changes nothing.
        """
        self.assertEqual(self.source.pull(1.0), [])
        [child] = self.reactor.spawned
        self.reactor.advance(DECODE_STALL - 0.1)
        self.assertEqual(child.signals, [])
        self.assertEqual(self.source.pull(1.0), [])
        self.reactor.advance(0.1)
        self.assertEqual(child.signals, ["KILL"])
        items = pullSome(self.source, 4)
        self.assertEqual(titles(items), ["txradio - Morning Arpeggio"])
        self.assertEqual(self.source.skipped, 1)
        child.exit(1, signal=9)
        lines = [e for e in self.logged if "wrote nothing" in str(e.get("reason", ""))]
        self.assertEqual(len(lines), 1)
        self.assertEqual(lines[0]["reason"], "ffmpeg wrote nothing for 10 s and was killed")
        self.assertEqual(self.reactor.getDelayedCalls(), [])

    def test_hungInTrack(self) -> None:
        """
        A child that stops writing in the middle of a track is killed; what
        it wrote plays, a log line names the file, and the next track
        follows.
        """
        self.source.pull(0.5)
        [child] = self.reactor.spawned
        child.protocol.childDataReceived(1, audioOf(DEMO[1])[:20000])
        items = self.source.pull(0.2)
        self.assertEqual(titles(items), ["Tone A"])
        self.reactor.advance(DECODE_STALL)
        self.assertEqual(child.signals, ["KILL"])
        items = pullSome(self.source, 10)
        self.assertEqual(titles(items), ["txradio - Morning Arpeggio"])
        self.assertEqual(self.source.skipped, 0)
        lines = [e for e in self.logged if "the next track plays" in e.get("log_format", "")]
        self.assertEqual(len(lines), 1)
        self.assertEqual(lines[0]["path"], self.wav)

    def test_writingKeepsItAlive(self) -> None:
        """
        Each write gives the child another L{DECODE_STALL} seconds; its
        exit stops the watchdog.
        """
        decoded = DecodedFile(self.reactor, "/m/a.flac")
        transport = PausingTransport()
        decoded.makeConnection(transport)  # type: ignore[arg-type]
        for _ in range(5):
            self.reactor.advance(DECODE_STALL - 1)
            decoded.outReceived(b"x")
        self.assertEqual(transport.signals, [])
        decoded.processEnded(Failure(ProcessDone(0)))
        self.assertEqual(self.reactor.getDelayedCalls(), [])
        self.assertFalse(decoded.stalled)

    def test_pausedIsNotHung(self) -> None:
        """
        While its output is paused (the playlist has enough), the child is
        not watched; once resumed, it is again.
        """
        decoded = DecodedFile(self.reactor, "/m/a.flac")
        transport = PausingTransport()
        decoded.makeConnection(transport)  # type: ignore[arg-type]
        decoded.outReceived(b"x" * MAX_BUFFERED)
        self.assertTrue(transport.paused)
        self.reactor.advance(DECODE_STALL * 10)
        self.assertEqual(transport.signals, [])
        decoded.read(MAX_BUFFERED)
        self.assertFalse(transport.paused)
        self.reactor.advance(DECODE_STALL)
        self.assertEqual(transport.signals, ["KILL"])
        self.assertTrue(decoded.stalled)
        self.assertTrue(decoded.finished)

    def test_closeStopsWatching(self) -> None:
        """
        Closing the file stops the watchdog.
        """
        decoded = DecodedFile(self.reactor, "/m/a.flac")
        decoded.makeConnection(PausingTransport())  # type: ignore[arg-type]
        decoded.close()
        self.assertEqual(self.reactor.getDelayedCalls(), [])
