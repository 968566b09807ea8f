"""
Integration test with Debian's ffmpeg and mpg123: a folder of FLAC, Ogg
Vorbis, Opus, M4A and WAV files (made by ffmpeg from sine tones, with title
tags) plays in order to a raw listener, the ICY titles follow the files,
and mpg123 decodes the stream without an error.
"""

from __future__ import annotations

import os
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import DeferredList, inlineCallbacks
from twisted.internet.task import deferLater
from twisted.trial.unittest import TestCase

from integration._realpeers import LOCAL_ENDPOINT, connectRaw, requireProgram, run, titlesInOrder
from integration.test_transcode_integration import METAINT, splitICY, titleTimes
from txradio.tap import Options, makeService

TRACKS = [
    # (file, title, encoder, frequency)
    ("01.flac", "Flac Tone", ["-c:a", "flac"], 440),
    ("02.ogg", "Vorbis Tone", ["-c:a", "libvorbis"], 550),
    ("03.opus", "Opus Tone", ["-c:a", "libopus", "-ar", "48000"], 660),
    ("04.m4a", "AAC Tone", ["-c:a", "aac"], 770),
    ("05.wav", "Wave Tone", ["-c:a", "pcm_s16le"], 880),
]
SECONDS = 1.5
"""Length of each test track."""

LISTEN = 9.0
"""Seconds of stream captured: every track, and the first again."""


def makeFiles(testCase: TestCase, folder: str) -> Any:
    """
    Make the L{TRACKS} with ffmpeg.

    @return: a L{DeferredList} firing when every file is made.
    """
    os.makedirs(folder)
    made = [
        run(testCase, [
            "ffmpeg", "-nostdin", "-v", "error", "-y",
            "-f", "lavfi", "-i", f"sine=frequency={frequency}:duration={SECONDS}:sample_rate=44100",
            "-ac", "2", *codec, "-metadata", f"title={title}", "-metadata", "artist=Test",
            os.path.join(folder, name),
        ], 30)
        for name, title, codec, frequency in TRACKS
    ]  # fmt: skip
    return DeferredList(made, fireOnOneErrback=True, consumeErrors=True)


class FormatsTests(TestCase):
    """
    A real radio, real ffmpeg, a real listener and mpg123.
    """

    timeout = 90

    @inlineCallbacks
    def setUp(self) -> Any:
        requireProgram("ffmpeg")
        self.folder = os.path.abspath(self.mktemp())
        yield makeFiles(self, self.folder)
        options = Options()
        arguments = ["--music-dir", self.folder, "--listen", LOCAL_ENDPOINT]
        options.parseOptions([*arguments, "--no-library", "--metaint", str(METAINT), "--burst-size", "0"])
        self.service = makeService(options)
        self.service.startService()
        # The decoding children killed at the stop are reaped after it.
        self.addCleanup(deferLater, reactor, 1.0, lambda: None)
        self.addCleanup(self.service.stopService)
        ports = yield self.service.whenListening()
        self.port = ports[0].getHost().port

    @inlineCallbacks
    def test_everyFormatInOrder(self) -> Any:
        """
        Each file plays in turn as MP3 of the mount's format, under its own
        title, and mpg123 decodes what was heard without a complaint.
        """
        requireProgram("mpg123")
        client = yield connectRaw(self, self.port, b"GET /stream HTTP/1.0\r\nIcy-MetaData: 1\r\n\r\n")
        yield deferLater(reactor, LISTEN, lambda: None)
        head, _, body = bytes(client.data).partition(b"\r\n\r\n")
        self.assertIn(b"200", head.split(b"\r\n")[0])
        audio, titles = splitICY(body, METAINT)
        frames, times = titleTimes(audio, titles)
        self.assertGreater(len(frames), 200)
        self.assertEqual({(f.header.sampleRate, f.header.channels) for f in frames}, {(44100, 2)})
        heard = [t for t in titlesInOrder([t for _, t in times]) if t]
        expected = [f"Test - {title}" for _, title, _, _ in TRACKS]
        self.assertEqual(heard[: len(expected)], expected, heard)
        # Each track lasts about as long as its file.
        for (start, _), (end, _) in zip(times[:4], times[1:5]):
            self.assertLess(abs((end - start) - SECONDS), 0.3, times)
        path = os.path.join(self.folder, "heard.mp3")
        with open(path, "wb") as out:
            out.write(audio)
        player = yield run(self, ["mpg123", "-q", "-w", "/dev/null", path], 30)
        self.assertEqual(player.exitCode, 0, player.err)
        self.assertNotIn(b"error", player.err.lower(), player.err)
