# -*- test-case-name: tests.test_reair -*-
"""
Re-airing recorded shows on the programme clock: a track list of a mount's
finished recordings (L{RecordingTracks}), and the titles of a recording's
cue sheet announced at their offsets while it plays (L{CueMarks}), so that
listeners of a re-air see the titles the show's listeners saw.

A recording is finished once its cue sheet is written (the recorder writes
it when the file is closed), so the show being recorded is never aired.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable

from txradio.sources.tracks import NoTracks
from txradio.wire.mp3 import Frame
from txradio.wire.programme import TitleChange
from txradio.wire.shows import RecordingName, cueTitles, readRecordingName, safeName

LATEST = "latest"
"""Each pass is the newest show (all its parts)."""

ROTATION = "rotation"
"""Each pass is every finished show, oldest first."""

MAX_CUE_BYTES = 65536
"""The most of a cue sheet read (99 tracks take about 10 KB)."""

MAX_MARKS = 16
"""Tracks read ahead whose cue titles are remembered (a read-ahead holds one or two)."""


def cueSheetOf(path: str) -> str:
    """
    @param path: an MP3 file.
    @return: the cue sheet beside it (same name, C{.cue}).
    """
    return os.path.splitext(path)[0] + ".cue"


def readCueTitles(path: str) -> list[tuple[float, str]]:
    """
    Read the titles of the cue sheet beside an MP3 file.

    @param path: the MP3 file.
    @return: C{(seconds, title)} pairs, in order; none when there is no
        readable sheet.
    """
    try:
        with open(cueSheetOf(path), encoding="utf-8", errors="replace") as sheet:
            return cueTitles(sheet.read(MAX_CUE_BYTES))
    except OSError:
        return []


class RecordingTracks:
    """
    A track list (L{txradio.sources.playlist.Tracks}) of the finished
    recordings in a mount's recordings folder, listed again at each pass.

    @ivar folder: the folder (C{recordings_dir/MOUNT}).
    @ivar show: only this show's recordings, or L{None} for all.
    @ivar pick: L{LATEST} or L{ROTATION}.
    """

    def __init__(self, folder: str, show: str | None = None, pick: str = LATEST) -> None:
        """
        @param folder: the mount's recordings folder.
        @param show: a show's (DJ's) name, or L{None} for every show.
        @param pick: L{LATEST} (the newest show) or L{ROTATION} (every
            show, oldest first).
        """
        if pick not in (LATEST, ROTATION):
            raise ValueError(f"pick must be {LATEST!r} or {ROTATION!r}, not {pick!r}")
        self.folder = folder
        self.show = show
        self.pick = pick

    def recordings(self) -> list[tuple[RecordingName, str]]:
        """
        @return: the finished recordings, oldest show first and each show's
            parts in order, as C{(name, path)}.
        """
        try:
            names = os.listdir(self.folder)
        except OSError:
            return []
        wanted = None if self.show is None else safeName(self.show)
        found = []
        for name in names:
            recording = readRecordingName(name)
            if recording is None or (wanted is not None and recording.show != wanted):
                continue
            path = os.path.join(self.folder, name)
            if os.path.isfile(cueSheetOf(path)) and not os.path.islink(path):
                found.append((recording, path))
        found.sort(key=lambda pair: (pair[0].started, pair[0].show, pair[0].part))
        return found

    def nextPass(self) -> list[str]:
        """
        @return: the newest show's parts, or every recording.
        @raise NoTracks: when there is no finished recording.
        """
        found = self.recordings()
        if not found:
            which = "" if self.show is None else f" of {self.show}"
            raise NoTracks(f"no finished recording{which} in {self.folder!r}")
        if self.pick == LATEST:
            last = found[-1][0]
            found = [pair for pair in found if (pair[0].started, pair[0].show) == (last.started, last.show)]
        return [path for _, path in found]

    def __repr__(self) -> str:
        return f"<RecordingTracks {self.folder!r} show={self.show!r} {self.pick}>"


class CueMarks:
    """
    Puts a track's cue sheet titles into the frames a playlist hands out,
    each before the first frame that starts at or after its offset.

    A playlist calls L{started} when it puts a track's L{TitleChange} in its
    read-ahead, and passes what it hands out through L{apply}.  The offsets
    count the durations of the frames handed out, as the recorder counted
    the frames it wrote.
    """

    def __init__(self) -> None:
        self._marks: deque[tuple[TitleChange, list[tuple[float, str]]]] = deque(maxlen=MAX_MARKS)
        self._left: deque[tuple[float, str]] = deque()
        self._elapsed = 0.0

    def started(self, path: str, mark: TitleChange) -> TitleChange:
        """
        A track starts: read the cue sheet beside it, if any.

        @param path: the track's file.
        @param mark: the title change the playlist made for it.
        @return: the title change to announce instead: the sheet's first
            title when it starts at 0, else C{mark}.
        """
        titles = readCueTitles(path)
        if titles and titles[0][0] == 0:
            mark = TitleChange(titles[0][1])
            titles = titles[1:]
        self._marks.append((mark, titles))
        return mark

    def apply(self, items: Iterable[Frame | TitleChange]) -> list[Frame | TitleChange]:
        """
        @param items: frames and title changes, as the playlist hands them
            out.
        @return: the same, with the cue titles that are due put in.
        """
        out: list[Frame | TitleChange] = []
        for item in items:
            if isinstance(item, TitleChange):
                self._begin(item)
            else:
                while self._left and self._elapsed >= self._left[0][0]:
                    out.append(TitleChange(self._left.popleft()[1]))
                self._elapsed += item.header.duration
            out.append(item)
        return out

    def _begin(self, mark: TitleChange) -> None:
        """
        A track's first title goes out: its cue titles are next.

        @param mark: the title change handed out.
        """
        self._left = deque()
        self._elapsed = 0.0
        if not any(candidate is mark for candidate, _ in self._marks):
            return  # a title change this object was not told about
        # Marks of tracks dropped from the read-ahead (a skip, a hard
        # start) are passed over.
        while self._marks:
            candidate, titles = self._marks.popleft()
            if candidate is mark:
                self._left = deque(titles)
                return
