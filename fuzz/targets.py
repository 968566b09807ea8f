"""
Fuzz targets: one function per parser that takes bytes from the network or
the disk.

Each target takes one input (C{bytes}) and raises only when an invariant is
broken: an exception the parser does not document, or a result that breaks
what the parser promises (bounds, round trips, no header splitting).  The
targets do not import atheris, so C{tests/test_fuzz_smoke.py} runs them
without it; C{fuzz/run} drives them with atheris for coverage-guided runs.

Inputs are split into chunks at points taken from the input itself
(L{_chunks}), so the incremental parsers are also checked against every
split: feeding in pieces must give the same result as feeding at once.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from xml.etree import ElementTree

from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from txradio.config import ConfigError, parseConfig
from txradio.net import throttle
from txradio.net.listenerport import ListenerFactory
from txradio.net.sourceport import ShoutcastSourceFactory
from txradio.sources.tracks import parseM3U
from txradio.stream.station import Station
from txradio.testing import FakeFrameSource
from txradio.web.metadata import MAX_QUERY, decodeSong, parseQuery
from txradio.wire import mp3
from txradio.wire.auth import parseBasicAuth
from txradio.wire.chunked import MAX_SIZE_LINE, MAX_TRAILER, ChunkedDecoder, ChunkedError
from txradio.wire.icy import (
    MAX_BLOCK_PAYLOAD,
    MAX_TITLE_LENGTH,
    MetadataDemuxer,
    cleanTitle,
    encodeMetadata,
    parseMetadata,
)
from txradio.wire.playlists import buildM3U, buildPLS, buildXSPF
from txradio.wire.request import RequestError, RequestHeadParser, isValidHost, pathSegments
from txradio.wire.upstream import (
    MAX_RESPONSE_HEAD,
    MAX_RESPONSE_HEADERS,
    ResponseError,
    ResponseHeadParser,
    parseUpstream,
)

SOURCE_PASSWORD = "hackme"
"""The source password of the fuzzed station (the real captures use it)."""

_CONTROL = set(range(0x20)) | {0x7F}
_TITLE_CONTROL = {chr(c) for c in range(0x20)} | {chr(c) for c in range(0x7F, 0xA0)} | {"\u2028", "\u2029", "\ufffe", "\uffff"}


def _chunks(data: bytes) -> Iterator[bytes]:
    """
    Split C{data} into pieces whose sizes come from its first byte.

    @param data: a fuzz input.
    @return: the pieces of C{data[1:]}, which join to it.
    """
    if not data:
        return
    seed, rest = data[0], data[1:]
    size = seed % 7 + 1 if seed < 128 else seed
    position = 0
    while position < len(rest):
        yield rest[position : position + size]
        position += size
        size = size % 13 + 1 if seed & 1 else size


def _checkTitle(title: str, limit: int = MAX_TITLE_LENGTH) -> None:
    assert len(title) <= limit, (len(title), limit)
    assert not (_TITLE_CONTROL & set(title)), repr(title)
    assert "';" not in title, repr(title)
    title.encode("utf-8")  # no lone surrogates


def fuzzRequest(data: bytes) -> None:
    """
    The listener request head parser: only L{RequestError} is raised; fed in
    pieces it gives what it gives fed at once; the head it returns holds no
    control byte; its buffer stays within its limits; C{pathSegments},
    C{host}, C{userAgent}, C{contentLength} keep their promises.
    """
    whole = RequestHeadParser(maxLineLength=512, maxHeaderBytes=1024, maxHeaders=20)
    body = data[1:]
    try:
        expected: object = whole.feed(body)
    except RequestError as error:
        expected = error.code
    pieces = RequestHeadParser(maxLineLength=512, maxHeaderBytes=1024, maxHeaders=20)
    result: object = None
    for chunk in _chunks(data):
        try:
            head = pieces.feed(chunk)
        except RequestError as error:
            result = error.code
            break
        assert len(pieces._buffer) <= 512 + 2, len(pieces._buffer)
        if head is not None:
            result = head
    if result is None and isinstance(expected, int):
        # Fed in pieces, the parser may still wait for the rest of a line
        # (e.g. a CR at the end) that fed at once it judged: only an error
        # on the very last bytes may differ.
        return
    if isinstance(result, int) and isinstance(expected, int):
        # Both refused; the code may differ, because a line with two faults
        # is judged by the one seen first (e.g. "HTTP/0.1" complete before
        # a control byte: 505 in pieces, 400 at once).
        expected = result
    assert result == expected, (result, expected)
    if isinstance(result, int):
        assert 400 <= result < 600
        return
    if result is None:
        return
    head = result
    for byte in head.method + head.target + head.version:
        assert 0x20 < byte < 0x7F, head
    for name, value in head.headers:
        assert name == name.lower() and name, name
        assert not (_CONTROL - {9}) & set(value), value
    assert len(head.headers) <= 20
    try:
        segments = pathSegments(head.path)
    except RequestError as error:
        assert error.code == 400
    else:
        assert b".." not in segments
    host = head.host
    if host is not None:
        assert isValidHost(host)
        assert not set(host) & set(b"\r\n\"'<>& \t/\\@"), host
    agent = head.userAgent
    assert len(agent) <= 200 and not any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in agent)
    length = head.contentLength
    assert length is None or 0 <= length < 2**63
    assert isinstance(head.wantsMetadata, bool)
    parseBasicAuth(head.header(b"authorization"))


def fuzzQuery(data: bytes) -> None:
    """
    The query strings of C{/admin/metadata} and C{/admin.cgi}: only
    L{ValueError} for an over-long query; every C{song} decodes to a safe
    title whatever its declared charset.
    """
    split = data.find(b"\x00")
    query, charset = (data, None) if split < 0 else (data[:split], data[split + 1 :] or None)
    try:
        fields = parseQuery(query)
    except ValueError:
        assert len(query) > MAX_QUERY
        return
    assert len(fields) <= query.count(b"&") + 1
    for key, value in fields.items():
        assert isinstance(key, bytes) and isinstance(value, bytes)
    song = fields.get(b"song", query)
    _checkTitle(decodeSong(song, fields.get(b"charset", charset)))


_MAX_FRAME = mp3._MAX_FRAME_LENGTH


def fuzzMP3(data: bytes) -> None:
    """
    The MP3 frame walker with tag skipping: every frame it yields parses to
    its own header and has exactly the announced length; its buffer stays
    about one frame long; the bytes it accounts for never exceed the input;
    and fed in pieces it yields the same frames as fed at once.
    """
    body = data[1:]
    whole = mp3.Framer()
    expected = whole.feed(body) + whole.flush()
    framer = mp3.Framer()
    frames: list[mp3.Frame] = []
    for chunk in _chunks(data):
        frames += framer.feed(chunk)
        assert len(framer._buffer) <= _MAX_FRAME + len(chunk) + 8, (len(framer._buffer), len(chunk))
    frames += framer.flush()
    for frame in frames:
        header = mp3.parseHeader(frame.data)
        assert header == frame.header and len(frame.data) == header.length
        assert 0 < len(frame.data) <= _MAX_FRAME
        assert 0 < frame.duration < 0.1
    accounted = sum(len(f.data) for f in frames) + framer.skippedBytes + framer.tagBytes
    assert accounted <= len(body), (accounted, len(body))
    assert [f.data for f in frames] == [f.data for f in expected]


def fuzzDemuxer(data: bytes) -> None:
    """
    The ICY metadata reader of the relay: the audio it returns is the input
    minus the metadata bytes (every C{metaint} audio bytes, one length byte
    and that many 16-byte units), in order; fed in pieces it returns what it
    returns fed at once; every key and value is text.
    """
    if len(data) < 3:
        return
    metaint = int.from_bytes(data[1:3], "big") % 4096 + 1
    body = data[3:]
    expected = bytearray()
    position = 0
    while position < len(body):
        expected += body[position : position + metaint]
        position += metaint
        if position < len(body):
            position += 1 + body[position] * 16
    demuxer = MetadataDemuxer(metaint)
    audio = bytearray()
    for chunk in _chunks(data[:1] + body):
        for item in demuxer.feed(chunk):
            if isinstance(item, bytes):
                audio += item
            else:
                for key, value in item.items():
                    assert isinstance(key, str) and isinstance(value, str)
    assert bytes(audio) == bytes(expected)
    assert demuxer.audioBytes == len(audio)


def fuzzMetadata(data: bytes) -> None:
    """
    Metadata blocks: L{parseMetadata} reads any bytes; a title (from tags,
    sources or the admin API) always encodes to one valid block from which
    players read back exactly the cleaned title and nothing else (no
    injected C{StreamUrl}).
    """
    parseMetadata(data)
    text = data.decode("utf-8", "surrogateescape")
    title, _, url = text.partition("\x01")
    _checkTitle(cleanTitle(title))
    block = encodeMetadata(title, url or None)
    assert 1 <= len(block) <= 1 + MAX_BLOCK_PAYLOAD and len(block) == 1 + block[0] * 16
    payload = block[1:].rstrip(b"\x00")
    payload.decode("utf-8")
    fields = parseMetadata(block[1:])
    assert set(fields) <= {"StreamTitle", "StreamUrl"}, fields
    assert "StreamTitle" in fields
    assert cleanTitle(title).startswith(fields["StreamTitle"]), (title, fields)


def fuzzPlaylists(data: bytes) -> None:
    """
    The playlist builders, with fuzzed URLs and titles (file names, Host
    headers, source names): one entry per line, no split lines, and XSPF
    that parses as XML and gives the titles back.
    """
    text = data.decode("utf-8", "surrogateescape")
    entries = []
    for part in text.split("\x02")[:8]:
        url, _, title = part.partition("\x01")
        entries.append((url, title))
    m3u = buildM3U(entries).decode("utf-8").split("\r\n")
    assert len(m3u) == 2 + 2 * len(entries) and m3u[-1] == ""
    assert not any("\r" in line or "\n" in line for line in m3u)
    pls = buildPLS(entries).decode("utf-8").split("\r\n")
    assert len(pls) == 4 + 3 * len(entries), pls
    tree = ElementTree.fromstring(buildXSPF(entries))
    titles = [t.text or "" for t in tree.iter("{http://xspf.org/ns/0/}title")]
    assert titles == [cleanTitle(title) for _, title in entries], (titles, entries)


def fuzzResponse(data: bytes) -> None:
    """
    The relay's response head parser: only L{ResponseError}; a head has an
    integer status and lower-case, colon-free header names; it never holds
    more than its limits; in pieces it gives what it gives at once.
    """
    body = data[1:]
    try:
        expected: object = ResponseHeadParser().feed(body)
    except ResponseError:
        expected = "error"
    parser = ResponseHeadParser()
    result: object = None
    for chunk in _chunks(data):
        try:
            head = parser.feed(chunk)
        except ResponseError:
            result = "error"
            break
        if head is not None:
            result = head
            break
        assert len(parser._buffer) <= MAX_RESPONSE_HEAD + len(chunk)
    if result is None or expected is None:
        return
    if result != expected:
        # A head fed at once may end in the first "\n\n" of "\r\n\n";
        # only the same verdict is required then.
        assert (result == "error") == (expected == "error"), (result, expected)
    if result == "error":
        return
    assert isinstance(result.status, int) and result.status >= 0
    assert len(result.headers) <= MAX_RESPONSE_HEADERS
    for name, _ in result.headers:
        assert b":" not in name and name == name.lower()


def fuzzUpstream(data: bytes) -> None:
    """
    Relay and push URLs from the config: only L{ValueError}; a path never
    holds a byte that could split the request line.
    """
    try:
        upstream = parseUpstream(data.decode("utf-8", "replace"))
    except ValueError:
        return
    assert upstream.path.startswith(b"/") and not any(b <= 0x20 or b >= 0x7F for b in upstream.path)
    assert 0 <= upstream.port <= 65535
    assert not set(upstream.hostHeader) & set(b"\r\n ")


def fuzzConfig(data: bytes) -> None:
    """
    The TOML configuration: only L{ConfigError}, whatever the text.
    """
    text = data.decode("utf-8", "replace")
    try:
        parseConfig(text, "/nonexistent/fuzz.toml")
    except ConfigError as error:
        str(error)


def fuzzM3U(data: bytes) -> None:
    """
    The M3U reader: every entry is an absolute, normalised path (no URL), at
    most one per line.
    """
    text = data.decode("utf-8", "surrogateescape")
    paths = parseM3U(text, "/music/lists")
    assert len(paths) <= len(text.splitlines())
    for path in paths:
        assert os.path.isabs(path) and os.path.normpath(path) == path and "://" not in path


class _Handshakes:
    """
    One station taking live sources, shared by the handshake targets (built
    once: a station is costly and each input is checked to leave it as it
    found it).
    """

    def __init__(self) -> None:
        self.clock = Clock()
        # Every input comes from one address: a throttle that slowed it
        # would refuse all but the first few guesses unchecked, and the
        # checks after it would never be reached.
        logins = throttle.LoginThrottle(self.clock, freeFailures=10**9)
        self.station = Station(
            FakeFrameSource(titles=["Playlist Song"], framesPerTrack=10**9),
            clock=self.clock,
            sourcePassword=SOURCE_PASSWORD,
            maxListeners=2,
        )
        self.station.startService()
        self.clock.pump([0.5] * 4)
        self.listeners = ListenerFactory(
            {self.station.mount: self.station}, clock=self.clock, headerTimeout=15.0, logins=logins
        )
        self.shoutcast = ShoutcastSourceFactory(self.station, clock=self.clock, timeout=10.0, logins=logins)
        self.baseline = len(self.clock.getDelayedCalls())

    def run(self, factory, data: bytes) -> bytes:
        protocol = factory.buildProtocol(IPv4Address("TCP", "192.0.2.9", 4000))
        transport = StringTransport(peerAddress=IPv4Address("TCP", "192.0.2.9", 4000))
        protocol.makeConnection(transport)
        for chunk in _chunks(data):
            protocol.dataReceived(chunk)
            if transport.disconnecting:
                break
        live = self.station.liveSource is not None and getattr(self.station.liveSource, "connected", False)
        protocol.connectionLost(None)
        transport.loseConnection()
        self.clock.advance(0.25)
        # Nothing of the connection is left behind: no live source, no
        # listener, no timer.
        assert not (self.station.liveSource is not None and getattr(self.station.liveSource, "connected", False))
        assert self.station.listenerCount == 0
        assert len(self.clock.getDelayedCalls()) == self.baseline, self.clock.getDelayedCalls()
        self.lastLive = live
        return transport.value()


_handshakes: _Handshakes | None = None


def _getHandshakes() -> _Handshakes:
    global _handshakes
    if _handshakes is None:
        _handshakes = _Handshakes()
    return _handshakes


def fuzzIcecastSource(data: bytes) -> None:
    """
    The listener port driven by fuzzed bytes (listener GETs and Icecast
    C{PUT}/C{SOURCE} sources): every answer is a well-formed HTTP status
    line; a source goes live only with the right credentials; the station
    is left with no source, listener or timer of the connection.
    """
    handshakes = _getHandshakes()
    out = handshakes.run(handshakes.listeners, data)
    if out:
        status = out.split(b"\r\n", 1)[0]
        assert status[:9] in (b"HTTP/1.0 ", b"HTTP/1.1 ", b"ICY 200 O"), status
    if handshakes.lastLive:
        assert out.startswith((b"HTTP/1.0 200", b"HTTP/1.1 100", b"HTTP/1.1 200", b"HTTP/1.0 100")), out[:40]
        head = RequestHeadParser().feed(data[1:])
        assert head is not None and head.method in (b"PUT", b"SOURCE")
        assert parseBasicAuth(head.header(b"authorization")) == ("source", SOURCE_PASSWORD)


_SHOUTCAST_REPLIES = (b"OK2\r\nicy-caps:11\r\n\r\n", b"invalid password\r\n", b"stream in use\r\n", b"line too long\r\n")


def fuzzShoutcastSource(data: bytes) -> None:
    """
    The SHOUTcast v1 source handshake: it answers only with its known
    replies, says C{OK2} only to the right password, never buffers more
    than a line, and leaves nothing behind.
    """
    handshakes = _getHandshakes()
    out = handshakes.run(handshakes.shoutcast, data)
    rest = out
    while rest:
        for reply in _SHOUTCAST_REPLIES + (b"too many header lines\r\n",):
            if rest.startswith(reply):
                rest = rest[len(reply) :]
                break
        else:
            raise AssertionError(out)
    if out.startswith(b"OK2"):
        line = data[1:].split(b"\n", 1)[0].rstrip(b"\r")
        assert line.split(b":#", 1)[0].decode("utf-8", "replace") == SOURCE_PASSWORD, line


class _Ranges:
    """
    A small song file served by the library's L{serveSong}.
    """

    size = 1000

    def __init__(self) -> None:
        folder = tempfile.mkdtemp(prefix="txradio-fuzz-")
        self.path = os.path.join(folder, "song.mp3").encode()
        with open(self.path, "wb") as f:
            f.write(bytes(range(256)) * 3 + bytes(self.size - 768))
        self.info = os.stat(self.path)


_ranges: _Ranges | None = None


def fuzzRange(data: bytes) -> None:
    """
    C{Range}, C{If-Range}, C{If-Match} and C{If-None-Match} on a library
    song, served by C{twisted.web.static} through the library's wrapper:
    the status is one of 200, 206, 304, 412 and 416, and every byte sent
    lies in the file, at the offsets C{Content-Range} names.
    """
    global _ranges
    from twisted.web.test.requesthelper import DummyRequest

    from txradio.web.browse import serveSong

    if _ranges is None:
        _ranges = _Ranges()
    request = DummyRequest([b""])
    request.method = b"GET"
    names = (b"range", b"if-range", b"if-match", b"if-none-match")
    for name, value in zip(names, data.split(b"\n")):
        value = bytes(b for b in value if b not in (13, 10, 0))
        request.requestHeaders.setRawHeaders(name, [value])
    result = serveSong(request, _ranges.path, _ranges.info)
    code = request.responseCode or 200
    assert code in (200, 206, 304, 412, 416), code
    written = b"".join(request.written) + (result if isinstance(result, bytes) else b"")
    with open(_ranges.path, "rb") as f:
        content = f.read()
    assert len(written) <= 2 * _ranges.size + 4096, len(written)
    contentRange = request.responseHeaders.getRawHeaders(b"content-range")
    if code == 206 and contentRange and b"multipart" not in (request.responseHeaders.getRawHeaders(b"content-type") or [b""])[0]:
        spec = contentRange[0].split(b" ")[1].split(b"/")[0]
        first, last = (int(x) for x in spec.split(b"-"))
        assert 0 <= first <= last < _ranges.size
        assert written == content[first : last + 1]


def fuzzChunked(data: bytes) -> None:
    """
    The chunked decoder of source uploads: only L{ChunkedError} is raised;
    fed in pieces it decodes what it decodes fed at once (up to the point a
    malformed stream fails); its partial line stays within its bounds.
    """
    whole = ChunkedDecoder()
    try:
        expected, failed = whole.feed(data[1:]), False
    except ChunkedError:
        expected, failed = None, True
    pieces = ChunkedDecoder()
    out = []
    try:
        for chunk in _chunks(data):
            out.append(pieces.feed(chunk))
            assert len(pieces._line) <= max(MAX_SIZE_LINE + 2, MAX_TRAILER), len(pieces._line)
    except ChunkedError:
        assert failed, "split input failed where whole input did not"
        assert expected is None
        return
    assert not failed, "whole input failed where split input did not"
    assert b"".join(out) == expected
    assert pieces.done == whole.done
    assert pieces.remainder == whole.remainder


TARGETS: dict[str, Callable[[bytes], None]] = {
    "request": fuzzRequest,
    "range": fuzzRange,
    "query": fuzzQuery,
    "mp3": fuzzMP3,
    "demux": fuzzDemuxer,
    "metadata": fuzzMetadata,
    "playlists": fuzzPlaylists,
    "response": fuzzResponse,
    "upstream": fuzzUpstream,
    "config": fuzzConfig,
    "m3u": fuzzM3U,
    "source": fuzzIcecastSource,
    "shoutcast": fuzzShoutcastSource,
    "chunked": fuzzChunked,
}
"""Every target by name; C{fuzz/corpus/<name>/} holds its seeds."""
