# -*- test-case-name: tests.test_library -*-
"""
The library's values: songs and folders as listed and indexed, their tags
(read with mutagen), and how they are titled and shown.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from txradio.library.paths import displayName
from txradio.sources.tags import titleFromName
from txradio.wire.icy import cleanTitle
from txradio.wire.query import yearOf


@dataclass(frozen=True, slots=True)
class TrackTags:
    """
    What the library shows about a song.

    @ivar title: its title, or C{""}.
    @ivar artist: its artist, or C{""}.
    @ivar album: its album, or C{""}.
    @ivar duration: its length in seconds, or L{None} when unknown.
    @ivar track: its track number as tagged (e.g. C{"3/12"}), or C{""}.
    @ivar genre: its genre, or C{""}.
    @ivar year: its year (from its date tag), or L{None}.
    """

    title: str = ""
    artist: str = ""
    album: str = ""
    duration: float | None = None
    track: str = ""
    genre: str = ""
    year: int | None = None


@dataclass(frozen=True, slots=True)
class Entry:
    """
    A folder or a song inside the library.

    @ivar relative: its path from the library's root, C{/}-separated, as
        file-system bytes.
    @ivar isFolder: whether it is a folder.
    @ivar size: its size in bytes (0 for folders).
    @ivar mtime: its modification time, in seconds since the epoch.
    @ivar tags: a song's tags, once read.
    """

    relative: bytes
    isFolder: bool
    size: int = 0
    mtime: float = 0.0
    tags: TrackTags | None = None

    @property
    def name(self) -> str:
        """
        Its file name, for display.
        """
        return displayName(self.relative.rsplit(b"/", 1)[-1])


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """
    One song in the search index.

    @ivar relative: its path from the root.
    @ivar tags: its tags.
    @ivar size: its size in bytes.
    @ivar haystack: the case-folded text searched.
    """

    relative: bytes
    tags: TrackTags
    size: int
    haystack: str


@dataclass
class FolderListing:
    """
    One page of a folder.

    @ivar entries: the page's folders and songs, folders first.
    @ivar total: entries in the whole folder.
    @ivar page: the page number, from 1.
    @ivar pages: the number of pages.
    @ivar truncated: whether the folder held more than
        L{MAX_FOLDER_ENTRIES} entries.
    @ivar newTags: tags read for this page, to be cached.
    @ivar folders: sub-folders in the whole folder.
    """

    entries: list[Entry]
    total: int
    page: int
    pages: int
    folders: int = 0
    truncated: bool = False
    newTags: dict[tuple[bytes, int, int], TrackTags] = field(default_factory=dict)


def readTrackTags(path: bytes) -> TrackTags:
    """
    Read a song's tags and length with mutagen.  Blocking: run it in a
    thread.

    @param path: the file.
    @return: its tags; empty ones when the file cannot be read.
    """
    import mutagen

    try:
        audio = mutagen.File(os.fsdecode(path), easy=True)
    except Exception:
        return TrackTags()
    if audio is None:
        return TrackTags()
    found = audio.tags or {}

    def first(key: str) -> str:
        try:
            values = found.get(key) or []
        except Exception:
            return ""
        return cleanTitle(" / ".join(str(v).strip() for v in values if str(v).strip()))[:300]

    length = getattr(getattr(audio, "info", None), "length", None)
    duration = float(length) if isinstance(length, (int, float)) and length > 0 else None
    return TrackTags(
        first("title"),
        first("artist"),
        first("album"),
        duration,
        first("tracknumber"),
        first("genre"),
        yearOf(first("date")),
    )


def songTitle(entry: Entry | IndexEntry) -> str:
    """
    The title to show for a song: its tagged title, else its file name.

    @param entry: the song.
    @return: the title.
    """
    tags = entry.tags
    if tags is not None and tags.title:
        return tags.title
    return titleFromName(displayName(entry.relative.rsplit(b"/", 1)[-1]))


def fullTitle(entry: Entry | IndexEntry) -> str:
    """
    C{"Artist - Title"} for playlists and players.

    @param entry: the song.
    @return: the title, with the artist when tagged.
    """
    title = songTitle(entry)
    if entry.tags is not None and entry.tags.artist:
        return f"{entry.tags.artist} - {title}"
    return title


def formatDuration(seconds: float | None) -> str:
    """
    Show a length.

    @param seconds: the length, or L{None}.
    @return: e.g. C{"3:07"}, C{"1:02:03"}, or C{""}.
    """
    if seconds is None:
        return ""
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def formatSize(size: int) -> str:
    """
    Show a file size.

    @param size: bytes.
    @return: e.g. C{"4.2 MB"}.
    """
    value = float(size)
    for unit in ("bytes", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{int(value)} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} bytes"  # pragma: no cover
