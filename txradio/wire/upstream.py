# -*- test-case-name: tests.test_relay -*-
"""
Pieces shared by the clients txradio runs toward other servers (relays pull
a stream, pushes send one): upstream URLs, and a bounded parser for a
response head, which accepts SHOUTcast's C{ICY 200 OK} status line as well
as HTTP's.  Turning an upstream into a client endpoint is
L{txradio.sources.relay.endpointFor}.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_RESPONSE_HEAD = 16384
"""The most bytes of response head accepted from an upstream."""

MAX_RESPONSE_HEADERS = 100
"""The most header lines accepted from an upstream."""


class ResponseError(Exception):
    """
    An upstream's response could not be used; the message says why.
    """


@dataclass(frozen=True, slots=True)
class Upstream:
    """
    A parsed upstream URL.

    @ivar secure: whether it is C{https}.
    @ivar host: the host name or address.
    @ivar port: the port.
    @ivar path: the path with its query, e.g. C{b"/stream"}.
    @ivar url: the URL as given.
    """

    secure: bool
    host: str
    port: int
    path: bytes
    url: str

    @property
    def hostHeader(self) -> bytes:
        """
        The C{Host} header value for requests to it.
        """
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.secure else 80
        text = host if self.port == default else f"{host}:{self.port}"
        return text.encode("ascii") if text.isascii() else text.encode("idna")


def parseUpstream(url: str) -> Upstream:
    """
    Parse an upstream URL.

    @param url: C{http://host[:port]/path} or C{https://…}.
    @return: its parts.
    @raise ValueError: for another scheme, a missing host or a bad port.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"upstream URL {url!r} must start with http:// or https://")
    if not parts.hostname:
        raise ValueError(f"upstream URL {url!r} has no host")
    if any(ord(c) <= 0x20 or ord(c) == 0x7F or c in "\"<>\\^`{|}" for c in parts.hostname):
        # urlsplit keeps spaces and control bytes in a host, and they went
        # into the Host header of the relay's request (found by
        # fuzz/targets.py fuzzUpstream).
        raise ValueError(f"upstream URL {url!r} has a host with spaces or control characters")
    try:
        parts.hostname.encode("idna")
    except UnicodeError:
        # Such a host was accepted here and failed later, when the Host
        # header was built, with a UnicodeError instead of a config error
        # (found by fuzz/targets.py fuzzUpstream).
        raise ValueError(f"upstream URL {url!r} has a host that is not a valid name") from None
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise ValueError(f"upstream URL {url!r} has a bad port") from None
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    if any(ord(c) < 0x21 or ord(c) > 0x7E for c in path):
        raise ValueError(f"upstream URL {url!r} has characters that must be percent-encoded")
    return Upstream(parts.scheme == "https", parts.hostname, port, path.encode("ascii"), url)


@dataclass(frozen=True, slots=True)
class ResponseHead:
    """
    A parsed response head.

    @ivar status: the status code.
    @ivar headers: C{(lower-cased name, value)} pairs.
    """

    status: int
    headers: tuple[tuple[bytes, bytes], ...]

    def header(self, name: bytes) -> bytes | None:
        """
        @param name: a lower-case header name.
        @return: its first value, or L{None}.
        """
        for key, value in self.headers:
            if key == name:
                return value
        return None


class ResponseHeadParser:
    """
    Reads a response head incrementally, within fixed bounds.

    @ivar remainder: the bytes after the head, once it is complete.
    """

    def __init__(self) -> None:
        self._buffer = b""
        self._size = 0
        self.remainder = b""

    def feed(self, data: bytes) -> ResponseHead | None:
        """
        Take bytes from the upstream.

        @param data: bytes as received.
        @return: the head once the blank line has arrived, else L{None}.
        @raise ResponseError: for a head that is too big or malformed.
        """
        self._buffer += data
        end = self._buffer.find(b"\r\n\r\n")
        separator = 4
        bare = self._buffer.find(b"\n\n")
        if bare >= 0 and (end < 0 or bare < end):
            end, separator = bare, 2
        if end < 0:
            if len(self._buffer) > MAX_RESPONSE_HEAD:
                raise ResponseError("the upstream's response head is too large")
            return None
        if end > MAX_RESPONSE_HEAD:
            raise ResponseError("the upstream's response head is too large")
        head, self.remainder = self._buffer[:end], self._buffer[end + separator :]
        self._buffer = b""
        lines = head.replace(b"\r\n", b"\n").split(b"\n")
        status = lines[0].split(None, 2)
        if len(status) < 2 or not (status[0].startswith(b"HTTP/") or status[0] == b"ICY") or not status[1].isdigit():
            raise ResponseError(f"the upstream did not answer with HTTP or ICY: {lines[0][:60]!r}")
        if len(lines) - 1 > MAX_RESPONSE_HEADERS:
            raise ResponseError("the upstream sent too many header lines")
        headers = []
        for line in lines[1:]:
            name, colon, value = line.partition(b":")
            if not colon:
                raise ResponseError(f"malformed header line from the upstream: {line[:60]!r}")
            headers.append((name.strip().lower(), value.strip()))
        return ResponseHead(int(status[1]), tuple(headers))

    def feedOrFail(self, data: bytes, fail: Callable[[str], object]) -> ResponseHead | None:
        """
        Take bytes from the upstream, as L{feed}, but hand a bad head's
        reason to C{fail} instead of raising.

        @param data: bytes as received.
        @param fail: called with why the head is too big or malformed.
        @return: the head once the blank line has arrived, else L{None}
            (also after C{fail} was called).
        """
        try:
            return self.feed(data)
        except ResponseError as error:
            fail(str(error))
            return None
