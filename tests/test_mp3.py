"""
Tests for L{txradio.wire.mp3}.
"""

from __future__ import annotations

import random
from typing import Any

from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from txradio.wire.mp3 import (
    _MAX_FRAME_LENGTH,
    Frame,
    FrameHeader,
    Framer,
    FreeFormatError,
    MPEGVersion,
    isInfoFrame,
    parseHeader,
    tagLength,
)

_VERSION_BITS = {MPEGVersion.MPEG1: 3, MPEGVersion.MPEG2: 2, MPEGVersion.MPEG25: 0}


def headerBytes(
    version: MPEGVersion = MPEGVersion.MPEG1,
    layer: int = 3,
    bitrateIndex: int = 9,
    rateIndex: int = 0,
    padding: bool = False,
    protected: bool = False,
    mode: int = 1,
) -> bytes:
    """
    Build a 4-byte frame header; the defaults give MPEG-1 Layer III, 128 kbps,
    44100 Hz, joint stereo (C{FF FB 90 40}).
    """
    word = 0xFFE00000 | _VERSION_BITS[version] << 19 | (4 - layer) << 17
    word |= (not protected) << 16 | bitrateIndex << 12 | rateIndex << 10
    word |= padding << 9 | mode << 6
    return word.to_bytes(4, "big")


def frameBytes(header: bytes, fill: int | bytes = 0x55) -> bytes:
    """
    Build a whole frame: C{header} followed by a payload of C{fill} bytes (an
    int is repeated; bytes are repeated and cut to length).
    """
    length = parseHeader(header).length
    unit = bytes([fill]) if isinstance(fill, int) else fill
    return header + (unit * length)[: length - 4]


def infoFrame(magic: bytes = b"Info", offset: int = 36, header: bytes | None = None) -> bytes:
    """
    Build an MPEG-1 Layer III frame carrying C{magic} at C{offset}.
    """
    data = bytearray(frameBytes(header or headerBytes(), 0))
    data[offset : offset + len(magic)] = magic
    return bytes(data)


def id3v2(body: bytes, footer: bool = False) -> bytes:
    """
    Build an ID3v2.4 tag around C{body}, with a footer if asked.
    """
    size = len(body)
    syncsafe = bytes([size >> 21 & 0x7F, size >> 14 & 0x7F, size >> 7 & 0x7F, size & 0x7F])
    flags = 0x10 if footer else 0
    tag = b"ID3\x04\x00" + bytes([flags]) + syncsafe + body
    return tag + (b"3DI\x04\x00" + bytes([flags]) + syncsafe if footer else b"")


def apeTag(items: bytes, header: bool = True) -> bytes:
    """
    Build an APEv2 tag holding C{items}: header (optional), items, footer.
    """

    def block(flags: int) -> bytes:
        return (
            b"APETAGEX"
            + (2000).to_bytes(4, "little")
            + (len(items) + 32).to_bytes(4, "little")
            + (1).to_bytes(4, "little")
            + flags.to_bytes(4, "little")
            + bytes(8)
        )

    return (block(1 << 31 | 1 << 29) if header else b"") + items + block(1 << 31 if header else 0)


def id3v1() -> bytes:
    """
    Build a 128-byte ID3v1 tag.
    """
    return b"TAG" + b"Title".ljust(30, b"\0") + bytes(95)


def feedAll(chunks: list[bytes], framer: Framer | None = None) -> list[Frame]:
    """
    Feed C{chunks} to a framer, flush it, and return every frame.
    """
    framer = framer if framer is not None else Framer()
    frames: list[Frame] = []
    for chunk in chunks:
        frames.extend(framer.feed(chunk))
    frames.extend(framer.flush())
    return frames


def split(data: bytes, size: int) -> list[bytes]:
    """
    Cut C{data} into chunks of C{size} bytes.
    """
    return [data[i : i + size] for i in range(0, len(data), size)]


class HeaderTests(SynchronousTestCase):
    """
    Tests for L{parseHeader} and L{FrameHeader}.
    """

    def test_mpeg1Layer3(self) -> None:
        """
        C{FF FB 90 64} is MPEG-1 Layer III, 128 kbps, 44100 Hz, 417 bytes.
        """
        header = parseHeader(bytes.fromhex("FFFB9064"))
        self.assertEqual(
            header,
            FrameHeader(MPEGVersion.MPEG1, 3, False, 128, 44100, False, 1, 417, 1152),
        )
        self.assertEqual(header.channels, 2)
        self.assertAlmostEqual(header.duration, 1152 / 44100)

    def test_padding(self) -> None:
        """
        The padding bit adds one byte to a Layer III frame.
        """
        header = parseHeader(bytes.fromhex("FFFB9264"))
        self.assertTrue(header.padding)
        self.assertEqual(header.length, 418)

    def test_mpeg1Layer1(self) -> None:
        """
        Layer I frames hold 384 samples and are counted in 4-byte slots.
        """
        header = parseHeader(headerBytes(layer=1, bitrateIndex=12, padding=True))
        self.assertEqual((header.layer, header.bitrate, header.sampleRate), (1, 384, 44100))
        self.assertEqual(header.length, (12000 * 384 // 44100 + 1) * 4)
        self.assertEqual(header.samples, 384)

    def test_mpeg1Layer2(self) -> None:
        """
        MPEG-1 Layer II uses its own bitrate table and 1152 samples.
        """
        header = parseHeader(bytes.fromhex("FFFDA400"))
        self.assertEqual((header.layer, header.bitrate, header.sampleRate), (2, 192, 48000))
        self.assertEqual((header.length, header.samples, header.channelMode), (576, 1152, 0))

    def test_mpeg2Layer3(self) -> None:
        """
        MPEG-2 Layer III frames hold 576 samples and use the 72000 factor.
        """
        header = parseHeader(bytes.fromhex("FFF380C0"))
        self.assertEqual(header.version, MPEGVersion.MPEG2)
        self.assertEqual((header.bitrate, header.sampleRate), (64, 22050))
        self.assertEqual((header.length, header.samples, header.channels), (208, 576, 1))

    def test_mpeg25Layer3(self) -> None:
        """
        MPEG-2.5 Layer III at 32 kbps and 8000 Hz with padding is 289 bytes.
        """
        header = parseHeader(bytes.fromhex("FFE34A00"))
        self.assertEqual(header.version, MPEGVersion.MPEG25)
        self.assertEqual((header.bitrate, header.sampleRate, header.length), (32, 8000, 289))
        self.assertAlmostEqual(header.duration, 576 / 8000)

    def test_mpeg2Layer1(self) -> None:
        """
        MPEG-2 Layer I uses the lower sampling frequencies' Layer I table.
        """
        header = parseHeader(headerBytes(MPEGVersion.MPEG2, 1, 14, 2, True))
        self.assertEqual((header.bitrate, header.sampleRate), (256, 16000))
        self.assertEqual(header.length, (12000 * 256 // 16000 + 1) * 4)

    def test_longestFrame(self) -> None:
        """
        The longest legal frame is MPEG-2.5 Layer II, 160 kbps, 8000 Hz, padded.
        """
        header = parseHeader(headerBytes(MPEGVersion.MPEG25, 2, 14, 2, True))
        self.assertEqual(header.length, 2881)
        self.assertEqual(_MAX_FRAME_LENGTH, 2881)

    def test_protected(self) -> None:
        """
        A protection bit of 0 means a CRC follows the header.
        """
        self.assertTrue(parseHeader(bytes.fromhex("FFFA9064")).protected)
        self.assertFalse(parseHeader(bytes.fromhex("FFFB9064")).protected)

    def test_offset(self) -> None:
        """
        The header is read at C{offset}.
        """
        self.assertEqual(parseHeader(b"xyz\xff\xfb\x90\x64", 3).bitrate, 128)

    def assertBadHeader(self, data: bytes, field: str) -> None:
        """
        Assert that C{data} raises L{ValueError} naming C{field}.
        """
        error = self.assertRaises(ValueError, parseHeader, data)
        self.assertNotIsInstance(error, FreeFormatError)
        self.assertIn(field, str(error))

    def test_noSync(self) -> None:
        """
        Missing sync bits raise L{ValueError}.
        """
        self.assertBadHeader(bytes.fromhex("FFDB9064"), "sync")
        self.assertBadHeader(bytes.fromhex("FEFB9064"), "sync")

    def test_reservedVersion(self) -> None:
        """
        Version bits 01 raise L{ValueError}.
        """
        self.assertBadHeader(bytes.fromhex("FFEB9064"), "version")

    def test_reservedLayer(self) -> None:
        """
        Layer bits 00 raise L{ValueError}.
        """
        self.assertBadHeader(bytes.fromhex("FFF99064"), "layer")

    def test_badBitrate(self) -> None:
        """
        Bitrate index 15 raises L{ValueError}.
        """
        self.assertBadHeader(bytes.fromhex("FFFBF064"), "bitrate")

    def test_reservedSampleRate(self) -> None:
        """
        Sample rate index 3 raises L{ValueError}.
        """
        self.assertBadHeader(bytes.fromhex("FFFB9C64"), "sample rate")

    def test_short(self) -> None:
        """
        Fewer than 4 bytes raise L{ValueError}.
        """
        self.assertBadHeader(b"\xff\xfb\x90", "4 bytes")
        self.assertRaises(ValueError, parseHeader, b"\xff\xfb\x90\x64", 1)

    def test_freeFormat(self) -> None:
        """
        Bitrate index 0 raises L{FreeFormatError}, which says it is unsupported.
        """
        error = self.assertRaises(FreeFormatError, parseHeader, bytes.fromhex("FFFB0064"))
        self.assertIsInstance(error, ValueError)
        self.assertIn("free-format", str(error))
        self.assertIn("not supported", str(error))


class TagLengthTests(SynchronousTestCase):
    """
    Tests for L{tagLength}.
    """

    def test_id3v2(self) -> None:
        """
        An ID3v2 tag is 10 bytes plus its syncsafe size.
        """
        tag = id3v2(b"x" * 300)
        self.assertEqual(tagLength(tag), len(tag))
        self.assertEqual(tagLength(tag[:10]), 310)

    def test_id3v2Footer(self) -> None:
        """
        The footer flag adds 10 bytes.
        """
        tag = id3v2(b"x" * 20, footer=True)
        self.assertEqual(tagLength(tag), 40)
        self.assertEqual(len(tag), 40)

    def test_id3v2Invalid(self) -> None:
        """
        A version byte of 0xFF or a size byte with its top bit set is no tag.
        """
        self.assertEqual(tagLength(b"ID3\xff\x00\x00\x00\x00\x00\x01"), 0)
        self.assertEqual(tagLength(b"ID3\x03\x00\x00\x00\x80\x00\x01"), 0)

    def test_id3v2Short(self) -> None:
        """
        Fewer than 10 bytes of an ID3v2 header, or a prefix of a magic, need more.
        """
        for prefix in [b"", b"I", b"ID", b"ID3", b"ID3\x04\x00\x00\x00\x00\x00"]:
            self.assertIsNone(tagLength(prefix), prefix)

    def test_id3v1(self) -> None:
        """
        C{TAG} starts a 128-byte ID3v1 tag; C{TA} needs more.
        """
        self.assertEqual(tagLength(b"TAG"), 128)
        self.assertIsNone(tagLength(b"TA"))

    def test_apeHeader(self) -> None:
        """
        An APEv2 header block announces items and footer plus itself.
        """
        tag = apeTag(b"i" * 50)
        self.assertEqual(tagLength(tag), len(tag))
        self.assertEqual(len(tag), 32 + 50 + 32)

    def test_apeFooter(self) -> None:
        """
        A lone APEv2 footer block is 32 bytes to skip.
        """
        tag = apeTag(b"i" * 50, header=False)
        self.assertEqual(tagLength(tag, 50), 32)

    def test_apeShort(self) -> None:
        """
        An APEv2 block shorter than 32 bytes, or a prefix of its magic, needs more.
        """
        self.assertIsNone(tagLength(apeTag(b"")[:31]))
        self.assertIsNone(tagLength(b"APETAG"))

    def test_noTag(self) -> None:
        """
        Anything else is no tag.
        """
        for data in [b"\xff\xfb\x90\x64", b"IDX", b"TAX", b"APEX", b"hello world"]:
            self.assertEqual(tagLength(data), 0, data)

    def test_offset(self) -> None:
        """
        The tag is looked for at C{offset}.
        """
        self.assertEqual(tagLength(b"\xff\xfbTAG", 2), 128)
        self.assertEqual(tagLength(b"TAG", 1), 0)


class InfoFrameTests(SynchronousTestCase):
    """
    Tests for L{isInfoFrame}.
    """

    def frame(self, data: bytes) -> Frame:
        """
        Wrap C{data} in a L{Frame}.
        """
        return Frame(parseHeader(data), data)

    def test_xingOffsets(self) -> None:
        """
        Xing and Info tags are found after the side information for every
        version and channel mode.
        """
        cases = [
            (MPEGVersion.MPEG1, 1, 36),
            (MPEGVersion.MPEG1, 3, 21),
            (MPEGVersion.MPEG2, 0, 21),
            (MPEGVersion.MPEG2, 3, 13),
            (MPEGVersion.MPEG25, 2, 21),
            (MPEGVersion.MPEG25, 3, 13),
        ]
        for version, mode, offset in cases:
            header = headerBytes(version, 3, 8, 0, mode=mode)
            for magic in [b"Xing", b"Info"]:
                data = infoFrame(magic, offset, header)
                self.assertTrue(isInfoFrame(self.frame(data)), (version, mode))
            self.assertFalse(isInfoFrame(self.frame(frameBytes(header, 0))))

    def test_protected(self) -> None:
        """
        In a protected frame the Xing tag follows the 2-byte CRC.
        """
        header = headerBytes(protected=True)
        self.assertTrue(isInfoFrame(self.frame(infoFrame(b"Xing", 38, header))))

    def test_vbri(self) -> None:
        """
        A VBRI tag sits 32 bytes after the header.
        """
        self.assertTrue(isInfoFrame(self.frame(infoFrame(b"VBRI", 36, headerBytes(mode=3)))))

    def test_audio(self) -> None:
        """
        Ordinary frames, and Layer I/II frames, are not information frames.
        """
        self.assertFalse(isInfoFrame(self.frame(frameBytes(headerBytes()))))
        layer2 = bytearray(frameBytes(headerBytes(layer=2), 0))
        layer2[36:40] = b"Xing"
        self.assertFalse(isInfoFrame(self.frame(bytes(layer2))))

    def test_duration(self) -> None:
        """
        A frame lasts as long as its header says.
        """
        frame = self.frame(frameBytes(headerBytes()))
        self.assertEqual(frame.duration, 1152 / 44100)


AUDIO = [frameBytes(headerBytes(padding=i % 3 == 1), 0x10 + i) for i in range(6)]


class FramerTests(SynchronousTestCase):
    """
    Tests for L{Framer} on hand-built streams.
    """

    def test_frames(self) -> None:
        """
        Back-to-back frames all come out of one C{feed}.
        """
        framer = Framer()
        frames = framer.feed(b"".join(AUDIO))
        self.assertEqual([frame.data for frame in frames], AUDIO)
        self.assertEqual(framer.flush(), [])
        self.assertEqual((framer.skippedBytes, framer.tagBytes, framer.infoFrames), (0, 0, 0))

    def test_singleFrame(self) -> None:
        """
        A lone frame is held until C{flush}, which confirms it ends the input.
        """
        framer = Framer()
        self.assertEqual(framer.feed(AUDIO[0]), [])
        self.assertEqual([frame.data for frame in framer.flush()], [AUDIO[0]])

    def test_id3v2(self) -> None:
        """
        An ID3v2 tag (with a footer) before the audio is skipped and counted.
        """
        tag = id3v2(b"\0" * 1000, footer=True)
        framer = Framer()
        frames = feedAll([tag + b"".join(AUDIO)], framer)
        self.assertEqual([frame.data for frame in frames], AUDIO)
        self.assertEqual((framer.tagBytes, framer.skippedBytes), (len(tag), 0))

    def test_id3v2FakeSyncs(self) -> None:
        """
        Valid-looking frames inside an ID3v2 tag (a fake APIC payload) are
        skipped with the tag.
        """
        fake = b"".join(frameBytes(headerBytes(rateIndex=1), 0x77) for _ in range(5))
        body = b"APIC" + bytes(6) + b"\xff\xfb\x90\x64" * 50 + fake + b"\xff\xfb\x90"
        tag = id3v2(body)
        framer = Framer()
        frames = feedAll(split(tag + b"".join(AUDIO), 100), framer)
        self.assertEqual([frame.data for frame in frames], AUDIO)
        self.assertEqual((framer.tagBytes, framer.skippedBytes), (len(tag), 0))

    def test_largeTagNotBuffered(self) -> None:
        """
        A multi-megabyte tag is skipped by counting, not buffered.
        """
        tag = id3v2(b"\xff\xfb\x90\x64" * 500_000)
        framer = Framer()
        frames = []
        for chunk in split(tag + b"".join(AUDIO), 65536):
            frames.extend(framer.feed(chunk))
            self.assertLess(len(framer._buffer), 2 * _MAX_FRAME_LENGTH)
        frames.extend(framer.flush())
        self.assertEqual(len(frames), len(AUDIO))
        self.assertEqual(framer.tagBytes, len(tag))

    def test_id3v1(self) -> None:
        """
        An ID3v1 tag at the end is skipped, also after a lone frame.
        """
        for audio in [AUDIO, AUDIO[:1]]:
            framer = Framer()
            frames = framer.feed(b"".join(audio) + id3v1())
            self.assertEqual([frame.data for frame in frames], audio)
            self.assertEqual((framer.tagBytes, framer.skippedBytes), (128, 0))

    def test_ape(self) -> None:
        """
        An APEv2 tag with a header, then an ID3v1 tag, are skipped whole.
        """
        tag = apeTag(b"\xff\xfb\x90\x64" * 40)
        framer = Framer()
        frames = feedAll([b"".join(AUDIO) + tag + id3v1()], framer)
        self.assertEqual([frame.data for frame in frames], AUDIO)
        self.assertEqual((framer.tagBytes, framer.skippedBytes), (len(tag) + 128, 0))

    def test_apeFooterOnly(self) -> None:
        """
        Without a header the APEv2 items are junk and the footer a 32-byte tag.
        """
        tag = apeTag(b"item" * 10, header=False)
        framer = Framer()
        frames = feedAll([b"".join(AUDIO) + tag], framer)
        self.assertEqual([frame.data for frame in frames], AUDIO)
        self.assertEqual((framer.tagBytes, framer.skippedBytes), (32, 40))

    def test_junk(self) -> None:
        """
        Junk between frames, including false syncs, is skipped and counted.
        """
        junk = b"junk\xff\xfb\x90\x64\xff\xff\xff\xe0" + bytes(300) + b"\xff"
        framer = Framer()
        frames = feedAll([b"".join(AUDIO[:3]) + junk + b"".join(AUDIO[3:])], framer)
        self.assertEqual([frame.data for frame in frames], AUDIO)
        self.assertEqual(framer.skippedBytes, len(junk))

    def test_junkBeforeLastFrame(self) -> None:
        """
        A frame after junk is returned even when it is the last one.
        """
        framer = Framer()
        frames = feedAll([b"".join(AUDIO[:3]) + b"junk" + AUDIO[3]], framer)
        self.assertEqual([frame.data for frame in frames], AUDIO[:4])
        self.assertEqual(framer.skippedBytes, 4)

    def test_unconfirmedCandidate(self) -> None:
        """
        A header not followed by a matching one is junk.
        """
        framer = Framer()
        other = frameBytes(headerBytes(rateIndex=1))
        frames = feedAll([AUDIO[0] + other + b"".join(AUDIO)], framer)
        self.assertEqual([frame.data for frame in frames], AUDIO)
        self.assertEqual(framer.skippedBytes, len(AUDIO[0]) + len(other))

    def test_sampleRateChange(self) -> None:
        """
        A new sample rate is accepted once confirmed by the next frame.
        """
        other = [frameBytes(headerBytes(rateIndex=1), 0x20 + i) for i in range(3)]
        framer = Framer()
        frames = feedAll([b"".join(AUDIO + other)], framer)
        self.assertEqual([frame.data for frame in frames], AUDIO + other)
        self.assertEqual(framer.skippedBytes, 0)

    def test_infoFrame(self) -> None:
        """
        Xing/Info frames are dropped, at the start and mid-stream.
        """
        framer = Framer()
        stream = infoFrame() + b"".join(AUDIO[:3]) + infoFrame(b"Xing") + b"".join(AUDIO[3:])
        frames = feedAll([stream], framer)
        self.assertEqual([frame.data for frame in frames], AUDIO)
        self.assertEqual(framer.infoFrames, 2)

    def test_truncatedLastFrame(self) -> None:
        """
        C{flush} discards a truncated last frame and counts it as skipped.
        """
        framer = Framer()
        frames = framer.feed(b"".join(AUDIO) + AUDIO[0][:100])
        self.assertEqual(len(frames), len(AUDIO))
        self.assertEqual(framer.flush(), [])
        self.assertEqual(framer.skippedBytes, 100)

    def test_flushResets(self) -> None:
        """
        After C{flush} a second file, at another sample rate, parses from scratch.
        """
        framer = Framer()
        feedAll([id3v2(b"x") + b"".join(AUDIO) + AUDIO[1][:-1]], framer)
        second = [frameBytes(headerBytes(MPEGVersion.MPEG2, 3, 8, 0), 0x30 + i) for i in range(3)]
        frames = feedAll([id3v2(b"y" * 10) + b"".join(second)], framer)
        self.assertEqual([frame.data for frame in frames], second)
        self.assertEqual(framer.tagBytes, 11 + 20)

    def test_freeFormat(self) -> None:
        """
        A free-format stream sets C{freeFormat} and yields no frames; the flag
        survives C{flush} and is cleared by the next file.
        """
        free = headerBytes(bitrateIndex=0) + bytes(400)
        framer = Framer()
        self.assertEqual(framer.feed(id3v2(b"x") + free * 3), [])
        self.assertTrue(framer.freeFormat)
        self.assertEqual(framer.feed(b"".join(AUDIO)), [])
        self.assertEqual(framer.flush(), [])
        self.assertTrue(framer.freeFormat)
        self.assertEqual(len(feedAll([b"".join(AUDIO)], framer)), len(AUDIO))
        self.assertFalse(framer.freeFormat)

    def test_freeFormatAfterFrames(self) -> None:
        """
        A free-format header where the next frame should start is detected.
        """
        framer = Framer()
        frames = feedAll([b"".join(AUDIO) + headerBytes(bitrateIndex=0) + bytes(400)], framer)
        self.assertEqual(len(frames), len(AUDIO))
        self.assertTrue(framer.freeFormat)

    def test_freeFormatInJunk(self) -> None:
        """
        A bitrate-0 header in the middle of junk is only junk.
        """
        framer = Framer()
        frames = feedAll([b"junk" + headerBytes(bitrateIndex=0) + b"".join(AUDIO)], framer)
        self.assertEqual(len(frames), len(AUDIO))
        self.assertFalse(framer.freeFormat)

    def test_junkNotBuffered(self) -> None:
        """
        Scanning junk keeps only a few bytes between calls.
        """
        framer = Framer()
        junk = random.Random(1).randbytes(1 << 20)
        for chunk in split(junk, 65536):
            self.assertEqual(framer.feed(chunk), [])
            self.assertLess(len(framer._buffer), _MAX_FRAME_LENGTH + 64)
        self.assertEqual(framer.flush(), [])
        self.assertEqual(framer.skippedBytes + framer.tagBytes, len(junk))


def mixedStream() -> bytes:
    """
    Build a stream with tags, an info frame, junk, random payloads (false
    syncs included), a sample rate change and a truncated tail.
    """
    rng = random.Random(7)

    def frames(count: int, **kw: Any) -> bytes:
        return b"".join(
            frameBytes(headerBytes(padding=rng.random() < 0.5, **kw), rng.randbytes(50))
            for _ in range(count)
        )

    fake = b"\xff\xfb\x90\x64" * 30 + frames(3, rateIndex=2)
    return (
        id3v2(b"APIC" + fake, footer=True)
        + infoFrame()
        + frames(8)
        + b"junk\xff\xfb\x90\x64" + rng.randbytes(200)
        + frames(5)
        + b"more junk"
        + id3v2(b"APIC" + fake)
        + frames(4, rateIndex=1, mode=3)
        + apeTag(fake)
        + frames(3, version=MPEGVersion.MPEG2, bitrateIndex=4)
        + id3v1()
        + frames(1)[:-5]
    )  # fmt: skip


class SplitTests(SynchronousTestCase):
    """
    L{Framer} finds the same frames however its input is split.
    """

    stream = mixedStream()

    @property
    def whole(self) -> list[Frame]:
        """
        The frames found when the stream is fed in one piece.
        """
        return feedAll([self.stream])

    def test_whole(self) -> None:
        """
        The mixed stream yields the frames it was built from.
        """
        frames = self.whole
        self.assertEqual(len(frames), 8 + 5 + 4 + 3)
        for frame in frames:
            self.assertEqual(parseHeader(frame.data), frame.header)

    def test_byteByByte(self) -> None:
        """
        Feeding one byte at a time gives the same frames.
        """
        self.assertEqual(feedAll(split(self.stream, 1)), self.whole)

    def test_chunkSizes(self) -> None:
        """
        Feeding in chunks of 2 to 300 bytes gives the same frames.
        """
        whole = self.whole
        for size in range(2, 301, 7):
            self.assertEqual(feedAll(split(self.stream, size)), whole, size)

    @settings(max_examples=100)
    @given(st.lists(st.integers(min_value=0, max_value=len(stream)), max_size=40))
    def test_randomSplits(self, cuts: list[int]) -> None:
        """
        Feeding at random split points gives the same frames.
        """
        points = [0, *sorted(cuts), len(self.stream)]
        chunks = [self.stream[a:b] for a, b in zip(points, points[1:])]
        self.assertEqual(feedAll(chunks), self.whole)


# Distinct payloads without 0xFF, so no false sync starts inside a frame.
PLAIN = [frameBytes(headerBytes(), i + 1) for i in range(12)]


def noMagic(data: bytes) -> bool:
    """
    Tell whether C{data} holds no tag magic.
    """
    return not any(magic in data for magic in (b"ID3", b"TAG", b"APETAGEX"))


class GarbageTests(SynchronousTestCase):
    """
    Property tests for L{Framer} on garbage.
    """

    @settings(max_examples=200)
    @given(st.binary(max_size=4000), st.integers(min_value=1, max_value=500))
    def test_garbage(self, data: bytes, size: int) -> None:
        """
        Garbage never raises, and every frame returned is well-formed.
        """
        framer = Framer()
        for frame in feedAll(split(data, size), framer):
            self.assertEqual(parseHeader(frame.data), frame.header)
            self.assertEqual(len(frame.data), frame.header.length)
            self.assertFalse(isInfoFrame(frame))
        self.assertLessEqual(framer.skippedBytes + framer.tagBytes, len(data))

    @settings(max_examples=100)
    @given(st.binary(max_size=3000), st.binary(max_size=3000))
    def test_cleanGarbageAround(self, before: bytes, after: bytes) -> None:
        """
        Garbage without 0xFF or tag magic around frames is skipped exactly and
        every frame is returned.
        """
        before, after = before.replace(b"\xff", b""), after.replace(b"\xff", b"")
        assume(noMagic(before) and noMagic(after))
        framer = Framer()
        frames = feedAll([before + b"".join(PLAIN) + after], framer)
        self.assertEqual([frame.data for frame in frames], PLAIN)
        self.assertEqual(framer.skippedBytes, len(before) + len(after))

    @settings(max_examples=150)
    @given(st.binary(max_size=3000), st.binary(max_size=3000), st.integers(1, 700))
    @example(headerBytes(bitrateIndex=0), b"", 100)
    @example(b"", headerBytes(bitrateIndex=0), 100)
    @example(headerBytes(bitrateIndex=10) + bytes(101), b"junk", 1)
    def test_garbageAround(self, before: bytes, after: bytes, size: int) -> None:
        """
        With any garbage around them, the real frames come out as one unbroken
        run ending with the last one, and at most the first 7 are lost.
        """
        # A chain of false frames starting in the garbage may be accepted and
        # swallow real bytes, but its last frame starts in the garbage and is
        # at most 2881 bytes long, so it ends before real frame 7 starts
        # (417 * 7 > 2881). Payloads hold no 0xFF, so the next real header is
        # the next candidate; the one after confirms it, and from there the
        # framer stays in sync to the last frame. Garbage after the frames may
        # add false frames; garbage starting with a free-format header stops all.
        assume(noMagic(before))
        framer = Framer()
        frames = feedAll(split(before + b"".join(PLAIN) + after, size), framer)
        real = [PLAIN.index(frame.data) for frame in frames if frame.data in PLAIN]
        if framer.freeFormat and not real:
            return
        self.assertTrue(real)
        self.assertLessEqual(real[0], 7)
        self.assertEqual(real, list(range(real[0], len(PLAIN))))


    def test_falseFrameAtEdge(self) -> None:
        """
        A false header in the garbage whose frame ends exactly where a real
        frame starts is accepted and swallows the first real frame.
        """
        false = headerBytes(bitrateIndex=10)  # 160 kbps: 522 bytes
        before = false + bytes(522 - len(PLAIN[0]) - len(false))
        frames = feedAll([before + b"".join(PLAIN)])
        self.assertEqual(frames[0].data, before + PLAIN[0])
        self.assertEqual([frame.data for frame in frames[1:]], PLAIN[1:])


class SilentFrameTests(SynchronousTestCase):
    """
    L{silentFrame} makes a valid Layer III frame of silence in any format.
    """

    def test_everyFormat(self) -> None:
        """
        Every sample rate and channel count gives a frame whose header says
        so, all zeros after the header, that the frame walker accepts.
        """
        from txradio.wire.audioformat import SAMPLE_RATES
        from txradio.wire.mp3 import silentFrame

        for rate in SAMPLE_RATES:
            for channels in (1, 2):
                frame = silentFrame(rate, channels, 128)
                header = frame.header
                self.assertEqual((header.sampleRate, header.layer), (rate, 3))
                self.assertEqual(header.channelMode == 3, channels == 1)
                self.assertEqual(frame.data[4:], bytes(header.length - 4))
                walked = [item for item in Framer().feed(frame.data * 3) if isinstance(item, Frame)]
                self.assertEqual(len(walked), 3)

    def test_bitrateFallsBack(self) -> None:
        """
        A bitrate the frame's MPEG version lacks gives the nearest lower one.
        """
        from txradio.wire.mp3 import silentFrame

        self.assertEqual(silentFrame(22050, 2, 320).header.bitrate, 160)
        self.assertEqual(silentFrame(44100, 2, 144).header.bitrate, 128)
        self.assertEqual(silentFrame(44100, 2, 8).header.bitrate, 32)
        self.assertRaises(ValueError, silentFrame, 44000, 2, 128)


def borrowingFrame(begin: int, protected: bool = False, version: MPEGVersion = MPEGVersion.MPEG1) -> Frame:
    """
    A Layer III frame whose side information says its audio data begins
    C{begin} bytes back, the rest of it non-zero.
    """
    header = headerBytes(version=version, protected=protected, rateIndex=0)
    data = bytearray(frameBytes(header, 0x55))
    offset = 6 if protected else 4
    if version is MPEGVersion.MPEG1:
        data[offset] = begin >> 1
        data[offset + 1] = (begin & 1) << 7 | 0x2A
    else:
        data[offset] = begin
    return Frame(parseHeader(bytes(header)), bytes(data))


class ReservoirTests(SynchronousTestCase):
    """
    Frames that borrow audio data from before a splice are silenced.
    """

    def test_mainDataBegin(self) -> None:
        """
        C{main_data_begin} is read from 9 bits (MPEG-1) or 8 (MPEG-2), after
        the CRC when there is one.
        """
        from txradio.wire.mp3 import mainDataBegin

        self.assertEqual(mainDataBegin(borrowingFrame(300)), 300)
        self.assertEqual(mainDataBegin(borrowingFrame(511, protected=True)), 511)
        self.assertEqual(mainDataBegin(borrowingFrame(200, version=MPEGVersion.MPEG2)), 200)

    def test_guard(self) -> None:
        """
        After a reset, a frame borrowing more than the audio data sent since
        is silenced (side information zeroed, the rest kept); one borrowing
        less passes as it is.
        """
        from txradio.wire.mp3 import ReservoirGuard, mainDataBegin, mainDataSize

        guard = ReservoirGuard()
        first = borrowingFrame(100)
        silenced = guard.check(first)
        self.assertEqual(mainDataBegin(silenced), 0)
        self.assertEqual(silenced.data[4:36], bytes(32))
        self.assertEqual(silenced.data[36:], first.data[36:])
        self.assertEqual(mainDataSize(first), len(first.data) - 36)
        second = borrowingFrame(300)
        self.assertIs(guard.check(second), second)
        guard.reset()
        self.assertIsNot(guard.check(second), second)

    def test_crcRecomputed(self) -> None:
        """
        A protected frame's CRC is recomputed over the zeroed side
        information, so the frame still passes a decoder's check.
        """
        from txradio.wire.mp3 import ReservoirGuard, _crc16

        frame = ReservoirGuard().check(borrowingFrame(50, protected=True))
        self.assertEqual(int.from_bytes(frame.data[4:6], "big"), _crc16(frame.data[2:4] + bytes(32)))

    @given(st.lists(st.integers(0, 511), min_size=1, max_size=40))
    def test_neverBorrowsAcrossReset(self, begins) -> None:
        """
        Whatever the frames say, no frame passed on borrows more than the
        audio data passed on before it.
        """
        from txradio.wire.mp3 import ReservoirGuard, mainDataBegin, mainDataSize

        guard = ReservoirGuard()
        available = 0
        for begin in begins:
            frame = guard.check(borrowingFrame(begin))
            self.assertLessEqual(mainDataBegin(frame), available)
            available += mainDataSize(frame)
