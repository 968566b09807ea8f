"""
Tests for L{txradio.wire.chunked}: the chunked transfer coding of source
uploads, fed at once, one byte at a time, at every split and at random
splits.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from txradio.wire.chunked import (
    MAX_SIZE_DIGITS,
    MAX_SIZE_LINE,
    MAX_TRAILER,
    ChunkedDecoder,
    ChunkedError,
    parseChunkSize,
)


def encode(payloads: list[bytes], trailer: bytes = b"", extension: bytes = b"") -> bytes:
    """
    Frame payloads as a chunked body.

    @param payloads: the chunks (empty ones are skipped: they would end it).
    @param trailer: trailer field lines, each ending in CRLF.
    @param extension: a chunk extension added to every size line.
    @return: the body, last chunk included.
    """
    body = b"".join(b"%x%s\r\n%s\r\n" % (len(p), extension, p) for p in payloads if p)
    return body + b"0\r\n" + trailer + b"\r\n"


def decodeInPieces(data: bytes, sizes) -> tuple[bytes, ChunkedDecoder]:
    """
    Feed a body in pieces.

    @param data: the body.
    @param sizes: an iterable of piece sizes, repeated as needed.
    @return: the payload and the decoder.
    """
    decoder = ChunkedDecoder()
    out, position = [], 0
    sizes = list(sizes)
    index = 0
    while position < len(data):
        size = sizes[index % len(sizes)]
        index += 1
        out.append(decoder.feed(data[position : position + size]))
        position += size
    return b"".join(out), decoder


class ChunkedDecoderTests(SynchronousTestCase):
    """
    L{ChunkedDecoder} decodes the same payload however its input is split,
    and refuses malformed or unbounded framing.
    """

    body = encode([b"hello", b" ", b"chunked world" * 20, b"\x00\r\n\xff"], b"X-Note: 1\r\n", b";a=b") + b"AFTER"

    def test_atOnce(self) -> None:
        """
        A whole body fed at once gives its payload, ends, and keeps what
        follows it as the remainder.
        """
        decoder = ChunkedDecoder()
        self.assertEqual(decoder.feed(self.body), b"hello chunked world" * 1 + b"chunked world" * 19 + b"\x00\r\n\xff")
        self.assertTrue(decoder.done)
        self.assertEqual(decoder.remainder, b"AFTER")

    def test_oneByteAtATime(self) -> None:
        """
        Fed one byte at a time, the payload is the same.
        """
        payload, decoder = decodeInPieces(self.body, [1])
        self.assertEqual(payload, ChunkedDecoder().feed(self.body))
        self.assertTrue(decoder.done)
        self.assertEqual(decoder.remainder, b"AFTER")

    def test_everySplit(self) -> None:
        """
        Split in two at every position, and in every piece size up to 40,
        the payload is the same.
        """
        expected = ChunkedDecoder().feed(self.body)
        for split in range(len(self.body) + 1):
            decoder = ChunkedDecoder()
            payload = decoder.feed(self.body[:split]) + decoder.feed(self.body[split:])
            self.assertEqual(payload, expected, split)
            self.assertEqual(decoder.remainder, b"AFTER", split)
        for size in range(1, 41):
            self.assertEqual(decodeInPieces(self.body, [size])[0], expected, size)

    @given(
        st.lists(st.binary(min_size=1, max_size=300), max_size=8),
        st.lists(st.integers(min_value=1, max_value=64), min_size=1, max_size=20),
    )
    def test_randomSplits(self, payloads: list[bytes], sizes: list[int]) -> None:
        """
        Any payloads, framed and fed at random split points, come back whole.
        """
        payload, decoder = decodeInPieces(encode(payloads), sizes)
        self.assertEqual(payload, b"".join(payloads))
        self.assertTrue(decoder.done)

    @given(st.binary(max_size=200), st.lists(st.integers(min_value=1, max_value=16), min_size=1, max_size=8))
    def test_garbageOnlyChunkedError(self, data: bytes, sizes: list[int]) -> None:
        """
        Whatever the bytes, the decoder raises nothing but L{ChunkedError}.
        """
        try:
            decodeInPieces(data, sizes)
        except ChunkedError:
            pass

    def test_truncated(self) -> None:
        """
        A body cut short is not done, and what it completed is given.
        """
        decoder = ChunkedDecoder()
        self.assertEqual(decoder.feed(b"5\r\nhel"), b"hel")
        self.assertFalse(decoder.done)

    def test_badSize(self) -> None:
        """
        A size that is not hex digits (a sign, C{0x}, spaces inside, empty)
        is refused, and the decoder stays failed.
        """
        for line in (b"-5", b"+5", b"0x5", b"5 5", b"", b"g", b"_1"):
            decoder = ChunkedDecoder()
            self.assertRaises(ChunkedError, decoder.feed, line + b"\r\nhello\r\n")
            self.assertRaises(ChunkedError, decoder.feed, b"0\r\n\r\n")

    def test_tooManyDigits(self) -> None:
        """
        A size of more than L{MAX_SIZE_DIGITS} digits is refused.
        """
        self.assertEqual(parseChunkSize(b"f" * MAX_SIZE_DIGITS), 16**MAX_SIZE_DIGITS - 1)
        self.assertRaises(ChunkedError, parseChunkSize, b"1" * (MAX_SIZE_DIGITS + 1))

    def test_sizeLineBound(self) -> None:
        """
        A size line longer than L{MAX_SIZE_LINE} is refused before its end
        arrives: the decoder never holds more.
        """
        decoder = ChunkedDecoder()
        decoder.feed(b"5;" + b"x" * (MAX_SIZE_LINE - 2))
        self.assertRaises(ChunkedError, decoder.feed, b"x" * 3)

    def test_trailerBound(self) -> None:
        """
        Trailer fields past L{MAX_TRAILER} bytes are refused.
        """
        decoder = ChunkedDecoder()
        decoder.feed(b"0\r\n")
        for _ in range(MAX_TRAILER // 16 - 1):
            decoder.feed(b"X-Abuse: 12345\r\n")
        self.assertRaises(ChunkedError, decoder.feed, b"X-Abuse: 12345\r\n" * 2)

    def test_missingCRLFAfterData(self) -> None:
        """
        Data longer than its size (no CRLF where it should end) is refused.
        """
        self.assertRaises(ChunkedError, ChunkedDecoder().feed, b"2\r\nabc\r\n")

    def test_bareLF(self) -> None:
        """
        A size line ended by LF alone is refused.
        """
        self.assertRaises(ChunkedError, ChunkedDecoder().feed, b"2\nab\r\n")

    def test_controlInExtension(self) -> None:
        """
        A chunk extension holding control characters is refused.
        """
        self.assertRaises(ChunkedError, ChunkedDecoder().feed, b"2;a=\x00\r\nab\r\n")
