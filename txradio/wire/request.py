# -*- test-case-name: tests.test_request -*-
"""
A pure, bounded, incremental parser for the head of an HTTP/1.x request.

Players open a stream with an ordinary C{GET}; sources later send C{PUT} or
C{SOURCE}.  The listener protocol hands received bytes to
L{RequestHeadParser.feed}, which returns a L{RequestHead} once the blank line
arrives or raises L{RequestError} as soon as the bytes seen are certain to be
refused, and L{formatErrorResponse} turns the error into the reply.  Nothing
here touches a transport or a clock, so every rule is tested with plain bytes.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import unquote_to_bytes

__all__ = ["RequestError", "RequestHead", "RequestHeadParser", "formatErrorResponse", "pathSegments", "statusReason"]

_TCHAR = rb"!#$%&'*+.^_`|~0-9A-Za-z-"
_TOKEN = re.compile(rb"[" + _TCHAR + rb"]+")
_NON_TCHAR = re.compile(rb"[^" + _TCHAR + rb"]")
# A request line holds visible ASCII and SP only; a field value may also hold
# HT and obs-text (0x80-0xFF), but no other control character.
_NON_VISIBLE = re.compile(rb"[^\x20-\x7e]")
_BAD_VALUE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
# A '%' followed by something other than two hex digits, or an escaped NUL.
_BAD_ESCAPE = re.compile(rb"%(?:[0-9A-Fa-f]?[^0-9A-Fa-f]|00)")
_VERSION = re.compile(rb"HTTP/[0-9]\.[0-9]")
_VERSION_PREFIX = re.compile(rb"(?:H(?:T(?:T(?:P(?:/(?:[0-9](?:\.[0-9]?)?)?)?)?)?)?)?")
_SUPPORTED_VERSIONS = (b"HTTP/1.0", b"HTTP/1.1")
_ABSOLUTE = re.compile(rb"https?://", re.IGNORECASE)
# Narrower than RFC 3986 on purpose (no sub-delims, escapes or zone ids), so
# that a valid host can be pasted into a URL, a header or markup as it is.
_HOST = re.compile(
    rb"(?:[A-Za-z0-9_-]{1,63}(?:\.[A-Za-z0-9_-]{1,63})*\.?|\[(?P<ipv6>[0-9A-Fa-f:.]{2,45})\])"
    rb"(?::(?P<port>[0-9]{1,5}))?"
)
_INTEGER = re.compile(rb"[+-]?[0-9]{1,18}")
_DIGITS = re.compile(rb"[0-9]+")
_CONTROL_TEXT = re.compile("[\x00-\x1f\x7f-\x9f]")


def statusReason(code: int) -> bytes:
    """
    Look up the standard reason phrase of a status code.

    @param code: an HTTP status code, e.g. C{404}.
    @return: its standard reason phrase from L{HTTPStatus}, or
        C{b"Unknown Status"}.
    """
    try:
        return HTTPStatus(code).phrase.encode("ascii")
    except ValueError:
        return b"Unknown Status"


def _quote(data: bytes | bytearray) -> str:
    # Error messages quote at most 60 bytes of what the client sent.
    return repr(bytes(data[:60])) + ("..." if len(data) > 60 else "")


class RequestError(Exception):
    """
    A request that must be refused.

    @ivar code: the HTTP status code to answer with, e.g. C{431}.
    @ivar reason: the short reason phrase, e.g. C{"Request Header Fields Too Large"}.
    @ivar message: one sentence saying what was wrong; it quotes at most about
        60 bytes of client input, so it is safe to log and to send as a body.
    """

    def __init__(self, code: int, message: str, reason: str | None = None) -> None:
        """
        @param code: see L{code}.
        @param message: see L{message}.
        @param reason: see L{reason}; by default L{statusReason}C{(code)}.
        """
        super().__init__(code, message)
        self.code = code
        self.reason = statusReason(code).decode("ascii") if reason is None else reason
        self.message = message

    def __str__(self) -> str:
        return f"{self.code} {self.reason}: {self.message}"


def _parseContentLength(values: list[bytes]) -> int | None:
    # RFC 9110 section 8.6: a list of identical values may be accepted.
    result = None
    for value in values:
        for item in value.split(b","):
            digits = item.strip(b" \t")
            if not _DIGITS.fullmatch(digits):
                raise RequestError(400, f"Content-Length {_quote(value)} is not a non-negative integer.")
            digits = digits.lstrip(b"0") or b"0"
            if len(digits) > 19 or int(digits) > 2**63 - 1:
                raise RequestError(400, f"Content-Length {_quote(value)} is too large.")
            if result not in (None, int(digits)):
                raise RequestError(400, "The request has conflicting Content-Length values.")
            result = int(digits)
    return result


def isValidHost(value: bytes) -> bool:
    """
    Tell whether a C{Host} header value is a plain C{host[:port]}.

    Only such a value is ever used to build URLs (in playlists), so nothing
    a client sends there can split a header or inject markup.

    @param value: the header's value.
    @return: L{True} for a registered name, an IPv4 address or a bracketed
        IPv6 literal, with an optional port up to 65535.
    """
    match = _HOST.fullmatch(value)
    if match is None or len(value) > 260 or int(match["port"] or 0) > 65535:
        return False
    try:
        if match["ipv6"] is not None:
            ipaddress.IPv6Address(match["ipv6"].decode())
    except ValueError:
        return False
    return True


def _parseRequestLine(line: bytes) -> tuple[bytes, bytes, bytes, bytes, bytes]:
    """
    Parse a complete request line that has passed the incremental checks.

    @return: C{(method, target, path, query, version)}.
    @raise RequestError: (400) for HTTP/0.9, a malformed line or a target that
        is not origin-form, absolute-form or C{OPTIONS *}; (505) for a version
        other than 1.0 and 1.1.
    """
    parts = line.split(b" ")
    if len(parts) == 2 and all(parts):
        raise RequestError(400, "HTTP/0.9 requests are not supported.")
    if len(parts) != 3 or not _TOKEN.fullmatch(parts[0]) or not _VERSION.fullmatch(parts[2]):
        raise RequestError(400, f"The request line {_quote(line)} is malformed.")
    method, target, version = parts
    if version not in _SUPPORTED_VERSIONS:
        raise RequestError(505, f"HTTP version {_quote(version)} is not supported; use HTTP/1.0 or 1.1.")
    if target == b"*" and method == b"OPTIONS":
        return method, target, b"*", b"", version
    origin, absolute = target, _ABSOLUTE.match(target)
    if absolute is not None:
        rest = target[absolute.end() :]
        cut = min(i for i in (rest.find(b"/"), rest.find(b"?"), len(rest)) if i >= 0)
        if not isValidHost(rest[:cut]):
            raise RequestError(400, f"The target {_quote(target)} does not name a valid host.")
        origin = b"/" + rest[cut:].removeprefix(b"/")
    elif not target.startswith(b"/"):
        raise RequestError(400, f"The target {_quote(target)} is not a path starting with '/'.")
    path, _, query = origin.partition(b"?")
    # The extra byte makes an escape cut short by the end ("%4") match too.
    bad = _BAD_ESCAPE.search(path + b"/")
    if b"#" in origin or bad is not None:
        raise RequestError(400, f"The target {_quote(target)} has a fragment or a bad percent-escape.")
    return method, target, unquote_to_bytes(path), query, version


def pathSegments(path: bytes) -> list[bytes]:
    """
    Split a decoded path into segments, as C{twisted.web} fills C{postpath}.

    C{b"/a/b"} gives C{[b"a", b"b"]}, C{b"/"} gives C{[b""]}, C{b"/a/"} gives
    C{[b"a", b""]}.  C{"."} and empty segments are kept for the router to
    judge.  The path is already decoded, so an escaped slash splits too and
    C{/a%2F..%2Fb} is refused like C{/a/../b}.

    @param path: a percent-decoded path, as in L{RequestHead.path}.
    @return: the segments after the leading C{"/"}.
    @raise RequestError: (400) when a segment is C{".."}.
    """
    segments = path.split(b"/")[1:] if path.startswith(b"/") else path.split(b"/")
    if b".." in segments:
        raise RequestError(400, "The path contains a '..' segment.")
    return segments


@dataclass(frozen=True, slots=True)
class RequestHead:
    """
    The parsed head of a request.

    @ivar method: the method as sent, e.g. C{b"GET"} (methods are case-sensitive).
    @ivar target: the raw request target, e.g. C{b"/stream?x=1"}.
    @ivar path: the percent-decoded path without the query, e.g. C{b"/stream"}.
    @ivar query: the raw query without C{"?"}, C{b""} if none.
    @ivar version: C{b"HTTP/1.0"} or C{b"HTTP/1.1"}.
    @ivar headers: C{(name, value)} pairs in order; names lower-cased, values
        stripped of surrounding spaces and tabs.
    """

    method: bytes
    target: bytes
    path: bytes
    query: bytes
    version: bytes
    headers: tuple[tuple[bytes, bytes], ...] = ()

    def header(self, name: bytes, default: bytes | None = None) -> bytes | None:
        """
        Get the first value of a header field.

        @param name: a field name, matched case-insensitively.
        @param default: the result when the field is absent.
        @return: the first value of the field, or C{default}.
        """
        values = self.headerValues(name)
        return values[0] if values else default

    def headerValues(self, name: bytes) -> list[bytes]:
        """
        Get every value of a header field.

        @param name: a field name, matched case-insensitively.
        @return: every value of the field, in order (empty if absent).
        """
        name = name.lower()
        return [value for key, value in self.headers if key == name]

    @property
    def wantsMetadata(self) -> bool:
        """
        C{True} when C{Icy-MetaData} is an integer >= 1: the player can strip
        in-band ICY metadata blocks.
        """
        value = self.header(b"icy-metadata") or b""
        return _INTEGER.fullmatch(value) is not None and int(value) >= 1

    @property
    def userAgent(self) -> str:
        """
        The C{User-Agent} decoded as Latin-1, without C0/C1 control characters
        and cut to 200 characters, so safe to log; C{""} if absent.
        """
        value = self.header(b"user-agent") or b""
        return _CONTROL_TEXT.sub("", value.decode("latin-1"))[:200]

    @property
    def host(self) -> bytes | None:
        """
        The C{Host} value if it is a valid C{host[:port]} (DNS-style name,
        IPv4, or bracketed IPv6 literal; port 0-65535), else L{None}.  A valid
        host holds no character that could split a header or inject markup,
        so it may be used to build playlist URLs.
        """
        value = self.header(b"host")
        return value if value is not None and isValidHost(value) else None

    @property
    def contentLength(self) -> int | None:
        """
        The C{Content-Length} in bytes, or L{None} if absent.

        @raise RequestError: (400) for an invalid value; never for a head from
            L{RequestHeadParser}, which refuses such requests.
        """
        return _parseContentLength(self.headerValues(b"content-length"))


class RequestHeadParser:
    """
    Incremental parser: feed bytes, get a L{RequestHead} once the blank line
    arrives.

    Lines end in CRLF or a bare LF (some old players send LF).  The limits are
    checked as bytes arrive, so a head never holds more than C{maxLineLength
    + maxHeaderBytes} bytes.  Control characters, a non-token method, a bad
    target start, a bad escape in the path, a bad version and every limit are
    refused at the byte that shows them; the rest of a line's structure
    (HTTP/0.9, an absolute-form host, a header without a colon) when the line
    ends.

    @cvar maxLineLength: longest request or header line, in bytes without the
        line end.  Players send request lines of a few dozen bytes; browsers'
        longest lines (cookies) a few hundred to a few thousand; 8192 is the
        common server default.  Longer: 414 for the request line, else 431.
    @cvar maxHeaderBytes: budget for all header lines together, in bytes
        without line ends (431 beyond).  Players send a few hundred bytes,
        browsers with cookies a few KB; 16384 is C{twisted.web}'s budget.
    @cvar maxHeaders: most header fields accepted (431 beyond); browsers send
        about 15, players fewer than 10.
    @ivar remainder: bytes received after the end of the head (e.g. a source's
        audio).
    """

    maxLineLength: int = 8192
    maxHeaderBytes: int = 16384
    maxHeaders: int = 100
    # RFC 9112 section 2.2 asks servers to ignore at least one empty line
    # before the request line: tolerate a few, not an endless stream.
    _maxEmptyLines = 8

    def __init__(
        self, maxLineLength: int | None = None, maxHeaderBytes: int | None = None, maxHeaders: int | None = None
    ) -> None:
        """
        @param maxLineLength: overrides L{maxLineLength} when given.
        @param maxHeaderBytes: overrides L{maxHeaderBytes} when given.
        @param maxHeaders: overrides L{maxHeaders} when given.
        @raise ValueError: if a limit is less than 1.
        """
        self.maxLineLength = self.maxLineLength if maxLineLength is None else maxLineLength
        self.maxHeaderBytes = self.maxHeaderBytes if maxHeaderBytes is None else maxHeaderBytes
        self.maxHeaders = self.maxHeaders if maxHeaders is None else maxHeaders
        if min(self.maxLineLength, self.maxHeaderBytes, self.maxHeaders) < 1:
            raise ValueError("limits must be at least 1")
        self.remainder = b""
        self._buffer = bytearray()
        self._requestLine: tuple[bytes, bytes, bytes, bytes, bytes] | None = None
        self._headers: list[tuple[bytes, bytes]] = []
        self._headerBytes = self._emptyLines = 0
        self._head: RequestHead | None = None
        self._error: RequestError | None = None
        self._resetLine()

    def _resetLine(self) -> None:
        # How much of the current line is checked, and where its separators
        # are (-1 until seen), so that each byte is scanned only once.
        self._checked = 0
        self._space1 = self._space2 = self._question = self._colon = -1

    def feed(self, data: bytes) -> RequestHead | None:
        """
        Consume C{data}.

        @param data: the next bytes from the client.
        @return: the L{RequestHead} when the head is complete (bytes after it
            are in L{remainder}), else L{None}.  Once the head is complete,
            C{data} is appended to L{remainder} and L{None} returned.
        @raise RequestError: as soon as the bytes seen are invalid or exceed a
            limit; later calls raise the same error.
        """
        if self._error is not None:
            raise self._error
        if self._head is not None:
            self.remainder += data
            return None
        self._buffer += data
        try:
            return self._consume()
        except RequestError as error:
            self._error = error
            self._buffer, self._headers, self._headerBytes = bytearray(), [], 0
            raise

    def _consume(self) -> RequestHead | None:
        buffer = self._buffer
        while (newline := buffer.find(b"\n", self._checked)) >= 0:
            end = newline - 1 if newline and buffer[newline - 1] == 0x0D else newline
            self._scan(end)
            line = bytes(buffer[:end])
            del buffer[: newline + 1]
            self._resetLine()
            if self._lineReceived(line):
                self.remainder, self._buffer = bytes(buffer), bytearray()
                return self._head
        # A CR at the end may yet become a CRLF: do not judge it now.
        self._scan(len(buffer) - 1 if buffer.endswith(b"\r") else len(buffer))
        return None

    def _scan(self, end: int) -> None:
        # Check bytes [_checked, end) of the current line, which ends at or
        # after end; every byte past maxLineLength is an error anyway.
        buffer, start, limit = self._buffer, self._checked, min(end, self.maxLineLength)
        if self._requestLine is not None:
            self._scanHeaderLine(buffer, start, limit, end)
            return
        if start < limit:
            self._scanRequestLine(buffer, start, limit)
        if end > self.maxLineLength:
            raise RequestError(414, f"The request line is longer than {self.maxLineLength} bytes.")

    def _scanRequestLine(self, buffer: bytearray, start: int, limit: int) -> None:
        if (bad := _NON_VISIBLE.search(buffer, start, limit)) is not None:
            hint = " (a TLS handshake on a plain-HTTP port?)" if buffer[0] == 0x16 else ""
            raise RequestError(400, f"The request line contains the byte {bytes(bad.group())!r}{hint}.")
        space = buffer.find(b" ", start, limit)
        while space >= 0:
            if self._space2 >= 0:
                raise RequestError(400, "The request line has more than two spaces.")
            self._space1, self._space2 = (space, -1) if self._space1 < 0 else (self._space1, space)
            space = buffer.find(b" ", space + 1, limit)
        space1, space2 = self._space1, self._space2
        methodEnd = limit if space1 < 0 else space1
        if space1 == 0 or _NON_TCHAR.search(buffer, start, methodEnd):
            raise RequestError(400, f"The method {_quote(buffer[:methodEnd])} is not a token.")
        if space1 >= 0:
            self._scanTarget(buffer, start, limit, space1 + 1, limit if space2 < 0 else space2)
        if space2 >= 0:
            version = bytes(buffer[space2 + 1 : min(limit, space2 + 10)])
            if len(version) > 8 or not _VERSION_PREFIX.fullmatch(version):
                raise RequestError(400, f"The HTTP version {_quote(version)} is malformed.")
            if len(version) == 8 and version not in _SUPPORTED_VERSIONS:
                raise RequestError(505, f"HTTP version {_quote(version)} is not supported; use HTTP/1.0 or 1.1.")
        self._checked = limit

    def _scanTarget(self, buffer: bytearray, start: int, limit: int, targetStart: int, targetEnd: int) -> None:
        if start <= targetStart < limit and buffer[targetStart] not in b"/*hH":
            raise RequestError(400, "The request target must be a path starting with '/'.")
        scanFrom = max(start, targetStart)
        if buffer.find(b"#", scanFrom, targetEnd) >= 0:
            raise RequestError(400, "The request target contains a fragment ('#').")
        if self._question < 0 and scanFrom <= targetEnd:
            # Only the path is decoded: the raw query belongs to the application.
            self._question = buffer.find(b"?", scanFrom, targetEnd)
            pathEnd = targetEnd if self._question < 0 else self._question
            # Look two bytes back for an escape begun in an earlier feed, and
            # one byte on, once known, to catch "%4?" and "%4 ".
            searchEnd = pathEnd + 1 if pathEnd < limit else pathEnd
            if (bad := _BAD_ESCAPE.search(buffer, max(scanFrom - 2, targetStart), searchEnd)) is not None:
                raise RequestError(400, f"The path has a bad percent-escape {bytes(bad.group())!r}.")

    def _scanHeaderLine(self, buffer: bytearray, start: int, limit: int, end: int) -> None:
        if start < limit:
            if start == 0 and len(self._headers) >= self.maxHeaders:
                raise RequestError(431, f"The request has too many header fields (more than {self.maxHeaders}).")
            if start == 0 and buffer[0] in b" \t":
                raise RequestError(400, "The request uses obsolete header line folding.")
            valueStart = start
            if self._colon < 0:
                colon = buffer.find(b":", start, limit)
                if (bad := _NON_TCHAR.search(buffer, start, limit if colon < 0 else colon)) is not None:
                    what = "whitespace" if bad.group() in (b" ", b"\t") else f"the byte {bytes(bad.group())!r}"
                    raise RequestError(400, f"A header field name contains {what}.")
                if colon == 0:
                    raise RequestError(400, "A header field has an empty name.")
                self._colon, valueStart = colon, (limit if colon < 0 else colon + 1)
            if (bad := _BAD_VALUE.search(buffer, valueStart, limit)) is not None:
                raise RequestError(400, f"A header field value contains the byte {bytes(bad.group())!r}.")
            self._checked = limit
        if end > self.maxLineLength:
            raise RequestError(431, f"A header line is longer than {self.maxLineLength} bytes.")
        if self._headerBytes + end > self.maxHeaderBytes:
            raise RequestError(431, f"The header fields are larger than {self.maxHeaderBytes} bytes in total.")

    def _lineReceived(self, line: bytes) -> bool:
        # Handle a complete line that _scan has checked; True at the blank
        # line that ends the head.
        if self._requestLine is None:
            if line:
                self._requestLine = _parseRequestLine(line)
                return False
            self._emptyLines += 1
            if self._emptyLines > self._maxEmptyLines:
                raise RequestError(400, "Too many empty lines came before the request line.")
            return False
        if not line:
            self._head = RequestHead(*self._requestLine, headers=tuple(self._headers))
            return True
        name, colon, value = line.partition(b":")
        if not colon:
            raise RequestError(400, f"The header line {_quote(line)} has no colon.")
        name = name.lower()
        self._headers.append((name, value.strip(b" \t")))
        self._headerBytes += len(line)
        values = [v for k, v in self._headers if k == name]
        if name == b"content-length":
            _parseContentLength(values)
        elif name == b"host" and len(values) > 1:
            # RFC 9112 section 3.2: a second Host is a sign of smuggling.
            raise RequestError(400, "The request has more than one Host header field.")
        return False


def formatErrorResponse(error: RequestError, version: bytes = b"HTTP/1.0") -> bytes:
    """
    Build the complete reply refusing a request.

    @param error: the refusal.
    @param version: the HTTP version of the status line.
    @return: the status line; C{Content-Type}, C{Content-Length},
        C{Connection: close} and C{Cache-Control: no-cache} headers, plus
        C{Allow} for 405 and C{Retry-After} for 503; a blank line; and the
        message and a newline as a UTF-8 C{text/plain} body.
    @raise ValueError: if C{version} or C{error.code} is malformed.
    """
    if not _VERSION.fullmatch(version) or not 100 <= error.code <= 999:
        raise ValueError(f"cannot format {version!r} {error.code!r}")
    reason = error.reason.encode("ascii", "replace")
    if _NON_VISIBLE.search(reason):
        reason = statusReason(error.code)  # a phrase must never split the status line
    body = (error.message + "\n").encode("utf-8", "replace")
    lines = [b"%s %d %s" % (version, error.code, reason), b"Content-Type: text/plain; charset=utf-8"]
    lines += [b"Content-Length: %d" % (len(body),), b"Connection: close", b"Cache-Control: no-cache"]
    if error.code == 405:
        lines.append(b"Allow: GET, HEAD, OPTIONS")
    if error.code == 503:
        lines.append(b"Retry-After: 30")
    return b"\r\n".join(lines) + b"\r\n\r\n" + body
