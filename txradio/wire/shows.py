# -*- test-case-name: tests.test_recordings -*-
"""
The text formats of recorded shows: cue sheets (C{.cue}) and the podcast
feed (RSS 2.0 with the iTunes tags, protocols.md section 13).

Pure functions of their inputs: no clock, no files.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from email.utils import formatdate
from xml.sax.saxutils import escape, quoteattr

CUE_FRAMES_PER_SECOND = 75
"""A cue sheet's C{INDEX} counts time in CD frames, 75 a second."""

ITUNES_NS = "http://www.itunes.com/dtds/podcast-1.0.dtd"
"""The iTunes podcast namespace."""

MAX_NAME = 64
"""The most characters of a show's name kept in a recording's file name."""

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")

RECORDING_NAME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d)_([A-Za-z0-9._-]+)\.mp3$")
"""What a recording's file name looks like: its start (UTC) and its show."""

_PART = re.compile(r"^(.*)-part(\d+)$")


def safeName(name: str, default: str = "live") -> str:
    """
    Turn a show's name (a source's C{ice-name}, a DJ's name) into a piece
    of a file name: ASCII letters, digits, C{.}, C{_} and C{-}; other runs
    become one C{-}; no leading dot; at most L{MAX_NAME} characters.

    @param name: the name as given.
    @param default: what to use when nothing is left.
    @return: e.g. C{"Night-Shift"} for C{"Night Shift!"}.
    """
    ascii = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    cleaned = _UNSAFE.sub("-", ascii).strip("-.")[:MAX_NAME].strip("-.")
    return cleaned or default


def cueIndex(samples: int, sampleRate: int) -> str:
    """
    A cue sheet C{INDEX} time for an offset in the audio.

    @param samples: samples per channel before the offset (whole MP3 frames).
    @param sampleRate: the audio's sample rate in Hz.
    @return: C{"mm:ss:ff"}, rounded down to the CD frame (1/75 s).
    """
    frames = samples * CUE_FRAMES_PER_SECOND // sampleRate
    seconds, ff = divmod(frames, CUE_FRAMES_PER_SECOND)
    minutes, ss = divmod(seconds, 60)
    return f"{minutes:02d}:{ss:02d}:{ff:02d}"


def _cueText(text: str) -> str:
    """
    Quote a value for a cue sheet line.

    @param text: a title or name.
    @return: it in double quotes, inner double quotes made single.
    """
    return '"' + text.replace('"', "'").replace("\r", " ").replace("\n", " ") + '"'


def splitTitle(title: str) -> tuple[str, str]:
    """
    Split a stream title into performer and title, as players show it.

    @param title: e.g. C{"Artist - Song"}.
    @return: C{("Artist", "Song")}, or C{("", title)} without C{" - "}.
    """
    performer, found, rest = title.partition(" - ")
    if not found:
        return "", title
    return performer.strip(), rest.strip()


@dataclass(frozen=True, slots=True)
class CueTrack:
    """
    One title in a recording.

    @ivar samples: where it starts: samples per channel since the start of
        the file.
    @ivar title: the stream title, e.g. C{"Artist - Song"}.
    """

    samples: int
    title: str


def cueSheet(fileName: str, show: str, tracks: Sequence[CueTrack], sampleRate: int) -> str:
    """
    Write a cue sheet for a recording.

    @param fileName: the audio file's name (no folder).
    @param show: the show's name (the sheet's C{PERFORMER} and C{TITLE}).
    @param tracks: the titles, in order, the first at 0.
    @param sampleRate: the audio's sample rate in Hz.
    @return: the sheet's text, lines ending in CRLF.
    """
    lines = [
        f"PERFORMER {_cueText(show)}",
        f"TITLE {_cueText(show)}",
        f"FILE {_cueText(fileName)} MP3",
    ]
    for number, track in enumerate(tracks[:99], 1):
        performer, title = splitTitle(track.title)
        lines.append(f"  TRACK {number:02d} AUDIO")
        lines.append(f"    TITLE {_cueText(title)}")
        if performer:
            lines.append(f"    PERFORMER {_cueText(performer)}")
        lines.append(f"    INDEX 01 {cueIndex(track.samples, sampleRate)}")
    return "\r\n".join(lines) + "\r\n"


def parseCueSheet(text: str) -> list[tuple[str, str, str]]:
    """
    Read a cue sheet's tracks back (for tests and tools).

    @param text: a sheet as L{cueSheet} writes it.
    @return: C{(performer, title, index)} per track.
    """
    tracks: list[list[str]] = []
    for line in text.splitlines():
        words = line.strip().split(" ", 1)
        if words[0] == "TRACK":
            tracks.append(["", "", ""])
        elif tracks and len(words) == 2:
            value = words[1].strip('"')
            if words[0] == "TITLE":
                tracks[-1][1] = value
            elif words[0] == "PERFORMER":
                tracks[-1][0] = value
            elif words[0] == "INDEX":
                tracks[-1][2] = value.split(" ", 1)[1]
    return [(p, t, i) for p, t, i in tracks]


def cueSeconds(index: str) -> float:
    """
    Read a cue sheet C{INDEX} time.

    @param index: C{"mm:ss:ff"} (75 frames a second).
    @return: the offset in seconds.
    @raise ValueError: for another text.
    """
    minutes, seconds, frames = (int(part) for part in index.split(":"))
    if not (0 <= seconds < 60 and 0 <= frames < CUE_FRAMES_PER_SECOND and minutes >= 0):
        raise ValueError(f"{index!r} is not a cue time mm:ss:ff")
    return minutes * 60 + seconds + frames / CUE_FRAMES_PER_SECOND


def cueTitles(text: str) -> list[tuple[float, str]]:
    """
    The titles of a cue sheet and where they start, as a re-air announces
    them: C{"Performer - Title"} (or the title alone), in order of offset.

    @param text: a cue sheet (as L{cueSheet} writes it).
    @return: C{(seconds, title)} pairs; tracks without a valid C{INDEX}
        or title are left out.
    """
    titles = []
    for performer, title, index in parseCueSheet(text):
        try:
            seconds = cueSeconds(index)
        except ValueError:
            continue
        if title:
            titles.append((seconds, f"{performer} - {title}" if performer else title))
    titles.sort(key=lambda pair: pair[0])
    return titles


@dataclass(frozen=True, slots=True)
class RecordingName:
    """
    What a recording's file name says.

    @ivar started: when its show started, C{"YYYY-MM-DDTHH-MM-SS"} (UTC).
    @ivar show: the show's name as written in file names (L{safeName}).
    @ivar part: its part number, 1 for the first.
    """

    started: str
    show: str
    part: int


def readRecordingName(name: str) -> RecordingName | None:
    """
    @param name: a file name (no folder).
    @return: what it says, or L{None} when it is not a recording's name.
    """
    match = RECORDING_NAME.match(name)
    if match is None:
        return None
    show, part = match.group(2), 1
    numbered = _PART.match(show)
    if numbered is not None:
        show, part = numbered.group(1), int(numbered.group(2))
    return RecordingName(match.group(1), show, part)


def formatDuration(seconds: float) -> str:
    """
    An C{itunes:duration}.

    @param seconds: the length.
    @return: C{"H:MM:SS"}, whole seconds rounded.
    """
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


@dataclass(frozen=True, slots=True)
class FeedItem:
    """
    One episode of the feed.

    @ivar title: e.g. C{"Night Shift, 2026-12-06 20:00"}.
    @ivar guid: stable and unique: the file's name.
    @ivar published: when the show started, in seconds since the epoch.
    @ivar url: the enclosure's absolute URL.
    @ivar length: the file's size in bytes.
    @ivar duration: its length in seconds.
    @ivar description: a sentence, possibly empty.
    """

    title: str
    guid: str
    published: float
    url: str
    length: int
    duration: float
    description: str = ""


def podcastFeed(
    title: str, link: str, description: str, items: Sequence[FeedItem], author: str = "", language: str = ""
) -> bytes:
    """
    Build a podcast feed.

    @param title: the channel's title.
    @param link: the station's page.
    @param description: a sentence about the channel (not empty: podcast
        directories need one).
    @param items: the episodes, newest first.
    @param author: C{itunes:author}, or C{""} for none.
    @param language: an RFC 5646 tag, or C{""} for none.
    @return: the document, UTF-8.
    """
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<rss version="2.0" xmlns:itunes={quoteattr(ITUNES_NS)}>',
        "<channel>",
        f"<title>{escape(title)}</title>",
        f"<link>{escape(link)}</link>",
        f"<description>{escape(description or title)}</description>",
        "<itunes:explicit>false</itunes:explicit>",
        f"<itunes:summary>{escape(description or title)}</itunes:summary>",
    ]
    if author:
        out.append(f"<itunes:author>{escape(author)}</itunes:author>")
    if language:
        out.append(f"<language>{escape(language)}</language>")
    if items:
        out.append(f"<lastBuildDate>{formatdate(items[0].published, usegmt=True)}</lastBuildDate>")
    for item in items:
        out.extend(
            [
                "<item>",
                f"<title>{escape(item.title)}</title>",
                f'<guid isPermaLink="false">{escape(item.guid)}</guid>',
                f"<pubDate>{formatdate(item.published, usegmt=True)}</pubDate>",
                f'<enclosure url={quoteattr(item.url)} length="{item.length}" type="audio/mpeg"/>',
                f"<itunes:duration>{formatDuration(item.duration)}</itunes:duration>",
                "<itunes:explicit>false</itunes:explicit>",
            ]
        )
        if item.description:
            out.append(f"<description>{escape(item.description)}</description>")
        out.append("</item>")
    out.extend(["</channel>", "</rss>", ""])
    return "\n".join(out).encode("utf-8")
