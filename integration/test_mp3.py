"""
The MP3 framer of L{txradio.wire.mp3} on files encoded by the real ffmpeg
(MPEG-1, 2 and 2.5, layer II, VBR, tags), checked against ffprobe's count
(the framer's unit tests are in L{tests.test_mp3}).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from functools import cache

from twisted.trial.unittest import SkipTest, SynchronousTestCase

from tests.test_mp3 import feedAll, split
from txradio.wire.mp3 import (
    Frame,
    Framer,
    MPEGVersion,
    parseHeader,
)


def ffmpeg(*args: str) -> bytes:
    """
    Encode a sine wave with ffmpeg and return the file's bytes, skipping the
    test if ffmpeg is not installed.
    """
    if shutil.which("ffmpeg") is None:
        raise SkipTest("ffmpeg is not installed")
    return _encode(args)


@cache
def _encode(args: tuple[str, ...]) -> bytes:
    """
    Run ffmpeg once per distinct argument list.
    """
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "out" + args[-1])
        command = ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=2"]
        subprocess.run([*command, *args[:-1], path], check=True)
        with open(path, "rb") as f:
            return f.read()


def ffprobeFrames(data: bytes) -> int | None:
    """
    Count the audio packets ffprobe reads from C{data}, or C{None} without ffprobe.
    """
    if shutil.which("ffprobe") is None:
        return None
    with tempfile.NamedTemporaryFile(suffix=".mp3") as f:
        f.write(data)
        f.flush()
        out = subprocess.run(
            ["ffprobe", "-v", "error", "-count_packets", "-show_entries",
             "stream=nb_read_packets", "-of", "csv=p=0", f.name],
            check=True, capture_output=True,
        ).stdout  # fmt: skip
    return int(out.strip())


def id3v2Length(data: bytes) -> int:
    """
    Compute the length of the ID3v2 tag at the start of C{data} independently.
    """
    if data[:3] != b"ID3":
        return 0
    size = int.from_bytes(data[6:10], "big")
    size = (size & 0x7F) | (size >> 1 & 0x3F80) | (size >> 2 & 0x1FC000) | (size >> 3 & 0xFE00000)
    return 10 + size


class EncoderTests(SynchronousTestCase):
    """
    L{Framer} on files made by a real encoder.
    """

    def check(self, data: bytes, info: int, tail: int = 0) -> list[Frame]:
        """
        Assert that C{data} parses into its audio part, after the ID3v2 tag and
        C{info} information frames, before C{tail} bytes of trailing tags.
        """
        framer = Framer()
        frames = feedAll(split(data, 65536), framer)
        start = id3v2Length(data)
        self.assertEqual(framer.infoFrames, info)
        if info:
            start += parseHeader(data, start).length
        self.assertEqual(b"".join(frame.data for frame in frames), data[start : len(data) - tail])
        self.assertEqual((framer.tagBytes, framer.skippedBytes), (id3v2Length(data) + tail, 0))
        expected = ffprobeFrames(data)
        if expected is not None:
            self.assertEqual(len(frames), expected)
        self.assertEqual(feedAll(split(data, 333)), frames)
        return frames

    def test_mpeg1(self) -> None:
        """
        A 128 kbps 44.1 kHz stereo file with an ID3v2 tag and an Info frame.
        """
        data = ffmpeg("-ar", "44100", "-ac", "2", "-b:a", "128k", "-id3v2_version", "3",
                      "-metadata", "title=X", ".mp3")  # fmt: skip
        self.assertGreater(id3v2Length(data), 0)
        frames = self.check(data, info=1)
        header = frames[0].header
        self.assertEqual((header.version, header.layer, header.bitrate), (MPEGVersion.MPEG1, 3, 128))
        self.assertLess(abs(sum(frame.duration for frame in frames) - 2.0), 0.1)

    def test_mpeg2Mono(self) -> None:
        """
        A 22050 Hz mono file is MPEG-2 Layer III with 576-sample frames.
        """
        frames = self.check(ffmpeg("-ar", "22050", "-ac", "1", "-b:a", "32k", ".mp3"), info=1)
        header = frames[0].header
        self.assertEqual((header.version, header.channels, header.samples), (MPEGVersion.MPEG2, 1, 576))

    def test_mpeg25(self) -> None:
        """
        An 11025 Hz file is MPEG-2.5 Layer III.
        """
        frames = self.check(ffmpeg("-ar", "11025", "-ac", "2", "-b:a", "24k", ".mp3"), info=1)
        self.assertEqual(frames[0].header.version, MPEGVersion.MPEG25)

    def test_layer2(self) -> None:
        """
        An MP2 file is Layer II with no information frame.
        """
        frames = self.check(ffmpeg("-ar", "48000", "-c:a", "mp2", "-b:a", "192k", ".mp2"), info=0)
        self.assertEqual({frame.header.layer for frame in frames}, {2})

    def test_noXing(self) -> None:
        """
        With C{-write_xing 0} there is no information frame to drop.
        """
        self.check(ffmpeg("-ar", "44100", "-b:a", "128k", "-write_xing", "0", ".mp3"), info=0)

    def test_vbrWithId3v1(self) -> None:
        """
        A VBR file has a Xing frame, and a trailing ID3v1 tag is skipped.
        """
        data = ffmpeg("-ar", "44100", "-q:a", "4", "-write_id3v1", "1",
                      "-metadata", "title=Y", ".mp3")  # fmt: skip
        self.assertEqual(data[-128:-125], b"TAG")
        frames = self.check(data, info=1, tail=128)
        self.assertGreater(len({frame.header.bitrate for frame in frames}), 1)
