# -*- test-case-name: tests.test_recordings -*-
"""
Recordings of live shows (Icecast's C{dump-file}, done better).

A L{Recorder} watches one station.  When a live source connects
(L{SourceConnected}) it attaches itself to the broadcaster as an observer
(like the HLS segmenter: not counted as a listener) and, from the first
chunk the live source supplies, writes the very bytes listeners got (whole
MP3 frames, no re-encode) to C{FOLDER/YYYY-MM-DDTHH-MM-SS_NAME.mp3} (UTC,
NAME the source's C{ice-name}, sanitized), with a cue sheet beside it
(C{.cue}) whose C{INDEX} offsets count the samples of the frames written
before each title change.  The show ends with the last frame of the live
source's audio (its queue plays out after it disconnects); in the chunk
where the mount goes back to its programme, the recording stops at the
programme's title mark.

Writes: one C{write} per chunk (one a broadcaster tick, about 16 KB a
second at 128 kbps) to a file opened unbuffered, never C{fsync}ed on the
reactor: such a write lands in the kernel's page cache and does not wait
for the disk.  A disk too slow for even that is caught by the free-space
and error checks; nothing here retries.

Limits: at C{maxBytes} bytes or C{maxSeconds} seconds of audio a part is
closed and the show goes on in a new part (C{…_NAME-part2.mp3}), so that no
file outgrows what podcast apps download.  Before a show starts and every
C{checkInterval} seconds while it records, the free space of the folder's
disk is checked; below C{minFree} bytes the recording stops with one log
line.  A write error (C{ENOSPC}, C{EIO}) stops it the same way.  Listeners
never notice: the recorder only reads the chunks they get.

Retention: when a recording finishes, and when the recorder starts, the
finished recordings beyond the newest C{keep}, and those older than
C{maxAgeDays}, are deleted with their cue sheets.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, BinaryIO, cast

from twisted.application.service import Service
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger

from txradio.stream.broadcast import Chunk
from txradio.stream.events import Event, SourceConnected, SourceDisconnected
from txradio.stream.listener import InternalListener
from txradio.wire.icy import parseMetadata
from txradio.wire.mp3 import parseHeader
from txradio.wire.shows import RECORDING_NAME, CueTrack, cueSheet, safeName

DEFAULT_KEEP = 50
"""Finished recordings kept per mount."""

DEFAULT_MAX_BYTES = 512 << 20
"""The largest part, in bytes (512 MiB: over 9 hours at 128 kbps)."""

DEFAULT_MAX_SECONDS = 4 * 3600
"""The longest part, in seconds of audio."""

DEFAULT_MIN_FREE = 256 << 20
"""Free bytes the disk must keep; below it a recording stops."""

DEFAULT_CHECK_INTERVAL = 30.0
"""Seconds between two free-space checks while a show is recorded."""


@dataclass(frozen=True, slots=True)
class RecordingLimits:
    """
    How much a recorder keeps and writes, and how it watches the disk.

    @ivar keep: finished recordings kept.
    @ivar maxAgeDays: days a recording is kept, or L{None} for ever.
    @ivar maxBytes: the largest part.
    @ivar maxSeconds: the longest part, in seconds of audio.
    @ivar minFree: free bytes below which nothing is recorded.
    @ivar checkInterval: seconds between free-space checks.
    """

    keep: int = DEFAULT_KEEP
    maxAgeDays: int | None = None
    maxBytes: int = DEFAULT_MAX_BYTES
    maxSeconds: float = DEFAULT_MAX_SECONDS
    minFree: int = DEFAULT_MIN_FREE
    checkInterval: float = DEFAULT_CHECK_INTERVAL


DiskUsage = Callable[[str], Any]


@dataclass(frozen=True, slots=True)
class FinishedRecording:
    """
    A recording on disk that is no longer being written.

    @ivar path: its absolute path.
    @ivar name: its file name.
    @ivar show: the show's name (from the cue sheet, else the file name).
    @ivar started: when it started, seconds since the epoch.
    @ivar seconds: its audio's length (from the cue sheet, else 0).
    @ivar size: its size in bytes.
    """

    path: str
    name: str
    show: str
    started: float
    seconds: float
    size: int


def _openUnbuffered(path: str) -> BinaryIO:
    """
    Make a new file for a recording: never an existing one.

    @param path: where.
    @return: the file, unbuffered (one system call a write).
    """
    return cast(BinaryIO, open(path, "xb", buffering=0))


def _cueFields(path: str) -> dict[str, str]:
    """
    Read the C{REM} fields and the show's name from a cue sheet.

    @param path: the sheet's path.
    @return: e.g. C{{"SECONDS": "20.01", "STARTED": "…", "PERFORMER": "…"}}.
    """
    fields: dict[str, str] = {}
    try:
        with open(path, encoding="utf-8", errors="replace") as sheet:
            text = sheet.read(65536)
    except OSError:
        return fields
    for line in text.splitlines():
        words = line.split(" ", 2)
        if words[0] == "REM" and len(words) == 3:
            fields[words[1]] = words[2]
        elif words[0] == "PERFORMER" and "PERFORMER" not in fields and len(words) >= 2:
            fields["PERFORMER"] = line.split(" ", 1)[1].strip('"')
    return fields


@dataclass(slots=True)
class _Part:
    """
    One file being written: the audio, and what its cue sheet will say.

    @ivar size: audio bytes written.
    """

    path: str
    show: str
    started: float
    handle: BinaryIO
    size: int = 0
    frames: int = 0
    samples: int = 0
    sampleRate: int = 0
    tracks: list[CueTrack] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return self.samples / self.sampleRate if self.sampleRate else 0.0

    def write(self, chunk: Chunk, end: int) -> None:
        """
        Write C{chunk.data[:end]} (whole frames) and note its titles.

        @raise OSError: when the write fails.
        """
        data = chunk.data
        frameStarts = chunk.frameStarts
        marks = chunk.marks
        markIndex = 0
        samples = self.samples
        for start in frameStarts:
            if start >= end:
                break
            while markIndex < len(marks) and marks[markIndex][0] <= start:
                self._title(marks[markIndex][1], samples)
                markIndex += 1
            header = parseHeader(data, start)
            if not self.sampleRate:
                self.sampleRate = header.sampleRate
            self.frames += 1
            samples += header.samples
        self.handle.write(data[:end])
        self.size += end
        self.samples = samples

    def _title(self, block: bytes, samples: int) -> None:
        title = parseMetadata(block[1:]).get("StreamTitle", "")
        if self.tracks and self.tracks[-1].title == title:
            return
        if self.tracks and self.tracks[-1].samples == samples:
            self.tracks[-1] = CueTrack(samples, title)
        else:
            self.tracks.append(CueTrack(samples, title))

    def close(self) -> None:
        """
        Close the audio and write the cue sheet.

        @raise OSError: when either fails.
        """
        try:
            self.handle.close()
        finally:
            name = os.path.basename(self.path)
            sheet = cueSheet(name, self.show, self.tracks, self.sampleRate or 44100)
            rem = (
                f"REM STARTED {self.started:.3f}\r\nREM SECONDS {self.seconds:.6f}\r\n"
                f"REM FRAMES {self.frames}\r\nREM BYTES {self.size}\r\n"
            )
            cuePath = self.path[:-4] + ".cue"
            with open(cuePath + ".tmp", "w", encoding="utf-8", newline="") as out:
                out.write(rem + sheet)
            os.replace(cuePath + ".tmp", cuePath)


class Recorder(Service, InternalListener):
    """
    Records a station's live shows; see the module docstring.

    @ivar folder: where this mount's recordings go.
    @ivar limits: the L{RecordingLimits} it records and keeps by.
    @ivar current: the part being written, or L{None}.
    @ivar finishedCount: parts finished since start (for tests and status).
    @ivar stoppedReason: why the last recording stopped early, or L{None}.
    """

    _log = Logger()
    peer = "recorder"
    bytesSent = 0
    # What the builder made it from (txradio.build), so that a reload
    # replaces it only when its settings changed.
    settingsKey: Any = None

    def __init__(
        self,
        station: Any,
        folder: str,
        clock: IReactorTime,
        limits: RecordingLimits = RecordingLimits(),
        diskUsage: DiskUsage = shutil.disk_usage,
        opener: Callable[[str], BinaryIO] | None = None,
    ) -> None:
        """
        @param station: the L{txradio.stream.station.Station} to record.
        @param folder: this mount's recordings folder (made when needed).
        @param clock: the wall clock (file names, free-space checks).
        @param limits: what it keeps and how large a part grows.
        @param diskUsage: C{shutil.disk_usage}, or a fake.
        @param opener: opens a new file for writing; tests pass a fake.
        """
        self.station = station
        self.folder = folder
        self.clock = clock
        self.limits = limits
        self.diskUsage = diskUsage
        self.opener: Callable[[str], BinaryIO] = opener or _openUnbuffered
        self.current: _Part | None = None
        self.finishedCount = 0
        self.stoppedReason: str | None = None
        self._live: Any = None
        self._leaving = False
        self._show = ""
        self._session = ""
        self._partNumber = 0
        self._check: IDelayedCall | None = None
        self._watching = False

    # The recorder's life, with the station's.

    def startService(self) -> None:
        """
        Start with the station (it is the station's child service).
        """
        Service.startService(self)
        self.start()

    def stopService(self) -> None:
        """
        Stop with the station: the recording in progress is finished.
        """
        Service.stopService(self)
        self.stop()

    def start(self) -> None:
        """
        Watch the station's events; apply the retention rules.
        """
        if self._watching:
            return
        self._watching = True
        self.station.events.subscribe(self._event)
        self.applyRetention()

    def stop(self) -> None:
        """
        Stop watching; finish the recording in progress.
        """
        if not self._watching:
            return
        self._watching = False
        self.station.events.unsubscribe(self._event)
        self._endSession()

    # IListener's shape, as the broadcaster's observer.

    def deliver(self, chunk: Chunk) -> None:
        """
        Record a chunk the listeners got, while a show is on.

        @param chunk: the chunk.
        """
        live = self._live
        if live is None:
            return
        switcher = self.station.switcher
        onLive = switcher.current is live
        if self.current is None:
            if not onLive:
                if self._leaving:
                    self._endSession()
                return
            self._openPart()
            if self.current is None:
                return
        if onLive:
            self._write(chunk, len(chunk.data))
            return
        # The mount went back to its programme in this chunk: the programme
        # starts at its title mark, the last one in the chunk.
        later = [offset for offset, _ in chunk.marks if offset > 0]
        end = later[-1] if later else 0
        if end:
            self._write(chunk, end)
        self._endSession()

    def disconnect(self, reason: str = "") -> None:
        """
        The broadcaster stopped: finish the recording.
        """
        self._endSession()

    # Sessions and parts.

    def _event(self, event: Event) -> None:
        if isinstance(event, SourceConnected):
            if self._live is not None:
                self._endSession()
            self._live = self.station.liveSource
            if self._live is None:
                return
            self._leaving = False
            info = self.station.liveInfo
            dj = self.station.liveDJ
            self._show = dj or (info.name if info is not None and info.name else "") or "live"
            started = self.clock.seconds()
            self._session = time.strftime("%Y-%m-%dT%H-%M-%S", time.gmtime(started)) + "_" + safeName(self._show)
            self._partNumber = 0
            self.stoppedReason = None
            self.station.broadcaster.addObserver(self)
        elif isinstance(event, SourceDisconnected) and self._live is not None:
            self._leaving = True
            if self.current is None:
                self._endSession()
            else:
                # On a mount with no programme or fallback the station drops
                # the live source at once, and no chunk follows to end the
                # show: look once the station is done.
                self.clock.callLater(0, self._checkGone, self._live)

    def _checkGone(self, live: Any) -> None:
        if self._live is live and self.station.liveSource is not live:
            self._endSession()

    def _fileName(self) -> str:
        suffix = f"-part{self._partNumber}" if self._partNumber > 1 else ""
        return f"{self._session}{suffix}.mp3"

    def _freeBytes(self) -> int:
        return int(self.diskUsage(self.folder).free)

    def _openPart(self) -> None:
        """
        Start a new file, if the disk has room.
        """
        mount = self.station.mount.decode("ascii")
        try:
            os.makedirs(self.folder, exist_ok=True)
            free = self._freeBytes()
            if free < self.limits.minFree:
                self._stopEarly(f"only {free} bytes free in {self.folder}")
                return
            self._partNumber += 1
            path = os.path.join(self.folder, self._fileName())
            handle = self.opener(path)
        except OSError as e:
            self._stopEarly(f"cannot start: {e}")
            return
        self.current = _Part(path, self._show, self.clock.seconds(), handle)
        self._log.info("{mount}: recording {path}", mount=mount, path=path)
        if self._check is None:
            self._check = self.clock.callLater(self.limits.checkInterval, self._checkSpace)

    def _write(self, chunk: Chunk, end: int) -> None:
        part = self.current
        assert part is not None
        if part.size and (part.size + end > self.limits.maxBytes or part.seconds >= self.limits.maxSeconds):
            self._finishPart()
            self._openPart()
            part = self.current
            if part is None:
                return
        try:
            part.write(chunk, end)
        except OSError as e:
            self._stopEarly(f"write failed: {e}")
            return
        self.bytesSent += end

    def _checkSpace(self) -> None:
        self._check = None
        if self.current is None:
            return
        try:
            free = self._freeBytes()
        except OSError as e:
            self._stopEarly(f"cannot check the free space: {e}")
            return
        if free < self.limits.minFree:
            self._stopEarly(f"only {free} bytes free in {self.folder}")
            return
        self._check = self.clock.callLater(self.limits.checkInterval, self._checkSpace)

    def _stopEarly(self, why: str) -> None:
        """
        Stop recording this show (listeners go on): one log line.
        """
        self.stoppedReason = why
        self._log.error("{mount}: recording stopped: {why}", mount=self.station.mount.decode("ascii"), why=why)
        self._endSession()

    def _finishPart(self) -> None:
        part, self.current = self.current, None
        if part is None:
            return
        try:
            part.close()
        except OSError as e:
            self._log.error("{path}: could not finish the recording: {error}", path=part.path, error=str(e))
        self.finishedCount += 1
        self.applyRetention()

    def _endSession(self) -> None:
        if self._check is not None and self._check.active():
            self._check.cancel()
        self._check = None
        self._finishPart()
        if self._live is not None:
            self._live = None
            self.station.broadcaster.removeObserver(self)
        self._leaving = False

    # What is on disk.

    def finished(self) -> list[FinishedRecording]:
        """
        The finished recordings, newest first (not the one being written).

        @return: those whose names look like recordings.
        """
        writing = self.current.path if self.current is not None else None
        found = []
        try:
            entries = list(os.scandir(self.folder))
        except OSError:
            return []
        for entry in entries:
            match = RECORDING_NAME.match(entry.name)
            if match is None or entry.path == writing:
                continue
            try:
                if not entry.is_file(follow_symlinks=False):
                    continue
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            fields = _cueFields(entry.path[:-4] + ".cue")
            try:
                started = float(fields["STARTED"])
            except (KeyError, ValueError):
                started = info.st_mtime
            try:
                seconds = float(fields["SECONDS"])
            except (KeyError, ValueError):
                seconds = 0.0
            show = fields.get("PERFORMER") or match.group(2)
            found.append(FinishedRecording(entry.path, entry.name, show, started, seconds, info.st_size))
        found.sort(key=lambda r: (r.started, r.name), reverse=True)
        return found

    def applyRetention(self) -> list[str]:
        """
        Delete the finished recordings beyond L{keep} or older than
        L{maxAgeDays}, with their cue sheets.

        @return: the names deleted.
        """
        deleted = []
        now = self.clock.seconds()
        for index, recording in enumerate(self.finished()):
            maxAgeDays = self.limits.maxAgeDays
            tooOld = maxAgeDays is not None and now - recording.started > maxAgeDays * 86400
            if index >= self.limits.keep or tooOld:
                for path in (recording.path, recording.path[:-4] + ".cue"):
                    try:
                        os.remove(path)
                    except FileNotFoundError:
                        pass
                    except OSError as e:
                        self._log.error("{path}: cannot delete: {error}", path=path, error=str(e))
                deleted.append(recording.name)
        if deleted:
            self._log.info(
                "{mount}: deleted {count} old recordings",
                mount=self.station.mount.decode("ascii"),
                count=len(deleted),
            )
        return deleted
