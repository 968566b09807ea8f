"""
Tests for L{txradio.wire.hls}: the packed audio timestamp tag, timed metadata and
the playlists' text.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from txradio.wire.hls import (
    PTS_WRAP,
    Segment,
    Variant,
    formatDateTime,
    masterPlaylist,
    mediaPlaylist,
    packTimestamp,
    splitTitle,
    textFrame,
)

OWNER = b"com.apple.streaming.transportStreamTimestamp\x00"

# The ID3v2.4 header (version 4.0, no flags, 63 bytes of frames), then the
# PRIV frame's header (53 bytes of content, no flags): what every segment
# starts with, whatever its timestamp.
HEAD = b"ID3\x04\x00\x00\x00\x00\x00\x3f" + b"PRIV\x00\x00\x00\x35\x00\x00" + OWNER


def segment(sequence: int, samples: int = 230 * 1152, **kwargs) -> Segment:
    """
    A segment for playlist tests.

    @param sequence: its number.
    @param samples: its samples (230 frames, 6.008 s, by default).
    @param kwargs: more L{Segment} fields.
    @return: the segment.
    """
    return Segment(sequence=sequence, data=b"", samples=samples, sampleRate=44100, pts=0, **kwargs)


def uri(s: Segment) -> str:
    """
    @return: the URI the tests give a segment.
    """
    return f"stream/hls/{s.sequence}.mp3"


class PackTimestampTests(SynchronousTestCase):
    """
    Tests for L{packTimestamp}.
    """

    def test_zero(self) -> None:
        """
        Timestamp 0 is the tag header, the PRIV frame and eight zero bytes.
        """
        self.assertEqual(packTimestamp(0), HEAD + b"\x00" * 8)
        self.assertEqual(len(packTimestamp(0)), 73)

    def test_goldenValues(self) -> None:
        """
        The timestamp is an 8-byte big-endian number whose upper 31 bits are
        zero.
        """
        self.assertEqual(packTimestamp(90000), HEAD + b"\x00\x00\x00\x00\x00\x01\x5f\x90")
        self.assertEqual(packTimestamp(0x123456789), HEAD + b"\x00\x00\x00\x01\x23\x45\x67\x89")
        self.assertEqual(packTimestamp(PTS_WRAP - 1), HEAD + b"\x00\x00\x00\x01\xff\xff\xff\xff")

    def test_wraps(self) -> None:
        """
        Timestamps are taken modulo 2**33, as MPEG-2 timestamps wrap.
        """
        self.assertEqual(packTimestamp(PTS_WRAP), packTimestamp(0))
        self.assertEqual(packTimestamp(PTS_WRAP + 90000), packTimestamp(90000))
        self.assertEqual(packTimestamp(5 * PTS_WRAP + 7)[-8:], b"\x00" * 7 + b"\x07")

    def test_title(self) -> None:
        """
        A title travels as TIT2 and TPE1 text frames in UTF-8 after the PRIV
        frame, and the tag's size counts them.
        """
        tag = packTimestamp(0, "Ärtist - Sóng")
        title = b"TIT2\x00\x00\x00\x06\x00\x00\x03S\xc3\xb3ng"
        artist = b"TPE1\x00\x00\x00\x08\x00\x00\x03\xc3\x84rtist"
        self.assertEqual(
            tag, b"ID3\x04\x00\x00\x00\x00\x00" + bytes([63 + 16 + 18]) + HEAD[10:] + b"\x00" * 8 + title + artist
        )

    def test_titleWithoutArtist(self) -> None:
        """
        A title without C{" - "} is sent whole as TIT2, with no TPE1.
        """
        tag = packTimestamp(0, "Station jingle")
        self.assertTrue(tag.endswith(b"TIT2\x00\x00\x00\x0f\x00\x00\x03Station jingle"))
        self.assertNotIn(b"TPE1", tag)

    def test_url(self) -> None:
        """
        A URL travels as a C{WXXX} frame after the text frames: UTF-8
        description, a NUL, then the URL in ISO-8859-1, characters beyond
        it percent-encoded.
        """
        tag = packTimestamp(0, "Song", "http://radio.example/art/ä€.jpg")
        self.assertTrue(
            tag.endswith(b"WXXX\x00\x00\x00\x32\x00\x00\x03StreamUrl\x00http://radio.example/art/\xe4%E2%82%AC.jpg")
        )
        self.assertNotIn(b"WXXX", packTimestamp(0, "Song"))

    def test_syncsafeSizes(self) -> None:
        """
        Sizes of 128 bytes and more are written 7 bits a byte.
        """
        frame = textFrame(b"TIT2", "x" * 199)
        self.assertEqual(frame[4:8], b"\x00\x00\x01\x48")


class SplitTitleTests(SynchronousTestCase):
    """
    Tests for L{splitTitle}.
    """

    def test_split(self) -> None:
        """
        C{"Artist - Title"} splits at the first separator.
        """
        self.assertEqual(splitTitle("A - B - C"), ("A", "B - C"))

    def test_noSplit(self) -> None:
        """
        A title without a separator, or with an empty side, is kept whole.
        """
        self.assertEqual(splitTitle("Just a title"), (None, "Just a title"))
        self.assertEqual(splitTitle(" - B"), (None, "- B"))


class MediaPlaylistTests(SynchronousTestCase):
    """
    Tests for L{mediaPlaylist}.
    """

    def test_window(self) -> None:
        """
        A live playlist lists its segments with their exact durations and
        no end tag; its media sequence is its first segment's number.
        """
        text = mediaPlaylist([segment(7), segment(8, 229 * 1152), segment(9)], 6, uri)
        self.assertEqual(
            text,
            "#EXTM3U\n"
            "#EXT-X-VERSION:3\n"
            "#EXT-X-TARGETDURATION:6\n"
            "#EXT-X-MEDIA-SEQUENCE:7\n"
            "#EXTINF:6.008163,\n"
            "stream/hls/7.mp3\n"
            "#EXTINF:5.982041,\n"
            "stream/hls/8.mp3\n"
            "#EXTINF:6.008163,\n"
            "stream/hls/9.mp3\n",
        )

    def test_slides(self) -> None:
        """
        When the window slides by one segment, the media sequence grows by
        one.
        """
        first = mediaPlaylist([segment(n) for n in range(7, 13)], 6, uri)
        second = mediaPlaylist([segment(n) for n in range(8, 14)], 6, uri)
        self.assertIn("#EXT-X-MEDIA-SEQUENCE:7\n", first)
        self.assertIn("#EXT-X-MEDIA-SEQUENCE:8\n", second)
        self.assertEqual(first.splitlines()[6:], second.splitlines()[4:-2])

    def test_discontinuity(self) -> None:
        """
        A discontinuous segment is preceded by C{EXT-X-DISCONTINUITY}; the
        discontinuities already gone are counted in
        C{EXT-X-DISCONTINUITY-SEQUENCE}; program date-times are in UTC with
        milliseconds.
        """
        text = mediaPlaylist(
            [
                segment(3, programDateTime=1795000000.0),
                segment(4, discontinuity=True, programDateTime=1795000010.5),
            ],
            6,
            uri,
            discontinuitySequence=2,
        )
        self.assertEqual(
            text,
            "#EXTM3U\n"
            "#EXT-X-VERSION:3\n"
            "#EXT-X-TARGETDURATION:6\n"
            "#EXT-X-MEDIA-SEQUENCE:3\n"
            "#EXT-X-DISCONTINUITY-SEQUENCE:2\n"
            "#EXT-X-PROGRAM-DATE-TIME:2026-11-18T11:06:40.000Z\n"
            "#EXTINF:6.008163,\n"
            "stream/hls/3.mp3\n"
            "#EXT-X-DISCONTINUITY\n"
            "#EXT-X-PROGRAM-DATE-TIME:2026-11-18T11:06:50.500Z\n"
            "#EXTINF:6.008163,\n"
            "stream/hls/4.mp3\n",
        )

    def test_discontinuityFirst(self) -> None:
        """
        The first segment listed carries no discontinuity tag (it is counted
        in the discontinuity sequence instead).
        """
        text = mediaPlaylist([segment(4, discontinuity=True)], 6, uri, discontinuitySequence=1)
        self.assertNotIn("#EXT-X-DISCONTINUITY\n", text)

    def test_ended(self) -> None:
        """
        An ended playlist closes with C{EXT-X-ENDLIST}.
        """
        self.assertTrue(mediaPlaylist([segment(1)], 6, uri, ended=True).endswith("#EXT-X-ENDLIST\n"))

    def test_formatDateTime(self) -> None:
        """
        Times are rounded to the millisecond.
        """
        self.assertEqual(formatDateTime(0.0004), "1970-01-01T00:00:00.000Z")
        self.assertEqual(formatDateTime(59.9996), "1970-01-01T00:01:00.000Z")


class MasterPlaylistTests(SynchronousTestCase):
    """
    Tests for L{masterPlaylist}.
    """

    def test_variants(self) -> None:
        """
        Each variant is a C{EXT-X-STREAM-INF} line with its bandwidth and the
        MP3 codec, then its URI.
        """
        text = masterPlaylist(
            [
                Variant("../stream.m3u8", 129000, 127859),
                Variant("../stream-64.m3u8", 65000),
            ]
        )
        self.assertEqual(
            text,
            "#EXTM3U\n"
            "#EXT-X-VERSION:3\n"
            '#EXT-X-STREAM-INF:BANDWIDTH=129000,AVERAGE-BANDWIDTH=127859,CODECS="mp4a.40.34"\n'
            "../stream.m3u8\n"
            '#EXT-X-STREAM-INF:BANDWIDTH=65000,CODECS="mp4a.40.34"\n'
            "../stream-64.m3u8\n",
        )


class SegmentTests(SynchronousTestCase):
    """
    Tests for L{Segment}.
    """

    def test_duration(self) -> None:
        """
        A segment's duration is its samples over its sample rate, exactly.
        """
        self.assertEqual(segment(1, 1152).duration, 1152 / 44100)

    def test_bitrate(self) -> None:
        """
        Its bitrate counts every byte served, tag included.
        """
        s = Segment(sequence=1, data=b"x" * 44100, samples=44100, sampleRate=44100, pts=0)
        self.assertEqual(s.bitrate, 352800)
