# -*- test-case-name: tests.test_playlist -*-
"""
Titles for tracks, read from their tags with mutagen.
"""

from __future__ import annotations

import os
import stat
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import mutagen
from mutagen import MutagenError
from mutagen.easyid3 import EasyID3
from mutagen.id3 import ID3NoHeaderError


def titleFromName(path: str) -> str:
    """
    Make a title from a file name: the name without its folder and
    extension, with underscores as spaces.

    @param path: the file's path.
    @return: e.g. C{"01 Intro"} for C{"/music/01_Intro.mp3"}.
    """
    stem = os.path.splitext(os.path.basename(path))[0]
    return stem.replace("_", " ").strip() or stem


def riffInfo(path: str, limit: int = 1 << 20) -> dict[str, list[str]]:
    """
    Read the title and artist of a WAV file's RIFF C{LIST/INFO} chunk (where
    ffmpeg writes them; mutagen reads only an ID3 chunk).

    @param path: the WAV file.
    @param limit: bytes of the file searched.
    @return: C{{"title": [...], "artist": [...]}}, empty when absent.
    """
    with open(path, "rb") as file:
        data = file.read(limit)
    found: dict[str, list[str]] = {}
    start = data.find(b"LIST")
    if start < 0 or data[start + 8 : start + 12] != b"INFO":
        return found
    end = start + 8 + int.from_bytes(data[start + 4 : start + 8], "little")
    at = start + 12
    while at + 8 <= min(end, len(data)):
        key, size = data[at : at + 4], int.from_bytes(data[at + 4 : at + 8], "little")
        value = data[at + 8 : at + 8 + size].split(b"\x00")[0].decode("utf-8", "replace")
        name = {b"INAM": "title", b"IART": "artist"}.get(key)
        if name is not None:
            found[name] = [value]
        at += 8 + size + (size & 1)
    return found


def readTitle(path: str) -> str:
    """
    Read a track's title from its ID3 tags, as C{"Artist - Title"}.

    Only the tag at the start of the file is read, never the audio, so this
    is cheap enough to call when a track starts.

    @param path: the MP3 file.
    @return: C{"Artist - Title"}, the title alone, or, when the file has no
        usable tags, a title made from its name by L{titleFromName}.
    """
    tags: Any
    try:
        if path.lower().endswith(".mp3"):
            tags = EasyID3(path)
        else:
            # FLAC, Ogg, Opus, M4A, WAV: mutagen reads each format's own tags.
            tags = mutagen.File(path, easy=True)
            if tags is None or tags.tags is None:
                tags = riffInfo(path) if path.lower().endswith(".wav") else {}
    except (ID3NoHeaderError, MutagenError, OSError, ValueError):
        return titleFromName(path)
    title = " / ".join(t.strip() for t in tags.get("title", []) if t.strip())
    artist = " / ".join(a.strip() for a in tags.get("artist", []) if a.strip())
    if title and artist:
        return f"{artist} - {title}"
    return title or titleFromName(path)


DURATION_CACHE = 4096
"""Tracks whose length L{Durations} remembers at most."""


def readDuration(path: str) -> float | None:
    """
    Read a track's length from its headers with mutagen (an MP3 file's
    Xing/VBRI header, or its size and bitrate).

    @param path: the file.
    @return: seconds, or L{None} when it cannot be told.
    """
    try:
        audio = mutagen.File(path)
    except (MutagenError, OSError, ValueError):
        return None
    length = getattr(getattr(audio, "info", None), "length", None)
    return float(length) if isinstance(length, (int, float)) and length > 0 else None


class Durations:
    """
    Tracks' lengths, read once per version of each file (its path,
    modification time and size), the last L{DURATION_CACHE} kept.
    """

    def __init__(self, read: Callable[[str], float | None] = readDuration, size: int = DURATION_CACHE) -> None:
        """
        @param read: reads a file's length (tests replace it).
        @param size: files remembered at most.
        """
        self._read = read
        self._size = size
        self._known: OrderedDict[tuple[str, int, int], float | None] = OrderedDict()

    def __call__(self, path: str) -> float | None:
        """
        @param path: a track.
        @return: its length in seconds, or L{None} when not known (or not a
            regular file).
        """
        try:
            info = os.stat(path)
        except OSError:
            return None
        if not stat.S_ISREG(info.st_mode):
            # A named pipe would block the reader (on the reactor).
            return None
        key = (path, info.st_mtime_ns, info.st_size)
        if key in self._known:
            self._known.move_to_end(key)
            return self._known[key]
        length = self._read(path)
        self._known[key] = length
        while len(self._known) > self._size:
            self._known.popitem(last=False)
        return length
