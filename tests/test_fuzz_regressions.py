"""
Regression tests for what fuzzing found (each input is also kept in
C{fuzz/corpus/<target>/regress-*}), and hypothesis properties for the pure
parsers that lacked them: round trips and bounds.
"""

from __future__ import annotations

import base64
import os
import tempfile
from urllib.parse import quote_from_bytes
from xml.etree import ElementTree

from hypothesis import given
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.test.requesthelper import DummyRequest

from txradio.sources.tracks import parseM3U
from txradio.testing import syntheticFrame
from txradio.web.browse import serveSong
from txradio.web.metadata import decodeSong, parseQuery
from txradio.wire.auth import parseBasicAuth
from txradio.wire.icy import MetadataDemuxer, cleanTitle, encodeMetadata, parseMetadata
from txradio.wire.mp3 import Framer
from txradio.wire.playlists import buildM3U, buildPLS, buildXSPF
from txradio.wire.request import isValidHost
from txradio.wire.upstream import ResponseHeadParser, parseUpstream


class _Song:
    """
    A 1000-byte song file.
    """

    def __init__(self, case: SynchronousTestCase) -> None:
        folder = tempfile.mkdtemp()
        case.addCleanup(lambda: (os.remove(self.path), os.rmdir(folder)))
        self.path = os.path.join(folder, "song.mp3").encode()
        self.content = bytes(range(256)) * 3 + bytes(232)
        with open(self.path, "wb") as f:
            f.write(self.content)
        self.info = os.stat(self.path)

    def get(self, rangeHeader: bytes) -> tuple[int, bytes]:
        request = DummyRequest([b""])
        request.method = b"GET"
        request.requestHeaders.setRawHeaders(b"range", [rangeHeader])
        result = serveSong(request, self.path, self.info)
        body = b"".join(request.written) + (result if isinstance(result, bytes) else b"")
        return request.responseCode or 200, body


class FoundByFuzzingTests(SynchronousTestCase):
    """
    Every crash the fuzz targets found, fixed.
    """

    def test_suffixRangeLongerThanFile(self) -> None:
        """
        C{bytes=-N} with N beyond the file's size selects the whole file
        (twisted.web.static seeked to a negative offset and answered 500).
        """
        song = _Song(self)
        for header in (b"bytes=-2000", b"bytes=-1001001001001001001001001001001"):
            code, body = song.get(header)
            self.assertEqual((code, body), (206, song.content), header)

    def test_nonASCIIRange(self) -> None:
        """
        A C{Range} that is not ASCII is ignored and the whole file is sent
        (twisted.web.static decoded it as UTF-8 to log it, and answered 500).
        """
        song = _Song(self)
        self.assertEqual(song.get(b"b\x7f\x8b\xd2\xd2"), (200, song.content))

    def test_emptyRangeSet(self) -> None:
        """
        C{bytes=} (no range at all) is ignored and the whole file sent
        (twisted.web.static started a multipart reply of zero parts: 500).
        """
        song = _Song(self)
        for header in (b"bytes=", b"bytes= , ,"):
            self.assertEqual(song.get(header), (200, song.content), header)

    def test_unsatisfiableRanges(self) -> None:
        """
        Several ranges none of which lies in the file get an empty 416
        (twisted.web.static answered 500).
        """
        song = _Song(self)
        self.assertEqual(song.get(b"bytes=1000-,99555-"), (416, b""))
        self.assertEqual(song.get(b"bytes=5000-6000,7000-"), (416, b""))

    def test_overlappingRanges(self) -> None:
        """
        Overlapping ranges get the file once (200), not once per range;
        disjoint ones still get their parts.
        """
        song = _Song(self)
        self.assertEqual(song.get(b"bytes=0-,0-,-999,1-998"), (200, song.content))
        self.assertEqual(song.get(b"bytes=0-1,-55400,-72486,0-45"), (200, song.content))
        code, body = song.get(b"bytes=0-9,20-29")
        self.assertEqual(code, 206)
        self.assertIn(song.content[:10], body)
        self.assertIn(song.content[20:30], body)

    def test_apeTagSplit(self) -> None:
        """
        An C{APETAGEX} footer whose last bytes arrive in a later piece is
        read as the APE tag it is, not as an ID3v1 tag at its C{TAG}: fed
        in any pieces the framer yields the frames it yields fed at once.
        """
        frame = syntheticFrame(marker=7).data
        stream = frame * 3 + b"junk" + b"APETAGEX" + bytes(24) + frame * 4
        whole = Framer()
        expected = whole.feed(stream) + whole.flush()
        self.assertEqual(len(expected), 7)
        cut = stream.index(b"APETAGEX") + 7
        for pieces in ([stream[:cut], stream[cut:]], [stream[: cut - 2], stream[cut - 2 :]]):
            framer = Framer()
            frames = framer.feed(pieces[0]) + framer.feed(pieces[1]) + framer.flush()
            self.assertEqual([f.data for f in frames], [f.data for f in expected])

    def test_songCharsetWithNUL(self) -> None:
        """
        A C{charset} that holds NUL, names a bytes-to-bytes codec or one that
        raises a plain L{UnicodeError} falls back to UTF-8 or Latin-1.
        """
        self.assertEqual(decodeSong(b"Caf\xc3\xa9", b"\x00"), "Café")
        self.assertEqual(decodeSong(b"Caf\xe9", b"hex"), "Café")
        self.assertEqual(decodeSong(b"Caf\xe9", b"rot13"), "Café")
        self.assertEqual(decodeSong(b"\xff", b"idna"), "ÿ")

    def test_upstreamHostNotIDNA(self) -> None:
        """
        An upstream URL whose host cannot be encoded is refused with
        L{ValueError} (it failed later, building the C{Host} header).
        """
        self.assertRaises(ValueError, parseUpstream, "http://12\ufffd\ufffd7.0.0.1:800/s")

    def test_upstreamHostWithSpaces(self) -> None:
        """
        An upstream host holding spaces or control characters is refused
        (they went into the relay's C{Host} header).
        """
        for url in ("https://ra\x01\x00 \x00pl\x01\x00", "http://a b/", "http://a\x7fb/", "http://a<b/"):
            self.assertRaises(ValueError, parseUpstream, url)

    def test_m3uEntryWithNUL(self) -> None:
        """
        An M3U line holding NUL is skipped; the other entries are read.
        """
        self.assertEqual(parseM3U("~\x05\x00x/05.mp3\n01.mp3\n", "/m"), ["/m/01.mp3"])

    def test_titleNoncharacters(self) -> None:
        """
        U+FFFE and U+FFFF leave titles, so an XSPF playlist stays valid XML.
        """
        self.assertEqual(cleanTitle("a\ufffeb\uffffc"), "a b c")
        tree = ElementTree.fromstring(buildXSPF([("http://h/", "\ufffe\uffff")]))
        self.assertEqual([t.text for t in tree.iter("{http://xspf.org/ns/0/}title")], [None])


_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=300)


class PropertyTests(SynchronousTestCase):
    """
    Round trips and bounds of the pure parsers.
    """

    @given(st.dictionaries(st.binary(min_size=1, max_size=20), st.binary(max_size=50), max_size=8))
    def test_queryRoundTrip(self, fields: dict[bytes, bytes]) -> None:
        """
        A percent-encoded query parses back to its fields.
        """
        query = b"&".join(
            quote_from_bytes(k, safe="").encode() + b"=" + quote_from_bytes(v, safe="").encode()
            for k, v in fields.items()
        )
        self.assertEqual(parseQuery(query), fields)

    @given(_text, st.sampled_from([None, b"utf-8", b"latin-1", b"\x00", b"hex", b"nonsense"]))
    def test_decodeSongIsSafe(self, title: str, charset: bytes | None) -> None:
        """
        Whatever the bytes and charset, the song is a clean title.
        """
        song = decodeSong(title.encode("utf-8"), charset)
        self.assertEqual(song, cleanTitle(song))
        self.assertNotIn("';", song)

    @given(_text, st.one_of(st.none(), _text))
    def test_metadataBlockRoundTrip(self, title: str, url: str | None) -> None:
        """
        A title encodes to one block that players read back as a prefix of
        the cleaned title, with no key but C{StreamTitle} and C{StreamUrl}.
        """
        block = encodeMetadata(title, url)
        self.assertEqual(len(block), 1 + block[0] * 16)
        fields = parseMetadata(block[1:])
        self.assertLessEqual(set(fields), {"StreamTitle", "StreamUrl"})
        self.assertTrue(cleanTitle(title).startswith(fields["StreamTitle"]))

    @given(st.integers(1, 64), st.lists(st.binary(max_size=100), max_size=10), st.lists(_text, max_size=10))
    def test_demuxerRoundTrip(self, metaint: int, audio: list[bytes], titles: list[str]) -> None:
        """
        Audio interleaved with metadata blocks every C{metaint} bytes is
        split back into the same audio and titles.
        """
        stream = b"".join(audio)
        blocks = [encodeMetadata(t) for t in titles]
        muxed, sent, position = bytearray(), [], 0
        while position < len(stream):
            muxed += stream[position : position + metaint]
            position += metaint
            if position < len(stream) or len(stream) % metaint == 0:
                block = blocks.pop(0) if blocks else b"\x00"
                muxed += block
                if block != b"\x00":
                    sent.append(parseMetadata(block[1:]))
        demuxer = MetadataDemuxer(metaint)
        items = []
        for i in range(0, len(muxed), 7):
            items += demuxer.feed(bytes(muxed[i : i + 7]))
        self.assertEqual(b"".join(i for i in items if isinstance(i, bytes)), stream)
        self.assertEqual([i for i in items if isinstance(i, dict)], sent)

    @given(st.lists(st.tuples(_text, _text), max_size=6))
    def test_playlistsKeepOneEntryPerLine(self, entries: list[tuple[str, str]]) -> None:
        """
        M3U and PLS have a fixed number of lines per entry and XSPF parses
        and gives the cleaned titles back, whatever the URLs and titles.
        """
        self.assertEqual(len(buildM3U(entries).split(b"\r\n")), 2 + 2 * len(entries))
        self.assertEqual(len(buildPLS(entries).split(b"\r\n")), 4 + 3 * len(entries))
        tree = ElementTree.fromstring(buildXSPF(entries))
        titles = [t.text or "" for t in tree.iter("{http://xspf.org/ns/0/}title")]
        self.assertEqual(titles, [cleanTitle(t) for _, t in entries])

    @given(st.text(max_size=30), st.text(max_size=30))
    def test_basicAuthRoundTrip(self, user: str, password: str) -> None:
        """
        Basic credentials parse back to the user and password sent.
        """
        value = b"Basic " + base64.b64encode(f"{user.replace(':', '')}:{password}".encode("utf-8", "surrogatepass"))
        try:
            f"{user}{password}".encode()
        except UnicodeEncodeError:
            return
        self.assertEqual(parseBasicAuth(value), (user.replace(":", ""), password))

    @given(st.lists(st.tuples(st.from_regex(rb"\A[a-z][a-z0-9-]{0,20}\Z"), st.from_regex(rb"\A[ -~]{0,40}\Z")), max_size=20), st.integers(1, 9))
    def test_responseHeadRoundTrip(self, headers: list[tuple[bytes, bytes]], chunk: int) -> None:
        """
        A response head fed in any pieces parses to its status and headers.
        """
        raw = b"HTTP/1.0 200 OK\r\n" + b"".join(n + b": " + v + b"\r\n" for n, v in headers) + b"\r\n" + b"\xff\xfb"
        parser = ResponseHeadParser()
        head = None
        for i in range(0, len(raw), chunk):
            head = head or parser.feed(raw[i : i + chunk])
        self.assertIsNotNone(head)
        self.assertEqual(head.status, 200)
        self.assertEqual(list(head.headers), [(n, v.strip()) for n, v in headers])

    @given(st.binary(max_size=80))
    def test_validHostsAreInert(self, value: bytes) -> None:
        """
        A host that passes L{isValidHost} holds nothing that could split a
        header or inject markup.
        """
        if isValidHost(value):
            self.assertFalse(set(value) & set(b"\r\n\t \"'<>&/\\@%"))

    @given(st.lists(st.text(st.characters(blacklist_categories=("Cs",)), max_size=40), max_size=20))
    def test_m3uPathsAreAbsolute(self, lines: list[str]) -> None:
        """
        Every M3U entry becomes an absolute, normalised path, at most one per
        line.
        """
        text = "\n".join(lines)
        paths = parseM3U(text, "/music/lists")
        self.assertLessEqual(len(paths), len(text.splitlines()))
        for path in paths:
            self.assertTrue(os.path.isabs(path))
            self.assertEqual(os.path.normpath(path), path)
