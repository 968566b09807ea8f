# -*- test-case-name: tests.test_mp3 -*-
"""
A pure, incremental MPEG audio (MP1/MP2/MP3) frame parser.

Nothing here does I/O or looks at a clock: L{parseHeader} decodes a 4-byte
frame header, L{tagLength} recognises ID3v2, ID3v1 and APEv2 tags, and
L{Framer} turns arbitrarily split input into whole L{Frame}s, skipping tags,
junk and Xing/Info/VBRI frames, with memory bounded by a few frame lengths.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from typing import final


class MPEGVersion(Enum):
    """The MPEG audio version of a frame."""

    MPEG1 = "1"
    MPEG2 = "2"
    MPEG25 = "2.5"


class FreeFormatError(ValueError):
    """
    The header announces a free-format stream (bitrate index 0), whose frame
    length cannot be computed from the header; txradio does not support it.
    """


# Version bits (header bits 20-19) -> version; 1 is reserved.
_VERSIONS = {0: MPEGVersion.MPEG25, 2: MPEGVersion.MPEG2, 3: MPEGVersion.MPEG1}
# Layer bits (18-17) -> layer number; 0 is reserved.
_LAYERS = {1: 3, 2: 2, 3: 1}
# Bitrates in kbps by (version, layer) and bitrate index; index 0 is free format.
_LOW_RATES = (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)
_BITRATES = {
    (MPEGVersion.MPEG1, 1): (0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (MPEGVersion.MPEG1, 2): (0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (MPEGVersion.MPEG1, 3): (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    # MPEG-2 and MPEG-2.5 share their tables.
    (MPEGVersion.MPEG2, 1): (0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (MPEGVersion.MPEG2, 2): _LOW_RATES,
    (MPEGVersion.MPEG2, 3): _LOW_RATES,
}
for _layer in (1, 2, 3):
    _BITRATES[MPEGVersion.MPEG25, _layer] = _BITRATES[MPEGVersion.MPEG2, _layer]
_SAMPLE_RATES = {
    MPEGVersion.MPEG1: (44100, 48000, 32000),
    MPEGVersion.MPEG2: (22050, 24000, 16000),
    MPEGVersion.MPEG25: (11025, 12000, 8000),
}


def _frameSize(version: MPEGVersion, layer: int, kbps: int, hz: int, pad: int) -> tuple[int, int]:
    """
    @return: A frame's C{(length in bytes, samples per channel)}.
    """
    if layer == 1:
        return (12000 * kbps // hz + pad) * 4, 384
    if layer == 3 and version is not MPEGVersion.MPEG1:
        return 72000 * kbps // hz + pad, 576
    return 144000 * kbps // hz + pad, 1152


# The longest legal frame: MPEG-2.5 Layer II at 160 kbps and 8 kHz, padded.
_MAX_FRAME_LENGTH = max(
    _frameSize(version, layer, max(rates), min(_SAMPLE_RATES[version]), 1)[0]
    for (version, layer), rates in _BITRATES.items()
)
# Where a frame or a tag might start while scanning junk.
_CANDIDATE = re.compile(rb"\xff|ID3|TAG|APETAGEX")


@dataclass(frozen=True, slots=True)
class FrameHeader:
    """
    A decoded MPEG audio frame header.

    @ivar version: The MPEG version.
    @ivar layer: The layer: 1, 2 or 3.
    @ivar protected: C{True} when a 16-bit CRC follows the header.
    @ivar bitrate: The bitrate in kbps.
    @ivar sampleRate: The sample rate in Hz.
    @ivar padding: C{True} when the frame carries one padding slot.
    @ivar channelMode: 0 stereo, 1 joint stereo, 2 dual channel, 3 mono.
    @ivar length: The whole frame's length in bytes, header included.
    @ivar samples: Samples per channel in the frame (384, 1152 or 576).
    """

    version: MPEGVersion
    layer: int
    protected: bool
    bitrate: int
    sampleRate: int
    padding: bool
    channelMode: int
    length: int
    samples: int

    @property
    def channels(self) -> int:
        """The number of channels: 1 for mono, otherwise 2."""
        return 1 if self.channelMode == 3 else 2

    @property
    def duration(self) -> float:
        """The frame's duration in seconds."""
        return self.samples / self.sampleRate

    @property
    def _kind(self) -> tuple[MPEGVersion, int, int]:
        """What consecutive frames must share: version, layer, sample rate."""
        return self.version, self.layer, self.sampleRate


@lru_cache(maxsize=512)
def _decode(word: int) -> FrameHeader:
    """
    Decode a header word whose sync, private, mode extension, copyright,
    original and emphasis bits are masked off (so results cache well).

    @raise ValueError: For a reserved or invalid field.
    """
    version = _VERSIONS.get((word >> 19) & 3)
    if version is None:
        raise ValueError("reserved MPEG version (version bits 01)")
    layer = _LAYERS.get((word >> 17) & 3)
    if layer is None:
        raise ValueError("reserved layer (layer bits 00)")
    bitrateIndex = (word >> 12) & 15
    if bitrateIndex == 15:
        raise ValueError("bad bitrate index 15")
    rateIndex = (word >> 10) & 3
    if rateIndex == 3:
        raise ValueError("reserved sample rate index 3")
    if bitrateIndex == 0:
        raise FreeFormatError("free-format MP3 (bitrate index 0) is not supported")
    bitrate = _BITRATES[version, layer][bitrateIndex]
    sampleRate = _SAMPLE_RATES[version][rateIndex]
    padding = bool(word & 0x200)
    length, samples = _frameSize(version, layer, bitrate, sampleRate, padding)
    return FrameHeader(
        version=version,
        layer=layer,
        protected=not word & 0x10000,
        bitrate=bitrate,
        sampleRate=sampleRate,
        padding=padding,
        channelMode=(word >> 6) & 3,
        length=length,
        samples=samples,
    )


def parseHeader(data: bytes, offset: int = 0) -> FrameHeader:
    """
    Decode the MPEG audio frame header in the 4 bytes at C{offset}.

    @param data: Bytes holding the header.
    @param offset: Where the header starts in C{data}.
    @return: The decoded header.
    @raise FreeFormatError: For bitrate index 0 (free format).
    @raise ValueError: For fewer than 4 bytes, no frame sync, a reserved
        version, layer or sample rate, or bitrate index 15; the message names
        the field.
    """
    if len(data) - offset < 4:
        raise ValueError(f"need 4 bytes for a frame header, got {max(len(data) - offset, 0)}")
    word = int.from_bytes(data[offset : offset + 4], "big")
    if word & 0xFFE00000 != 0xFFE00000:
        raise ValueError(f"no frame sync at offset {offset}")
    return _decode(word & 0x001FFEC0)


@final
@dataclass(frozen=True, slots=True)
class Frame:
    """
    One whole MPEG audio frame.

    @ivar header: The decoded header.
    @ivar data: The frame's bytes, header included; C{len(data) == header.length}.
    """

    header: FrameHeader
    data: bytes

    @property
    def duration(self) -> float:
        """The frame's duration in seconds."""
        return self.header.duration


def isInfoFrame(frame: Frame) -> bool:
    """
    Tell whether C{frame} is a Xing/Info (LAME) or VBRI frame, which describes
    the file and holds no audio.

    The Xing/Info tag follows the Layer III side information (after the CRC
    when the frame is protected; the offset without the CRC is also accepted,
    as ffmpeg and LAME's own reader use it); the VBRI tag sits at offset 36.

    @param frame: The frame to look at.
    @return: C{True} if the frame is an information frame.
    """
    header = frame.header
    if header.layer != 3:
        return False
    data = frame.data
    mono = header.channelMode == 3
    if header.version is MPEGVersion.MPEG1:
        offset = 4 + (17 if mono else 32)
    else:
        offset = 4 + (9 if mono else 17)
    if data[offset : offset + 4] in (b"Xing", b"Info"):
        return True
    if header.protected and data[offset + 2 : offset + 6] in (b"Xing", b"Info"):
        return True
    return data[36:40] == b"VBRI"


def tagLength(data: bytes, offset: int = 0) -> int | None:
    """
    Recognise an ID3v2, ID3v1 or APEv2 tag starting at C{data[offset:]}.

    @param data: The bytes to look at.
    @param offset: Where to look in C{data}.
    @return: The tag's total length in bytes (ID3v2: 10 + size, + 10 with a
        footer; ID3v1: 128; APEv2: size + 32 from a header block, 32 from a
        lone footer block); C{0} if no tag starts there; C{None} if more bytes
        are needed to tell.
    """
    head = data[offset : offset + 10]
    if head[:3] == b"ID3":
        if len(head) < 10:
            return None
        if head[3] == 0xFF or head[4] == 0xFF or any(b & 0x80 for b in head[6:10]):
            return 0
        size = head[6] << 21 | head[7] << 14 | head[8] << 7 | head[9]
        return 10 + size + (10 if head[5] & 0x10 else 0)
    if head[:3] == b"TAG":
        return 128
    if head[:8] == b"APETAGEX":
        if len(data) - offset < 32:
            return None
        size = int.from_bytes(data[offset + 12 : offset + 16], "little")
        flags = int.from_bytes(data[offset + 20 : offset + 24], "little")
        return size + 32 if flags & (1 << 29) else 32
    if len(head) < 8 and any(magic.startswith(head) for magic in (b"ID3", b"TAG", b"APETAGEX")):
        return None
    return 0


class Framer:
    """
    Incremental frame walker: L{feed} returns the complete frames found so far
    and keeps the remainder.

    Until it is synchronised, the framer accepts a header only when the frame
    it announces is followed by a matching header (same version, layer and
    sample rate) or by a tag, or ends exactly where the input ends; after that
    it accepts matching frames back to back without looking ahead. Tags are
    skipped by counting, so large ones are never buffered; the buffer holds at
    most about one maximum-length frame plus a few bytes between calls.

    @ivar skippedBytes: Junk bytes discarded so far (tags not included).
    @ivar tagBytes: Bytes skipped as ID3v2, ID3v1 or APEv2 tags so far.
    @ivar infoFrames: Xing/Info/VBRI frames dropped so far.
    @ivar freeFormat: Set when a free-format header was met where a frame was
        expected; input is then ignored until L{flush}. It stays set after
        L{flush}, so it can be checked then, and is cleared by the next
        L{feed}. The counters are never reset.
    """

    def __init__(self) -> None:
        self.skippedBytes = 0
        self.tagBytes = 0
        self.infoFrames = 0
        self.freeFormat = False
        self._reset()

    def _reset(self) -> None:
        """Return to the initial, unsynchronised state with nothing buffered."""
        self._buffer = b""
        self._tagRemaining = 0
        # (version, layer, sampleRate) of the last accepted frame, or None.
        self._reference: tuple[MPEGVersion, int, int] | None = None
        # True where a frame is expected: at the start, after a tag or a frame.
        self._expecting = True
        self._halted = False

    def feed(self, data: bytes) -> list[Frame]:
        """
        Add input.

        @param data: The next bytes of the stream, split anywhere.
        @return: The complete frames found, in order (info frames excluded).
        """
        if self.freeFormat:
            if self._halted:
                return []
            self.freeFormat = False
        self._buffer = self._buffer + data if self._buffer else bytes(data)
        return self._parse(False)

    def flush(self) -> list[Frame]:
        """
        End of input: return a final complete frame if it is still pending (its
        successor could not be checked because input ended), discard any
        partial tail (counted in C{skippedBytes}), and reset to the initial,
        unsynchronised state so the framer can be reused for the next file.

        @return: The last frames, if any.
        """
        frames = [] if self._halted else self._parse(True)
        self.skippedBytes += len(self._buffer)
        self._reset()
        return frames

    def _parse(self, final: bool) -> list[Frame]:
        """
        Take as many frames and tags as possible off the buffer.

        @param final: C{True} when no more input will come.
        @return: The frames found.
        """
        frames: list[Frame] = []
        buf = self._buffer
        end = len(buf)
        pos = 0
        while True:
            if self._tagRemaining:
                step = min(self._tagRemaining, end - pos)
                pos += step
                self._tagRemaining -= step
                self.tagBytes += step
                if self._tagRemaining:
                    break
            if end - pos < 4:
                # Too short for a header; a short tag start is handled below.
                if pos == end or (buf[pos] == 0xFF and not final):
                    break
            elif self._reference is not None and buf[pos] == 0xFF:
                # Synchronised: a matching header where the last frame ended.
                try:
                    header = parseHeader(buf, pos)
                except ValueError:
                    pass
                else:
                    if header._kind == self._reference:
                        stop = pos + header.length
                        if stop > end:
                            break
                        self._emit(frames, Frame(header, buf[pos:stop]))
                        pos = stop
                        continue
            self._reference = None
            length = tagLength(buf, pos)
            if length is None:
                if final:
                    pos = self._skip(buf, pos)
                    continue
                break
            if length:
                self._tagRemaining = length
                self._expecting = True
                continue
            if buf[pos] != 0xFF or end - pos < 4:
                pos = self._skip(buf, pos)
                continue
            try:
                header = parseHeader(buf, pos)
            except ValueError as error:
                if isinstance(error, FreeFormatError) and self._expecting:
                    self.freeFormat = self._halted = True
                    pos = end
                    break
                pos = self._skip(buf, pos)
                continue
            stop = pos + header.length
            if stop > end:
                if final:
                    pos = self._skip(buf, pos)
                    continue
                break
            verdict = _followedByFrame(buf, stop, header)
            if verdict is None:
                if not final:
                    break
                verdict = True
            if not verdict:
                pos = self._skip(buf, pos)
                continue
            self._emit(frames, Frame(header, buf[pos:stop]))
            self._reference = header._kind
            self._expecting = True
            pos = stop
        self._buffer = buf[pos:]
        return frames

    def _skip(self, buf: bytes, pos: int) -> int:
        """
        Skip junk from C{pos} to the next place a frame or tag could start.

        @return: The new position, at least C{pos + 1}.
        """
        match = _CANDIDATE.search(buf, pos + 1)
        # A magic cut off by the end of the buffer starts in its last 7 bytes.
        new = match.start() if match else max(pos + 1, len(buf) - 7)
        if match and new - 3 > pos and buf[new - 3 : new] == b"APE" and b"APETAGEX".startswith(buf[new - 3 : new + 5]):
            # The "TAG" of an "APETAGEX" whose end has not arrived yet: wait
            # at the "APE".  Stopping at the "TAG" read an ID3v1 tag there
            # when the input was split, and another tag when it was not
            # (found by fuzz/targets.py fuzzMP3).
            new -= 3
        self.skippedBytes += new - pos
        self._expecting = False
        return new

    def _emit(self, frames: list[Frame], frame: Frame) -> None:
        """Append C{frame} to C{frames} unless it is an information frame."""
        if isInfoFrame(frame):
            self.infoFrames += 1
        else:
            frames.append(frame)


def _followedByFrame(buf: bytes, pos: int, header: FrameHeader) -> bool | None:
    """
    Check what follows a candidate frame.

    A tag start counts as a good successor so that the last frame before an
    ID3v1 or APEv2 tag is kept; the tag must be complete enough for
    L{tagLength} to accept it, which makes a false match unlikely.

    @param buf: The buffer.
    @param pos: Where the candidate frame ends.
    @param header: The candidate frame's header.
    @return: C{True} for a header with the same version, layer and sample
        rate, or a tag; C{False} for anything else; C{None} if more bytes are
        needed to tell.
    """
    # With under 4 bytes left, a header may still be arriving.
    pending = len(buf) - pos < 4 and (pos == len(buf) or buf[pos] == 0xFF)
    try:
        if parseHeader(buf, pos)._kind == header._kind:
            return True
    except ValueError:
        pass
    length = tagLength(buf, pos)
    if length:
        return True
    return None if pending or length is None else False


def silentFrame(sampleRate: int, channels: int, bitrate: int) -> Frame:
    """
    Make a Layer III frame of digital silence: a valid header, and side
    information and main data that are all zero, which every decoder plays
    as silence.

    @param sampleRate: in Hz, one MP3 can carry.
    @param channels: 1 or 2.
    @param bitrate: in kbps; the nearest lower bitrate of the frame's MPEG
        version is used when that version has no such bitrate.
    @return: the frame.
    @raise ValueError: for a sample rate MP3 cannot carry.
    """
    for bits, version in ((3, MPEGVersion.MPEG1), (2, MPEGVersion.MPEG2), (0, MPEGVersion.MPEG25)):  # noqa: B007 - used after the loop
        if sampleRate in _SAMPLE_RATES[version]:
            break
    else:
        raise ValueError(f"MP3 cannot carry {sampleRate} Hz")
    rates = _BITRATES[version, 3]
    index = max(i for i, rate in enumerate(rates) if i and rate <= max(bitrate, rates[1]))
    mode = 3 if channels == 1 else 0
    header = bytes(
        (
            0xFF,
            0xE0 | bits << 3 | 1 << 1 | 1,
            index << 4 | _SAMPLE_RATES[version].index(sampleRate) << 2,
            mode << 6,
        )
    )
    parsed = parseHeader(header)
    return Frame(parsed, header + bytes(parsed.length - 4))


def _sideInfoLength(header: FrameHeader) -> int:
    """
    @param header: a Layer III frame's header.
    @return: the length in bytes of its side information.
    """
    if header.version is MPEGVersion.MPEG1:
        return 17 if header.channels == 1 else 32
    return 9 if header.channels == 1 else 17


def granuleBlocks(header: FrameHeader) -> tuple[int, ...]:
    """
    Where a Layer III frame's granule blocks are: one per granule and
    channel, each starting with its C{part2_3_length} (12 bits), then
    C{big_values} (9) and C{global_gain} (8).

    @param header: the frame's header.
    @return: the bit offset of each block from the side information's start.
    """
    channels = header.channels
    if header.version is MPEGVersion.MPEG1:
        first = 9 + (5 if channels == 1 else 3) + 4 * channels
        blocks, width = 2 * channels, 59
    else:
        first = 8 + (1 if channels == 1 else 2)
        blocks, width = channels, 63
    return tuple(first + block * width for block in range(blocks))


def mainDataBits(frame: Frame) -> int:
    """
    How much audio data a Layer III frame's granules use.

    @param frame: a Layer III frame.
    @return: the sum of its C{part2_3_length} fields, in bits.
    """
    header = frame.header
    size = _sideInfoLength(header)
    start = 6 if header.protected else 4
    side = int.from_bytes(frame.data[start : start + size], "big")
    bits = size * 8
    return sum((side >> (bits - offset - 12)) & 0xFFF for offset in granuleBlocks(header))


def withMainData(frame: Frame, begin: int, data: bytes) -> Frame:
    """
    A copy of a Layer III frame with another C{main_data_begin} and other
    bytes after its side information (the CRC, if it has one, recomputed).

    @param frame: a Layer III frame.
    @param begin: the new C{main_data_begin}, in bytes (at most 511 for
        MPEG-1, 255 otherwise).
    @param data: the new bytes after the side information, as many as
        L{mainDataSize} says.
    @return: the new frame.
    """
    header = frame.header
    start = 6 if header.protected else 4
    size = _sideInfoLength(header)
    assert len(data) == mainDataSize(frame)
    width = 9 if header.version is MPEGVersion.MPEG1 else 8
    assert 0 <= begin < 1 << width
    bits = size * 8
    side = int.from_bytes(frame.data[start : start + size], "big")
    side = (side & ((1 << (bits - width)) - 1)) | (begin << (bits - width))
    sideBytes = side.to_bytes(size, "big")
    head = frame.data[:4]
    if header.protected:
        head += _crc16(head[2:4] + sideBytes).to_bytes(2, "big")
    return Frame(header, head + sideBytes + data)


def mainDataBegin(frame: Frame) -> int:
    """
    How far back a Layer III frame's audio data begins: the bytes of it held
    in the frames before (the bit reservoir).

    @param frame: a Layer III frame.
    @return: its C{main_data_begin}, in bytes.
    """
    offset = 6 if frame.header.protected else 4
    data = frame.data
    if frame.header.version is MPEGVersion.MPEG1:
        return (data[offset] << 1) | (data[offset + 1] >> 7)
    return data[offset]


def mainDataSize(frame: Frame) -> int:
    """
    The audio data bytes a Layer III frame carries after its side
    information, which the frames after it may borrow.

    @param frame: a Layer III frame.
    @return: the size in bytes.
    """
    header = frame.header
    return header.length - (6 if header.protected else 4) - _sideInfoLength(header)


def _crc16(data: bytes, crc: int = 0xFFFF) -> int:
    """
    The MPEG audio CRC-16 (polynomial 0x8005) of some bytes.

    @param data: the bytes.
    @param crc: the starting value.
    @return: the CRC.
    """
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x8005) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def withoutReservoir(frame: Frame) -> Frame:
    """
    Silence a Layer III frame by zeroing its side information (so it borrows
    nothing and decodes as silence) while keeping its audio data bytes,
    which the frames after it may borrow.

    @param frame: a Layer III frame.
    @return: the silenced frame (its CRC, if it has one, recomputed).
    """
    header = frame.header
    side = _sideInfoLength(header)
    data = frame.data
    if header.protected:
        crc = _crc16(data[2:4] + bytes(side))
        body = data[:4] + crc.to_bytes(2, "big") + bytes(side) + data[6 + side :]
    else:
        body = data[:4] + bytes(side) + data[4 + side :]
    return Frame(header, body)


class ReservoirGuard:
    """
    Keeps a stream made of pieces of several streams decodable: a Layer III
    frame that borrows audio data (C{main_data_begin}) from before the
    point where its stream was joined would be decoded from another
    stream's bytes (a burst of noise, or a decoder error), so it is
    silenced instead.

    Call L{reset} where one stream gives way to another, and pass every
    frame through L{check}.
    """

    __slots__ = ("_available",)

    LIMIT = 4096
    """More audio data than any frame can borrow (511 bytes at most)."""

    def __init__(self) -> None:
        self._available = 0

    def reset(self, available: int = 0) -> None:
        """
        A new stream starts: nothing before it may be borrowed.

        @param available: bytes of the new stream's audio data already
            sent before its first frame (see
            L{txradio.wire.crossfade.handOver}), 0 for none.
        """
        self._available = min(available, self.LIMIT)

    def check(self, frame: Frame) -> Frame:
        """
        Pass a frame on, silenced if it borrows from before the last reset.

        @param frame: the next frame.
        @return: the frame, or its silenced copy.
        """
        header = frame.header
        if header.layer != 3:
            return frame
        available = self._available
        if available < self.LIMIT:
            self._available = min(available + mainDataSize(frame), self.LIMIT)
            if mainDataBegin(frame) > available:
                return withoutReservoir(frame)
        return frame
