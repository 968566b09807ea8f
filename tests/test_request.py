"""
Tests for L{txradio.wire.request}.
"""

from __future__ import annotations

import re
from http import HTTPStatus
from urllib.parse import quote_from_bytes

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from txradio.wire.request import (
    RequestError,
    RequestHead,
    RequestHeadParser,
    formatErrorResponse,
    pathSegments,
    statusReason,
)

# Requests as the players send them (header order and values as captured).
MPG123 = (
    b"GET /stream HTTP/1.0\r\n"
    b"Host: radio.example:8000\r\n"
    b"User-Agent: mpg123/1.31.2\r\n"
    b"Accept: audio/mpeg, audio/x-mpeg, audio/mp3, audio/x-mp3, audio/mpeg3, "
    b"audio/x-mpeg3, audio/mpg, audio/x-mpg, audio/x-mpegaudio, "
    b"application/octet-stream, audio/mpegurl, audio/mpeg-url, audio/x-mpegurl, "
    b"audio/x-mpeg-url, audio/m3u, audio/x-m3u, audio/x-scpls, audio/scpls, "
    b"application/pls, application/x-scpls, application/pls+xml, */*\r\n"
    b"Icy-MetaData: 1\r\n"
    b"\r\n"
)
VLC = (
    b"GET /stream HTTP/1.1\r\n"
    b"Host: radio.example:8000\r\n"
    b"Accept: */*\r\n"
    b"Accept-Language: en_US\r\n"
    b"User-Agent: VLC/3.0.18 LibVLC/3.0.18\r\n"
    b"Range: bytes=0-\r\n"
    b"Icy-MetaData: 1\r\n"
    b"\r\n"
)
FFMPEG = (
    b"GET /stream HTTP/1.1\r\n"
    b"User-Agent: Lavf/59.27.100\r\n"
    b"Accept: */*\r\n"
    b"Range: bytes=0-\r\n"
    b"Connection: close\r\n"
    b"Host: radio.example:8000\r\n"
    b"Icy-MetaData: 1\r\n"
    b"\r\n"
)
CHROME = (
    b"GET /stream HTTP/1.1\r\n"
    b"Host: radio.example:8000\r\n"
    b"Connection: keep-alive\r\n"
    b'sec-ch-ua: "Not_A Brand";v="8", "Chromium";v="120", "Google Chrome";v="120"\r\n'
    b"Accept-Encoding: identity;q=1, *;q=0\r\n"
    b"sec-ch-ua-mobile: ?0\r\n"
    b"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    b"Chrome/120.0.0.0 Safari/537.36\r\n"
    b'sec-ch-ua-platform: "Linux"\r\n'
    b"Accept: */*\r\n"
    b"Sec-Fetch-Site: same-origin\r\n"
    b"Sec-Fetch-Mode: no-cors\r\n"
    b"Sec-Fetch-Dest: audio\r\n"
    b"Referer: http://radio.example:8000/\r\n"
    b"Accept-Language: en-US,en;q=0.9\r\n"
    b"Range: bytes=0-\r\n"
    b"\r\n"
)
WINAMP = (
    b"GET /;stream.mp3 HTTP/1.0\r\n"
    b"Host: radio.example\r\n"
    b"User-Agent: WinampMPEG/5.66, Ultravox/2.1\r\n"
    b"Ultravox-transport-type: TCP\r\n"
    b"Accept: */*\r\n"
    b"Icy-MetaData: 1\r\n"
    b"Connection: close\r\n"
    b"\r\n"
)
CURL = (
    b"GET /stream HTTP/1.1\r\n"
    b"Host: radio.example:8000\r\n"
    b"User-Agent: curl/7.88.1\r\n"
    b"Accept: */*\r\n"
    b"\r\n"
)
PLAYERS = [MPG123, VLC, FFMPEG, CHROME, WINAMP, CURL]
AUDIO = b"\xff\xfb\x90\x64" + bytes(range(256)) * 2


def parseInChunks(data: bytes, size: int, parser: RequestHeadParser | None = None) -> tuple[RequestHead, RequestHeadParser]:
    """
    Feed C{data} in chunks of C{size} bytes; fail unless exactly the last
    needed chunk returns a head.

    @return: the head and the parser.
    """
    parser = RequestHeadParser() if parser is None else parser
    heads = [parser.feed(data[i : i + size]) for i in range(0, len(data), size)]
    found = [head for head in heads if head is not None]
    assert len(found) == 1, heads
    return found[0], parser


def buffered(parser: RequestHeadParser) -> int:
    """
    @return: the bytes of the head that C{parser} holds: the pending line and
        the complete header lines.
    """
    return len(parser._buffer) + parser._headerBytes


class PlayerRequestTests(SynchronousTestCase):
    """
    Requests captured from real players parse into the expected heads.
    """

    def test_mpg123(self) -> None:
        """
        mpg123's HTTP/1.0 request asks for metadata and names its host.
        """
        head, _ = parseInChunks(MPG123, len(MPG123))
        self.assertEqual(
            (head.method, head.target, head.path, head.query, head.version),
            (b"GET", b"/stream", b"/stream", b"", b"HTTP/1.0"),
        )
        self.assertTrue(head.wantsMetadata)
        self.assertEqual(head.userAgent, "mpg123/1.31.2")
        self.assertEqual(head.host, b"radio.example:8000")
        self.assertIn(b"audio/x-scpls", head.header(b"Accept") or b"")
        self.assertEqual(len(head.headers), 4)

    def test_vlc(self) -> None:
        """
        VLC 3 sends HTTP/1.1 with a Range and asks for metadata.
        """
        head, _ = parseInChunks(VLC, len(VLC))
        self.assertEqual(head.version, b"HTTP/1.1")
        self.assertEqual(head.header(b"range"), b"bytes=0-")
        self.assertTrue(head.wantsMetadata)
        self.assertEqual(head.userAgent, "VLC/3.0.18 LibVLC/3.0.18")

    def test_ffmpeg(self) -> None:
        """
        ffmpeg (Lavf) sends HTTP/1.1 with metadata, Range and Connection: close.
        """
        head, _ = parseInChunks(FFMPEG, len(FFMPEG))
        self.assertEqual(head.userAgent, "Lavf/59.27.100")
        self.assertTrue(head.wantsMetadata)
        self.assertEqual(head.header(b"CONNECTION"), b"close")
        self.assertEqual(head.header(b"range"), b"bytes=0-")
        self.assertEqual(head.host, b"radio.example:8000")
        self.assertIsNone(head.contentLength)

    def test_chrome(self) -> None:
        """
        Chrome's <audio> request has no metadata header and asks for identity.
        """
        head, _ = parseInChunks(CHROME, len(CHROME))
        self.assertFalse(head.wantsMetadata)
        self.assertEqual(head.header(b"accept-encoding"), b"identity;q=1, *;q=0")
        self.assertEqual(head.header(b"sec-ch-ua-platform"), b'"Linux"')
        self.assertTrue(head.userAgent.startswith("Mozilla/5.0 (X11; Linux x86_64)"))
        self.assertEqual(len(head.headers), 14)

    def test_winamp(self) -> None:
        """
        Winamp's SHOUTcast-style C{/;stream.mp3} keeps its semicolon in the path.
        """
        head, _ = parseInChunks(WINAMP, len(WINAMP))
        self.assertEqual(head.path, b"/;stream.mp3")
        self.assertEqual(head.host, b"radio.example")
        self.assertTrue(head.wantsMetadata)
        self.assertEqual(head.userAgent, "WinampMPEG/5.66, Ultravox/2.1")

    def test_curl(self) -> None:
        """
        curl's minimal request parses and does not ask for metadata.
        """
        head, _ = parseInChunks(CURL, len(CURL))
        self.assertEqual(head.headers[0], (b"host", b"radio.example:8000"))
        self.assertFalse(head.wantsMetadata)
        self.assertEqual(head.userAgent, "curl/7.88.1")


class SplitTests(SynchronousTestCase):
    """
    The parse does not depend on how the bytes are split across feeds.
    """

    def test_everyChunkSize(self) -> None:
        """
        Every player request gives the same head in every chunk size 1..64.
        """
        for request in PLAYERS:
            expected, _ = parseInChunks(request, len(request))
            for size in range(1, 65):
                head, parser = parseInChunks(request, size)
                self.assertEqual(head, expected)
                self.assertEqual(parser.remainder, b"")

    def test_everySplitPoint(self) -> None:
        """
        Splitting the request in two at any byte gives the same head.
        """
        expected, _ = parseInChunks(FFMPEG, len(FFMPEG))
        for cut in range(1, len(FFMPEG)):
            parser = RequestHeadParser()
            self.assertIsNone(parser.feed(FFMPEG[:cut]))
            self.assertEqual(parser.feed(FFMPEG[cut:]), expected)

    def test_remainderSameFeed(self) -> None:
        """
        Audio sent in the same feed as the head is kept in C{remainder}.
        """
        parser = RequestHeadParser()
        head = parser.feed(b"SOURCE /live HTTP/1.0\r\nContent-Type: audio/mpeg\r\n\r\n" + AUDIO)
        self.assertIsNotNone(head)
        self.assertEqual(parser.remainder, AUDIO)

    def test_remainderEverySplit(self) -> None:
        """
        Whatever the chunk size, the bytes after the head end up in C{remainder}.
        """
        for size in range(1, 65):
            parser = RequestHeadParser()
            data = MPG123 + AUDIO
            for i in range(0, len(data), size):
                parser.feed(data[i : i + size])
            self.assertEqual(parser.remainder, AUDIO)

    def test_feedAfterHead(self) -> None:
        """
        Bytes fed after the head is complete are appended to C{remainder}.
        """
        parser = RequestHeadParser()
        self.assertIsNotNone(parser.feed(CURL + b"ab"))
        self.assertIsNone(parser.feed(b"cd"))
        self.assertEqual(parser.remainder, b"abcd")

    def test_bareLineFeeds(self) -> None:
        """
        Lines ending in a bare LF parse like CRLF lines, even when mixed.
        """
        expected, _ = parseInChunks(MPG123, len(MPG123))
        bare = MPG123.replace(b"\r\n", b"\n")
        mixed = MPG123.replace(b"\r\n", b"\n", 2)
        for size in (1, 2, 7, len(MPG123)):
            self.assertEqual(parseInChunks(bare, size)[0], expected)
            self.assertEqual(parseInChunks(mixed, size)[0], expected)

    def test_leadingEmptyLines(self) -> None:
        """
        A few empty lines before the request line are ignored.
        """
        expected, _ = parseInChunks(CURL, len(CURL))
        self.assertEqual(parseInChunks(b"\r\n\n" + CURL, 1)[0], expected)

    def test_browserWithCookies(self) -> None:
        """
        A browser request carrying several KB of cookies stays within the default limits.
        """
        cookie = b"Cookie: " + b"; ".join(b"c%d=%s" % (i, b"v" * 60) for i in range(100)) + b"\r\n"
        data = CHROME[:-2] + cookie + b"\r\n"
        self.assertGreater(len(cookie), 6000)
        head, _ = parseInChunks(data, 7)
        self.assertEqual(len(head.headerValues(b"cookie")[0]), len(cookie) - 10)

    def test_defaultLimits(self) -> None:
        """
        The class-level limits are 8192 bytes a line, 16384 bytes of headers and 100 fields.
        """
        parser = RequestHeadParser(maxHeaders=5)
        self.assertEqual(
            (RequestHeadParser.maxLineLength, RequestHeadParser.maxHeaderBytes, RequestHeadParser.maxHeaders),
            (8192, 16384, 100),
        )
        self.assertEqual((parser.maxLineLength, parser.maxHeaders), (8192, 5))
        self.assertRaises(ValueError, RequestHeadParser, maxLineLength=0)

    def test_noHeaders(self) -> None:
        """
        A request line followed by the blank line is a complete head.
        """
        head, _ = parseInChunks(b"GET / HTTP/1.0\r\n\r\n", 1)
        self.assertEqual((head.path, head.headers, head.host), (b"/", (), None))


class RequestLineTests(SynchronousTestCase):
    """
    The request line's method, target and version.
    """

    def parse(self, line: bytes) -> RequestHead:
        """
        @return: the head of C{line} followed by a blank line.
        """
        head = RequestHeadParser().feed(line + b"\r\n\r\n")
        assert head is not None
        return head

    def test_percentDecoding(self) -> None:
        """
        The path is percent-decoded; the target and query stay raw.
        """
        head = self.parse(b"GET /music/Caf%C3%A9%20Del%2fMar?a=%20b&c HTTP/1.1")
        self.assertEqual(head.target, b"/music/Caf%C3%A9%20Del%2fMar?a=%20b&c")
        self.assertEqual(head.path, b"/music/Caf\xc3\xa9 Del/Mar")
        self.assertEqual(head.query, b"a=%20b&c")

    def test_queryKeepsBadEscapes(self) -> None:
        """
        The query is not decoded, so a sloppy C{%} there is not refused.
        """
        self.assertEqual(self.parse(b"GET /admin.cgi?song=100% HTTP/1.0").query, b"song=100%")

    def test_methodCaseKept(self) -> None:
        """
        Methods are case-sensitive tokens and are not upper-cased.
        """
        self.assertEqual(self.parse(b"get / HTTP/1.0").method, b"get")
        self.assertEqual(self.parse(b"SOURCE /live HTTP/1.0").method, b"SOURCE")

    def test_absoluteForm(self) -> None:
        """
        An absolute-form target contributes its path and query.
        """
        head = self.parse(b"GET http://radio.example:8000/stream?x=1 HTTP/1.1")
        self.assertEqual((head.path, head.query), (b"/stream", b"x=1"))
        self.assertEqual(self.parse(b"GET HTTP://[::1]:80 HTTP/1.1").path, b"/")
        self.assertEqual(self.parse(b"GET http://h?q HTTP/1.1").query, b"q")

    def test_asteriskForm(self) -> None:
        """
        C{*} is accepted for OPTIONS.
        """
        self.assertEqual(self.parse(b"OPTIONS * HTTP/1.1").path, b"*")

    def test_longestLine(self) -> None:
        """
        A request line of exactly C{maxLineLength} bytes is accepted, in any split.
        """
        line = b"GET /ab HTTP/1.0\r\n\r\n"
        for size in (1, 3, len(line)):
            head, _ = parseInChunks(line, size, RequestHeadParser(maxLineLength=16))
            self.assertEqual(head.path, b"/ab")


class ErrorTests(SynchronousTestCase):
    """
    Every refusal is raised, with its code, by the first feed that makes it certain.
    """

    def assertRefused(self, prefix: bytes, rest: bytes, code: int, parser: RequestHeadParser | None = None, **limits: int) -> RequestError:
        """
        Feed C{prefix} a byte at a time without error, then check the first byte
        of C{rest} raises L{RequestError} with C{code}, that later feeds raise
        it again and that the whole input in one feed is refused the same way.

        @return: the error.
        """
        parser = RequestHeadParser(**limits)
        for i in range(len(prefix)):
            self.assertIsNone(parser.feed(prefix[i : i + 1]), prefix[: i + 1])
        error = self.assertRaises(RequestError, parser.feed, rest[:1])
        self.assertEqual((error.code, error.reason), (code, HTTPStatus(code).phrase))
        self.assertIs(self.assertRaises(RequestError, parser.feed, b"x"), error)
        self.assertEqual(buffered(parser), 0)
        whole = self.assertRaises(RequestError, RequestHeadParser(**limits).feed, prefix + rest)
        self.assertEqual(whole.code, code)
        self.assertLess(len(error.message), 200)
        return error

    def test_binaryGarbage(self) -> None:
        """
        Binary garbage is refused at its first byte.
        """
        self.assertRefused(b"", b"\x89PNG\r\n\x1a\n", 400)
        self.assertRefused(b"", b"\x00" * 100, 400)

    def test_tlsClientHello(self) -> None:
        """
        A TLS ClientHello is refused at its first byte, with a hint.
        """
        error = self.assertRefused(b"", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(32), 400)
        self.assertIn("TLS", error.message)

    def test_http09(self) -> None:
        """
        A request line without a version is refused once the line ends.
        """
        error = self.assertRefused(b"GET /stream\r", b"\n", 400)
        self.assertEqual(error.message, "HTTP/0.9 requests are not supported.")

    def test_badMethod(self) -> None:
        """
        A method that is not a token is refused at its first bad byte.
        """
        self.assertRefused(b"GE", b"(T / HTTP/1.0\r\n\r\n", 400)
        self.assertRefused(b"", b" / HTTP/1.0\r\n\r\n", 400)
        self.assertRefused(b"GET", b"\t/ HTTP/1.0\r\n\r\n", 400)

    def test_badEscape(self) -> None:
        """
        A malformed percent-escape in the path is refused at the byte that breaks it.
        """
        self.assertRefused(b"GET /a%4", b"G HTTP/1.0\r\n\r\n", 400)
        self.assertRefused(b"GET /a%", b"%41 HTTP/1.0\r\n\r\n", 400)
        self.assertRefused(b"GET /a%4", b"?x HTTP/1.0\r\n\r\n", 400)
        self.assertRefused(b"GET /a%4", b" HTTP/1.0\r\n\r\n", 400)
        self.assertRefused(b"GET http://h/%4", b" HTTP/1.0\r\n\r\n", 400)

    def test_escapedNul(self) -> None:
        """
        A path escape decoding to NUL is refused.
        """
        self.assertRefused(b"GET /a%0", b"0 HTTP/1.0\r\n\r\n", 400)

    def test_badTarget(self) -> None:
        """
        Targets that are not origin-, absolute- or OPTIONS asterisk-form are refused.
        """
        self.assertRefused(b"GET ", b"stream HTTP/1.0\r\n\r\n", 400)
        self.assertRefused(b"GET /a", b"#frag HTTP/1.0\r\n\r\n", 400)
        self.assertRefused(b"GET * HTTP/1.1\r", b"\n", 400)
        self.assertRefused(b"GET ", b"ftp://h/ HTTP/1.1\r\n", 400)
        self.assertRefused(b"GET htt://h/ HTTP/1.1\r", b"\n", 400)
        self.assertRefused(b'GET http://a"b/ HTTP/1.1\r', b"\n", 400)
        self.assertRefused(b"CONNECT ", b"radio.example:443 HTTP/1.1\r\n", 400)

    def test_controlCharacter(self) -> None:
        """
        A control character or non-ASCII byte in the request line is refused at once.
        """
        self.assertRefused(b"GET /a", b"\x7f HTTP/1.0\r\n\r\n", 400)
        self.assertRefused(b"GET /caf", b"\xc3\xa9 HTTP/1.0\r\n\r\n", 400)
        self.assertRefused(b"GET /a\r", b"b HTTP/1.0\r\n\r\n", 400)

    def test_malformedLine(self) -> None:
        """
        Extra spaces, an empty target or a malformed version are refused.
        """
        self.assertRefused(b"GET / HTTP/1.0", b" \r\n\r\n", 400)
        self.assertRefused(b"GET ", b" / HTTP/1.0\r\n\r\n", 400)
        self.assertRefused(b"GET / ", b"ICY\r\n\r\n", 400)
        self.assertRefused(b"GET / HTTP/1.", b"x\r\n\r\n", 400)
        self.assertRefused(b"GET / HTTP/1.\r", b"\n\r\n", 400)
        self.assertRefused(b"GET\r", b"\n\r\n", 400)

    def test_unsupportedVersion(self) -> None:
        """
        A well-formed version other than 1.0 or 1.1 is refused with 505.
        """
        self.assertRefused(b"GET / HTTP/2.", b"0\r\n\r\n", 505)
        self.assertRefused(b"GET / HTTP/0.", b"9\r\n\r\n", 505)
        self.assertRefused(b"GET / HTTP/1.", b"2\r\n\r\n", 505)

    def test_requestLineTooLong(self) -> None:
        """
        A request line longer than C{maxLineLength} is refused with 414 before its end arrives.
        """
        self.assertRefused(b"GET /" + b"a" * 11, b"a", 414, maxLineLength=16)
        error = self.assertRefused(b"GET /" + b"a" * 8187, b"a" * 100000, 414)
        self.assertIn("8192", error.message)

    def test_tooManyEmptyLines(self) -> None:
        """
        An endless stream of empty lines is refused.
        """
        self.assertRefused(b"\r\n" * 8 + b"\r", b"\n", 400)

    def test_spaceBeforeColon(self) -> None:
        """
        Whitespace between a header name and its colon is refused (RFC 9112).
        """
        self.assertRefused(b"GET / HTTP/1.0\r\nHost", b" : x\r\n\r\n", 400)
        self.assertRefused(b"GET / HTTP/1.0\r\nHost", b"\t: x\r\n\r\n", 400)

    def test_badHeaderName(self) -> None:
        """
        Header names must be non-empty tokens.
        """
        self.assertRefused(b"GET / HTTP/1.0\r\nA", b"(b: c\r\n\r\n", 400)
        self.assertRefused(b"GET / HTTP/1.0\r\n", b": c\r\n\r\n", 400)
        self.assertRefused(b"GET / HTTP/1.0\r\nNoColon\r", b"\n\r\n", 400)

    def test_lineFolding(self) -> None:
        """
        Obsolete line folding is refused at the leading whitespace.
        """
        self.assertRefused(b"GET / HTTP/1.0\r\nA: b\r\n", b" c\r\n\r\n", 400)
        self.assertRefused(b"GET / HTTP/1.0\r\nA: b\r\n", b"\tc\r\n\r\n", 400)

    def test_headerControlCharacter(self) -> None:
        """
        A control character other than HT in a header value is refused at once.
        """
        self.assertRefused(b"GET / HTTP/1.0\r\nA: b", b"\x00c\r\n\r\n", 400)
        self.assertRefused(b"GET / HTTP/1.0\r\nA: b", b"\x7f\r\n\r\n", 400)
        self.assertRefused(b"GET / HTTP/1.0\r\nA: b\r", b"c\r\n\r\n", 400)

    def test_headerLineTooLong(self) -> None:
        """
        A header line longer than C{maxLineLength} is refused with 431 before its end.
        """
        self.assertRefused(b"GET / HTTP/1.0\r\nX: " + b"a" * 13, b"a", 431, maxLineLength=16)

    def test_tooManyHeaders(self) -> None:
        """
        The header after the C{maxHeaders}th is refused with 431 at its first byte.
        """
        error = self.assertRefused(b"GET / HTTP/1.0\r\nA: 1\r\nB: 2\r\n", b"C: 3\r\n\r\n", 431, maxHeaders=2)
        self.assertIn("too many header fields", error.message)
        parseInChunks(b"GET / HTTP/1.0\r\nA: 1\r\nB: 2\r\n\r\n", 1, RequestHeadParser(maxHeaders=2))

    def test_headersTooLarge(self) -> None:
        """
        Header lines adding up to more than C{maxHeaderBytes} are refused with 431.
        """
        self.assertRefused(b"GET / HTTP/1.0\r\nA: 0123456789\r\nB: 1234", b"5\r\n\r\n", 431, maxHeaderBytes=20)

    def test_endlessHeaderTrickle(self) -> None:
        """
        A header trickled forever is refused once the budget is spent, never buffering more.
        """
        parser = RequestHeadParser()
        parser.feed(b"GET / HTTP/1.0\r\n")
        for i in range(2):
            parser.feed(b"X-%d: " % (i,) + b"a" * 8000 + b"\r\n")
        with self.assertRaises(RequestError) as raised:
            for _ in range(1000):
                parser.feed(b"b" * 7)
                self.assertLessEqual(buffered(parser), parser.maxHeaderBytes)
        self.assertEqual(raised.exception.code, 431)

    def test_contentLength(self) -> None:
        """
        A valid Content-Length, or a list of one repeated value, is exposed as an int.
        """
        for value, expected in [(b"0", 0), (b"007", 7), (b"5, 5", 5), (b"9223372036854775807", 2**63 - 1)]:
            head = RequestHeadParser().feed(b"PUT /live HTTP/1.1\r\nContent-Length: " + value + b"\r\n\r\n")
            assert head is not None
            self.assertEqual(head.contentLength, expected)

    def test_badContentLength(self) -> None:
        """
        Negative, non-numeric, too large or conflicting Content-Length values are refused.
        """
        for value in (b"-1", b"abc", b"", b"1.5", b"+3", b"9223372036854775808", b"1" * 5000, b"1, 2"):
            self.assertRefused(b"PUT / HTTP/1.1\r\nContent-Length: " + value + b"\r", b"\n\r\n", 400)
        self.assertRefused(b"PUT / HTTP/1.1\r\nContent-Length: 1\r\ncontent-length: 2\r", b"\n\r\n", 400)

    def test_duplicateHost(self) -> None:
        """
        Two Host header lines are refused.
        """
        self.assertRefused(b"GET / HTTP/1.1\r\nHost: a\r\nhost: b\r", b"\n\r\n", 400)


class RequestHeadTests(SynchronousTestCase):
    """
    The accessors of L{RequestHead}.
    """

    def head(self, *headers: tuple[bytes, bytes]) -> RequestHead:
        """
        @return: a C{GET /} head with C{headers}.
        """
        return RequestHead(b"GET", b"/", b"/", b"", b"HTTP/1.1", headers)

    def test_header(self) -> None:
        """
        C{header} returns the first value, matching names case-insensitively.
        """
        head = self.head((b"x-a", b"1"), (b"x-a", b"2"))
        self.assertEqual(head.header(b"X-A"), b"1")
        self.assertIsNone(head.header(b"x-b"))
        self.assertEqual(head.header(b"x-b", b"d"), b"d")
        self.assertEqual(head.headerValues(b"X-a"), [b"1", b"2"])
        self.assertEqual(head.headerValues(b"x-b"), [])

    def test_headerNamesLowered(self) -> None:
        """
        Parsed names are lower-cased and values stripped of spaces and tabs.
        """
        head = RequestHeadParser().feed(b"GET / HTTP/1.0\r\nX-Thing:  \t a  b\t \r\nEmpty:\r\n\r\n")
        assert head is not None
        self.assertEqual(head.headers, ((b"x-thing", b"a  b"), (b"empty", b"")))

    def test_wantsMetadata(self) -> None:
        """
        Only an integer C{Icy-MetaData} value of at least 1 asks for metadata.
        """
        for value, expected in [(b"1", True), (b"2", True), (b"0", False), (b"yes", False), (b"", False), (b"-1", False)]:
            self.assertEqual(self.head((b"icy-metadata", value)).wantsMetadata, expected, value)
        self.assertFalse(self.head().wantsMetadata)

    def test_userAgent(self) -> None:
        """
        The user agent is Latin-1 text without control characters, at most 200 characters.
        """
        self.assertEqual(self.head().userAgent, "")
        self.assertEqual(self.head((b"user-agent", b"a\x1b[31mb\x9bc\xe9")).userAgent, "a[31mbc\xe9")
        self.assertEqual(self.head((b"user-agent", b"x" * 1000)).userAgent, "x" * 200)

    def test_hostAccepted(self) -> None:
        """
        Names, IPv4 and bracketed IPv6 addresses, with or without ports, are valid hosts.
        """
        for value in (b"radio.example:8000", b"127.0.0.1:80", b"[::1]:8000", b"[2001:db8::1]", b"localhost", b"radio.example."):
            self.assertEqual(self.head((b"host", value)).host, value)

    def test_hostRefused(self) -> None:
        """
        Hosts that could inject markup or split a header, or are malformed, give None.
        """
        for value in (b'evil"><script>', b"a b", b"x\r\nSet-Cookie: y", b"", b"a:99999", b"[::1", b"[nope]", b"[fe80::1%25eth0]", b"user@host", b"a:b", b"a" * 300):
            self.assertIsNone(self.head((b"host", value)).host, value)
        self.assertIsNone(self.head().host)


class PathSegmentsTests(SynchronousTestCase):
    """
    L{pathSegments} splits decoded paths like C{twisted.web}'s C{postpath}.
    """

    def test_segments(self) -> None:
        """
        Segments follow the leading slash; empty and C{.} segments are kept.
        """
        self.assertEqual(pathSegments(b"/a/b"), [b"a", b"b"])
        self.assertEqual(pathSegments(b"/"), [b""])
        self.assertEqual(pathSegments(b"/a/./"), [b"a", b".", b""])

    def test_dotDotRefused(self) -> None:
        """
        A C{..} segment, even one that arrived percent-encoded, is refused with 400.
        """
        head = RequestHeadParser().feed(b"GET /a%2F%2e%2E%2Fb HTTP/1.0\r\n\r\n")
        assert head is not None
        for path in (b"/..", b"/a/../b", head.path):
            self.assertEqual(self.assertRaises(RequestError, pathSegments, path).code, 400)


class FormatErrorResponseTests(SynchronousTestCase):
    """
    L{formatErrorResponse} builds complete, parseable replies.
    """

    def parseResponse(self, response: bytes) -> tuple[bytes, int, dict[bytes, bytes], bytes]:
        """
        Parse C{response} strictly.

        @return: version, status code, headers (lower-cased names) and body.
        """
        head, _, body = response.partition(b"\r\n\r\n")
        statusLine, *lines = head.split(b"\r\n")
        match = re.fullmatch(rb"(HTTP/1\.[01]) ([1-9][0-9]{2}) ([\x20-\x7e]+)", statusLine)
        assert match is not None, statusLine
        headers = {}
        for line in lines:
            name, value = re.fullmatch(rb"([!#$%&'*+.^_`|~0-9A-Za-z-]+): ([\x20-\x7e]*)", line).groups()  # type: ignore[union-attr]
            headers[name.lower()] = value
        self.assertEqual(int(headers[b"content-length"]), len(body))
        return match[1], int(match[2]), headers, body

    def test_everyCode(self) -> None:
        """
        Each refusal code gives a valid response with the required headers and body.
        """
        for code in (400, 405, 414, 431, 503, 505):
            error = RequestError(code, "Caf\xe9 is closed.")
            version, status, headers, body = self.parseResponse(formatErrorResponse(error))
            self.assertEqual((version, status), (b"HTTP/1.0", code))
            self.assertEqual(headers[b"content-type"], b"text/plain; charset=utf-8")
            self.assertEqual(headers[b"connection"], b"close")
            self.assertEqual(headers[b"cache-control"], b"no-cache")
            self.assertEqual(body, "Caf\xe9 is closed.\n".encode())
            self.assertEqual(b"allow" in headers, code == 405)
            self.assertEqual(headers.get(b"retry-after"), b"30" if code == 503 else None)

    def test_allow(self) -> None:
        """
        A 405 reply names the allowed methods.
        """
        headers = self.parseResponse(formatErrorResponse(RequestError(405, "No.")))[2]
        self.assertEqual(headers[b"allow"], b"GET, HEAD, OPTIONS")

    def test_parserErrors(self) -> None:
        """
        Errors raised by the parser format into valid replies in the request's version.
        """
        for data in (b"\x16\x03\x01", b"GET /" + b"a" * 9000, b"GET / HTTP/1.1\r\nA: \x00"):
            error = self.assertRaises(RequestError, RequestHeadParser().feed, data)
            version, status, _, body = self.parseResponse(formatErrorResponse(error, b"HTTP/1.1"))
            self.assertEqual((version, status), (b"HTTP/1.1", error.code))
            self.assertEqual(body, error.message.encode() + b"\n")

    def test_reasonCannotSplitStatusLine(self) -> None:
        """
        A reason phrase holding CR or LF is replaced by the standard phrase.
        """
        response = formatErrorResponse(RequestError(400, "Bad.", reason="Bad\r\nSet-Cookie: x"))
        self.assertTrue(response.startswith(b"HTTP/1.0 400 Bad Request\r\n"))
        self.assertNotIn(b"Set-Cookie", response)

    def test_badVersion(self) -> None:
        """
        A malformed version is a programming error.
        """
        self.assertRaises(ValueError, formatErrorResponse, RequestError(400, "x"), b"HTTP/1.0\r\nX: y")

    def test_statusReason(self) -> None:
        """
        Standard phrases come from L{HTTPStatus}; unknown codes get a placeholder.
        """
        self.assertEqual(statusReason(431), b"Request Header Fields Too Large")
        self.assertEqual(statusReason(599), b"Unknown Status")
        self.assertEqual(RequestError(505, "x").reason, "HTTP Version Not Supported")
        self.assertEqual(str(RequestError(400, "Nope.")), "400 Bad Request: Nope.")


# Requests assembled from valid and broken pieces (one broken piece in ten), so
# that random inputs reach every rule of the grammar and not only the first
# bytes of the request line.  A seeded Random picks the pieces because
# hypothesis's own choices lean towards the ends of a list.
_PIECES: dict[str, tuple[list[bytes], list[bytes]]] = {
    "end": ([b"\r\n", b"\n"], [b"\r", b""]),
    "method": ([b"GET", b"SOURCE", b"OPTIONS"], [b"G(T", b"", b"\x16\x03"]),
    "space": ([b" "], [b"  ", b"\t", b""]),
    "target": ([b"/", b"/stream", b"/a%41", b"/x?y=%", b"*", b"http://h:80/p"], [b"/a%4", b"/a%00", b"x", b"/#f", b"/" + b"a" * 30]),
    "version": ([b"HTTP/1.0", b"HTTP/1.1"], [b"HTTP/2.0", b"HTTP/1.", b"ICY", b""]),
    "name": ([b"Host", b"Content-Length", b"Icy-MetaData", b"X", b"X-Long-Name"], [b"Bad Name", b"", b" folded"]),
    "colon": ([b": ", b":"], [b" :", b""]),
    "value": ([b"1", b"radio:8000", b"a" * 20, b"\xe9", b""], [b"-1", b"\x00", b"a" * 40, b"\x7f"]),
}
_REQUEST_LINE = ["method", "space", "target", "space", "version", "end"]
_HEADER_LINE = ["name", "colon", "value", "end"]


@st.composite
def _assembled(draw: st.DrawFn) -> bytes:
    """
    @return: a request head, mostly valid, followed by a few random bytes.
    """
    rng = draw(st.randoms(use_true_random=False))

    def pick(kind: str) -> bytes:
        valid, broken = _PIECES[kind]
        return rng.choice(valid if rng.random() < 0.9 else broken)

    parts = [pick(kind) for kind in _REQUEST_LINE]
    for _ in range(rng.randrange(8)):
        parts += [pick(kind) for kind in _HEADER_LINE]
    return b"".join(parts) + pick("end") + draw(st.binary(max_size=10))


_noise = st.one_of(st.binary(max_size=200), _assembled(), _assembled(), _assembled())
_chunkSizes = st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=20)
_tchar = "!#$%&'*+.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-"
_TOKEN = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_token = st.text(alphabet=_tchar, min_size=1, max_size=12).map(str.encode)
_fieldValue = st.binary(max_size=40).map(lambda v: re.sub(rb"[\x00-\x08\x0a-\x1f\x7f]", b"", v).strip(b" \t"))
_segment = st.binary(min_size=1, max_size=8).filter(lambda s: b"\x00" not in s and b"/" not in s and s not in (b".", b".."))


def _chunked(data: bytes, sizes: list[int]) -> list[bytes]:
    """
    @return: C{data} cut into chunks of the given sizes, cycled.
    """
    chunks, i = [], 0
    while i < len(data):
        size = sizes[len(chunks) % len(sizes)]
        chunks.append(data[i : i + size])
        i += size
    return chunks


class PropertyTests(SynchronousTestCase):
    """
    Properties of the parser over generated inputs.
    """

    def parseOutcome(self, chunks: list[bytes]) -> tuple[RequestHead | None, bytes, int | None]:
        """
        Feed C{chunks} to a parser with small limits, checking after each feed
        that it holds no more than its budget.

        @return: the head (if one was returned), the remainder and the error
            code (if one was raised).
        """
        parser = RequestHeadParser(maxLineLength=32, maxHeaderBytes=64, maxHeaders=4)
        head = None
        for chunk in chunks:
            try:
                head = parser.feed(chunk) or head
            except RequestError as error:
                self.assertIn(error.code, (400, 414, 431, 505))
                self.assertLess(len(error.message), 200)
                return None, b"", error.code
            self.assertLessEqual(buffered(parser), 32 + 64)
        return head, parser.remainder, None

    @settings(max_examples=200)
    @given(_noise, _chunkSizes)
    def test_arbitraryBytes(self, data: bytes, sizes: list[int]) -> None:
        """
        Arbitrary bytes raise only L{RequestError}, stay within the budget and
        are refused or accepted alike however they are split.
        """
        head, remainder, code = self.parseOutcome(_chunked(data, sizes))
        whole = self.parseOutcome([data])
        self.assertEqual(code is None, whole[2] is None)
        if code is None:
            self.assertEqual((head, remainder), whole[:2])
        if head is not None:
            self.assertTrue(data.endswith(remainder))
            self.assertTrue(_TOKEN.fullmatch(head.method))
            self.assertIn(head.version, (b"HTTP/1.0", b"HTTP/1.1"))
            for name, value in head.headers:
                self.assertTrue(_TOKEN.fullmatch(name) and name == name.lower())
                self.assertIsNone(re.search(rb"[\x00-\x08\x0a-\x1f\x7f]", value))

    @settings(max_examples=200)
    @given(
        method=_token,
        segments=st.lists(_segment, max_size=4),
        query=st.binary(max_size=20).map(lambda q: re.sub(rb"[^\x21-\x22\x24-\x7e]", b"", q)),
        version=st.sampled_from([b"HTTP/1.0", b"HTTP/1.1"]),
        headers=st.lists(st.tuples(_token, _fieldValue), max_size=8),
        lineEnd=st.sampled_from([b"\r\n", b"\n"]),
        sizes=_chunkSizes,
    )
    def test_validRequestsRoundTrip(
        self, method: bytes, segments: list[bytes], query: bytes, version: bytes,
        headers: list[tuple[bytes, bytes]], lineEnd: bytes, sizes: list[int],
    ) -> None:
        """
        Generated valid requests give back their method, path, query and headers in any split.
        """
        headers = [(n, v) for n, v in headers if n.lower() not in (b"host", b"content-length")]
        path = b"/" + b"/".join(quote_from_bytes(s, safe="").encode() for s in segments)
        target = path + (b"?" + query if query else b"")
        data = b" ".join([method, target, version]) + lineEnd
        data += b"".join(n + b": " + v + lineEnd for n, v in headers) + lineEnd + b"tail"
        parser = RequestHeadParser()
        heads = [head for head in map(parser.feed, _chunked(data, sizes)) if head is not None]
        self.assertEqual(len(heads), 1)
        self.assertEqual(heads[0], RequestHead(method, target, b"/" + b"/".join(segments), query, version, tuple((n.lower(), v) for n, v in headers)))
        self.assertEqual(parser.remainder, b"tail")
        self.assertEqual(pathSegments(heads[0].path), segments or [b""])
