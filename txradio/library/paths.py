# -*- test-case-name: tests.test_library -*-
"""
The library's path rules: which request paths and files it serves, and how
their names are shown and linked.

Paths
=====
Only what lies inside the music folder is ever served, and only folders and
audio files.  A request path is split into segments I{before} they are
decoded (Twisted does this), and every decoded segment must be a plain name:
not empty, not C{.} or C{..}, not hidden (no leading C{.}), and without
C{/}, C{\\}, NUL or control characters.  The joined path is then resolved
with L{os.path.realpath} and must still lie inside the folder, and no part
of it may be hidden, so a symbolic link that leads out of the folder or into
a hidden one is refused too.  Everything refused is a plain 404, the same
answer as for a name that does not exist.

"""

from __future__ import annotations

import os
from collections.abc import Sequence
from urllib.parse import quote

AUDIO_TYPES = {
    b".mp3": "audio/mpeg",
    b".ogg": "audio/ogg",
    b".oga": "audio/ogg",
    b".opus": "audio/ogg",
    b".flac": "audio/flac",
    b".m4a": "audio/mp4",
    b".aac": "audio/aac",
    b".wav": "audio/wav",
}
"""The files the library shows and serves, by lower-case extension."""

_CONTROL = frozenset(range(0x20)) | {0x7F}


class PathRefused(Exception):
    """
    A request path that the library does not serve (answered with 404).
    """


def hasControl(name: bytes) -> bool:
    """
    Tell whether a name holds a control character (refused everywhere).

    @param name: a file name or path segment.
    @return: LTrue when it holds one.
    """
    return any(byte in _CONTROL for byte in name)


def displayName(name: bytes) -> str:
    """
    Turn a file-system name into text to show.

    @param name: the name's bytes.
    @return: it decoded as UTF-8, undecodable bytes shown as U+FFFD and
        control characters as spaces.
    """
    return "".join(" " if ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 else c for c in name.decode("utf-8", "replace"))


def entryURL(relative: bytes, isFolder: bool = False) -> str:
    """
    The site path of a library entry.

    @param relative: its path from the root (C{b""} for the root).
    @param isFolder: add the trailing slash folders have.
    @return: e.g. C{"/library/Jazz/01%20So%20What.mp3"}.
    """
    if not relative:
        return "/library/"
    path = "/library/" + "/".join(quote(segment, safe="") for segment in relative.split(b"/"))
    return path + "/" if isFolder else path


def checkSegments(segments: Sequence[bytes]) -> None:
    """
    Check decoded path segments against the library's path rules.

    @param segments: the segments after C{/library/}, decoded.
    @raise PathRefused: for an empty, hidden or dot segment, or one holding
        C{/}, C{\\}, NUL or another control character.
    """
    for segment in segments:
        if not segment or segment.startswith(b"."):
            raise PathRefused("empty, hidden or dot segment")
        if b"/" in segment or b"\\" in segment or hasControl(segment):
            raise PathRefused("separator or control character in a segment")
        if len(segment) > 255:
            raise PathRefused("segment too long")


def isAudio(name: bytes) -> bool:
    """
    Tell whether a file name has an audio extension the library serves.

    @param name: a file name or path.
    @return: L{True} for e.g. C{b"song.MP3"}.
    """
    return os.path.splitext(name)[1].lower() in AUDIO_TYPES
