# -*- test-case-name: tests.test_segmenter -*-
"""
Cutting a mount's stream into HLS segments, once per mount, from the very
chunks its ICY listeners get: no re-encode, no per-client work.

A L{Segmenter} watches a broadcaster (as an observer: it is not counted as
a listener) and splits the frames it sees into packed audio segments.

Where segments are cut:

 - on a grid of C{targetDuration} seconds of the 90 kHz timeline, at the
   frame boundary nearest each grid line (a frame belongs to the grid cell
   holding its midpoint), so a segment lasts the target within one frame
   and never rounds above it; the timeline follows the wall clock, so
   mounts started together (a mount and its derived mounts) cut at the same
   points;
 - where the title changes, so that the title's timed metadata (ID3 text
   frames at the start of the segment) applies exactly where its audio
   starts (unless the open segment holds less than L{MIN_SEGMENT} of
   audio: then the title starts with it, that little early);
 - where the format changes (sample rate, channels, MPEG version or layer):
   the next segment is a discontinuity;
 - where the stream resumes after a gap (the source had nothing and the
   broadcaster started its pacing afresh, or the station restarted): the
   next segment is a discontinuity, and the timeline is set back on the
   wall clock.

Timestamps: the 90 kHz position of every frame is its run's start plus the
samples since, so it is exact, continuous across segments and tracks, and
never drifts; C{EXT-X-PROGRAM-DATE-TIME} is the same position read as
seconds since the epoch.

Memory is bounded: the playlist lists the last C{windowSegments} segments
(more if needed to reach three target durations, RFC 8216 section 6.2.2),
and a segment that has left it is kept as long as a client that read an
older playlist, through a cache, may still ask for it, up to a hard count.
"""

from __future__ import annotations

import hashlib
from collections import deque
from typing import cast

from twisted.application.service import Service
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from zope.interface import implementer

from txradio.interfaces import IBroadcaster, IListener
from txradio.stream.broadcast import Chunk
from txradio.stream.listener import InternalListener
from txradio.wire.hls import PTS_CLOCK, PTS_WRAP, Segment, packTimestamp
from txradio.wire.icy import parseMetadata
from txradio.wire.mp3 import parseHeader

DEFAULT_TARGET_DURATION = 6
"""Seconds of audio a segment holds (C{EXT-X-TARGETDURATION})."""

DEFAULT_WINDOW = 6
"""Segments a live media playlist lists."""

MAX_TARGET_DURATION = 30
"""
The longest segment a radio may be configured with, in seconds: longer ones
only add latency, and memory (the segments kept grow with it).
"""

MIN_WINDOW = 3
"""The fewest segments a live playlist may list (RFC 8216 section 6.2.2)."""

MAX_WINDOW = 30
"""The most segments a radio may be configured to list."""

MIN_SEGMENT = 0.4
"""
Seconds below which a piece of audio is not made a segment of its own: a
title that changes this soon after a cut re-titles the open segment, and a
segment that would end this soon after it starts runs on to the next grid
line.  Under half a second, so that no segment's duration rounds above the
target.
"""

DEFAULT_GAP_THRESHOLD = 3.0
"""
Seconds by which the stream may fall behind (or run ahead of) the wall clock
before the segmenter calls it a gap.  A broadcaster catches up on delays of
up to two seconds (its C{maxCatchUp}); beyond that it restarts its pacing,
and the audio no longer continues in time.
"""


def _metadataOf(block: bytes) -> tuple[str | None, str | None]:
    """
    Read the title and the URL out of an encoded ICY metadata block.

    @param block: a block as L{txradio.wire.icy.encodeMetadata} builds it.
    @return: C{(StreamTitle, StreamUrl)}, each L{None} when empty.
    """
    fields = parseMetadata(block[1:])
    return fields.get("StreamTitle") or None, fields.get("StreamUrl") or None


@implementer(IListener)
class Segmenter(Service, InternalListener):
    """
    Builds a mount's HLS segments from its broadcaster's chunks.

    It is an L{IListener} in shape (C{deliver}, C{disconnect}), attached to
    the broadcaster with C{addObserver} while the service runs, so it is not
    counted among the mount's listeners.

    @ivar segments: the segments kept, oldest first (the playlist's window
        and, before it, those still served to late clients).
    @ivar generation: a number that grows whenever L{segments} changes, so
        that what is built from them can be cached.
    @ivar targetDuration: seconds of audio a segment holds (whole seconds).
    @ivar windowSegments: segments a playlist lists.
    @ivar maxRetained: the most segments kept at once.
    @ivar bytesSent: audio bytes received (for L{IListener}).
    @ivar framesSeen: frames received.
    @ivar discontinuities: discontinuities found since start.
    @ivar title: the stream title heard last, or L{None}.
    @ivar url: the C{StreamUrl} heard with it (the album art's URL, which
        goes into the segments' ID3 tag as C{WXXX}), or L{None}.
    """

    _log = Logger()
    peer = "HLS segmenter"

    def __init__(
        self,
        broadcaster: IBroadcaster | None = None,
        clock: IReactorTime | None = None,
        targetDuration: int = DEFAULT_TARGET_DURATION,
        windowSegments: int = DEFAULT_WINDOW,
        gapThreshold: float = DEFAULT_GAP_THRESHOLD,
        maxRetained: int | None = None,
        name: str = "",
    ) -> None:
        """
        @param broadcaster: the L{txradio.stream.broadcast.Broadcaster} to watch
            while the service runs, or L{None} to be fed by hand.
        @param clock: the wall clock; the global reactor by default.
        @param targetDuration: seconds of audio a segment holds, at least 1.
        @param windowSegments: segments a playlist lists, at least 3.
        @param gapThreshold: seconds by which the stream may drift from the
            clock before it counts as a gap.
        @param maxRetained: the most segments kept; by default three
            windows and six more.
        @param name: a name for the log, e.g. the mount.
        @raise ValueError: for a target duration below 1 or a window below 3.
        """
        if clock is None:
            from twisted.internet import reactor

            clock = cast(IReactorTime, reactor)
        if int(targetDuration) != targetDuration or targetDuration < 1:
            raise ValueError(f"the target duration must be a whole number of seconds, at least 1, not {targetDuration}")
        if windowSegments < MIN_WINDOW:
            raise ValueError(f"a playlist must list at least {MIN_WINDOW} segments, not {windowSegments}")
        self.broadcaster = broadcaster
        self.name = name
        self._clock = clock
        self.targetDuration = int(targetDuration)
        self.windowSegments = windowSegments
        self.gapThreshold = gapThreshold
        self.maxRetained = maxRetained if maxRetained is not None else 3 * windowSegments + 6
        self.segments: deque[Segment] = deque()
        self.generation = 0
        self.bytesSent = 0
        self.framesSeen = 0
        self.discontinuities = 0
        self._cell = self.targetDuration * PTS_CLOCK
        self._minimum = round(MIN_SEGMENT * PTS_CLOCK)
        self._droppedDiscontinuities = 0
        self._nextSequence: int | None = None
        # The run: a stretch of one format with continuous timestamps.
        self._format: tuple[object, ...] | None = None
        self._rate = 0
        self._runBase = 0
        self._runSamples = 0
        # The open segment.
        self._pieces: list[bytes] = []
        self._frames = 0
        self._samples = 0
        self._start = 0
        self._startCell = 0
        self._discontinuity = False
        # Titles.
        self._block: bytes | None = None
        self.title: str | None = None
        self.url: str | None = None
        self._segmentTitle: str | None = None
        self._segmentURL: str | None = None

    # The service: watch the broadcaster while running.

    def startService(self) -> None:
        """
        Start watching the broadcaster.
        """
        Service.startService(self)
        if self.broadcaster is None:
            return
        self.broadcaster.addObserver(self)

    def stopService(self) -> None:
        """
        Stop watching; the segments built so far stay.
        """
        Service.stopService(self)
        if self.broadcaster is None:
            return
        self.broadcaster.removeObserver(self)
        self._pieces = []
        self._frames = self._samples = 0
        self._discontinuity = True

    # IListener.

    def deliver(self, chunk: Chunk) -> None:
        """
        Take the broadcaster's next chunk; see L{IListener.deliver}.

        A failure here is logged and the open segment dropped: it must
        never stop the broadcaster that called.

        @param chunk: a L{txradio.stream.broadcast.Chunk}.
        """
        try:
            self._deliver(chunk)
        except Exception:  # noqa: BLE001 -- never let HLS stop the broadcast
            self._log.failure("HLS segmenter for {name} failed on a chunk", name=self.name)
            self._pieces = []
            self._frames = self._samples = 0
            self._discontinuity = True

    def disconnect(self, reason: str) -> None:
        """
        The stream ended (the station stopped, or its source left): publish
        what is built, and make the next segment a discontinuity.

        @param reason: why.
        """
        self._cut()
        self._discontinuity = True

    # The work.

    def _position(self) -> int:
        """
        @return: the unwrapped 90 kHz position of the next frame.
        """
        if not self._rate:
            return self._runBase
        return self._runBase + self._runSamples * PTS_CLOCK // self._rate

    def _deliver(self, chunk: Chunk) -> None:
        """
        Split a chunk's frames into segments.

        @param chunk: a L{txradio.stream.broadcast.Chunk}.
        """
        now = self._clock.seconds()
        if self._nextSequence is None:
            # Sequence numbers start from the wall clock, so that a restarted
            # server never reuses the URI of a segment a cache still holds
            # (segments last far longer than a second).
            self._nextSequence = int(now)
            self._runBase = round(now * PTS_CLOCK)
        elif self._format is not None and abs(now - self._position() / PTS_CLOCK) > self.gapThreshold:
            # The audio stopped and resumed (or the clock jumped): put the
            # timeline back on the wall clock, after a discontinuity.
            self._cut()
            self._newRun(round(now * PTS_CLOCK), self._format, self._rate)
            self._discontinuity = True
            self.discontinuities += 1
        data = chunk.data
        starts = chunk.frameStarts
        marks = chunk.marks
        markIndex = 0
        pieceStart = 0
        self.bytesSent += len(data)
        for offset in starts:
            while markIndex < len(marks) and marks[markIndex][0] <= offset:
                block = marks[markIndex][1]
                markIndex += 1
                if block != self._block:
                    self._block = block
                    self.title, self.url = _metadataOf(block)
                    if self._frames and self._samples * PTS_CLOCK < self._minimum * self._rate:
                        # Too little audio for a segment of its own: the
                        # title starts with this segment, a little early.
                        self._segmentTitle, self._segmentURL = self.title, self.url
                    elif self._frames:
                        self._takePiece(data, pieceStart, offset)
                        pieceStart = offset
                        self._cut()
            header = parseHeader(data, offset)
            kind = (header.version, header.layer, header.sampleRate, header.channels)
            if kind != self._format:
                if self._format is not None:
                    self._takePiece(data, pieceStart, offset)
                    pieceStart = offset
                    self._cut()
                    self._discontinuity = True
                    self.discontinuities += 1
                    self._log.info(
                        "{name}: the format changed to {rate} Hz, {channels} channels; "
                        "HLS marks a discontinuity",
                        name=self.name,
                        rate=header.sampleRate,
                        channels=header.channels,
                    )
                self._newRun(self._position(), kind, header.sampleRate)
            position = self._position()
            midpoint = position + header.samples * PTS_CLOCK // (2 * header.sampleRate)
            cell = midpoint // self._cell
            if self._frames and cell > self._startCell:
                self._takePiece(data, pieceStart, offset)
                pieceStart = offset
                self._cut()
            if not self._frames:
                self._start = position
                self._startCell = cell
                if (cell + 1) * self._cell - midpoint < self._minimum:
                    # It would end almost at once: run on to the next line.
                    self._startCell = cell + 1
                self._segmentTitle, self._segmentURL = self.title, self.url
            self._frames += 1
            self._samples += header.samples
            self._runSamples += header.samples
            self.framesSeen += 1
        self._takePiece(data, pieceStart, len(data))

    def _newRun(self, base: int, kind: tuple[object, ...], rate: int) -> None:
        """
        Start a stretch of one format from a position.

        @param base: its unwrapped 90 kHz position.
        @param kind: C{(version, layer, sample rate, channels)}.
        @param rate: the sample rate in Hz.
        """
        self._runBase = base
        self._runSamples = 0
        self._format = kind
        self._rate = rate

    def _takePiece(self, data: bytes, start: int, end: int) -> None:
        """
        Add the frames in C{data[start:end]} to the open segment.
        """
        if end > start:
            self._pieces.append(data[start:end] if start or end < len(data) else data)

    def _cut(self) -> None:
        """
        Close the open segment, if it has frames, and publish it.
        """
        if not self._frames:
            return
        pts = self._start % PTS_WRAP
        data = packTimestamp(pts, self._segmentTitle, self._segmentURL) + b"".join(self._pieces)
        sequence = self._nextSequence if self._nextSequence is not None else 0
        segment = Segment(
            sequence=sequence,
            data=data,
            samples=self._samples,
            sampleRate=self._rate,
            pts=pts,
            title=self._segmentTitle,
            discontinuity=self._discontinuity and self.generation > 0,
            programDateTime=self._start / PTS_CLOCK,
            etag=b'"' + hashlib.blake2b(data, digest_size=12).hexdigest().encode("ascii") + b'"',
            frames=self._frames,
        )
        self._nextSequence = sequence + 1
        self._pieces = []
        self._frames = 0
        self._samples = 0
        self._discontinuity = False
        self.segments.append(segment)
        self.generation += 1
        self._prune()

    def _prune(self) -> None:
        """
        Forget segments no client can still need.

        RFC 8216 section 6.2.2: a segment that left the playlist must stay
        available for its duration plus the playlist's; a cache may serve a
        playlist up to half a target duration old, and a client may be a
        target duration late, so keep two windows and two target durations
        of audio, up to L{maxRetained} segments.
        """
        window = self.window()
        keep = 2 * sum(s.duration for s in window) + 2 * self.targetDuration
        span = 0.0
        kept = 0
        for segment in reversed(self.segments):
            if kept >= len(window) and (span >= keep or kept >= self.maxRetained):
                break
            span += segment.duration
            kept += 1
        while len(self.segments) > kept:
            if self.segments.popleft().discontinuity:
                self._droppedDiscontinuities += 1

    # Reading.

    def window(self) -> list[Segment]:
        """
        The segments a live playlist lists now: the last L{windowSegments},
        or more if they hold less than three target durations.

        @return: segments, oldest first.
        """
        segments = list(self.segments)
        start = max(0, len(segments) - self.windowSegments)
        total = sum(s.duration for s in segments[start:])
        while start > 0 and total < 3 * self.targetDuration:
            start -= 1
            total += segments[start].duration
        return segments[start:]

    def discontinuitySequence(self, window: list[Segment]) -> int:
        """
        Count the discontinuities before a window (its
        C{EXT-X-DISCONTINUITY-SEQUENCE}).

        @param window: what L{window} returned.
        @return: the count.
        """
        count = self._droppedDiscontinuities
        if window:
            first = window[0].sequence
            count += sum(1 for s in self.segments if s.sequence < first and s.discontinuity)
        return count

    def segment(self, sequence: int) -> Segment | None:
        """
        Find a kept segment.

        @param sequence: its sequence number.
        @return: the segment, or L{None} when it is gone or not built yet.
        """
        if not self.segments:
            return None
        index = sequence - self.segments[0].sequence
        if 0 <= index < len(self.segments):
            found = self.segments[index]
            if found.sequence == sequence:
                return found
        return None

    def bandwidth(self) -> tuple[int, int] | None:
        """
        Measure the stream as a master playlist announces it.

        @return: C{(peak, average)} segment bitrates in bits a second over
            the segments kept, or L{None} before any.
        """
        if not self.segments:
            return None
        peak = max(s.bitrate for s in self.segments)
        average = sum(len(s.data) for s in self.segments) * 8 / sum(s.duration for s in self.segments)
        return int(-(-peak // 1)), int(-(-average // 1))
