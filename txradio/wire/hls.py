# -*- test-case-name: tests.test_hls -*-
"""
HTTP Live Streaming for MP3, as plain values and text: the ID3 tag that
starts every packed audio segment, the segment record, and the media and
master playlists (RFC 8216).

Nothing here does I/O or looks at a clock; L{txradio.stream.segmenter} cuts the
segments and L{txradio.web.hls} serves them.

Packed audio (RFC 8216 section 3.4): a segment is whole MP3 frames with no
container, preceded by an ID3v2 tag whose C{PRIV} frame, owned by
C{com.apple.streaming.transportStreamTimestamp}, holds the 33-bit MPEG-2
timestamp (90 kHz) of the segment's first sample as an 8-byte big-endian
number.  Timed metadata travels as further ID3 frames in that same tag:
C{TIT2} (title) and C{TPE1} (artist), which Safari and hls.js hand to the
page as cues of a metadata text track.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

TIMESTAMP_OWNER = b"com.apple.streaming.transportStreamTimestamp"
"""The owner of the C{PRIV} frame that carries a packed audio timestamp."""

PTS_CLOCK = 90000
"""Ticks a second of the MPEG-2 timestamps HLS uses."""

PTS_WRAP = 1 << 33
"""MPEG-2 timestamps are 33 bits: they wrap at this value (about 26.5 h)."""

MP3_CODECS = "mp4a.40.34"
"""The C{CODECS} value of an MP3 rendition in a master playlist."""

PLAYLIST_TYPE = b"application/vnd.apple.mpegurl"
"""The media type of HLS playlists."""

SEGMENT_TYPE = b"audio/mpeg"
"""The media type of MP3 packed audio segments."""

_UTF8 = b"\x03"
"""ID3v2.4 text encoding byte for UTF-8."""


def _syncsafe(size: int) -> bytes:
    """
    Encode a size as ID3v2's four 7-bit bytes.

    @param size: the size in bytes, below 2**28.
    @return: four bytes, each below 0x80.
    @raise ValueError: for a size that does not fit.
    """
    if not 0 <= size < 1 << 28:
        raise ValueError(f"an ID3v2 size must be below 2**28, not {size}")
    return bytes(((size >> 21) & 0x7F, (size >> 14) & 0x7F, (size >> 7) & 0x7F, size & 0x7F))


def _frame(frameID: bytes, body: bytes) -> bytes:
    """
    Build one ID3v2.4 frame.

    @param frameID: four ASCII letters, e.g. C{b"TIT2"}.
    @param body: the frame's content.
    @return: the frame: ID, syncsafe size, no flags, body.
    """
    return frameID + _syncsafe(len(body)) + b"\x00\x00" + body


def textFrame(frameID: bytes, text: str) -> bytes:
    """
    Build an ID3v2.4 text frame in UTF-8.

    @param frameID: e.g. C{b"TIT2"} or C{b"TPE1"}.
    @param text: the text; NUL characters are removed (they separate values
        in ID3v2.4).
    @return: the frame.
    """
    return _frame(frameID, _UTF8 + text.replace("\x00", "").encode("utf-8"))


def splitTitle(title: str) -> tuple[str | None, str]:
    """
    Split a stream title of the usual C{"Artist - Title"} form.

    @param title: a stream title.
    @return: C{(artist, title)}; the artist is L{None} when the title has no
        C{" - "} separator or one side is empty.
    """
    artist, separator, rest = title.partition(" - ")
    if separator and artist.strip() and rest.strip():
        return artist.strip(), rest.strip()
    return None, title.strip()


URL_DESCRIPTION = "StreamUrl"
"""The description of the C{WXXX} frame carrying the URL that ICY metadata
sends as C{StreamUrl} (the album art of what plays)."""


def urlFrame(description: str, url: str) -> bytes:
    """
    Build an ID3v2.4 C{WXXX} (user-defined URL) frame.

    @param description: what the URL is, in UTF-8; NUL characters removed.
    @param url: the URL; characters outside ISO-8859-1 (which ID3 requires
        of it) are percent-encoded, NUL characters removed.
    @return: the frame.
    """
    latin = "".join(c if ord(c) < 0x100 else "".join(f"%{b:02X}" for b in c.encode("utf-8")) for c in url)
    return _frame(
        b"WXXX",
        _UTF8 + description.replace("\x00", "").encode("utf-8") + b"\x00" + latin.replace("\x00", "").encode("latin-1"),
    )


def packTimestamp(pts: int, title: str | None = None, url: str | None = None) -> bytes:
    """
    Build the ID3v2.4 tag that starts a packed audio segment.

    @param pts: the 90 kHz timestamp of the segment's first sample; it is
        taken modulo 2**33.
    @param title: a stream title to send as timed metadata (C{TIT2}, and
        C{TPE1} when it reads C{"Artist - Title"}), or L{None} for none.
    @param url: the C{StreamUrl} sent with the title (the album art's
        URL), as a C{WXXX} frame described L{URL_DESCRIPTION}, or L{None}.
    @return: the tag: header, the C{PRIV} timestamp frame, then the text
        and URL frames.
    """
    frames = [_frame(b"PRIV", TIMESTAMP_OWNER + b"\x00" + (pts % PTS_WRAP).to_bytes(8, "big"))]
    if title:
        artist, name = splitTitle(title)
        frames.append(textFrame(b"TIT2", name))
        if artist is not None:
            frames.append(textFrame(b"TPE1", artist))
    if url:
        frames.append(urlFrame(URL_DESCRIPTION, url))
    body = b"".join(frames)
    return b"ID3\x04\x00\x00" + _syncsafe(len(body)) + body


@dataclass(frozen=True, slots=True)
class Segment:
    """
    One packed audio segment, built once and served as it is to every
    client.

    @ivar sequence: its media sequence number.
    @ivar data: the whole segment: the ID3 tag, then whole MP3 frames.
    @ivar samples: samples per channel of its frames, summed.
    @ivar sampleRate: their sample rate in Hz.
    @ivar pts: the 90 kHz timestamp of its first sample (below 2**33).
    @ivar title: the title of its audio, or L{None}.
    @ivar discontinuity: whether it does not continue the previous segment
        (another format, or a gap in time), so that the playlist marks it
        with C{EXT-X-DISCONTINUITY}.
    @ivar programDateTime: the wall-clock time of its first sample, in
        seconds since the epoch, or L{None}.
    @ivar etag: a strong entity tag for it (quotes included).
    @ivar frames: the number of MP3 frames in it.
    """

    sequence: int
    data: bytes
    samples: int
    sampleRate: int
    pts: int
    title: str | None = None
    discontinuity: bool = False
    programDateTime: float | None = None
    etag: bytes = b""
    frames: int = 0

    @property
    def duration(self) -> float:
        """
        Its exact duration in seconds: samples over sample rate.
        """
        return self.samples / self.sampleRate

    @property
    def bitrate(self) -> float:
        """
        Its bitrate in bits a second, the ID3 tag included.
        """
        return len(self.data) * 8 / self.duration


def formatDateTime(seconds: float) -> str:
    """
    Format a time as C{EXT-X-PROGRAM-DATE-TIME} wants it.

    @param seconds: seconds since the epoch.
    @return: ISO 8601 in UTC with milliseconds, e.g.
        C{"2026-11-24T08:30:00.000Z"}.
    """
    moment = datetime.fromtimestamp(round(seconds, 3), UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def formatDuration(seconds: float) -> str:
    """
    Format a segment duration for C{EXTINF}.

    @param seconds: the duration.
    @return: six decimals, e.g. C{"5.982041"}.
    """
    return f"{seconds:.6f}"


def mediaPlaylist(
    segments: Sequence[Segment],
    targetDuration: int,
    uriFor: Callable[[Segment], str],
    discontinuitySequence: int = 0,
    mediaSequence: int | None = None,
    ended: bool = False,
) -> str:
    """
    Write a media playlist.

    @param segments: the segments to list, oldest first.
    @param targetDuration: C{EXT-X-TARGETDURATION} in whole seconds; every
        segment's duration, rounded to the nearest integer, must not exceed
        it (RFC 8216 section 4.3.3.1).
    @param uriFor: gives each segment's URI (relative URIs keep the playlist
        the same whatever host or path prefix it is reached by).
    @param discontinuitySequence: C{EXT-X-DISCONTINUITY-SEQUENCE}: the number
        of discontinuities that have left the playlist.
    @param mediaSequence: C{EXT-X-MEDIA-SEQUENCE}; by default the first
        segment's sequence number (0 without segments).
    @param ended: add C{EXT-X-ENDLIST} (the stream will get no more
        segments).
    @return: the playlist text, lines ending in C{"\\n"}.
    """
    if mediaSequence is None:
        mediaSequence = segments[0].sequence if segments else 0
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        f"#EXT-X-TARGETDURATION:{targetDuration}",
        f"#EXT-X-MEDIA-SEQUENCE:{mediaSequence}",
    ]
    if discontinuitySequence:
        lines.append(f"#EXT-X-DISCONTINUITY-SEQUENCE:{discontinuitySequence}")
    for index, segment in enumerate(segments):
        if segment.discontinuity and index:
            lines.append("#EXT-X-DISCONTINUITY")
        if segment.programDateTime is not None:
            lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{formatDateTime(segment.programDateTime)}")
        lines.append(f"#EXTINF:{formatDuration(segment.duration)},")
        lines.append(uriFor(segment))
    if ended:
        lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True, slots=True)
class Variant:
    """
    One entry of a master playlist.

    @ivar uri: the URI of the variant's media playlist.
    @ivar bandwidth: its peak segment bitrate in bits a second.
    @ivar averageBandwidth: its average segment bitrate, or L{None}.
    @ivar codecs: its C{CODECS} value.
    """

    uri: str
    bandwidth: int
    averageBandwidth: int | None = None
    codecs: str = MP3_CODECS


def masterPlaylist(variants: Iterable[Variant]) -> str:
    """
    Write a master playlist.

    @param variants: the variants, the one clients should start with first.
    @return: the playlist text, lines ending in C{"\\n"}.
    """
    lines = ["#EXTM3U", "#EXT-X-VERSION:3"]
    for variant in variants:
        attributes = [f"BANDWIDTH={variant.bandwidth}"]
        if variant.averageBandwidth is not None:
            attributes.append(f"AVERAGE-BANDWIDTH={variant.averageBandwidth}")
        attributes.append(f'CODECS="{variant.codecs}"')
        lines.append("#EXT-X-STREAM-INF:" + ",".join(attributes))
        lines.append(variant.uri)
    return "\n".join(lines) + "\n"
