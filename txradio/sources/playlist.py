# -*- test-case-name: tests.test_playlist -*-
"""
The playlist source: frames read from a list of MP3 files, one after the
other, forever.

Files are read a block at a time as the broadcaster asks for audio, so a
track starts as soon as its first block is parsed.  A file that cannot be
played (missing, unreadable, empty, not MP3, free-format) is skipped with one
log line and the next one plays; a list with nothing playable at all is tried
again after a pause instead of spinning.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from contextlib import suppress
from dataclasses import replace
from typing import IO, Protocol

from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from zope.interface import implementer

from txradio.interfaces import IProgramme
from txradio.sources.decode import Decoders, countSkipped, formatOf
from txradio.sources.loudness import Leveller, TrackPlan
from txradio.sources.requests import RequestQueue
from txradio.sources.seams import Seam, SeamMaker
from txradio.sources.tags import readTitle
from txradio.sources.tracks import NoTracks
from txradio.wire.crossfade import SeamFormat, TrackSpan, handOver, planSeam
from txradio.wire.gain import STEP_DB, applyGain
from txradio.wire.mp3 import Frame, FrameHeader, Framer, ReservoirGuard, mainDataBegin, mainDataSize
from txradio.wire.programme import TitleChange


class Tracks(Protocol):
    """
    What a L{PlaylistSource} needs of a track list (see
    L{txradio.sources.tracks}).
    """

    def nextPass(self) -> list[str]:
        """
        @return: the paths of the next pass over the list.
        @raise NoTracks: when there is nothing to play now.
        """


READ_SIZE = 65536
"""Bytes read from a file at a time (about 4 s of audio at 128 kbps)."""

NOT_MP3_AFTER = 262144
"""Bytes of a file, tags aside, searched for a frame before giving up."""

RETRY_DELAY = 10.0
"""Seconds to wait before trying again when nothing in the list plays."""

ATTEMPTS_PER_PULL = 32
"""Files tried at most in one pull, so a run of bad files never blocks long."""

HANDOVER_FRAMES = 8
"""The last frames of a crossfade seam repacked to carry the audio data
that the next track's first frames borrow (L{handOver})."""


@implementer(IProgramme)
class PlaylistSource:
    """
    Plays the files of a track list in order, looping forever.

    @ivar title: the title of the track most recently returned.
    @ivar path: the file being read now, or L{None}.
    @ivar trackPath: the file whose title was announced last, or L{None}.
    @ivar tracksPlayed: tracks that produced audio so far.
    @ivar skipped: files skipped so far.
    @ivar crossfades: seams played so far.
    """

    _log = Logger()
    requests: RequestQueue | None = None
    """Listener requests (L{txradio.sources.requests.RequestQueue}), taken first at each track change."""
    decoders: Decoders | None = None
    """Starts ffmpeg for files that are not MP3 (L{txradio.sources.decode}); without it they are skipped."""
    seams: SeamMaker | None = None
    """Makes crossfade seams (L{txradio.sources.seams}); without it tracks follow each other with clean cuts."""

    def __init__(
        self,
        tracks: Tracks,
        clock: IReactorTime | None = None,
        titleOf: Callable[[str], str] = readTitle,
        name: str = "",
        refuse: Callable[[FrameHeader], str | None] | None = None,
        leveller: Leveller | None = None,
    ) -> None:
        """
        @param tracks: the track list.
        @param clock: the time source for retry pauses; the global reactor
            by default.
        @param titleOf: reads a file's title (tests replace it).
        @param name: a name for the log, e.g. the mount.
        @param refuse: given a track's first frame header, the reason not
            to play the track (e.g. a format the mount does not take and
            cannot transcode), or L{None} to play it; every track plays
            when it is L{None}.
        @param leveller: evens the tracks' loudness and trims their
            silence, from measurements made ahead; L{None} plays every
            frame as it is.
        """
        if clock is None:
            from twisted.internet import reactor as clock  # type: ignore[assignment]
        self.tracks = tracks
        self.title: str | None = None
        self.path: str | None = None
        self.trackPath: str | None = None
        self.tracksPlayed = 0
        self.skipped = 0
        self.name = name
        self._clock = clock
        self._titleOf = titleOf
        self._refuse = refuse
        self._queue: deque[str] = deque()
        self._pending: deque[Frame | TitleChange] = deque()
        self._file: IO[bytes] | None = None
        self._framer = Framer()
        self._trackTitle = ""
        self._trackFrames = 0
        self._trackBytes = 0
        self._passFrames = 0
        self._format: tuple[int, int] | None = None
        self._retryAt: float | None = None
        self._reported: set[tuple[str, str]] = set()
        self._closed = False
        self._upcoming: tuple[str, str] | None = None
        self._leveller = leveller
        self._plan: TrackPlan | None = None
        self._trackTime = 0.0
        self._guard = ReservoirGuard()
        self.crossfades = 0
        self._measured: TrackPlan | None = None
        self._header: FrameHeader | None = None
        self._seam: Seam | None = None
        self._seamFor: tuple[str, bool] | None = None
        self._seamPlan: TrackPlan | None = None
        self._into: tuple[str, TrackPlan] | None = None
        self._announced: str | None = None
        self._handover: list[Frame] | None = None
        self._borrowable = bytearray()

    @property
    def onAir(self) -> bool:
        """
        Whether the list has something to play: not closed, and not waiting
        after a pass that found nothing playable.
        """
        if self._closed:
            return False
        return self._retryAt is None or self._clock.seconds() >= self._retryAt

    def pull(self, duration: float) -> list[Frame | TitleChange]:
        """
        Return about C{duration} seconds of frames; see L{IFrameSource.pull}.

        @param duration: seconds of audio wanted.
        @return: frames, with a L{TitleChange} before each track's first.
        """
        out: list[Frame | TitleChange] = []
        got = 0.0
        while got < duration:
            if not self._pending and not self._fill():
                break
            item = self._pending.popleft()
            out.append(item)
            if type(item) is Frame:
                got += item.header.duration
            else:
                self.title = item.title  # type: ignore[union-attr]
        return out

    def close(self) -> None:
        """
        Close the file being read; see L{IFrameSource.close}.
        """
        self._closed = True
        self._closeFile()
        self._pending.clear()
        if self._leveller is not None:
            self._leveller.stop()

    def skip(self) -> None:
        """
        Stop the track being played and go on with the next one (an
        operator's request).  Audio already handed to the broadcaster still
        plays; the next L{pull} starts the next track with its title.
        """
        if self._closed:
            return
        self._log.info("{name}: skipping {path} on request", name=self.name, path=self.path)
        self._closeFile()
        self._pending.clear()
        self._afterTrack()
        self._retryAt = None

    def reload(self) -> None:
        """
        Read the track list again now: the track being played finishes, then
        a new pass over the list starts (a folder is listed again, an M3U
        file read again), instead of finishing the current pass first.
        """
        if self._closed:
            return
        self._log.info("{name}: reloading the track list", name=self.name)
        self._queue.clear()
        self._retryAt = None

    def upcoming(self) -> str | None:
        """
        The title of the track that plays next, when it is known: the one
        already read ahead but not yet played, else the next file of this
        pass (a new pass, perhaps shuffled, is not known before it starts).

        @return: the title, or L{None} when not known.
        """
        for item in self._pending:
            if type(item) is TitleChange:
                return item.title
        request = self.requests.peek() if self.requests is not None else None
        if request is not None:
            return request.display
        if not self._queue:
            return None
        path = self._queue[0]
        cached = self._upcoming
        if cached is not None and cached[0] == path:
            return cached[1]
        try:
            title = self._titleOf(path)
        except Exception:
            # An unreadable file is skipped when its turn comes; until then
            # the next title is simply not known.
            return None
        self._upcoming = (path, title)
        return title

    def _fill(self) -> bool:
        """
        Read and parse the next block of audio into the pending frames.

        @return: L{False} when nothing can be played now.
        """
        for _ in range(ATTEMPTS_PER_PULL):
            if self._closed:
                return False
            if self._file is None and not self._openNext():
                return bool(self._pending)
            assert self._file is not None and self.path is not None
            try:
                data = self._file.read(READ_SIZE)
            except OSError as error:
                self._skip(self.path, f"read error: {error.strerror or error}")
                continue
            if not data and not getattr(self._file, "finished", True):
                # ffmpeg is still decoding this file: more comes later.
                return bool(self._pending)
            frames = self._framer.feed(data) if data else self._framer.flush()
            self._trackBytes += len(data)
            if frames and not self._trackFrames and self._refuse is not None:
                reason = self._refuse(frames[0].header)
                if reason is not None:
                    self._skip(self.path, reason)
                    continue
            if frames:
                if not self._trackFrames:
                    self._startTrack(frames[0])
                self._trackFrames += len(frames)
                self._passFrames += len(frames)
                frames, cut = self._beforeCut(frames)
                self._pending.extend(self._take(frames))
                if cut:
                    # The next track opens now, while the seam's last
                    # frames are still here to hand its reservoir over.
                    self._crossInto()
                    continue
                self._orderSeam(frames)
            if not data:
                self._endTrack()
            elif self._framer.freeFormat and not frames:
                # The framer ignores the rest of a free-format file.
                self._skip(self.path, "free-format MP3 is not supported")
                continue
            elif not self._trackFrames and self._trackBytes - self._framer.tagBytes > NOT_MP3_AFTER:
                self._skip(self.path, "no MPEG audio found")
                continue
            if frames and self._pending and self._handover is None:
                return True
        return bool(self._pending)

    def _openNext(self) -> bool:
        """
        Open the next playable file of the list.

        @return: L{False} when nothing can be opened now.
        """
        if self._retryAt is not None:
            if self._clock.seconds() < self._retryAt:
                return False
            self._retryAt = None
        for _ in range(ATTEMPTS_PER_PULL):
            path, into = self._crossedInto()
            if path is None:
                path = self._requested()
            if path is None:
                if not self._queue and not self._startPass():
                    return False
                path = self._queue.popleft()
            try:
                self._file = self._open(path)
            except OSError as error:
                self._skip(path, error.strerror or str(error), opened=False)
                continue
            self.path = path
            if self.requests is not None:
                self.requests.started(path)
            self._framer = Framer()
            self._trackFrames = 0
            self._trackBytes = 0
            self._trackTitle = ""
            self._startPlan(path, into)
            return True
        return False

    def _open(self, path: str) -> IO[bytes]:
        """
        Open a file for reading: an MP3 file as it is, another format
        through an ffmpeg child that decodes it.

        @param path: the file.
        @return: something to C{read} MP3 data from.
        @raise OSError: when it cannot be opened.
        """
        if formatOf(path) is None:
            return open(path, "rb")
        if self.decoders is None or self.decoders.executable is None:
            raise OSError("ffmpeg is not installed")
        return self.decoders.open(path)  # type: ignore[return-value]

    def _requested(self) -> str | None:
        """
        @return: the next listener request to play, or L{None}.
        """
        return None if self.requests is None else self.requests.take()

    def _startPlan(self, path: str, into: TrackPlan | None = None) -> None:
        """
        A track opens: take its gain and trim from the leveller, if it was
        measured, and have the next tracks measured while it plays.

        @param path: the track.
        @param into: its plan when a crossfade seam led into it (its frames
            resume where the seam ends), else L{None}.
        """
        self._plan = None
        self._measured = None
        self._seamFor = None
        if into is None:
            self._handover = None
        self._trackTime = 0.0
        self._guard.reset()
        leveller = self._leveller
        if leveller is None:
            return
        plan = into if into is not None else leveller.planFor(path)
        self._measured = plan
        if plan is None:
            self._log.debug("{name}: {path} is not measured yet; it plays unchanged", name=self.name, path=path)
        elif plan.steps or plan.trims:
            self._plan = plan
        # This track too: it is measured for its next turn if not now.
        leveller.prepare([path, *list(self._queue)[: leveller.lookahead]])

    def _take(self, frames: list[Frame]) -> list[Frame]:
        """
        The track's next frames as they play: shaped by its plan, if it has
        one.

        @param frames: the track's next frames, in order.
        @return: the frames to play.
        """
        if self._plan is not None:
            return self._shape(frames)
        self._trackTime += sum(frame.header.duration for frame in frames)
        return frames

    def _shape(self, frames: list[Frame]) -> list[Frame]:
        """
        Apply the track's plan to its next frames: drop those outside the
        span kept, and change the level of the rest.

        @param frames: the track's next frames, in order.
        @return: the frames to play.
        """
        plan = self._plan
        assert plan is not None
        out = []
        start = self._trackTime
        keepFrom, keepUntil, steps = plan.keepFrom, plan.keepUntil, plan.steps
        for frame in frames:
            duration = frame.header.duration
            end = start + duration
            if end > keepFrom and (keepUntil is None or start < keepUntil):
                if self._handover is not None:
                    self._handOver(frame)
                if keepFrom:
                    # The first frames kept may borrow audio data from the
                    # dropped ones: the guard silences those that do.
                    frame = self._guard.check(frame)
                out.append(applyGain(frame, steps))
            elif self._handover is not None and frame.header.layer == 3:
                self._borrowable += frame.data[len(frame.data) - mainDataSize(frame) :]
                del self._borrowable[: -ReservoirGuard.LIMIT]
            start = end
        self._trackTime = start
        return out

    def _handOver(self, first: Frame) -> None:
        """
        The first frame of the track a seam led into is read: if it borrows
        audio data from the frames the seam replaced, repack the seam's
        last frames (still waiting to be pulled) to end with those bytes,
        so that nothing of it is silenced.

        @param first: the track's first frame kept.
        """
        tail, borrowable = self._handover, bytes(self._borrowable)
        self._handover, self._borrowable = None, bytearray()
        assert tail is not None
        pending = self._pending
        count = len(tail)
        borrowed = mainDataBegin(first) if first.header.layer == 3 else 0
        if not borrowed or borrowed > len(borrowable) or len(pending) < count:
            return
        if any(pending[len(pending) - count + index] is not frame for index, frame in enumerate(tail)):
            return  # already pulled (the track was slow to open)
        repacked = handOver(tail, borrowable[-borrowed:])
        if repacked is None:
            return
        for _ in tail:
            pending.pop()
        pending.extend(repacked)
        self._guard.reset(borrowed)

    def _peekRequest(self) -> str | None:
        """
        @return: the listener request that plays next, or L{None}.
        """
        request = None if self.requests is None else self.requests.peek()
        return None if request is None else request.path

    def _nextPath(self) -> tuple[str, bool] | None:
        """
        @return: the track that plays next and whether it is a request, or
            L{None} when not known yet.
        """
        requested = self._peekRequest()
        if requested is not None:
            return requested, True
        return (self._queue[0], False) if self._queue else None

    def _orderSeam(self, frames: list[Frame]) -> None:
        """
        Have the crossfade into the next track made while this one plays,
        once both are measured and the next one is known.

        @param frames: the track's frames just read: without a bitrate of
            its own, the mount's seams take their highest (a VBR track's
            first frame may be far below its usual bitrate).
        """
        maker, leveller = self.seams, self._leveller
        if maker is None or leveller is None or self._seam is not None or self.path is None:
            return
        if not self._queue and self._peekRequest() is None:
            # The end of a pass: the next one is chosen now rather than
            # when this track ends, so its first track is known.
            self._startPass(ahead=True)
        upcoming = self._nextPath()
        if upcoming is None or upcoming == self._seamFor or self._header is None:
            return
        outgoing = self._measured or _unchanged(leveller.planFor(self.path))
        if outgoing is None:
            return
        self._measured = outgoing
        incoming = leveller.planFor(upcoming[0])
        if incoming is None:
            return  # not measured yet: asked again at the next block
        self._seamFor = upcoming
        header = self._header
        bitrate = maker.bitrate or max((frame.header.bitrate for frame in frames), default=header.bitrate)
        audioFormat = SeamFormat(header.sampleRate, header.channels, bitrate, header.samples)
        spans = [_span(path, plan) for path, plan in ((self.path, outgoing), (upcoming[0], incoming))]
        if spans[0] is None or spans[1] is None:
            return
        plan = planSeam(spans[0], spans[1], maker.seconds, audioFormat, played=self._trackTime)
        if plan is None:
            self._log.debug("{name}: no room for a crossfade into {path}", name=self.name, path=upcoming[0])
            return
        self._seamPlan = incoming
        self._seam = maker.make(plan)

    def _beforeCut(self, frames: list[Frame]) -> tuple[list[Frame], bool]:
        """
        Find where the track's frames give way to its crossfade seam, if it
        has one.  When the cut is reached and the seam is not ready (or the
        next track is no longer the one it was made for), the track plays
        on: a clean cut, with a log line.

        @param frames: the track's next frames, in order.
        @return: the frames before the cut, and whether the cut was reached
            with the seam ready to play.
        """
        seam = self._seam
        if seam is None:
            return frames, False
        at, index, cut = self._trackTime, 0, seam.plan.cut - 1e-6
        while index < len(frames) and at < cut:
            at += frames[index].header.duration
            index += 1
        if at < cut:
            return frames, False
        incoming = seam.plan.incoming.path
        if not self._stillNext():
            self._log.info("{name}: the next track changed; no crossfade into {path}", name=self.name, path=incoming)
        elif not seam.ready:
            if seam.failure is None:
                self._log.warn(
                    "{name}: the crossfade into {path} was not ready in time; a clean cut plays",
                    name=self.name,
                    path=incoming,
                )
        else:
            return frames[:index], True
        seam.cancel()
        self._seam = None
        return frames, False

    def _stillNext(self) -> bool:
        """
        @return: whether the track the seam was made for still plays next:
            a request that came in later waits until after it.
        """
        assert self._seamFor is not None
        path, requested = self._seamFor
        if requested:
            return self._peekRequest() == path
        return bool(self._queue) and self._queue[0] == path

    def _crossInto(self) -> None:
        """
        The cut is reached: queue the seam's frames, with the next track's
        title in their middle, and have the next track open where the seam
        ends.
        """
        seam, incoming, upcoming = self._seam, self._seamPlan, self._seamFor
        assert seam is not None and seam.frames is not None and incoming is not None and upcoming is not None
        self._seam = None
        plan = seam.plan
        path, requested = upcoming
        if requested:
            assert self.requests is not None
            self.requests.take()
        else:
            self._queue.popleft()
        try:
            title = self._titleOf(path)
        except Exception:
            self._log.failure("reading the title of {path}", path=path)
            title = ""
        self._pending.extend(seam.frames[: plan.titleAt])
        self._pending.append(TitleChange(title))
        self._pending.extend(seam.frames[plan.titleAt :])
        self.crossfades += 1
        self._closeFile()
        self._afterTrack()
        # The seam ends where the next track's own frames resume; the
        # guard silences those that borrow from frames not sent.
        # A hair past the boundary, so that a sum of frame durations that
        # falls just past it does not keep the frame ending there.
        self._into = (path, replace(incoming, keepFrom=plan.resume + 1e-6))
        self._handover = seam.frames[-HANDOVER_FRAMES:]

    def _crossedInto(self) -> tuple[str | None, TrackPlan | None]:
        """
        @return: the track a seam just led into, with its plan, or
            C{(None, None)}.
        """
        into, self._into = self._into, None
        if into is None:
            self._announced = None
            return None, None
        self._announced = into[0]
        return into

    def _startPass(self, ahead: bool = False) -> bool:
        """
        Begin a new pass over the track list.

        @param ahead: whether it is chosen while the last track of the pass
            before still plays (for a crossfade); if it fails, nothing is
            said or paused then: the next track's turn tries again.
        @return: L{False} (and a pause before the next try) when the list has
            nothing to play.
        """
        try:
            paths = self.tracks.nextPass()
        except NoTracks as error:
            if not ahead:
                self._report("tracks", str(error))
                self._pause()
            return False
        if self.decoders is None or self.decoders.executable is None:
            paths = self._withoutDecoding(paths)
            if not paths:
                if not ahead:
                    self._pause()
                return False
        self._queue.extend(paths)
        if any(key == "tracks" for key, _ in self._reported):
            self._log.info("{name}: {count} tracks to play again", name=self.name, count=len(paths))
            self._reported = {entry for entry in self._reported if entry[0] != "tracks"}
        return True

    def _withoutDecoding(self, paths: list[str]) -> list[str]:
        """
        Without ffmpeg, leave out the files it would decode, saying so once
        per format.

        @param paths: a pass over the list.
        @return: the files that play as they are.
        """
        for name, count in sorted(countSkipped(paths).items()):
            if ("format", name) not in self._reported:
                self._reported.add(("format", name))
                self._log.warn(
                    "{name}: {count} {kind} file(s) skipped: ffmpeg is not installed",
                    name=self.name,
                    count=count,
                    kind=name,
                )
        kept = [path for path in paths if formatOf(path) is None]
        if not kept:
            self._report("tracks", "no MP3 files, and ffmpeg, which would play the others, is not installed")
        return kept

    def _pause(self) -> None:
        """
        Wait L{RETRY_DELAY} seconds before trying the list again.
        """
        self._retryAt = self._clock.seconds() + RETRY_DELAY

    def _startTrack(self, first: Frame) -> None:
        """
        A file produced its first frame: announce its title.

        @param first: the track's first frame.
        """
        assert self.path is not None
        try:
            title = self._titleOf(self.path)
        except Exception:
            self._log.failure("reading the title of {path}", path=self.path)
            title = ""
        self._trackTitle = title
        self.trackPath = self.path
        if self._announced != self.path:
            self._pending.append(TitleChange(title))
        self._announced = None
        self.tracksPlayed += 1
        header = first.header
        self._header = header
        audioFormat = (header.sampleRate, header.channels)
        if self._format is not None and audioFormat != self._format:
            self._log.warn(
                "{name}: {path} is {rate} Hz with {channels} channel(s), unlike the "
                "track before ({previousRate} Hz, {previousChannels}); some players "
                "stutter when the format changes",
                name=self.name,
                path=self.path,
                rate=audioFormat[0],
                channels=audioFormat[1],
                previousRate=self._format[0],
                previousChannels=self._format[1],
            )
        self._format = audioFormat

    def _endTrack(self) -> None:
        """
        The file is finished: close it, or report it if it held no audio.
        """
        path = self.path
        played = self._trackFrames
        freeFormat = self._framer.freeFormat
        failure = getattr(self._file, "failure", None)
        self._closeFile()
        if path is not None and not played:
            if failure:
                reason = failure
            elif freeFormat:
                reason = "free-format MP3 is not supported"
            elif not self._trackBytes:
                reason = "the file is empty"
            else:
                reason = "no MPEG audio found"
            self._report(path, reason)
            self.skipped += 1
        self._afterTrack()

    def _skip(self, path: str, reason: str, opened: bool = True) -> None:
        """
        Give up on a file and log why.

        @param path: the file.
        @param reason: why it cannot be played.
        @param opened: whether it is the file now open.
        """
        if opened:
            self._closeFile()
        self._report(path, reason)
        self.skipped += 1
        self._afterTrack()

    def _afterTrack(self) -> None:
        """
        A file is done with; at the end of a pass that played nothing at
        all, pause rather than spin through the list again.
        """
        if self._queue:
            return
        if not self._passFrames:
            self._pause()
        self._passFrames = 0

    def _report(self, key: str, reason: str) -> None:
        """
        Log a problem once per file and cause.

        @param key: the file (or C{"tracks"} for the list itself).
        @param reason: the cause.
        """
        if (key, reason) in self._reported:
            return
        self._reported.add((key, reason))
        if key == "tracks":
            self._log.warn("{name}: nothing to play: {reason}", name=self.name, reason=reason)
        else:
            self._log.warn("{name}: skipping {path}: {reason}", name=self.name, path=key, reason=reason)

    def _closeFile(self) -> None:
        """
        Close the file being read, if any.
        """
        if self._file is not None:
            with suppress(OSError):
                self._file.close()
        self._file = None
        self.path = None
        self._into = None
        if self._seam is not None:
            self._seam.cancel()
            self._seam = None


def _span(path: str, plan: TrackPlan) -> TrackSpan | None:
    """
    @param path: a track.
    @param plan: its plan.
    @return: what the crossfade planner needs of it, or L{None} when its
        end is not known.
    """
    end = plan.keepUntil if plan.keepUntil is not None else plan.duration
    if end is None:
        return None
    return TrackSpan(path, plan.keepFrom, end, plan.steps * STEP_DB, plan.loudness)


def _unchanged(plan: TrackPlan | None) -> TrackPlan | None:
    """
    A track measured only after it started plays unchanged, but it can
    still fade into the next one where its audio ends.

    @param plan: its plan, or L{None} when it is still not measured.
    @return: the plan it plays by: no gain, nothing dropped at the start.
    """
    if plan is None:
        return None
    loudness = None if plan.loudness is None else plan.loudness - plan.steps * STEP_DB
    return replace(plan, steps=0, keepFrom=0.0, loudness=loudness)
