# -*- test-case-name: tests.test_art -*-
"""
Album art: the picture embedded in a track's tags (ID3 C{APIC}, FLAC and
Ogg C{METADATA_BLOCK_PICTURE}, MP4 C{covr}), read with mutagen and kept in
a small bounded cache under a name made of its content's hash, so the web
can serve it at C{/art/<hash>.jpg|png} and tell players where it is.

Only JPEG and PNG pictures of at most L{MAX_PICTURE_BYTES} are kept.  The
cache holds at most L{MAX_PICTURES} pictures and L{MAX_CACHE_BYTES} in all,
the least recently used going first; a path is looked up again only when
its modification time changes.
"""

from __future__ import annotations

import hashlib
import os
from collections import OrderedDict
from typing import Any

__all__ = ["ArtCache", "MAX_CACHE_BYTES", "MAX_PICTURES", "MAX_PICTURE_BYTES", "pictureOf"]

MAX_PICTURE_BYTES = 1024 * 1024
"""The largest picture kept, in bytes: bigger covers are left out."""

MAX_PICTURES = 64
"""The most pictures the cache holds."""

MAX_CACHE_BYTES = 16 * 1024 * 1024
"""The most bytes of pictures the cache holds."""

_TYPES = {"image/jpeg": "jpg", "image/jpg": "jpg", "image/png": "png"}
_FRONT_COVER = 3


def _sniff(data: bytes) -> str | None:
    """
    @param data: a picture.
    @return: its type from its first bytes (tags often lie), or L{None}.
    """
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    return None


def _candidates(audio: Any) -> list[tuple[int, bytes]]:
    """
    @param audio: a mutagen file.
    @return: its pictures as C{(picture type, data)}, in tag order.
    """
    found: list[tuple[int, bytes]] = []
    tags = getattr(audio, "tags", None)
    for picture in getattr(audio, "pictures", None) or []:  # FLAC
        found.append((picture.type, picture.data))
    if tags is not None and hasattr(tags, "getall"):  # ID3
        found.extend((int(frame.type), frame.data) for frame in tags.getall("APIC"))
    elif tags is not None and hasattr(tags, "get"):
        for cover in tags.get("covr", None) or []:  # MP4
            found.append((_FRONT_COVER, bytes(cover)))
        for encoded in tags.get("metadata_block_picture", None) or []:  # Ogg
            import base64

            from mutagen.flac import Picture

            try:
                picture = Picture(base64.b64decode(encoded))
            except Exception:
                continue
            found.append((picture.type, picture.data))
    return found


def pictureOf(path: str) -> tuple[bytes, str] | None:
    """
    Read the cover embedded in a file's tags: the front cover if there is
    one, else the first picture.

    @param path: the file.
    @return: C{(data, media type)} for a JPEG or PNG of at most
        L{MAX_PICTURE_BYTES}, else L{None} (also for unreadable files).
    """
    try:
        import mutagen

        audio = mutagen.File(path)
    except Exception:
        return None
    if audio is None:
        return None
    pictures = sorted(_candidates(audio), key=lambda item: item[0] != _FRONT_COVER)
    for _, data in pictures:
        kind = _sniff(data)
        if kind is not None and len(data) <= MAX_PICTURE_BYTES:
            return data, kind
    return None


class ArtCache:
    """
    Pictures by name (C{<sha256 prefix>.jpg|png}), and the name of each
    file's picture by C{(path, mtime)}.
    """

    def __init__(self, maxPictures: int = MAX_PICTURES, maxBytes: int = MAX_CACHE_BYTES, maxPaths: int = 1024) -> None:
        self.maxPictures = maxPictures
        self.maxBytes = maxBytes
        self.maxPaths = maxPaths
        self.size = 0
        self._pictures: OrderedDict[str, tuple[bytes, str]] = OrderedDict()
        self._names: OrderedDict[tuple[str, float], str | None] = OrderedDict()

    def nameFor(self, path: str) -> str | None:
        """
        The name of a file's picture, reading its tags when the file is new
        or changed.

        @param path: an audio file.
        @return: e.g. C{"3f…a9.jpg"}, or L{None} without a picture.
        """
        try:
            key = (path, os.stat(path).st_mtime)
        except OSError:
            return None
        if key in self._names:
            self._names.move_to_end(key)
            name = self._names[key]
            if name is None or name in self._pictures:
                return name
        picture = pictureOf(path)
        name = None
        if picture is not None:
            data, kind = picture
            name = hashlib.sha256(data).hexdigest()[:32] + "." + _TYPES[kind]
            self._store(name, data, kind)
        self._names[key] = name
        self._names.move_to_end(key)
        while len(self._names) > self.maxPaths:
            self._names.popitem(last=False)
        return name if name in self._pictures else None

    def _store(self, name: str, data: bytes, kind: str) -> None:
        """
        Keep a picture, dropping the least recently used beyond the bounds.
        """
        if name in self._pictures:
            self._pictures.move_to_end(name)
            return
        if len(data) > self.maxBytes:
            return
        self._pictures[name] = (data, kind)
        self.size += len(data)
        while len(self._pictures) > self.maxPictures or self.size > self.maxBytes:
            _, (old, _) = self._pictures.popitem(last=False)
            self.size -= len(old)

    def get(self, name: str) -> tuple[bytes, str] | None:
        """
        @param name: a name L{nameFor} gave.
        @return: C{(data, media type)}, or L{None} when it is not (or no
            longer) cached.
        """
        picture = self._pictures.get(name)
        if picture is not None:
            self._pictures.move_to_end(name)
        return picture
