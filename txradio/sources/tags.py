# -*- test-case-name: tests.test_playlist -*-
"""
Titles for tracks, read from their tags with mutagen.
"""

from __future__ import annotations

import os

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


def readTitle(path: str) -> str:
    """
    Read a track's title from its ID3 tags, as C{"Artist - Title"}.

    Only the tag at the start of the file is read, never the audio, so this
    is cheap enough to call when a track starts.

    @param path: the MP3 file.
    @return: C{"Artist - Title"}, the title alone, or, when the file has no
        usable tags, a title made from its name by L{titleFromName}.
    """
    try:
        if path.lower().endswith(".mp3"):
            tags = EasyID3(path)
        else:
            # FLAC, Ogg, Opus, M4A, WAV: mutagen reads each format's own tags.
            tags = mutagen.File(path, easy=True)
            if tags is None or tags.tags is None:
                return titleFromName(path)
    except (ID3NoHeaderError, MutagenError, OSError, ValueError):
        return titleFromName(path)
    title = " / ".join(t.strip() for t in tags.get("title", []) if t.strip())
    artist = " / ".join(a.strip() for a in tags.get("artist", []) if a.strip())
    if title and artist:
        return f"{artist} - {title}"
    return title or titleFromName(path)
