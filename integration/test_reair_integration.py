"""
A recorded show re-aired by the programme clock, heard by a real mpg123.

The recording is made by ffmpeg (6 s at 1000 Hz, then 6 s at 660 Hz) with a
cue sheet as the recorder writes it, whose second title starts where the
tone changes.  A mount built from a configuration file's text re-airs it in
a block that is always on; mpg123 must show the recording's own titles, the
second one where it hears the tone change, and never the programme's 440 Hz
playlist or its title.
"""

from __future__ import annotations

import os

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.trial.unittest import TestCase

from integration._figures import recordFigure
from integration._realpeers import makeTracks, requireProgram, run
from integration.test_live_integration import (
    LIVE_HZ,
    PLAYLIST_HZ,
    PLAYLIST_TRACK,
    RUN,
    SECOND_HZ,
    listen,
    startService,
)
from txradio.stream.station import Station
from txradio.wire.mp3 import Framer
from txradio.wire.shows import CueTrack, cueSheet

SEGMENT_SECONDS = 6
"""Each tone's length in the recording."""

TITLES = ("Alice Artist - First Song", "Bob Artist - Second Song")
"""The recording's cue titles, one per tone."""

NAME = "2026-01-05T20-00-00_alice.mp3"
"""The recording's file name, as the recorder names them."""


class ReairTests(TestCase):
    """
    A re-air block plays a recording with its cue sheet's titles.
    """

    timeout = 90

    @inlineCallbacks
    def test_titlesWhereRecorded(self):
        """
        mpg123 shows the first cue title, then the second within two
        seconds of hearing the tone change, hears the recording's tones
        only (no 440 Hz programme), and decodes without an error.
        """
        ffmpeg = requireProgram("ffmpeg")
        requireProgram("mpg123")
        base = os.path.abspath(self.mktemp())
        recordings = os.path.join(base, "shows", "stream")
        os.makedirs(recordings)
        music = os.path.join(base, "music")
        yield makeTracks(self, music, [PLAYLIST_TRACK])
        recording = os.path.join(recordings, NAME)
        yield run(
            self,
            [
                ffmpeg, "-nostdin", "-v", "error",
                "-f", "lavfi", "-i", f"sine=frequency={LIVE_HZ}:sample_rate=44100:duration={SEGMENT_SECONDS}",
                "-f", "lavfi", "-i", f"sine=frequency={SECOND_HZ}:sample_rate=44100:duration={SEGMENT_SECONDS}",
                "-filter_complex", "[0:a][1:a]concat=n=2:v=0:a=1",
                "-c:a", "libmp3lame", "-b:a", "128k", "-ar", "44100", "-ac", "2", "-f", "mp3", recording,
            ],
            60,
        )  # fmt: skip
        with open(recording, "rb") as f:
            frames = list(Framer().feed(f.read()))
        samples = frames[0].header.samples
        # The recorder counts whole frames' samples before a title.
        change = (SEGMENT_SECONDS * 44100 // samples) * samples
        with open(recording[:-4] + ".cue", "w", encoding="utf-8") as sheet:
            sheet.write(cueSheet(NAME, "alice", [CueTrack(0, TITLES[0]), CueTrack(change, TITLES[1])], 44100))

        from txradio.build import playlistSource
        from txradio.config import parseConfig

        config = parseConfig(
            f"""
[server]
recordings_dir = "{base}/shows"
[[mount]]
path = "/stream"
playlist = "{music}"
live = true
source_password = "unused"
record = true
[[mount.block]]
name = "re-air"
when = "daily 00:00-24:00"
recordings = "/stream"
start = "hard"
"""
        )
        source = playlistSource(config.mounts[0], reactor, "transcode", config.server)
        station = Station(source, mount="/stream", clock=reactor)
        _, (port,) = yield startService(self, [station])
        listener = listen(self, f"http://127.0.0.1:{port}/stream", timeout=self.timeout)
        yield listener.waitForTitle(TITLES[0], 15)
        first = yield listener.waitForTone(LIVE_HZ, 15)
        yield listener.waitForTitle(TITLES[1], 20)
        shownAt = len(listener.tones)
        after = yield listener.waitForTone(SECOND_HZ, 20, start=first)
        heardAt = after - RUN
        # The windows mpg123 had decoded when it showed the title, against
        # the first window of the second tone (its stdout is read in
        # blocks, so the title may come a little before the audio).
        recordFigure("re-aired cue title against the tone change", seconds=round((shownAt - heardAt) / 10, 1))
        self.assertLessEqual(abs(shownAt - heardAt), 20, listener.heard())
        # Played again: the block is still on, the recording its only show.
        yield listener.waitForTitle(TITLES[0], 20, start=listener.titles.index(TITLES[1]))
        self.assertNotIn(PLAYLIST_HZ, listener.tones, listener.heard())
        self.assertFalse([t for t in listener.titles if "Playlist" in t], listener.heard())
        self.assertNotIn("error", listener.err.decode("utf-8", "replace").lower(), listener.describe())
