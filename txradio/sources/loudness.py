# -*- test-case-name: tests.test_loudness -*-
"""
Loudness and silence of tracks, measured once in the background.

Each track is measured by ffmpeg in a child process (C{ebur128} for the
integrated loudness and true peak, C{silencedetect} for the silence at its
ends), or, cheaper, read from its ReplayGain tags when it has them and
silence is not wanted.  Results are cached by path, modification time and
size in a bounded LRU.  Nothing here ever waits for a measurement: a
playlist asks for the next tracks' measurements while the current one
plays, and a track whose measurement is not ready plays unchanged.

L{Leveller} turns a measurement into what a playlist does to a track: the
gain in 1.5 dB steps (L{txradio.wire.gain}) and the span of audio kept.
"""

from __future__ import annotations

import math
import os
import re
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial

from twisted.internet.interfaces import IDelayedCall
from twisted.internet.protocol import ProcessProtocol
from twisted.logger import Logger
from twisted.python.failure import Failure

from txradio.wire.gain import STEP_DB, gainSteps

FILTERS = "ebur128=peak=true:framelog=verbose,silencedetect=n=-50dB:d=0.3"
"""The ffmpeg filters that measure a track.  C{framelog=verbose} keeps
ebur128's ten-lines-a-second log below ffmpeg's default C{info} level, so
only its summary is printed."""

ANALYSIS_TIMEOUT = 300.0
"""Seconds an analysis may take before its ffmpeg is killed (a 10-minute
track takes about 2 s on one core)."""

MAX_OUTPUT = 1 << 20
"""Bytes of ffmpeg's log kept per analysis; more is ignored."""

REPLAYGAIN_REFERENCE = -18.0
"""The loudness, in LUFS, that ReplayGain 2 tags bring a track to: a track's
loudness is this minus its C{REPLAYGAIN_TRACK_GAIN}."""

EDGE_MARGIN = 0.06
"""Seconds of audio kept on the sound side of a silence edge when
trimming (about two MP3 frames), so no onset or decay is cut: decoders'
delays and ffmpeg's timestamps differ by a frame or so."""


@dataclass(frozen=True, slots=True)
class Measurement:
    """
    What is known about a track's level.

    @ivar loudness: integrated loudness in LUFS (C{-inf} for silence).
    @ivar truePeak: true peak in dBTP (or sample peak in dBFS from
        ReplayGain tags), or L{None} when not known.
    @ivar leadingSilence: seconds of silence at the start (0 for none), or
        L{None} when not measured.
    @ivar trailingSilence: seconds from the start where the silence at the
        end starts, L{None} when there is none or it was not measured.
    @ivar method: C{"ebur128"} or C{"replaygain"}.
    @ivar duration: seconds of audio, or L{None} when not measured.
    """

    loudness: float
    truePeak: float | None
    leadingSilence: float | None = None
    trailingSilence: float | None = None
    method: str = "ebur128"
    duration: float | None = None


_INTEGRATED = re.compile(rb"^\s*I:\s*(-?(?:[\d.]+|inf))\s*LUFS", re.MULTILINE)
_PEAK = re.compile(rb"^\s*Peak:\s*(-?(?:[\d.]+|inf))\s*dB", re.MULTILINE)
_SILENCE = re.compile(rb"silence_(start|end): (-?[\d.]+)")
_TIME = re.compile(rb"time=(\d+):(\d\d):(\d\d(?:\.\d+)?)")


def parseAnalysis(log: bytes) -> Measurement:
    """
    Read a measurement from ffmpeg's log of the L{FILTERS}.

    @param log: ffmpeg's standard error.
    @return: the measurement.
    @raise ValueError: when the log has no ebur128 summary (ffmpeg failed,
        or the file held no audio).
    """
    summary = log.rfind(b"Summary:")
    integrated = _INTEGRATED.search(log, max(summary, 0))
    if summary < 0 or integrated is None:
        raise ValueError("no ebur128 summary in ffmpeg's output")
    loudness = float(integrated.group(1))
    peak = _PEAK.search(log, summary)
    truePeak = float(peak.group(1)) if peak else None
    intervals: list[list[float | None]] = []
    for kind, value in _SILENCE.findall(log):
        if kind == b"start":
            intervals.append([float(value), None])
        elif intervals and intervals[-1][1] is None:
            intervals[-1][1] = float(value)
    times = _TIME.findall(log)
    duration = None
    if times:
        hours, minutes, seconds = times[-1]
        duration = int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    leading = 0.0
    trailing = None
    if intervals:
        start, end = intervals[0]
        if start is not None and start <= EDGE_MARGIN:
            # A track silent throughout has no edges worth trimming.
            leading = end if end is not None and (duration is None or end < duration - EDGE_MARGIN) else 0.0
        start, end = intervals[-1]
        if start is not None and start > leading and (
            end is None or (duration is not None and end >= duration - EDGE_MARGIN)
        ):
            trailing = start
    return Measurement(loudness, truePeak, leading, trailing, "ebur128", duration)


def _decibels(text: str) -> float:
    """
    @param text: a ReplayGain gain, e.g. C{"-6.50 dB"}.
    @return: the number.
    @raise ValueError: when it is not one.
    """
    value = float(text.strip().lower().removesuffix("db").strip())
    if not math.isfinite(value):
        raise ValueError(text)
    return value


def readReplayGain(path: str) -> Measurement | None:
    """
    Read a track's ReplayGain tags with mutagen: C{REPLAYGAIN_TRACK_GAIN}
    and C{REPLAYGAIN_TRACK_PEAK}, in ID3 C{TXXX} frames, APEv2 or Vorbis
    comments.  Only the tags are read, never the audio.

    @param path: the file.
    @return: the loudness they imply (and the peak, a linear sample peak,
        in dBFS), or L{None} when the file has no usable track gain.
    """
    import mutagen

    try:
        audio = mutagen.File(path)
    except Exception:
        return None
    tags = getattr(audio, "tags", None)
    if not tags:
        return None
    found: dict[str, str] = {}
    try:
        items = list(tags.items())
    except Exception:
        return None
    for key, value in items:
        name = str(key).upper().removeprefix("TXXX:")
        if name in ("REPLAYGAIN_TRACK_GAIN", "REPLAYGAIN_TRACK_PEAK"):
            text = getattr(value, "text", value)
            if isinstance(text, (list, tuple)):
                text = text[0] if text else ""
            found[name] = str(text)
    try:
        gain = _decibels(found["REPLAYGAIN_TRACK_GAIN"])
    except (KeyError, ValueError):
        return None
    peak = None
    try:
        linear = float(found.get("REPLAYGAIN_TRACK_PEAK", ""))
        if linear > 0:
            peak = 20 * math.log10(linear)
    except ValueError:
        pass
    return Measurement(REPLAYGAIN_REFERENCE - gain, peak, method="replaygain")


class _Analysis(ProcessProtocol):
    """
    One ffmpeg measuring one file: its log is kept (bounded) and parsed
    when it exits.
    """

    def __init__(self, done: Callable[[bytes | None], None]) -> None:
        """
        @param done: called once with the log, or L{None} when ffmpeg failed.
        """
        self._done = done
        self._log: list[bytes] = []
        self._size = 0
        self.timeout: IDelayedCall | None = None

    def childDataReceived(self, childFD: int, data: bytes) -> None:
        if childFD == 2 and self._size < MAX_OUTPUT:
            self._log.append(data)
            self._size += len(data)

    def kill(self) -> None:
        """
        Stop ffmpeg (a timeout, or the analyser stopping).
        """
        try:
            self.transport.signalProcess("KILL")  # type: ignore[union-attr]
        except Exception:
            pass

    def processEnded(self, reason: Failure) -> None:
        if self.timeout is not None and self.timeout.active():
            self.timeout.cancel()
        self.timeout = None
        code = getattr(reason.value, "exitCode", None)
        self._done(b"".join(self._log) if code == 0 else None)


CacheKey = tuple[int, int]
"""A file's modification time (ns) and size: a changed file is measured again."""


@dataclass(frozen=True, slots=True)
class AnalyserLimits:
    """
    How much a L{LoudnessAnalyser} holds and runs at once.

    @ivar concurrency: analyses running at once, at most.
    @ivar cacheSize: measurements kept, at most.
    @ivar queueSize: tracks waiting to be measured, at most.
    """

    concurrency: int = 1
    cacheSize: int = 4096
    queueSize: int = 64


class LoudnessAnalyser:
    """
    Measures tracks in child processes, a few at a time, and remembers the
    results.

    L{lookup} answers at once from the cache; L{request} queues a track to
    be measured.  Failures are cached too (as L{None}), so a file ffmpeg
    cannot read is not tried on every pass.

    @ivar limits: the L{AnalyserLimits} it keeps to.
    @ivar analysed: measurements made by ffmpeg so far.
    @ivar failed: analyses that failed so far.
    @ivar dropped: requests dropped because the queue was full.
    """

    _log = Logger()

    def __init__(
        self,
        reactor,
        executable: str = "ffmpeg",
        needSilence: bool = False,
        concurrency: int = 1,
        cacheSize: int = 4096,
        queueSize: int = 64,
        readTags: Callable[[str], Measurement | None] = readReplayGain,
        stat: Callable[[str], os.stat_result] = os.stat,
    ) -> None:
        """
        @param reactor: an C{IReactorProcess} and C{IReactorTime}.
        @param executable: the ffmpeg program.
        @param needSilence: whether silence must be measured, in which case
            ReplayGain tags do not spare an analysis.
        @param concurrency: analyses running at once, at most.
        @param cacheSize: measurements kept, at most.
        @param queueSize: tracks waiting to be measured, at most.
        @param readTags: reads ReplayGain tags (tests replace it).
        @param stat: C{os.stat} (tests replace it).
        """
        self._reactor = reactor
        self.executable = executable
        self.needSilence = needSilence
        self.limits = AnalyserLimits(concurrency, cacheSize, queueSize)
        self._readTags = readTags
        self._stat = stat
        self._cache: OrderedDict[str, tuple[CacheKey, Measurement | None]] = OrderedDict()
        self._queue: deque[tuple[str, CacheKey]] = deque()
        self._running: dict[str, _Analysis] = {}
        self._stopped = False
        self.analysed = 0
        self.failed = 0
        self.dropped = 0

    def _key(self, path: str) -> CacheKey | None:
        """
        @return: the file's cache key, or L{None} when it cannot be read.
        """
        try:
            info = self._stat(path)
        except OSError:
            return None
        return info.st_mtime_ns, info.st_size

    def lookup(self, path: str) -> Measurement | None:
        """
        The measurement of a track, if it is known (and the file has not
        changed since).  Never waits.

        @param path: the file.
        @return: the measurement, or L{None}.
        """
        entry = self._cache.get(path)
        if entry is None:
            return None
        key = self._key(path)
        if key != entry[0]:
            del self._cache[path]
            return None
        self._cache.move_to_end(path)
        return entry[1]

    def request(self, paths: Iterable[str]) -> None:
        """
        Have tracks measured if they are not already (known, queued or
        being measured).  Never waits for a measurement.

        @param paths: the files, the most urgent first.
        """
        for path in paths:
            if self._stopped or path in self._running or any(queued == path for queued, _ in self._queue):
                continue
            key = self._key(path)
            if key is None:
                continue
            entry = self._cache.get(path)
            if entry is not None and entry[0] == key:
                continue
            if not self.needSilence:
                tagged = self._readTags(path)
                if tagged is not None:
                    self._remember(path, key, tagged)
                    continue
            if len(self._queue) >= self.limits.queueSize:
                self.dropped += 1
                continue
            self._queue.append((path, key))
        self._startMore()

    def stop(self) -> None:
        """
        Stop measuring: forget the queue and kill the analyses running.
        """
        self._stopped = True
        self._queue.clear()
        for analysis in list(self._running.values()):
            analysis.kill()

    @property
    def pending(self) -> int:
        """Tracks queued or being measured."""
        return len(self._queue) + len(self._running)

    def _remember(self, path: str, key: CacheKey, measurement: Measurement | None) -> None:
        """
        Cache a result, forgetting the least recently used beyond the bound.
        """
        self._cache[path] = (key, measurement)
        self._cache.move_to_end(path)
        while len(self._cache) > self.limits.cacheSize:
            self._cache.popitem(last=False)

    def _startMore(self) -> None:
        """
        Start analyses while there are tracks queued and room to run them.
        """
        while self._queue and len(self._running) < self.limits.concurrency and not self._stopped:
            path, key = self._queue.popleft()
            analysis = _Analysis(partial(self._finished, path, key))
            self._running[path] = analysis
            args = [
                self.executable,
                "-hide_banner",
                "-nostdin",
                "-nostats",
                "-i",
                # file: keeps a name with a colon from being read as a protocol.
                "file:" + path,
                "-vn",
                "-af",
                FILTERS,
                "-f",
                "null",
                "-",
            ]
            try:
                self._reactor.spawnProcess(analysis, self.executable, args, env=None)
            except Exception:
                self._log.failure("starting {executable} to measure {path}", executable=self.executable, path=path)
                del self._running[path]
                self.failed += 1
                self._remember(path, key, None)
                continue
            analysis.timeout = self._reactor.callLater(ANALYSIS_TIMEOUT, analysis.kill)

    def _finished(self, path: str, key: CacheKey, log: bytes | None) -> None:
        """
        An analysis ended: cache its result and start the next.
        """
        self._running.pop(path, None)
        measurement = None
        if log is not None:
            try:
                measurement = parseAnalysis(log)
            except ValueError:
                pass
        if measurement is None:
            self.failed += 1
            if not self._stopped:
                self._log.warn("could not measure the loudness of {path}", path=path)
        else:
            self.analysed += 1
            self._log.debug(
                "measured {path}: {loudness} LUFS, peak {peak} dBTP, silence to {lead} s and from {trail} s",
                path=path,
                loudness=measurement.loudness,
                peak=measurement.truePeak,
                lead=measurement.leadingSilence,
                trail=measurement.trailingSilence,
            )
        if not self._stopped:
            self._remember(path, key, measurement)
            self._startMore()


@dataclass(frozen=True, slots=True)
class TrackPlan:
    """
    What a playlist does to one track's frames.

    @ivar steps: the gain in 1.5 dB steps (0 for none).
    @ivar keepFrom: seconds from the start before which frames are dropped.
    @ivar keepUntil: seconds from the start from which frames are dropped,
        or L{None} to keep them all.
    @ivar duration: the track's measured duration in seconds, or L{None}
        when not known (a crossfade needs it).
    @ivar loudness: the loudness it plays at, gain included, in LUFS, or
        L{None} when not known.
    """

    steps: int = 0
    keepFrom: float = 0.0
    keepUntil: float | None = None
    duration: float | None = None
    loudness: float | None = None

    @property
    def trims(self) -> bool:
        """Whether any frame is dropped."""
        return self.keepFrom > 0 or self.keepUntil is not None


class Leveller:
    """
    Evens a playlist's loudness and trims its silence, from an analyser's
    measurements.

    @ivar analyser: where measurements come from.
    @ivar target: the loudness wanted in LUFS, or L{None} to change no level.
    @ivar trimSilence: whether silence at the ends is dropped.
    @ivar lookahead: how many upcoming tracks to have measured.
    """

    def __init__(
        self, analyser: LoudnessAnalyser, target: float | None, trimSilence: bool, lookahead: int = 2
    ) -> None:
        self.analyser = analyser
        self.target = target
        self.trimSilence = trimSilence
        self.lookahead = lookahead

    def prepare(self, paths: Iterable[str]) -> None:
        """
        Have the coming tracks measured ahead.

        @param paths: the next tracks, in play order (the first
            L{lookahead} are asked for).
        """
        wanted: list[str] = []
        for path in paths:
            if len(wanted) >= self.lookahead:
                break
            wanted.append(path)
        self.analyser.request(wanted)

    def stop(self) -> None:
        """
        Stop measuring (the playlist is closed).
        """
        self.analyser.stop()

    def planFor(self, path: str) -> TrackPlan | None:
        """
        What to do to a track about to play.

        @param path: the file.
        @return: the plan, or L{None} when the track is not measured yet
            (it then plays unchanged).
        """
        measurement = self.analyser.lookup(path)
        if measurement is None:
            return None
        steps = 0
        if self.target is not None:
            steps = gainSteps(self.target, measurement.loudness, measurement.truePeak)
        keepFrom, keepUntil = 0.0, None
        if self.trimSilence:
            if measurement.leadingSilence:
                keepFrom = max(measurement.leadingSilence - EDGE_MARGIN, 0.0)
            if measurement.trailingSilence is not None:
                keepUntil = measurement.trailingSilence + EDGE_MARGIN
        loudness = measurement.loudness + steps * STEP_DB
        return TrackPlan(steps, keepFrom, keepUntil, measurement.duration, loudness)
