"""
Integration test with Debian's ffmpeg and mpg123: crossfades on a mount
with a programme clock (a block on all day, playing the four tones of
L{integration.test_crossfade_integration}) and a jingle after every two
tracks, at C{crossfade = 3}, C{loudness = -16}, C{trim_silence = true}:
the schedule chooses each next track ahead, so every join, into the jingle
and out of it too (it is 12 s long, over three times the crossfade), is a
crossfade of over a second, and mpg123 decodes the stream cleanly.

The length of each crossfade is recorded as a figure
(L{integration._figures}).
"""

from __future__ import annotations

import os
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.task import deferLater
from twisted.trial.unittest import TestCase

from integration import test_crossfade_integration as plain
from integration._figures import recordFigure
from integration._realpeers import LOCAL_ENDPOINT, connectRaw, run, startTap

JINGLE = ("Station", 880, 12.0)
"""The jingle's title, tone and seconds of tone."""


class ClockCrossfadeTests(TestCase):
    """
    A real radio on the programme clock, real ffmpeg analyses and seams,
    real sockets and decoders.
    """

    timeout = 110
    decode = plain.CrossfadeTests.decode
    record = plain.CrossfadeTests.record

    @inlineCallbacks
    def setUp(self) -> Any:
        yield plain.CrossfadeTests.setUp(self)  # type: ignore[arg-type]
        self.jingles = os.path.abspath(self.mktemp())
        os.makedirs(self.jingles)
        title, frequency, seconds = JINGLE
        child = yield run(
            self,
            [
                "ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
                f"sine=frequency={frequency}:duration={seconds}:sample_rate=44100,volume=6dB,"
                f"adelay={int(plain.SILENCE * 1000)},apad=pad_dur={plain.SILENCE}",
                "-ac", "2", "-ar", "44100", "-c:a", "libmp3lame", "-b:a", "128k",
                "-metadata", f"title={title}", "-metadata", "artist=Test",
                os.path.join(self.jingles, "id.mp3"),
            ],
            30,
        )  # fmt: skip
        self.assertEqual(child.exitCode, 0, child.describe())

    @inlineCallbacks
    def test_crossfadesOnTheClock(self) -> Any:
        """
        Every join, the jingle's too, is a crossfade of more than a second,
        and a jingle plays after every two tracks.
        """
        config = os.path.abspath(self.mktemp()) + ".toml"
        with open(config, "w", encoding="utf-8") as f:
            f.write(
                f"""
[server]
library = false
[[mount]]
path = "/stream"
playlist = "{self.folder}"
crossfade = {plain.CROSSFADE}
loudness = -16
trim_silence = true
metaint = {plain.METAINT}
burst_size = 0
[mount.jingles]
folder = "{self.jingles}"
every_tracks = 2
[[mount.block]]
name = "all day"
when = "daily 00:00-24:00"
folder = "{self.folder}"
"""
            )
        port = yield startTap(self, ["--config", config, "--listen", LOCAL_ENDPOINT])
        client = yield connectRaw(self, port, b"GET /stream HTTP/1.0\r\nIcy-MetaData: 1\r\n\r\n")
        yield deferLater(reactor, plain.LISTEN, lambda: None)
        _, changes, recorded = yield self.record(client, "/stream")
        samples = yield self.decode(recorded)
        frequencies = dict(plain.FREQUENCIES, **{f"Test - {JINGLE[0]}": JINGLE[1]})
        overlaps = plain.joinOverlaps(samples, changes, frequencies)
        titles = [title for _, title in changes]
        recordFigure(
            "crossfade 3 s on the programme clock (a block all day, a 12 s jingle every two tracks)",
            crossfadeSecondsAtJoins=list(zip(titles[1:], overlaps)),
            titles=titles,
        )
        self.assertIn(f"Test - {JINGLE[0]}", titles)
        self.assertGreaterEqual(len(overlaps), 3, changes)
        for overlap in overlaps:
            self.assertGreaterEqual(overlap, 1.0, (overlaps, changes))
