# -*- test-case-name: tests.test_chunked -*-
"""
The chunked transfer coding (RFC 9112, section 7.1) of a source client's
C{PUT}: Icecast 2.5 and some encoders send their audio as
C{Transfer-Encoding: chunked}.

L{ChunkedDecoder} is pure and incremental: L{ChunkedDecoder.feed} takes
whatever bytes arrived and returns the payload they complete, keeping
nothing but the state of the framing and at most one partial line.  Every
line it reads is bounded (L{MAX_SIZE_LINE}, L{MAX_TRAILER}), so a source
cannot make it buffer; a malformed stream raises L{ChunkedError} and stays
failed.
"""

from __future__ import annotations

import re

MAX_SIZE_LINE = 256
"""
The longest chunk-size line, extensions included, in bytes (without its
CRLF).  A size is at most L{MAX_SIZE_DIGITS} hex digits; the rest is room
for a chunk extension nobody sends to a radio.
"""

MAX_SIZE_DIGITS = 8
"""
The most hex digits a chunk size may have: up to 4 GiB - 1 per chunk, far
more than any encoder sends at once (the payload is passed on as it comes,
so a large chunk costs no memory).
"""

MAX_TRAILER = 4096
"""
The most bytes of trailer fields (after the last chunk) read before the
stream is refused: a trailer means nothing to a radio, and must not be a
way to send unbounded lines.
"""

_HEX = re.compile(rb"[0-9A-Fa-f]{1,%d}" % MAX_SIZE_DIGITS)


class ChunkedError(ValueError):
    """
    The chunked framing is malformed; the message says how.
    """


_SIZE, _DATA, _DATA_END, _TRAILER, _DONE, _FAILED = range(6)


class ChunkedDecoder:
    """
    Decodes a chunked body incrementally.

    @ivar done: whether the last chunk and its trailer have been read; bytes
        fed after that are not part of the body (L{remainder}).
    @ivar remainder: bytes received after the end of the body.
    """

    def __init__(self) -> None:
        self._state = _SIZE
        self._line = b""
        self._left = 0
        self._trailerBytes = 0
        self.done = False
        self.remainder = b""

    def feed(self, data: bytes) -> bytes:
        """
        Decode more of the body.

        @param data: bytes as received, split anywhere.
        @return: the payload bytes they complete (maybe empty).
        @raise ChunkedError: when the framing is malformed; every later
            call raises it again.
        """
        if self._state == _FAILED:
            raise ChunkedError("the chunked body was malformed earlier")
        try:
            return self._feed(data)
        except ChunkedError:
            self._state = _FAILED
            raise

    def _feed(self, data: bytes) -> bytes:
        out: list[bytes] = []
        position, end = 0, len(data)
        while position < end:
            state = self._state
            if state == _DATA:
                take = min(self._left, end - position)
                out.append(data[position : position + take])
                position += take
                self._left -= take
                if not self._left:
                    self._state = _DATA_END
            elif state == _DATA_END:
                # The CRLF that ends a chunk's data, read one byte at a time.
                expected = b"\r\n"[len(self._line)]
                if data[position] != expected:
                    raise ChunkedError("a chunk's data is not followed by CRLF")
                self._line += data[position : position + 1]
                position += 1
                if len(self._line) == 2:
                    self._line = b""
                    self._state = _SIZE
            elif state == _DONE:
                self.remainder += data[position:]
                break
            else:
                position = self._readLine(data, position)
        return b"".join(out)

    def _readLine(self, data: bytes, position: int) -> int:
        """
        Read (part of) a chunk-size line or a trailer line.

        @param data: the bytes being fed.
        @param position: where to start in them.
        @return: the position after what was consumed.
        @raise ChunkedError: for a line too long or malformed.
        """
        newline = data.find(b"\n", position)
        stop = len(data) if newline < 0 else newline + 1
        piece = data[position:stop]
        if self._state == _TRAILER:
            self._trailerBytes += len(piece)
            if self._trailerBytes > MAX_TRAILER:
                raise ChunkedError(f"the trailer is longer than {MAX_TRAILER} bytes")
        elif len(self._line) + len(piece) > MAX_SIZE_LINE + 2:
            raise ChunkedError(f"a chunk-size line is longer than {MAX_SIZE_LINE} bytes")
        self._line += piece
        if newline < 0:
            return stop
        line, self._line = self._line, b""
        if not line.endswith(b"\r\n"):
            raise ChunkedError("a line of the chunked framing ends in LF without CR")
        line = line[:-2]
        if self._state == _TRAILER:
            if not line:
                self._state = _DONE
                self.done = True
            return stop
        size = parseChunkSize(line)
        if size:
            self._left = size
            self._state = _DATA
        else:
            self._state = _TRAILER
        return stop


def parseChunkSize(line: bytes) -> int:
    """
    Read a chunk-size line, without its CRLF.

    @param line: e.g. C{b"1a2f"} or C{b"1a2f;name=value"}.
    @return: the size in bytes.
    @raise ChunkedError: when the size is not 1 to L{MAX_SIZE_DIGITS} hex
        digits (no sign, no C{0x}, no spaces inside), or the line holds
        control characters.
    """
    size, separator, extension = line.partition(b";")
    size = size.rstrip(b" \t")
    if not _HEX.fullmatch(size):
        raise ChunkedError(f"a chunk size must be 1 to {MAX_SIZE_DIGITS} hex digits, not {size[:16]!r}")
    if separator and any(byte < 0x20 and byte != 0x09 or byte == 0x7F for byte in extension):
        raise ChunkedError("a chunk extension holds control characters")
    return int(size, 16)
