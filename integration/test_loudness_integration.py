"""
Integration test with Debian's ffmpeg and mpg123: four tracks at levels
about 18 dB apart, each with 2.5 s of silence at both ends, played with
C{--loudness -16 --trim-silence}, are heard at even levels with no long
silence at the joins, and the stream decodes cleanly.

The level spread before (the files) and after (the stream) is recorded as a
figure (L{integration._figures}).
"""

from __future__ import annotations

import array
import math
import os
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred, DeferredList, inlineCallbacks
from twisted.internet.task import deferLater
from twisted.trial.unittest import TestCase

from integration._figures import recordFigure
from integration._realpeers import LOCAL_ENDPOINT, connectRaw, requireProgram, run, startTap
from integration.test_transcode_integration import splitICY, titleTimes

TRACKS = [
    # (file, title, frequency, gain in dB over the sine's -18 dBFS peak)
    ("01.mp3", "Loud", 440, 14),
    ("02.mp3", "Quiet", 550, -4),
    ("03.mp3", "Loud Again", 660, 12),
    ("04.mp3", "Quiet Again", 770, -6),
]
TONE = 3.0
"""Seconds of tone in each track."""

SILENCE = 2.5
"""Seconds of silence before and after the tone."""

LISTEN = 22.0
"""Seconds of stream recorded: the first track plays untouched (it is not
measured when it starts), then the next four play trimmed and levelled."""

METAINT = 256
WINDOW = 0.05
"""Seconds per RMS window when looking for silence."""

SILENT = -50.0
"""dBFS under which a window counts as silent."""

EDGE = 0.4
"""Seconds left out at each end of a track's window when measuring its
level (title changes are placed to within a metadata interval)."""

PLAYER_TROUBLE = ("error", "resync", "illegal", "did not find", "warning")


def decibels(samples: array.array, start: int, stop: int) -> float:
    """
    @return: the RMS level of C{samples[start:stop]} in dBFS.
    """
    chunk = samples[start:stop]
    if not chunk:
        return -math.inf
    power = sum(s * s for s in chunk) / len(chunk)
    return 10 * math.log10(power / 32768.0**2) if power else -math.inf


def makeTones(case: TestCase, folder: str, tracks: list, tone: float, silence: float) -> Deferred:
    """
    Encode test tracks with real ffmpeg: each a sine tone at its own level
    with C{silence} seconds of silence at both ends, 128 kbps stereo MP3s
    with their titles.

    @param case: the test (for the children's time limits and clean-up).
    @param folder: where the files go.
    @param tracks: C{(file name, title, frequency, gain in dB)} each.
    @param tone: seconds of tone in each.
    @param silence: seconds of silence at each end.
    @return: a L{Deferred} firing when every file is written.
    """
    made = []
    delay = int(silence * 1000)
    for name, title, frequency, gain in tracks:
        args = [
            "ffmpeg", "-nostdin", "-v", "error", "-y",
            "-f", "lavfi", "-i",
            f"sine=frequency={frequency}:duration={tone}:sample_rate=44100,volume={gain}dB,"
            f"adelay={delay},apad=pad_dur={silence}",
            "-ac", "2", "-ar", "44100", "-c:a", "libmp3lame", "-b:a", "128k",
            "-metadata", f"title={title}", "-metadata", "artist=Test",
            os.path.join(folder, name),
        ]  # fmt: skip
        made.append(run(case, args, 30))
    return DeferredList(made, fireOnOneErrback=True, consumeErrors=True)


class LoudnessTests(TestCase):
    """
    A real radio, real ffmpeg analyses, real sockets and decoders.
    """

    timeout = 90

    @inlineCallbacks
    def setUp(self) -> Any:
        requireProgram("ffmpeg")
        requireProgram("mpg123")
        self.folder = os.path.abspath(self.mktemp())
        os.makedirs(self.folder)
        yield makeTones(self, self.folder, TRACKS, TONE, SILENCE)

    @inlineCallbacks
    def decode(self, path: str) -> Any:
        """
        Decode an MP3 file to mono 16-bit samples at 44.1 kHz with ffmpeg.

        @return: a L{Deferred} firing with the samples.
        """
        raw = path + ".pcm"
        child = yield run(
            self, ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", path, "-ac", "1", "-ar", "44100",
                   "-f", "s16le", raw], 30
        )  # fmt: skip
        self.assertEqual(child.exitCode, 0, child.describe())
        samples = array.array("h")
        with open(raw, "rb") as f:
            samples.frombytes(f.read())
        return samples

    @inlineCallbacks
    def test_evenAndTrimmed(self) -> Any:
        """
        From the second track on, every track's tone is within 2 dB of the
        others, no silence over 0.5 s remains at the joins, and mpg123
        decodes the stream without a complaint.
        """
        before = []
        for name, _, _, _ in TRACKS:
            samples = yield self.decode(os.path.join(self.folder, name))
            middle = int((SILENCE + TONE / 2) * 44100)
            before.append(decibels(samples, middle - 44100, middle + 44100))
        port = yield startTap(
            self,
            ["--music-dir", self.folder, "--loudness", "-16", "--trim-silence", "--listen", LOCAL_ENDPOINT,
             "--no-library", "--metaint", str(METAINT), "--burst-size", "0"],
        )  # fmt: skip
        client = yield connectRaw(self, port, b"GET /stream HTTP/1.0\r\nIcy-MetaData: 1\r\n\r\n")
        yield deferLater(reactor, LISTEN, lambda: None)
        head, _, body = bytes(client.data).partition(b"\r\n\r\n")
        self.assertIn(b"200", head.split(b"\r\n")[0])
        audio, titles = splitICY(body, METAINT)
        frames, times = titleTimes(audio, titles)
        recorded = os.path.abspath(self.mktemp()) + ".mp3"
        with open(recorded, "wb") as f:
            f.write(b"".join(frame.data for frame in frames))
        samples = yield self.decode(recorded)
        changes = [(when, title) for when, title in times if title]
        self.assertGreaterEqual(len(changes), 5, changes)
        levels = []
        for (start, title), (stop, _) in zip(changes[1:], changes[2:]):
            # Trimmed: a track lasts about its tone, not tone + 5 s.
            self.assertLess(stop - start, TONE + 1.0, changes)
            levels.append((title, decibels(samples, int((start + EDGE) * 44100), int((stop - EDGE) * 44100))))
        self.assertGreaterEqual(len(levels), 3, changes)
        heard = [level for _, level in levels]
        spread = max(heard) - min(heard)
        # The longest run of silent windows after the first (unmeasured)
        # track has ended.
        window = int(WINDOW * 44100)
        longest = run_ = 0
        firstJoin = int(changes[1][0] * 44100)
        end = min(len(samples), int(changes[-1][0] * 44100) + int(TONE * 44100 / 2))
        for offset in range(firstJoin, end - window, window):
            run_ = run_ + 1 if decibels(samples, offset, offset + window) < SILENT else 0
            longest = max(longest, run_)
        player = yield run(self, ["mpg123", "-v", "-w", "/dev/null", recorded], 30)
        recordFigure(
            "loudness -16 LUFS and trim-silence, four tracks 18 dB apart",
            levelsBeforeDb=[round(level, 1) for level in before],
            spreadBeforeDb=round(max(before) - min(before), 1),
            levelsAfterDb={title: round(level, 1) for title, level in levels},
            spreadAfterDb=round(spread, 1),
            longestSilenceAtJoinsSeconds=round(longest * WINDOW, 2),
            trackSeconds=[round(b[0] - a[0], 2) for a, b in zip(changes[1:], changes[2:])],
        )
        self.assertGreater(max(before) - min(before), 15, before)
        self.assertLessEqual(spread, 2.0, levels)
        self.assertLessEqual(longest * WINDOW, 0.5, changes)
        self.assertEqual(player.exitCode, 0, player.describe())
        trouble = [word for word in PLAYER_TROUBLE if word in player.output.lower()]
        self.assertEqual(trouble, [], player.describe())
