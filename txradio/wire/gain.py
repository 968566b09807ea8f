# -*- test-case-name: tests.test_gain -*-
"""
Lossless gain on MPEG audio Layer III frames, the MP3Gain technique.

Every Layer III granule carries, per channel, an 8-bit C{global_gain} in the
frame's side information; one step scales the decoded amplitude by
2^(1/4), i.e. 1.5 dB.  Adding the same number of steps to every granule of
every frame of a track changes its loudness without decoding or
re-encoding anything: one small edit of each frame's bytes.

Side information layout (ISO 11172-3 and 13818-3), in bits from its start,
which is right after the 4-byte header, or after the 2-byte CRC of a
protected frame:

  - MPEG-1: C{main_data_begin} 9, private bits (5 mono, 3 stereo),
    C{scfsi} 4 per channel, then 2 granules x channels blocks of 59 bits;
  - MPEG-2 and 2.5: C{main_data_begin} 8, private bits (1 mono, 2 stereo),
    then 1 granule x channels blocks of 63 bits;

and in each block C{part2_3_length} 12, C{big_values} 9, then
C{global_gain} 8.  A protected frame's CRC covers header bytes 3 and 4 and
the side information, so it is recomputed.

Nothing here does I/O.
"""

from __future__ import annotations

import math

from txradio.wire.mp3 import Frame, _crc16, _sideInfoLength, granuleBlocks

STEP_DB = 1.5
"""The change in level, in dB, of one C{global_gain} step."""

PEAK_CEILING = -1.0
"""The true peak, in dBTP, that a gain may not push a track above."""

MAX_STEPS = 255
"""The largest change, in steps either way, that can mean anything."""


def _gainOffsets(frame: Frame) -> tuple[int, tuple[int, ...]]:
    """
    Where a frame's C{global_gain} fields are.

    @param frame: a Layer III frame.
    @return: the side information's byte offset in the frame, and the bit
        offsets of its C{global_gain} fields from the side information's
        start.
    """
    header = frame.header
    sideStart = 6 if header.protected else 4
    return sideStart, tuple(block + 21 for block in granuleBlocks(header))


def globalGains(frame: Frame) -> list[int]:
    """
    Read a Layer III frame's C{global_gain} fields.

    @param frame: a Layer III frame.
    @return: the fields, granule by granule and within each granule channel
        by channel.
    @raise ValueError: for a frame that is not Layer III.
    """
    if frame.header.layer != 3:
        raise ValueError(f"global_gain is a Layer III field; this frame is Layer {frame.header.layer}")
    sideStart, offsets = _gainOffsets(frame)
    size = _sideInfoLength(frame.header)
    side = int.from_bytes(frame.data[sideStart : sideStart + size], "big")
    bits = size * 8
    return [(side >> (bits - offset - 8)) & 0xFF for offset in offsets]


def applyGain(frame: Frame, steps: int) -> Frame:
    """
    Change a frame's level by C{steps} steps of 1.5 dB, without decoding it.

    Every granule's and channel's C{global_gain} gets C{steps} added,
    clamped to 0-255; a protected frame's CRC is recomputed.  Frames other
    than Layer III, and a change of 0 steps, are returned unchanged (the
    same object).

    @param frame: the frame.
    @param steps: the change in 1.5 dB steps; positive is louder.
    @return: the changed frame.
    """
    header = frame.header
    if not steps or header.layer != 3:
        return frame
    sideStart, offsets = _gainOffsets(frame)
    size = _sideInfoLength(header)
    data = frame.data
    sideEnd = sideStart + size
    side = int.from_bytes(data[sideStart:sideEnd], "big")
    bits = size * 8
    for offset in offsets:
        shift = bits - offset - 8
        gain = (side >> shift) & 0xFF
        new = min(max(gain + steps, 0), 255)
        side ^= (gain ^ new) << shift
    sideBytes = side.to_bytes(size, "big")
    if header.protected:
        crc = _crc16(data[2:4] + sideBytes).to_bytes(2, "big")
        body = data[:4] + crc + sideBytes + data[sideEnd:]
    else:
        body = data[:4] + sideBytes + data[sideEnd:]
    return Frame(header, body)


def crcMatches(frame: Frame) -> bool:
    """
    Check a frame's CRC against its Layer III side information.

    @param frame: a Layer III frame.
    @return: C{True} for an unprotected frame or a right CRC.
    """
    header = frame.header
    if not header.protected:
        return True
    size = _sideInfoLength(header)
    data = frame.data
    return _crc16(data[2:4] + data[6 : 6 + size]) == int.from_bytes(data[4:6], "big")


def peakCap(truePeak: float | None, ceiling: float = PEAK_CEILING) -> int:
    """
    The most steps a track may be made louder by so that its true peak
    stays under C{ceiling}.

    @param truePeak: the track's measured true peak in dBTP (or sample
        peak in dBFS), or L{None} when it is not known.
    @param ceiling: the highest peak allowed, in dBTP.
    @return: the steps allowed; negative when the track already peaks
        above the ceiling; L{MAX_STEPS} for an unknown or silent peak.
    """
    if truePeak is None or math.isinf(truePeak) or math.isnan(truePeak):
        return MAX_STEPS
    return math.floor((ceiling - truePeak) / STEP_DB)


def gainSteps(target: float, loudness: float, truePeak: float | None, ceiling: float = PEAK_CEILING) -> int:
    """
    The change that brings a track to a target loudness without its peak
    going over the ceiling.

    A boost is capped by the peak (never below 0: a track that already
    peaks over the ceiling is left as loud as it is, not made quieter than
    its loudness asks); a cut is always allowed.

    @param target: the loudness wanted, in LUFS.
    @param loudness: the track's integrated loudness, in LUFS.
    @param truePeak: its true peak in dBTP, or L{None} if not known.
    @param ceiling: the highest peak allowed, in dBTP.
    @return: the change in 1.5 dB steps, within +/- L{MAX_STEPS}.
    """
    if math.isnan(loudness) or math.isinf(loudness):
        return 0
    wanted = round((target - loudness) / STEP_DB)
    if wanted > 0:
        wanted = min(wanted, max(peakCap(truePeak, ceiling), 0))
    return max(-MAX_STEPS, min(MAX_STEPS, wanted))
