# -*- test-case-name: tests.test_tracks -*-
"""
Track lists: which files a playlist plays, and in what order.

A folder is listed by name only (no tags are read), so a library of tens of
thousands of files starts playing at once.  The order is the files' paths,
sorted so that C{track 2} comes before C{track 10}, or shuffled; each pass
over the list lists the folder again, so files added or removed while the
station runs are noticed.
"""

from __future__ import annotations

import os
import random
import re

AUDIO_EXTENSIONS = (".mp3",)
"""File name extensions a music folder is searched for (case-insensitive)."""


class NoTracks(Exception):
    """
    A track list has nothing to play: the folder is missing, unreadable or
    holds no MP3 files.
    """


def naturalKey(path: str) -> tuple:
    """
    A sort key that orders numbers inside names by value.

    @param path: a file path.
    @return: a key under which C{"2.mp3"} sorts before C{"10.mp3"}.
    """
    return tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part.casefold())
        for part in re.split(r"(\d+)", path)
    )


def scanFolder(folder: str) -> list[str]:
    """
    List the MP3 files under a folder, recursively, in natural order.

    Hidden files and folders (names starting with C{.}) are left out.

    @param folder: the music folder.
    @return: absolute paths.
    @raise NoTracks: when the folder is missing or unreadable or holds no
        MP3 file.
    """
    if not os.path.isdir(folder):
        raise NoTracks(f"music folder {folder!r} does not exist or is not a folder")
    if not os.access(folder, os.R_OK | os.X_OK):
        raise NoTracks(f"music folder {folder!r} cannot be read")
    found = []
    for directory, subdirectories, files in os.walk(folder):
        subdirectories[:] = [d for d in subdirectories if not d.startswith(".")]
        for name in files:
            if not name.startswith(".") and name.lower().endswith(AUDIO_EXTENSIONS):
                found.append(os.path.join(directory, name))
    if not found:
        raise NoTracks(f"music folder {folder!r} holds no MP3 files")
    found.sort(key=lambda path: naturalKey(os.path.relpath(path, folder)))
    return [os.path.abspath(path) for path in found]


class FolderTracks:
    """
    An endless sequence of the MP3 files in a folder.

    Iterate over it to get paths; every pass lists the folder again.

    @ivar folder: the music folder.
    @ivar shuffle: whether each pass is in a random order.
    """

    def __init__(self, folder: str, shuffle: bool = False, rng: random.Random | None = None) -> None:
        """
        @param folder: the music folder.
        @param shuffle: play each pass in a random order.
        @param rng: the random generator for shuffling (tests pass a seeded
            one).
        """
        self.folder = folder
        self.shuffle = shuffle
        self._random = rng or random.Random()

    def check(self) -> int:
        """
        Make sure the folder can be played, for a clear error at startup.

        @return: the number of MP3 files found.
        @raise NoTracks: when it cannot.
        """
        return len(scanFolder(self.folder))

    def nextPass(self) -> list[str]:
        """
        List the folder again for the next pass.

        @return: a non-empty list of paths, shuffled if asked.
        @raise NoTracks: when the folder has nothing to play now (it may
            again later).
        """
        paths = scanFolder(self.folder)
        if self.shuffle:
            self._random.shuffle(paths)
        return paths

    def __repr__(self) -> str:
        return f"<FolderTracks {self.folder!r}{' shuffled' if self.shuffle else ''}>"


class ListTracks:
    """
    An endless sequence of a fixed list of files (e.g. the built-in demo).
    """

    def __init__(self, paths: list[str], shuffle: bool = False, rng: random.Random | None = None) -> None:
        """
        @param paths: the files, in order.
        @param shuffle: play each pass in a random order.
        @param rng: the random generator for shuffling.
        """
        self.paths = list(paths)
        self.shuffle = shuffle
        self._random = rng or random.Random()

    def check(self) -> int:
        """
        @return: the number of files.
        @raise NoTracks: for an empty list.
        """
        if not self.paths:
            raise NoTracks("the playlist is empty")
        return len(self.paths)

    def nextPass(self) -> list[str]:
        """
        The list again, for the next pass.

        @return: the paths, shuffled if asked.
        @raise NoTracks: for an empty list.
        """
        self.check()
        paths = list(self.paths)
        if self.shuffle:
            self._random.shuffle(paths)
        return paths

    def __repr__(self) -> str:
        return f"<ListTracks of {len(self.paths)}{' shuffled' if self.shuffle else ''}>"


def demoTracks() -> ListTracks:
    """
    The built-in demo playlist shipped with txradio: a few short pieces of
    music generated for it, played when no music folder is given.

    @return: a L{ListTracks} of the demo files.
    """
    demo = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "demo")
    names = sorted(n for n in os.listdir(demo) if n.lower().endswith(AUDIO_EXTENSIONS))
    return ListTracks([os.path.join(demo, name) for name in names])
