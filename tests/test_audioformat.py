"""
Tests for L{txradio.wire.audioformat}: mount formats and the policy decision.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from txradio.wire.audioformat import (
    DEFAULT_FORMAT,
    ENCODER_DELAY_SAMPLES,
    PASS,
    SKIP,
    TRANSCODE,
    AudioFormat,
    decide,
    formatOf,
    parseFormat,
)
from txradio.wire.mp3 import parseHeader


def headerBytes(sampleRate: int = 44100, channels: int = 2, bitrate: int = 128, layer: int = 3) -> bytes:
    """
    Build an MPEG audio frame header.

    @param sampleRate: in Hz (MPEG-1, 2 or 2.5 rates).
    @param channels: 1 (mono) or 2 (joint stereo).
    @param bitrate: in kbps, from the version's table.
    @param layer: 1, 2 or 3.
    @return: the 4 header bytes (no CRC, no padding).
    """
    versions = {44100: 3, 48000: 3, 32000: 3, 22050: 2, 24000: 2, 16000: 2, 11025: 0, 12000: 0, 8000: 0}
    rates = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}
    version = versions[sampleRate]
    if version == 3:
        table = {3: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
                 2: (0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384)}[layer]  # fmt: skip
    else:
        table = (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)
    word = 0xFFE00000 | version << 19 | (4 - layer) << 17 | 1 << 16
    word |= table.index(bitrate) << 12 | rates[version].index(sampleRate) << 10
    word |= (3 if channels == 1 else 1) << 6
    return word.to_bytes(4, "big")


def header(**kwargs):
    """
    @return: a parsed L{headerBytes} header.
    """
    return parseHeader(headerBytes(**kwargs))


class AudioFormatTests(SynchronousTestCase):
    """
    Tests for L{AudioFormat} and L{parseFormat}.
    """

    def test_default(self) -> None:
        """
        A mount that declares nothing promises 44.1 kHz stereo at any
        bitrate.
        """
        self.assertEqual(DEFAULT_FORMAT, AudioFormat(44100, 2, None))
        self.assertEqual(str(DEFAULT_FORMAT), "44100/2")

    def test_parseRoundTrip(self) -> None:
        """
        L{parseFormat} reads what C{str} writes, with or without a bitrate
        and its C{k}.
        """
        for text, expected in [
            ("44100/2/128k", AudioFormat(44100, 2, 128)),
            ("22050/1", AudioFormat(22050, 1, None)),
            (" 48000 / 2 / 64 ", AudioFormat(48000, 2, 64)),
            ("48000/2/192K", AudioFormat(48000, 2, 192)),
        ]:
            self.assertEqual(parseFormat(text), expected)
            self.assertEqual(parseFormat(str(expected)), expected)

    def test_parseRejects(self) -> None:
        """
        Anything but RATE/CHANNELS[/BITRATE], or values MP3 cannot carry, is
        a L{ValueError} that says what is expected.
        """
        for text in ["", "44100", "44100/3", "44000/2", "44100/2/100k", "a/b", "44100/2/128k/x"]:
            self.assertRaises(ValueError, parseFormat, text)
        error = self.assertRaises(ValueError, parseFormat, "44100")
        self.assertIn("44100/2/128k", str(error))

    def test_matches(self) -> None:
        """
        A frame matches a format with the same sample rate and channels, and
        the same bitrate when the format sets one; only Layer III passes.
        """
        anyRate = AudioFormat(44100, 2)
        self.assertTrue(anyRate.matches(header()))
        self.assertTrue(anyRate.matches(header(bitrate=320)))
        self.assertFalse(anyRate.matches(header(sampleRate=48000)))
        self.assertFalse(anyRate.matches(header(channels=1)))
        self.assertFalse(anyRate.matches(header(layer=2)))
        fixed = AudioFormat(44100, 2, 128)
        self.assertTrue(fixed.matches(header()))
        self.assertFalse(fixed.matches(header(bitrate=64)))
        self.assertTrue(AudioFormat(22050, 1).matches(header(sampleRate=22050, channels=1, bitrate=32)))

    def test_delay(self) -> None:
        """
        The encoder delay is 1105 samples at the format's rate.
        """
        self.assertEqual(ENCODER_DELAY_SAMPLES, 1105)
        self.assertAlmostEqual(AudioFormat(44100, 2).delay, 1105 / 44100)
        self.assertAlmostEqual(AudioFormat(48000, 2).delay, 1105 / 48000)

    def test_encodeBitrate(self) -> None:
        """
        An encoder uses the format's bitrate, or 128 kbps when it sets none.
        """
        self.assertEqual(AudioFormat(44100, 2, 64).encodeBitrate, 64)
        self.assertEqual(AudioFormat(44100, 2).encodeBitrate, 128)

    def test_describe(self) -> None:
        """
        L{AudioFormat.describe} says the format in words, for replies.
        """
        self.assertEqual(AudioFormat(44100, 2, 128).describe(), "MP3 at 44100 Hz, 2 channels, 128 kbps")
        self.assertEqual(AudioFormat(22050, 1).describe(), "MP3 at 22050 Hz, 1 channel, any bitrate")

    def test_formatOf(self) -> None:
        """
        L{formatOf} gives a Layer III frame's format, L{None} for others.
        """
        self.assertEqual(formatOf(header(sampleRate=48000, bitrate=64)), AudioFormat(48000, 2, 64))
        self.assertIsNone(formatOf(header(layer=2)))


class DecideTests(SynchronousTestCase):
    """
    Tests for L{decide}, the format policy.
    """

    def test_table(self) -> None:
        """
        Matching audio passes whatever the policy; other audio is transcoded
        when the policy says so and an encoder exists, and skipped
        otherwise.
        """
        mount = AudioFormat(44100, 2)
        good = header()
        bad = header(sampleRate=48000)
        cases = [
            (good, TRANSCODE, True, PASS),
            (good, TRANSCODE, False, PASS),
            (good, SKIP, True, PASS),
            (bad, TRANSCODE, True, TRANSCODE),
            (bad, TRANSCODE, False, SKIP),
            (bad, SKIP, True, SKIP),
            (bad, SKIP, False, SKIP),
            (header(channels=1), TRANSCODE, True, TRANSCODE),
            (header(sampleRate=22050, channels=1, bitrate=32), SKIP, True, SKIP),
        ]
        for frameHeader, policy, available, expected in cases:
            self.assertEqual(decide(frameHeader, mount, policy, available), expected, (frameHeader, policy, available))

    def test_bitrate(self) -> None:
        """
        A mount with a bitrate transcodes audio at another bitrate.
        """
        self.assertEqual(decide(header(bitrate=192), AudioFormat(44100, 2, 128), TRANSCODE, True), TRANSCODE)
        self.assertEqual(decide(header(bitrate=128), AudioFormat(44100, 2, 128), TRANSCODE, True), PASS)

    def test_noFormat(self) -> None:
        """
        A mount that promises no format passes everything.
        """
        self.assertEqual(decide(header(sampleRate=48000, channels=1), None, SKIP, False), PASS)

    def test_unknownPolicy(self) -> None:
        """
        An unknown policy is a L{ValueError}.
        """
        self.assertRaises(ValueError, decide, header(), AudioFormat(), "maybe", True)
