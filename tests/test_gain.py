"""
Tests for L{txradio.wire.gain}: lossless gain on Layer III frames.
"""

from __future__ import annotations

import os
import random

from hypothesis import given
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

import txradio
from txradio.wire.gain import (
    MAX_STEPS,
    applyGain,
    crcMatches,
    gainSteps,
    globalGains,
    peakCap,
)
from txradio.wire.mp3 import Frame, Framer, MPEGVersion, _crc16, _sideInfoLength, parseHeader

DEMO = os.path.join(os.path.dirname(txradio.__file__), "demo", "01-morning-arpeggio.mp3")

# (version bits, sample-rate index) for MPEG-1, 2 and 2.5.
_VERSION_BITS = {MPEGVersion.MPEG1: 3, MPEGVersion.MPEG2: 2, MPEGVersion.MPEG25: 0}


def makeFrame(version: MPEGVersion, mode: int, protected: bool, seed: int) -> Frame:
    """
    Build a Layer III frame with random side information and body (and a
    right CRC when protected).

    @param version: the MPEG version.
    @param mode: the channel mode (3 is mono).
    @param protected: whether a CRC follows the header.
    @param seed: seeds the random bytes.
    @return: the frame.
    """
    rng = random.Random(seed)
    header = bytes(
        (
            0xFF,
            0xE0 | _VERSION_BITS[version] << 3 | 1 << 1 | (0 if protected else 1),
            9 << 4,  # bitrate index 9, first sample rate
            mode << 6,
        )
    )
    parsed = parseHeader(header)
    side = _sideInfoLength(parsed)
    body = rng.randbytes(parsed.length - 4)
    if protected:
        sideBytes = body[2 : 2 + side]
        body = _crc16(header[2:4] + sideBytes).to_bytes(2, "big") + body[2:]
    return Frame(parsed, header + body)


def referenceGainOffsets(frame: Frame) -> list[int]:
    """
    The bit offsets of the C{global_gain} fields, from the start of the
    frame, computed by walking the side information field by field as the
    standard lists it (independently of the code under test).

    @param frame: a Layer III frame.
    @return: the offsets.
    """
    header = frame.header
    channels = header.channels
    pos = 32 + (16 if header.protected else 0)
    offsets = []
    if header.version is MPEGVersion.MPEG1:
        pos += 9 + (5 if channels == 1 else 3) + 4 * channels
        granules = 2
        # part2_3_length, big_values, global_gain, scalefac_compress,
        # window_switching_flag, 22 bits of either branch, preflag,
        # scalefac_scale, count1table_select.
        fields = [12, 9, 8, 4, 1, 22, 1, 1, 1]
    else:
        pos += 8 + (1 if channels == 1 else 2)
        granules = 1
        fields = [12, 9, 8, 9, 1, 22, 1, 1]
    for _ in range(granules * channels):
        offsets.append(pos + 21)
        pos += sum(fields)
    # The walk ends exactly at the end of the side information.
    assert pos == 32 + (16 if header.protected else 0) + 8 * _sideInfoLength(header)
    return offsets


def bitsOf(data: bytes) -> str:
    """@return: C{data} as a string of C{0} and C{1}."""
    return "".join(f"{byte:08b}" for byte in data)


def demoFrames() -> list[Frame]:
    """@return: the frames of a demo MP3 shipped with txradio."""
    with open(DEMO, "rb") as f:
        framer = Framer()
        return framer.feed(f.read()) + framer.flush()


FORMATS = [
    (version, mode, protected)
    for version in MPEGVersion
    for mode in (0, 1, 3)
    for protected in (False, True)
]


class ApplyGainTests(SynchronousTestCase):
    """
    L{applyGain} edits only the C{global_gain} fields, bit-exactly.
    """

    def assertOnlyGainsChanged(self, before: Frame, after: Frame, steps: int) -> None:
        """
        Check that C{after} is C{before} with C{steps} added (clamped) to
        every C{global_gain}, the CRC aside, and that its CRC is right.
        """
        old, new = bitsOf(before.data), bitsOf(after.data)
        self.assertEqual(len(old), len(new))
        offsets = referenceGainOffsets(before)
        protectedBits = set(range(32, 48)) if before.header.protected else set()
        gainBits = {offset + i for offset in offsets for i in range(8)}
        for index, (a, b) in enumerate(zip(old, new)):
            if index not in gainBits and index not in protectedBits:
                self.assertEqual(a, b, f"bit {index} changed")
        for offset in offsets:
            gain = int(old[offset : offset + 8], 2)
            self.assertEqual(int(new[offset : offset + 8], 2), min(max(gain + steps, 0), 255))
        self.assertTrue(crcMatches(after))

    def test_everyFormat(self) -> None:
        """
        In MPEG-1, 2 and 2.5, mono and stereo, with and without a CRC, the
        gain fields (2 granules in MPEG-1, 1 otherwise) and only they change.
        """
        for seed, (version, mode, protected) in enumerate(FORMATS):
            frame = makeFrame(version, mode, protected, seed)
            self.assertTrue(crcMatches(frame))
            for steps in (1, -3, 7, 200, -200):
                self.assertOnlyGainsChanged(frame, applyGain(frame, steps), steps)
            expected = (2 if version is MPEGVersion.MPEG1 else 1) * (1 if mode == 3 else 2)
            self.assertEqual(len(globalGains(frame)), expected)

    def test_knownOffsets(self) -> None:
        """
        In an unprotected MPEG-1 stereo frame the first C{global_gain} is at
        bit 41 of the side information (9 + 3 + 8 + 21), and in a mono one
        at bit 39 (9 + 5 + 4 + 21).
        """
        stereo = makeFrame(MPEGVersion.MPEG1, 0, False, 1)
        mono = makeFrame(MPEGVersion.MPEG1, 3, False, 2)
        self.assertEqual(globalGains(stereo)[0], int(bitsOf(stereo.data)[32 + 41 : 32 + 49], 2))
        self.assertEqual(globalGains(mono)[0], int(bitsOf(mono.data)[32 + 39 : 32 + 47], 2))

    def test_realFrames(self) -> None:
        """
        On the frames of a real MP3 (LAME, joint stereo), the gains are in a
        plausible range and only they change.
        """
        frames = demoFrames()
        self.assertGreater(len(frames), 100)
        gains = [g for frame in frames for g in globalGains(frame)]
        # LAME's global gains of real audio sit around 130-220.
        self.assertTrue(100 < sorted(gains)[len(gains) // 2] < 230, gains[:20])
        for frame in frames[::50]:
            self.assertOnlyGainsChanged(frame, applyGain(frame, -4), -4)

    def test_clamped(self) -> None:
        """
        Gains are clamped to 0-255.
        """
        frame = makeFrame(MPEGVersion.MPEG1, 0, True, 9)
        self.assertEqual(globalGains(applyGain(frame, 300)), [255] * 4)
        self.assertEqual(globalGains(applyGain(frame, -300)), [0] * 4)

    def test_zeroIsIdentity(self) -> None:
        """
        No change, or a frame that is not Layer III, returns the same frame.
        """
        frame = makeFrame(MPEGVersion.MPEG2, 0, False, 3)
        self.assertIs(applyGain(frame, 0), frame)
        layer2 = Frame(parseHeader(b"\xff\xfd\x90\x00"), b"\xff\xfd\x90\x00" + bytes(413))
        self.assertIs(applyGain(layer2, 5), layer2)
        self.assertRaises(ValueError, globalGains, layer2)

    def test_crcRecomputed(self) -> None:
        """
        A protected frame's CRC is recomputed; a wrong one is detected.
        """
        frame = makeFrame(MPEGVersion.MPEG1, 1, True, 4)
        louder = applyGain(frame, 2)
        self.assertNotEqual(louder.data[4:6], frame.data[4:6])
        self.assertTrue(crcMatches(louder))
        broken = Frame(frame.header, frame.data[:4] + bytes(2) + frame.data[6:])
        self.assertFalse(crcMatches(broken))

    @given(
        st.sampled_from(FORMATS),
        st.integers(min_value=0, max_value=2**16),
        st.integers(min_value=-MAX_STEPS, max_value=MAX_STEPS),
    )
    def test_roundTrip(self, fmt: tuple[MPEGVersion, int, bool], seed: int, steps: int) -> None:
        """
        Undoing a gain that was not clamped gives back the same bytes.
        """
        frame = makeFrame(*fmt, seed)
        gains = globalGains(frame)
        changed = applyGain(frame, steps)
        if all(0 <= g + steps <= 255 for g in gains):
            self.assertEqual(applyGain(changed, -steps), frame)
        else:
            self.assertEqual(globalGains(changed), [min(max(g + steps, 0), 255) for g in gains])


class StepsTests(SynchronousTestCase):
    """
    L{gainSteps} and L{peakCap}: how many steps a track gets.
    """

    def test_toTarget(self) -> None:
        """
        The change is the difference to the target in 1.5 dB steps, rounded.
        """
        self.assertEqual(gainSteps(-16.0, -10.0, -0.5), -4)
        self.assertEqual(gainSteps(-16.0, -16.0, -3.0), 0)
        self.assertEqual(gainSteps(-16.0, -20.6, -30.0), 3)

    def test_peakCapsBoost(self) -> None:
        """
        A boost stops where the true peak would reach -1 dBTP; a track
        already over it is not boosted, nor cut for its peak alone.
        """
        self.assertEqual(peakCap(-7.0), 4)
        self.assertEqual(peakCap(-7.1), 4)
        self.assertEqual(gainSteps(-16.0, -34.0, -7.0), 4)
        self.assertEqual(gainSteps(-16.0, -34.0, 0.5), 0)
        self.assertEqual(gainSteps(-16.0, -34.0, None), 12)

    def test_unmeasurable(self) -> None:
        """
        Digital silence (loudness -inf) is left alone; an unknown peak does
        not cap.
        """
        self.assertEqual(gainSteps(-16.0, float("-inf"), float("-inf")), 0)
        self.assertEqual(peakCap(float("-inf")), MAX_STEPS)
