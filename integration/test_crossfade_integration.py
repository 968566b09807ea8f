"""
Integration test with Debian's ffmpeg and mpg123: four tracks of different
tones, at levels about 18 dB apart, each with 2.5 s of silence at both ends,
played with C{--crossfade 3 --loudness -16 --trim-silence}: every join is a
crossfade of over a second (both tones heard at once), the levels are even,
no silence over 0.5 s is heard, both the stream and its derived 64 kbps
mount decode cleanly, and the derived mount and the HLS segments carry the
same titles.

The length of each crossfade and the levels are recorded as figures
(L{integration._figures}).
"""

from __future__ import annotations

import array
import math
import os
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.task import deferLater
from twisted.trial.unittest import TestCase

from integration._figures import recordFigure
from integration._realpeers import (
    LOCAL_ENDPOINT,
    connectRaw,
    fetch,
    parseResponse,
    requireProgram,
    run,
    startTap,
    titlesInOrder,
)
from integration.test_loudness_integration import PLAYER_TROUBLE, decibels, makeTones
from integration.test_transcode_integration import splitICY, titleTimes

TRACKS = [
    # (file, title, frequency, gain in dB over the sine's -18 dBFS peak)
    ("01.mp3", "Loud", 440, 14),
    ("02.mp3", "Quiet", 550, -4),
    ("03.mp3", "Loud Again", 660, 12),
    ("04.mp3", "Quiet Again", 770, -6),
]
FREQUENCIES = {f"Test - {title}": frequency for _, title, frequency, _ in TRACKS}

TONE = 15.0
"""Seconds of tone in each track."""

SILENCE = 2.5
"""Seconds of silence before and after the tone."""

CROSSFADE = 3.0

LISTEN = 56.0
"""Seconds of stream recorded: the first track (unmeasured when it starts,
so it plays whole and unlevelled, but fades into the second once measured),
then the other three, then the first again: four joins."""

RATE = 8000
"""Samples per second the recordings are decoded to for analysis: plenty
for tones under 1 kHz, and quick to read in Python."""

METAINT = 256
WINDOW = 0.1
"""Seconds per analysis window."""

SILENT = -50.0
"""dBFS under which a window counts as silent."""

HEARD = -40.0
"""dBFS over which a tone counts as heard in a window (the levelled tones
play near -19 dBFS)."""

EDGE = 2.0
"""Seconds left out at each end of a track's span when measuring its level:
the title changes in the middle of each 3 s crossfade."""


def toneLevel(samples: array.array, start: int, stop: int, frequency: float) -> float:
    """
    The level of one tone in a window, by the Goertzel algorithm on
    Hann-windowed samples.

    @return: the tone's RMS level in dBFS.
    """
    count = stop - start
    coefficient = 2 * math.cos(2 * math.pi * frequency / RATE)
    previous = before = 0.0
    for index in range(count):
        weight = 0.5 - 0.5 * math.cos(2 * math.pi * index / (count - 1))
        current = samples[start + index] * weight / 32768.0 + coefficient * previous - before
        before, previous = previous, current
    power = previous * previous + before * before - coefficient * previous * before
    # The Hann window's coherent gain is 1/2; a sine of amplitude A gives
    # |X| = A * count / 4, and its RMS level is A / sqrt(2).
    amplitude = 4 * math.sqrt(max(power, 0.0)) / count
    return 20 * math.log10(amplitude / math.sqrt(2)) if amplitude > 0 else -math.inf


def joinOverlaps(samples: array.array, changes: list[tuple[float, str]], frequencies: dict[str, float]) -> list[float]:
    """
    @param samples: the stream decoded at L{RATE}.
    @param changes: its title changes, C{(seconds, title)}.
    @param frequencies: each title's tone.
    @return: for each join, the longest run of L{WINDOW}s around its title
        change in which both tones are heard, in seconds.
    """
    window = int(WINDOW * RATE)
    overlaps = []
    for (_, before), (at, after) in zip(changes, changes[1:]):
        longest = run_ = 0
        start = max(int((at - CROSSFADE) * RATE), 0)
        for offset in range(start, min(int((at + CROSSFADE) * RATE), len(samples) - window), window):
            heard = [toneLevel(samples, offset, offset + window, frequencies[t]) > HEARD for t in (before, after)]
            run_ = run_ + 1 if all(heard) else 0
            longest = max(longest, run_)
        overlaps.append(round(longest * WINDOW, 1))
    return overlaps


def segmentTitle(segment: bytes) -> str | None:
    """
    Read the title (C{TIT2}) from the ID3v2.4 tag that starts an HLS
    segment.

    @return: the title, or L{None} when the tag has none.
    """
    assert segment[:3] == b"ID3", segment[:10]
    size = 0
    for byte in segment[6:10]:
        size = size << 7 | byte
    tag, at = segment[10 : 10 + size], 0
    while at + 10 <= len(tag):
        frameID, length = tag[at : at + 4], 0
        for byte in tag[at + 4 : at + 8]:
            length = length << 7 | byte
        if frameID == b"TIT2":
            return tag[at + 11 : at + 10 + length].rstrip(b"\0").decode("utf-8")
        at += 10 + length
    return None


class CrossfadeTests(TestCase):
    """
    A real radio, real ffmpeg analyses and seams, real sockets and decoders.
    """

    timeout = 110

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
        Decode an MP3 file to mono 16-bit samples at L{RATE} with ffmpeg,
        which must not complain.

        @return: a L{Deferred} firing with the samples.
        """
        raw = path + ".pcm"
        child = yield run(
            self, ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", path, "-ac", "1", "-ar", str(RATE),
                   "-f", "s16le", raw], 30
        )  # fmt: skip
        self.assertEqual(child.exitCode, 0, child.describe())
        self.assertEqual(child.output.strip(), "", child.describe())
        samples = array.array("h")
        with open(raw, "rb") as f:
            samples.frombytes(f.read())
        return samples

    @inlineCallbacks
    def record(self, client, mount: str) -> Any:
        """
        Keep what a listener received as an MP3 file, check that mpg123
        decodes it without a complaint, and read its title changes.

        @return: a L{Deferred} firing with the frames, the title changes
            (seconds, title) and the file's path.
        """
        head, _, body = bytes(client.data).partition(b"\r\n\r\n")
        self.assertIn(b"200", head.split(b"\r\n")[0])
        audio, titles = splitICY(body, METAINT)
        frames, times = titleTimes(audio, titles)
        recorded = os.path.join(os.path.abspath(self.mktemp()) + mount.replace("/", "-") + ".mp3")
        with open(recorded, "wb") as f:
            f.write(b"".join(frame.data for frame in frames))
        player = yield run(self, ["mpg123", "-v", "-w", "/dev/null", recorded], 30)
        self.assertEqual(player.exitCode, 0, player.describe())
        trouble = [word for word in PLAYER_TROUBLE if word in player.output.lower()]
        self.assertEqual(trouble, [], player.describe())
        return frames, [(when, title) for when, title in times if title], recorded

    @inlineCallbacks
    def test_crossfades(self) -> Any:
        """
        Every join is a crossfade of more than a second, the levelled
        tracks are within 2 dB of each other, no silence over 0.5 s is
        heard after the first track's start, and C{/stream-64} shows the
        same titles in the same order.
        """
        port = yield startTap(
            self,
            ["--music-dir", self.folder, "--crossfade", str(CROSSFADE), "--loudness", "-16", "--trim-silence",
             "--also-bitrate", "64", "--listen", LOCAL_ENDPOINT, "--no-library", "--metaint", str(METAINT),
             "--burst-size", "0"],
        )  # fmt: skip
        clients = {}
        for mount in ("/stream", "/stream-64"):
            request = f"GET {mount} HTTP/1.0\r\nIcy-MetaData: 1\r\n\r\n".encode()
            clients[mount] = yield connectRaw(self, port, request)
        yield deferLater(reactor, LISTEN, lambda: None)
        hlsTitles = yield self.hlsTitles(port)
        frames, changes, recorded = yield self.record(clients["/stream"], "/stream")
        derivedFrames, derivedChanges, _ = yield self.record(clients["/stream-64"], "/stream-64")
        samples = yield self.decode(recorded)
        self.assertGreaterEqual(len(changes), 5, changes)
        window = int(WINDOW * RATE)
        overlaps = joinOverlaps(samples, changes, FREQUENCIES)
        levels = []
        for (start, title), (stop, _) in zip(changes[1:], changes[2:]):
            levels.append((title, decibels(samples, int((start + EDGE) * RATE), int((stop - EDGE) * RATE))))
        heardLevels = [level for _, level in levels]
        spread = max(heardLevels) - min(heardLevels)
        longest = run_ = 0
        # From where the first track's tone starts (its leading silence
        # plays: it was not measured when it started) to the end.
        for offset in range(int((SILENCE + 0.5) * RATE), len(samples) - window, window):
            run_ = run_ + 1 if decibels(samples, offset, offset + window) < SILENT else 0
            longest = max(longest, run_)
        # No gap even a few frames long (a seam's priming, or frames the
        # reservoir guard silenced): the quietest 10 ms, and frames whose
        # side information is all zero (silenced), after the first join.
        short = int(0.01 * RATE)
        quietest = min(
            decibels(samples, offset, offset + short)
            for offset in range(int((SILENCE + 0.5) * RATE), len(samples) - 2 * short, short)
        )
        firstJoin = int((changes[1][0] - CROSSFADE) / (1152 / 44100))
        silenced = sum(1 for frame in frames[firstJoin:] if not any(frame.data[4:36]))
        recordFigure(
            "crossfade 3 s with loudness -16 LUFS and trim-silence, four tracks 18 dB apart",
            crossfadeSecondsAtJoins=overlaps,
            levelsDb={title: round(level, 1) for title, level in levels},
            spreadDb=round(spread, 1),
            longestSilenceSeconds=round(longest * WINDOW, 2),
            quietestTenMillisecondsDb=round(quietest, 1),
            silencedFrames=silenced,
            trackSeconds=[round(b[0] - a[0], 2) for a, b in zip(changes, changes[1:])],
        )
        self.assertGreaterEqual(len(overlaps), 4, changes)
        for overlap in overlaps:
            self.assertGreaterEqual(overlap, 1.0, (overlaps, changes))
        self.assertGreaterEqual(len(levels), 3, changes)
        self.assertLessEqual(spread, 2.0, levels)
        self.assertLessEqual(longest * WINDOW, 0.5, changes)
        self.assertGreater(quietest, SILENT, changes)
        self.assertEqual(silenced, 0)
        # The derived mount: 64 kbps, and the same titles in the same order.
        self.assertEqual({frame.header.bitrate for frame in derivedFrames}, {64})
        derivedTitles = [title for _, title in derivedChanges]
        self.assertGreaterEqual(len(derivedTitles), 4, derivedChanges)
        parentTitles = [title for _, title in changes]
        first = parentTitles.index(derivedTitles[0])
        self.assertEqual(parentTitles[first : first + len(derivedTitles)], derivedTitles)
        # HLS: the segments still listed carry the same titles, in order.
        names = [title.removeprefix("Test - ") for title in parentTitles]
        self.assertGreaterEqual(len(hlsTitles), 2, hlsTitles)
        first = names.index(hlsTitles[0])
        self.assertEqual(names[first : first + len(hlsTitles)], hlsTitles)

    @inlineCallbacks
    def hlsTitles(self, port: int) -> Any:
        """
        Fetch C{/stream.m3u8} and every segment it lists.

        @return: a L{Deferred} firing with the segments' titles, repeats
            collapsed.
        """
        reply = yield fetch(self, port, b"GET /stream.m3u8 HTTP/1.0\r\n\r\n")
        status, _, body = parseResponse(reply)
        self.assertIn(b" 200 ", status + b" ")
        titles = []
        for line in body.decode("utf-8").splitlines():
            if line and not line.startswith("#"):
                path = line if line.startswith("/") else "/" + line
                reply = yield fetch(self, port, f"GET {path} HTTP/1.0\r\n\r\n".encode())
                status, _, segment = parseResponse(reply)
                self.assertIn(b" 200 ", status + b" ", path)
                titles.append(segmentTitle(segment))
        return titlesInOrder([title for title in titles if title])
