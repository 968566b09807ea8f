"""
Tests for L{txradio.wire.icy}: metadata blocks, titles and the response head.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from txradio.wire.icy import (
    MAX_BLOCK_PAYLOAD,
    MetadataDemuxer,
    StreamInfo,
    cleanTitle,
    encodeMetadata,
    headerValue,
    parseMetadata,
    responseHead,
)


class EncodeMetadataTests(SynchronousTestCase):
    """
    L{encodeMetadata} builds well-formed blocks.
    """

    def test_format(self) -> None:
        """
        A block is a length byte counting 16s, the text, and NUL padding.
        """
        block = encodeMetadata("Artist - Title")
        self.assertEqual(block[0] * 16, len(block) - 1)
        self.assertEqual(block[1:].rstrip(b"\x00"), b"StreamTitle='Artist - Title';")

    def test_url(self) -> None:
        """
        A stream URL follows the title as a second key.
        """
        block = encodeMetadata("T", url="http://example.com/")
        self.assertEqual(
            parseMetadata(block[1:]), {"StreamTitle": "T", "StreamUrl": "http://example.com/"}
        )

    def test_injection(self) -> None:
        """
        A title cannot end its own value and inject a second key.
        """
        block = encodeMetadata("x';StreamUrl='http://evil/")
        self.assertEqual(list(parseMetadata(block[1:])), ["StreamTitle"])

    def test_longTitleCutOnCharacter(self) -> None:
        """
        A title longer than a block holds is cut on a UTF-8 character
        boundary and the block stays within its maximum size.
        """
        block = encodeMetadata("é" * 5000)
        self.assertLessEqual(len(block) - 1, MAX_BLOCK_PAYLOAD)
        block[1:].rstrip(b"\x00").decode("utf-8")

    @settings(max_examples=200)
    @given(st.text())
    def test_anyTitle(self, title: str) -> None:
        """
        Any title gives a well-formed block of valid UTF-8 whose title reads
        back as the cleaned title (or a prefix of it).
        """
        block = encodeMetadata(title)
        self.assertEqual(block[0] * 16, len(block) - 1)
        self.assertLessEqual(len(block) - 1, MAX_BLOCK_PAYLOAD)
        payload = block[1:].rstrip(b"\x00")
        text = payload.decode("utf-8")
        self.assertTrue(text.startswith("StreamTitle='") and text.endswith("';"))
        fields = parseMetadata(payload)
        self.assertEqual(list(fields), ["StreamTitle"])
        self.assertTrue(cleanTitle(title).startswith(fields["StreamTitle"]))


class CleanTitleTests(SynchronousTestCase):
    """
    L{cleanTitle} makes titles safe for blocks, headers and pages.
    """

    def test_controlCharacters(self) -> None:
        """
        Control characters become single spaces.
        """
        self.assertEqual(cleanTitle("a\r\nb\x00c\x1bd\x85e"), "a b c d e")

    def test_terminator(self) -> None:
        """
        The value terminator is neutralised.
        """
        self.assertNotIn("';", cleanTitle("Rock 'n' Roll';"))

    def test_surrogates(self) -> None:
        """
        Lone surrogates (from undecodable file names) become a replacement
        character rather than breaking the encoding.
        """
        self.assertEqual(cleanTitle("a\udcff"), "a?")

    def test_length(self) -> None:
        """
        Titles are bounded in length.
        """
        self.assertEqual(len(cleanTitle("x" * 5000, limit=100)), 100)


class MetadataDemuxerTests(SynchronousTestCase):
    """
    L{MetadataDemuxer} splits an ICY stream in any pieces.
    """

    def test_splits(self) -> None:
        """
        Feeding a stream in any chunk size gives the same audio and titles.
        """
        metaint = 10
        stream = (
            b"a" * 10 + encodeMetadata("One") + b"b" * 10 + b"\x00" + b"c" * 10 + encodeMetadata("Two") + b"d" * 5
        )
        for size in range(1, len(stream) + 1):
            demuxer = MetadataDemuxer(metaint)
            items = []
            for start in range(0, len(stream), size):
                items.extend(demuxer.feed(stream[start : start + size]))
            audio = b"".join(i for i in items if isinstance(i, bytes))
            titles = [i["StreamTitle"] for i in items if isinstance(i, dict)]
            self.assertEqual(audio, b"a" * 10 + b"b" * 10 + b"c" * 10 + b"d" * 5)
            self.assertEqual(titles, ["One", "Two"])
            self.assertEqual(demuxer.blocks, 3)

    def test_badMetaint(self) -> None:
        """
        A metaint that is not positive is refused.
        """
        self.assertRaises(ValueError, MetadataDemuxer, 0)

    def test_latin1(self) -> None:
        """
        Old servers' Latin-1 titles are read.
        """
        self.assertEqual(parseMetadata(b"StreamTitle='Caf\xe9';"), {"StreamTitle": "Café"})


class ResponseHeadTests(SynchronousTestCase):
    """
    L{responseHead} builds the handshake players expect.
    """

    def parse(self, head: bytes) -> tuple[bytes, dict[bytes, bytes]]:
        self.assertTrue(head.endswith(b"\r\n\r\n"))
        status, *lines = head[:-4].split(b"\r\n")
        return status, dict(line.split(b":", 1) for line in lines)

    def test_default(self) -> None:
        """
        The default status line is one browsers accept, with the icy headers,
        no caching and CORS.
        """
        info = StreamInfo(name="Test FM", genre="Jazz", url="http://x/", description="d", public=True, bitrate=128)
        status, headers = self.parse(responseHead(info, 16000))
        self.assertEqual(status, b"HTTP/1.0 200 OK")
        self.assertEqual(headers[b"Content-Type"].strip(), b"audio/mpeg")
        self.assertEqual(headers[b"icy-name"], b"Test FM")
        self.assertEqual(headers[b"icy-genre"], b"Jazz")
        self.assertEqual(headers[b"icy-br"], b"128")
        self.assertEqual(headers[b"icy-pub"], b"1")
        self.assertEqual(headers[b"icy-metaint"], b"16000")
        self.assertEqual(headers[b"Access-Control-Allow-Origin"].strip(), b"*")
        self.assertIn(b"icy-metaint", headers[b"Access-Control-Expose-Headers"])
        self.assertIn(b"no-cache", headers[b"Cache-Control"])
        self.assertNotIn(b"Content-Length", headers)

    def test_noMetadata(self) -> None:
        """
        Without a metadata request there is no C{icy-metaint}.
        """
        _, headers = self.parse(responseHead(StreamInfo(), None))
        self.assertNotIn(b"icy-metaint", headers)

    def test_legacy(self) -> None:
        """
        The legacy status line is available.
        """
        status, headers = self.parse(responseHead(StreamInfo(), None, legacyStatus=True))
        self.assertEqual(status, b"ICY 200 OK")
        self.assertIn(b"icy-notice1", headers)

    def test_noHeaderSplitting(self) -> None:
        """
        A station name with line breaks cannot add a header.
        """
        head = responseHead(StreamInfo(name="x\r\nSet-Cookie: a=b"), None)
        self.assertNotIn(b"\r\nSet-Cookie", head)
        self.assertEqual(headerValue("a\nb\x00c"), b"a b c")
