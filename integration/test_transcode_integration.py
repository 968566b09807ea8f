"""
Integration tests with Debian's ffmpeg: a folder mixing sample rates and
channel counts plays on C{/stream} as one format, and C{/stream-64} (from
C{--also-bitrate 64}) carries the same titles at the same track boundaries,
re-encoded at 64 kbps.
"""

from __future__ import annotations

import os
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import DeferredList, inlineCallbacks
from twisted.internet.task import deferLater
from twisted.trial.unittest import TestCase

from integration._realpeers import LOCAL_ENDPOINT, connectRaw, requireProgram, run
from txradio.tap import Options, makeService
from txradio.wire.audioformat import ENCODER_DELAY_SAMPLES
from txradio.wire.icy import parseMetadata
from txradio.wire.mp3 import Framer

TRACKS = [
    # (file, title, sample rate, channels, frequency)
    ("01.mp3", "CD Stereo", 44100, 2, 440),
    ("02.mp3", "DAT Stereo", 48000, 2, 550),
    ("03.mp3", "Half Mono", 22050, 1, 660),
]
SECONDS = 2.5
"""Length of each test track."""

LISTEN = 10.0
"""Seconds of stream captured."""

METAINT = 256


def splitICY(data: bytes, metaint: int) -> tuple[bytes, list[tuple[int, str]]]:
    """
    Take ICY metadata blocks out of a stream.

    @param data: the body after the response head.
    @param metaint: audio bytes between blocks.
    @return: the audio, and C{(audio offset, title)} for each block that
        changes the title.
    """
    audio = bytearray()
    titles: list[tuple[int, str]] = []
    position = 0
    current = None
    while position < len(data):
        audio += data[position : position + metaint]
        position += metaint
        if position >= len(data):
            break
        length = data[position] * 16
        block = data[position + 1 : position + 1 + length]
        position += 1 + length
        if len(block) < length:
            break
        if length:
            title = parseMetadata(block).get("StreamTitle", "")
            if title != current:
                titles.append((len(audio), title))
                current = title
    return bytes(audio), titles


def titleTimes(audio: bytes, titles: list[tuple[int, str]]) -> tuple[list, list[tuple[float, str]]]:
    """
    Place title changes in audio time.

    A metadata block comes at a byte boundary, not a frame boundary; the
    change is placed at the start of the frame the block falls in, which is
    where the broadcaster changed it (the listener splices blocks at fixed
    byte intervals, so this is exact only to within the frame).

    @return: the frames, and C{(seconds of audio before it, title)} for
        each change.
    """
    framer = Framer()
    frames = framer.feed(audio) + framer.flush()
    starts = []
    offset = 0
    seconds = 0.0
    times = []
    for frame in frames:
        starts.append((offset, seconds))
        offset += len(frame.data)
        seconds += frame.duration
    for byte, title in titles:
        when = next((s for o, s in reversed(starts) if o <= byte), 0.0)
        times.append((when, title))
    return frames, times


class MixedFormatTests(TestCase):
    """
    A real radio, real ffmpeg, real sockets.
    """

    timeout = 60

    @inlineCallbacks
    def setUp(self) -> Any:
        requireProgram("ffmpeg")
        self.folder = os.path.abspath(self.mktemp())
        os.makedirs(self.folder)
        made = []
        for name, title, rate, channels, frequency in TRACKS:
            args = [
                "ffmpeg", "-nostdin", "-v", "error", "-y",
                "-f", "lavfi", "-i", f"sine=frequency={frequency}:duration={SECONDS}:sample_rate={rate}",
                "-ac", str(channels), "-ar", str(rate), "-c:a", "libmp3lame", "-b:a", "96k",
                "-metadata", f"title={title}", "-metadata", "artist=Test",
                os.path.join(self.folder, name),
            ]  # fmt: skip
            made.append(run(self, args, 30))
        yield DeferredList(made, fireOnOneErrback=True, consumeErrors=True)
        options = Options()
        options.parseOptions(
            ["--music-dir", self.folder, "--also-bitrate", "64", "--listen", LOCAL_ENDPOINT,
             "--no-library", "--metaint", str(METAINT), "--burst-size", "0"]
        )  # fmt: skip
        self.service = makeService(options)
        self.service.startService()
        self.addCleanup(self.service.stopService)
        ports = yield self.service.whenListening()
        self.port = ports[0].getHost().port

    @inlineCallbacks
    def test_oneFormatAndDerivedTitles(self) -> Any:
        """
        Every frame of C{/stream} is 44.1 kHz stereo although the folder
        mixes 44.1, 48 and 22.05 kHz, stereo and mono; every frame of
        C{/stream-64} is 44.1 kHz stereo at 64 kbps; both show the same
        titles, and the audio between two title changes lasts as long on
        both (within one frame plus the encoder delay).
        """
        clients = {}
        for mount in ("/stream", "/stream-64"):
            request = f"GET {mount} HTTP/1.0\r\nIcy-MetaData: 1\r\n\r\n".encode()
            clients[mount] = yield connectRaw(self, self.port, request)
        yield deferLater(reactor, LISTEN, lambda: None)
        results = {}
        for mount, client in clients.items():
            data = bytes(client.data)
            head, _, body = data.partition(b"\r\n\r\n")
            self.assertIn(b"200", head.split(b"\r\n")[0])
            audio, titles = splitICY(body, METAINT)
            frames, times = titleTimes(audio, titles)
            self.assertGreater(len(frames), 150, mount)
            formats = {(f.header.sampleRate, f.header.channels) for f in frames}
            self.assertEqual(formats, {(44100, 2)}, mount)
            results[mount] = (frames, times)
        self.assertEqual({f.header.bitrate for f in results["/stream-64"][0]}, {64})
        parentTimes = results["/stream"][1]
        derivedTimes = results["/stream-64"][1]
        known = {f"Test - {title}" for _, title, _, _, _ in TRACKS}
        self.assertTrue({t for _, t in parentTimes} <= known | {""}, parentTimes)
        # Every format made it to /stream.
        self.assertEqual({t for _, t in parentTimes} & known, known, parentTimes)
        # The derived mount's changes, after its first, in the same order
        # as the parent's.
        derivedChanges = derivedTimes[1:]
        self.assertGreaterEqual(len(derivedChanges), 2, derivedTimes)
        parentTitles = [t for _, t in parentTimes]
        first = parentTitles.index(derivedChanges[0][1])
        parentChanges = parentTimes[first : first + len(derivedChanges)]
        self.assertEqual([t for _, t in parentChanges], [t for _, t in derivedChanges])
        tolerance = (1152 + ENCODER_DELAY_SAMPLES) / 44100 + 1152 / 44100
        for (p0, _), (p1, _), (d0, _), (d1, _) in zip(parentChanges, parentChanges[1:], derivedChanges, derivedChanges[1:]):
            # (trial's assertAlmostEqual has no delta.)
            self.assertLessEqual(abs((d1 - d0) - (p1 - p0)), tolerance, (parentChanges, derivedChanges))


class LiveTranscodeTests(TestCase):
    """
    A live source of another format, from ffmpeg as an Icecast source
    client, on a mount that transcodes.
    """

    timeout = 60

    @inlineCallbacks
    def test_liveTranscoded(self) -> Any:
        """
        A 48 kHz mono source on a 44.1 kHz stereo mount is heard as
        44.1 kHz stereo, with the source's title.
        """
        requireProgram("ffmpeg")
        options = Options()
        options.parseOptions(
            ["--source-password", "hackme", "--listen", LOCAL_ENDPOINT, "--no-library",
             "--metaint", str(METAINT), "--burst-size", "0"]
        )  # fmt: skip
        service = makeService(options)
        service.startService()
        self.addCleanup(service.stopService)
        ports = yield service.whenListening()
        port = ports[0].getHost().port
        args = [
            "ffmpeg", "-nostdin", "-hide_banner", "-v", "warning", "-re",
            "-f", "lavfi", "-i", "sine=frequency=770:sample_rate=48000",
            "-c:a", "libmp3lame", "-b:a", "64k", "-ar", "48000", "-ac", "1",
            "-content_type", "audio/mpeg", "-ice_name", "Live Mono",
            "-f", "mp3", f"icecast://source:hackme@127.0.0.1:{port}/stream",
        ]  # fmt: skip
        from integration._realpeers import spawn

        spawn(self, args, 30)
        station = service.stations[0]
        for _ in range(50):
            if station.liveSource is not None:
                break
            yield deferLater(reactor, 0.1, lambda: None)
        client = yield connectRaw(self, port, b"GET /stream HTTP/1.0\r\nIcy-MetaData: 1\r\n\r\n")
        yield deferLater(reactor, 5, lambda: None)
        _, _, body = bytes(client.data).partition(b"\r\n\r\n")
        audio, titles = splitICY(body, METAINT)
        frames, times = titleTimes(audio, titles)
        self.assertTrue(frames)
        self.assertEqual({(f.header.sampleRate, f.header.channels) for f in frames}, {(44100, 2)})
        self.assertIn("Live Mono", [t for _, t in times])
        self.assertGreater(station.conformer.runs, 0)
