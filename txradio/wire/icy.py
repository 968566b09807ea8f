# -*- test-case-name: tests.test_icy -*-
"""
The ICY (SHOUTcast/Icecast) wire format: in-band metadata blocks, the titles
they carry, and the response head a listener receives.

Everything here is pure: bytes and strings in, bytes and strings out, so the
rules that players depend on (block sizes, padding, the C{';} terminator, the
header set) are tested without a transport.

A metadata block is one length byte C{L} followed by C{L * 16} bytes of text
such as C{StreamTitle='Artist - Title';}, padded with NUL bytes.  A listener
that asked for metadata (C{Icy-MetaData: 1}) receives one block after every
C{icy-metaint} bytes of audio; C{L = 0} means "no change".
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

DEFAULT_METAINT = 16000
"""Audio bytes between two metadata blocks, as Icecast sends by default."""

MAX_METAINT = 1 << 20
"""The largest metadata interval we accept in configuration (1 MiB)."""

MAX_BLOCK_PAYLOAD = 255 * 16
"""The most text one metadata block can hold: the length byte counts 16s."""

EMPTY_BLOCK = b"\x00"
"""The metadata block that means "the title has not changed"."""

MAX_TITLE_LENGTH = 1024
"""Titles are cut to this many characters before encoding."""

# U+FFFE and U+FFFF are not characters: XML (XSPF playlists) refuses them,
# so a title holding one made the whole playlist unreadable (found by
# fuzz/targets.py fuzzPlaylists); they go the way of control characters.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ufffe\uffff]+")
_SPACES = re.compile(r"\s{2,}")


def cleanTitle(text: str, limit: int = MAX_TITLE_LENGTH) -> str:
    """
    Make a title safe to send in a metadata block, a header or a page.

    Control characters (C0, C1, DEL and the Unicode line separators) become
    single spaces, runs of white space collapse, lone surrogates (from file
    names in odd encodings) become U+FFFD, and the sequence C{';}, which
    players read as the end of the value, becomes C{’;} so that a title can
    never end its own value early and inject a second key such as
    C{StreamUrl}.

    @param text: the title as found in tags, a source's request or the admin
        API.
    @param limit: the largest number of characters to keep.
    @return: the cleaned title, stripped of surrounding white space.
    """
    text = text.encode("utf-8", "replace").decode("utf-8")
    text = unicodedata.normalize("NFC", text)
    text = _CONTROL.sub(" ", text)
    text = _SPACES.sub(" ", text).strip()
    text = text.replace("';", "\u2019;")
    if len(text) > limit:
        text = text[:limit].rstrip()
    return text


def _cutUTF8(text: str, size: int) -> bytes:
    """
    Encode C{text} as UTF-8 in at most C{size} bytes, cutting on a character
    boundary.

    @param text: the text to encode.
    @param size: the byte budget.
    @return: the longest UTF-8 prefix of C{text} that fits.
    """
    encoded = text.encode("utf-8")
    if len(encoded) <= size:
        return encoded
    return encoded[:size].decode("utf-8", "ignore").encode("utf-8")


def encodeMetadata(title: str, url: str | None = None) -> bytes:
    """
    Build a complete metadata block announcing C{title}.

    @param title: the stream title; it is cleaned with L{cleanTitle} and cut to
        what one block holds, on a character boundary.
    @param url: an optional C{StreamUrl} value, cleaned the same way.
    @return: the block: a length byte, then C{StreamTitle='…';} (and
        C{StreamUrl='…';}) padded with NUL bytes to a multiple of 16.
    """
    tail = b""
    if url:
        tail = b"StreamUrl='" + _cutUTF8(cleanTitle(url), 1024) + b"';"
    room = MAX_BLOCK_PAYLOAD - len(b"StreamTitle='';") - len(tail)
    payload = b"StreamTitle='" + _cutUTF8(cleanTitle(title), room) + b"';" + tail
    blocks = -(-len(payload) // 16)
    return bytes([blocks]) + payload.ljust(blocks * 16, b"\x00")


def parseMetadata(payload: bytes) -> dict[str, str]:
    """
    Read the keys of a metadata block's text.

    Values end at C{';}, as players read them; text is decoded as UTF-8, or
    as Latin-1 where it is not valid UTF-8 (older SHOUTcast servers).

    @param payload: the block's text, without its length byte; trailing NUL
        padding is ignored.
    @return: a mapping such as C{{"StreamTitle": "Artist - Title"}}.
    """
    raw = payload.rstrip(b"\x00")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    fields: dict[str, str] = {}
    position = 0
    while position < len(text):
        equals = text.find("='", position)
        if equals < 0:
            break
        end = text.find("';", equals + 2)
        if end < 0:
            end = len(text) - 1 if text.endswith("'") else len(text)
        key = text[position:equals].strip()
        if key:
            fields[key] = text[equals + 2 : end]
        position = end + 2
    return fields


class MetadataDemuxer:
    """
    Split a stream received with C{Icy-MetaData: 1} into audio and metadata.

    Feed it bytes in any pieces; it returns the audio bytes and the decoded
    metadata blocks in stream order.  It is what a relay and the tests use to
    read an ICY stream.

    @ivar metaint: the audio bytes between two blocks.
    @ivar audioBytes: the audio bytes seen so far.
    @ivar blocks: the blocks seen so far, empty ones included.
    """

    def __init__(self, metaint: int) -> None:
        """
        @param metaint: the C{icy-metaint} the server announced.
        @raise ValueError: if C{metaint} is not positive.
        """
        if metaint <= 0:
            raise ValueError(f"icy-metaint must be positive, not {metaint}")
        self.metaint = metaint
        self.audioBytes = 0
        self.blocks = 0
        self._untilBlock = metaint
        self._blockLength: int | None = None
        self._pending = b""

    def feed(self, data: bytes) -> list[bytes | dict[str, str]]:
        """
        Take the next bytes of the stream.

        @param data: bytes as received.
        @return: audio (as L{bytes}) and full metadata blocks (as the
            L{dict} of L{parseMetadata}) in the order they were found; empty
            blocks are counted in L{blocks} but not returned.
        """
        items: list[bytes | dict[str, str]] = []
        position = 0
        while position < len(data):
            if self._untilBlock:
                take = min(self._untilBlock, len(data) - position)
                items.append(data[position : position + take])
                self._untilBlock -= take
                self.audioBytes += take
                position += take
            elif self._blockLength is None:
                self._blockLength = data[position] * 16
                position += 1
                if not self._blockLength:
                    self._finishBlock(items)
            else:
                take = min(self._blockLength - len(self._pending), len(data) - position)
                self._pending += data[position : position + take]
                position += take
                if len(self._pending) == self._blockLength:
                    self._finishBlock(items)
        return items

    def _finishBlock(self, items: list[bytes | dict[str, str]]) -> None:
        """
        Close the current metadata block and expect audio again.

        @param items: the output list, which gets the block's fields if it was
            not empty.
        """
        if self._pending:
            items.append(parseMetadata(self._pending))
        self.blocks += 1
        self._pending = b""
        self._blockLength = None
        self._untilBlock = self.metaint


_HEADER_UNSAFE = re.compile("[\x00-\x1f\x7f]+")


def headerValue(text: str, limit: int = 256) -> bytes:
    """
    Make text safe to send as an HTTP header value.

    @param text: the value, e.g. a station name.
    @param limit: the largest number of characters kept.
    @return: UTF-8 bytes with no control characters (so no header can be
        split), cut to C{limit} characters.
    """
    text = _HEADER_UNSAFE.sub(" ", text.encode("utf-8", "replace").decode("utf-8"))
    return text.strip()[:limit].encode("utf-8")


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """
    What a station announces about itself in the C{icy-*} headers and its
    status.

    @ivar name: the station's name (C{icy-name}).
    @ivar genre: its genre (C{icy-genre}).
    @ivar url: its home page (C{icy-url}).
    @ivar description: a sentence about it (C{icy-description}).
    @ivar public: whether directories may list it (C{icy-pub}).
    @ivar bitrate: the nominal bitrate in kbps (C{icy-br}), or L{None} when
        not known.
    """

    name: str = "txradio"
    genre: str = ""
    url: str = ""
    description: str = ""
    public: bool = False
    bitrate: int | None = None


EXPOSED_HEADERS = (
    b"icy-br, icy-description, icy-genre, icy-metaint, icy-name, icy-pub, icy-url"
)
"""The response headers a browser script on another origin may read."""


def responseHead(
    info: StreamInfo,
    metaint: int | None,
    legacyStatus: bool = False,
    server: bytes = b"txradio",
    contentType: bytes = b"audio/mpeg",
) -> bytes:
    """
    Build the response head that starts a listener's stream.

    @param info: the station's announced details.
    @param metaint: the metadata interval in bytes when the listener asked
        for metadata, else L{None} (no C{icy-metaint} header is sent then).
    @param legacyStatus: send SHOUTcast's C{ICY 200 OK} status line instead of
        C{HTTP/1.0 200 OK}, for old clients that insist on it.
    @param server: the C{Server} header's value.
    @param contentType: the stream's MIME type.
    @return: the status line and headers, ending with the blank line.
    """
    lines = [
        b"ICY 200 OK" if legacyStatus else b"HTTP/1.0 200 OK",
        b"Server: " + server,
        b"Content-Type: " + contentType,
        b"Cache-Control: no-cache, no-store",
        b"Pragma: no-cache",
        b"Expires: Mon, 26 Jul 1997 05:00:00 GMT",
        b"Connection: close",
        b"Access-Control-Allow-Origin: *",
        b"Access-Control-Expose-Headers: " + EXPOSED_HEADERS,
    ]
    if info.bitrate:
        lines.append(b"icy-br:%d" % (info.bitrate,))
    for name, value in (
        (b"icy-name", info.name),
        (b"icy-genre", info.genre),
        (b"icy-url", info.url),
        (b"icy-description", info.description),
    ):
        if value:
            lines.append(name + b":" + headerValue(value))
    lines.append(b"icy-pub:%d" % (int(info.public),))
    if legacyStatus:
        lines.append(b"icy-notice1:<BR>This stream requires a player that plays MP3<BR>")
        lines.append(b"icy-notice2:" + server + b"<BR>")
    if metaint:
        lines.append(b"icy-metaint:%d" % (metaint,))
    return b"\r\n".join(lines) + b"\r\n\r\n"
