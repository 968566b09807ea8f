# -*- test-case-name: tests.test_playlist -*-
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

AUDIO_EXTENSIONS = (".mp3", ".flac", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".wav")
"""File name extensions a music folder is searched for (case-insensitive);
all but MP3 play through ffmpeg (L{txradio.sources.decode})."""


class NoTracks(Exception):
    """
    A track list has nothing to play: the folder is missing, unreadable or
    holds no audio files.
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
        raise NoTracks(f"music folder {folder!r} holds no MP3 files nor other audio files")
    found.sort(key=lambda path: naturalKey(os.path.relpath(path, folder)))
    return [os.path.abspath(path) for path in found]


class _Passes:
    """
    What every track list shares: each pass is listed afresh by L{_list},
    then shuffled if asked.

    @ivar shuffle: whether each pass is in a random order.
    """

    def __init__(self, shuffle: bool, rng: random.Random | None) -> None:
        """
        @param shuffle: play each pass in a random order.
        @param rng: the random generator for shuffling (tests pass a seeded
            one), or L{None} for a new one.
        """
        self.shuffle = shuffle
        self._random = rng or random.Random()

    def _list(self) -> list[str]:
        """
        @return: a new, non-empty list of the paths, in order.
        @raise NoTracks: when there is nothing to play now.
        """
        raise NotImplementedError

    def _describe(self) -> str:
        """
        @return: what is listed, for L{__repr__}.
        """
        raise NotImplementedError

    def nextPass(self) -> list[str]:
        """
        List the tracks again for the next pass.

        @return: a non-empty list of paths, shuffled if asked.
        @raise NoTracks: when there is nothing to play now (there may be
            again later).
        """
        paths = self._list()
        if self.shuffle:
            self._random.shuffle(paths)
        return paths

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._describe()}{' shuffled' if self.shuffle else ''}>"


class FolderTracks(_Passes):
    """
    An endless sequence of the MP3 files in a folder.

    Iterate over it to get paths; every pass lists the folder again.

    @ivar folder: the music folder.
    """

    def __init__(self, folder: str, shuffle: bool = False, rng: random.Random | None = None) -> None:
        """
        @param folder: the music folder.
        @param shuffle: play each pass in a random order.
        @param rng: the random generator for shuffling (tests pass a seeded
            one).
        """
        super().__init__(shuffle, rng)
        self.folder = folder

    def check(self) -> int:
        """
        Make sure the folder can be played, for a clear error at startup.

        @return: the number of MP3 files found.
        @raise NoTracks: when it cannot.
        """
        return len(scanFolder(self.folder))

    def _list(self) -> list[str]:
        """
        @return: the folder's files as they are now.
        @raise NoTracks: when the folder has nothing to play now.
        """
        return scanFolder(self.folder)

    def _describe(self) -> str:
        return repr(self.folder)


class ListTracks(_Passes):
    """
    An endless sequence of a fixed list of files (e.g. the built-in demo).
    """

    def __init__(self, paths: list[str], shuffle: bool = False, rng: random.Random | None = None) -> None:
        """
        @param paths: the files, in order.
        @param shuffle: play each pass in a random order.
        @param rng: the random generator for shuffling.
        """
        super().__init__(shuffle, rng)
        self.paths = list(paths)

    def check(self) -> int:
        """
        @return: the number of files.
        @raise NoTracks: for an empty list.
        """
        if not self.paths:
            raise NoTracks("the playlist is empty")
        return len(self.paths)

    def _list(self) -> list[str]:
        """
        @return: a copy of the list.
        @raise NoTracks: for an empty list.
        """
        self.check()
        return list(self.paths)

    def _describe(self) -> str:
        return f"of {len(self.paths)}"


def parseM3U(text: str, base: str) -> list[str]:
    """
    Read the file entries of an M3U playlist (plain or extended).

    Comment and directive lines (C{#…}) are skipped, and so are URLs: a
    playlist source plays local files.  Relative paths are taken from the
    playlist's folder.

    @param text: the playlist's text.
    @param base: the folder the playlist is in.
    @return: absolute paths, in order (not checked for existence).
    """
    paths = []
    for line in text.splitlines():
        entry = line.strip().lstrip("\ufeff")
        if not entry or entry.startswith("#") or "://" in entry:
            continue
        if entry.startswith("file:"):
            entry = entry[len("file:") :]
        if "\x00" in entry:
            # No path holds NUL; os.path.expanduser("~\x00…") raised
            # ValueError and the whole playlist failed to load (found by
            # fuzz/targets.py fuzzM3U).
            continue
        paths.append(os.path.normpath(os.path.join(base, os.path.expanduser(entry))))
    return paths


class M3UTracks(_Passes):
    """
    The files an M3U playlist names, re-read on every pass.

    @ivar path: the playlist file.
    """

    def __init__(self, path: str, shuffle: bool = False, rng: random.Random | None = None) -> None:
        """
        @param path: the C{.m3u} or C{.m3u8} file.
        @param shuffle: play each pass in a random order.
        @param rng: the random generator for shuffling.
        """
        super().__init__(shuffle, rng)
        self.path = path

    def _list(self) -> list[str]:
        """
        @return: the entries.
        @raise NoTracks: when the playlist cannot be read or names nothing.
        """
        try:
            with open(self.path, "rb") as f:
                raw = f.read(4 << 20)
        except OSError as error:
            raise NoTracks(f"playlist {self.path!r} cannot be read: {error.strerror or error}") from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
        paths = parseM3U(text, os.path.dirname(os.path.abspath(self.path)))
        if not paths:
            raise NoTracks(f"playlist {self.path!r} names no files")
        return paths

    def check(self) -> int:
        """
        @return: the number of entries.
        @raise NoTracks: when there are none.
        """
        return len(self._list())

    def _describe(self) -> str:
        return repr(self.path)


def tracksFor(path: str, shuffle: bool = False) -> FolderTracks | M3UTracks:
    """
    Make the track list for a playlist setting: a folder or an M3U file.

    @param path: the folder or the C{.m3u}/C{.m3u8} file.
    @param shuffle: shuffle each pass.
    @return: the track list.
    """
    if os.path.isfile(path) and path.lower().endswith((".m3u", ".m3u8")):
        return M3UTracks(path, shuffle=shuffle)
    return FolderTracks(path, shuffle=shuffle)


def demoTracks() -> ListTracks:
    """
    The built-in demo playlist shipped with txradio: a few short pieces of
    music generated for it, played when no music folder is given.

    @return: a L{ListTracks} of the demo files.
    """
    demo = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "demo")
    names = sorted(n for n in os.listdir(demo) if n.lower().endswith(AUDIO_EXTENSIONS))
    return ListTracks([os.path.join(demo, name) for name in names])
