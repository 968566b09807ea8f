# -*- test-case-name: tests.test_transcode -*-
"""
Keeping a mount's format: a source that wraps another and hands on its
frames untouched when they have the mount's format, and otherwise sends
them through an encoder (L{txradio.sources.encoder.EncoderProcess}) or drops them.

The same class makes derived mounts: wrapped around a
L{txradio.stream.switcher.MountFollower} of the parent mount with the
policy L{ALWAYS}, it re-encodes the parent's stream at another bitrate.

Titles cross the encoder with its delay accounted for: a L{TitleChange} that
arrived before the input audio at second I of an encoder run is handed on
before the first output frame that starts at or after second I plus the
encoder delay (L{txradio.wire.audioformat.ENCODER_DELAY_SAMPLES}), which is where
the new title's audio begins in the output.

An encoder adds latency, so while one is in use the source reads its inner
source ahead of demand (L{LOOKAHEAD} seconds) and keeps what is ready in
order: runs of passed frames and encoder runs, one after another.
"""

from __future__ import annotations

from collections import deque

from twisted.internet.defer import Deferred, succeed
from twisted.internet.error import ProcessDone
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from zope.interface import implementer

from txradio.interfaces import IEncoder, IFrameSource, IStandby
from txradio.sources.encoder import (
    PRIME_FRAMES,
    Backoff,
    EncoderProcess,
    EncoderSettings,
)
from txradio.wire.audioformat import DEFAULT_ENCODE_BITRATE, PASS, SKIP, TRANSCODE, AudioFormat, decide
from txradio.wire.mp3 import Frame, silentFrame
from txradio.wire.programme import TitleChange, moveFrames

ALWAYS = "always"
"""Encode everything (a derived mount), whatever its format."""

LOOKAHEAD = 2.0
"""Seconds of audio read from the inner source ahead of demand while an
encoder is in use, so that the encoder's latency never starves a pull."""

HEALTHY_AFTER = 10.0
"""Seconds of audio an encoder run must produce before its restarts are
counted from scratch again."""

_MAX_INNER_PULLS = 64
"""Inner pulls at most per pull, so an inner source that returns only
marks can never spin."""


class _Segment:
    """
    A stretch of the output, in order: frames passed on as they came, or
    the output of one encoder run.

    @ivar items: frames and marks ready to be handed on.
    @ivar closed: whether nothing more will be added.
    @ivar process: the encoder, for an encoder run; L{None} for passed
        frames.
    @ivar marks: C{(input seconds, title)} of titles not yet placed in the
        output.
    @ivar inputKind: C{(sampleRate, channels)} of the run's input.
    @ivar backlog: frames not yet written because the child's pipe is full.
    @ivar abandoned: whether the run was stopped on purpose (its end is no
        failure).
    """

    def __init__(self, process: EncoderProcess | None = None, inputKind: tuple[int, int] | None = None) -> None:
        self.items: deque = deque()
        self.closed = False
        self.process = process
        self.marks: deque[tuple[float, str]] = deque()
        self.inputKind = inputKind
        self.inputSeconds = 0.0
        self.outputSeconds = 0.0
        self.framesIn = 0
        self.backlog: list[Frame] = []
        self.abandoned = False

    @property
    def ready(self) -> float:
        """
        Seconds of audio ready in L{items}.
        """
        return sum(item.header.duration for item in self.items if type(item) is Frame)

    @property
    def inFlight(self) -> float:
        """
        Seconds of audio given to the encoder (or waiting to be) and not yet
        back.
        """
        if self.process is None or self.closed:
            return 0.0
        return self.process.pending + sum(frame.header.duration for frame in self.backlog)


@implementer(IEncoder)
class TranscodingSource:
    """
    Frames of one format from a source of any format.

    @ivar inner: the wrapped L{IFrameSource}.
    @ivar encoderSettings: the L{EncoderSettings} every encoder run gets: the
        format handed on, the program, the watchdog period and the log name.
    @ivar policy: what happens to frames of another format: L{TRANSCODE}
        (through an encoder), L{SKIP} (dropped), or L{ALWAYS} (every frame
        goes through the encoder, for a derived mount).
    @ivar encoderAvailable: whether the encoder program can be run; without
        it L{TRANSCODE} acts as L{SKIP}.
    @ivar title: the title most recently returned.
    @ivar restarts: encoder runs that failed (crashed, hung, fell behind).
    @ivar silentSeconds: seconds of silence played while an encoder waited
        to be restarted.
    @ivar yieldsToFallback: whether a derived mount goes off the air while
        its encoder waits to be restarted, so that its fallback plays; set
        by L{txradio.stream.station.Station.setFallback}.  Without a fallback it
        plays silence meanwhile.
    @ivar runs: encoder runs started.
    @ivar framesDropped: input frames dropped (skipped, or while an encoder
        was being restarted).
    """

    _log = Logger()

    def __init__(
        self,
        inner: IFrameSource,
        encoderSettings: EncoderSettings,
        policy: str = TRANSCODE,
        reactor=None,
        clock: IReactorTime | None = None,
        encoderAvailable: bool = True,
        lookahead: float = LOOKAHEAD,
        backoff: Backoff | None = None,
    ) -> None:
        """
        @param inner: the source to read.
        @param encoderSettings: the L{EncoderSettings} every encoder run
            gets: the format to hand on, the program, the watchdog period
            and the log name.
        @param policy: L{TRANSCODE}, L{SKIP} or L{ALWAYS}.
        @param reactor: the C{IReactorProcess} encoders are spawned with;
            the global reactor by default (looked up when first needed).
        @param clock: the time for backoff and watchdogs; C{reactor} by
            default.
        @param encoderAvailable: whether it can be run.
        @param lookahead: seconds read ahead while encoding.
        @param backoff: spaces encoder restarts; a default L{Backoff} if
            L{None}.
        @raise ValueError: for an unknown policy.
        """
        if policy not in (TRANSCODE, SKIP, ALWAYS):
            raise ValueError(f"policy must be {TRANSCODE}, {SKIP} or {ALWAYS}, not {policy!r}")
        self.inner = inner
        self.encoderSettings = encoderSettings
        self.policy = policy
        self.encoderAvailable = encoderAvailable
        self.lookahead = lookahead
        self.title: str | None = None
        self.restarts = 0
        self.yieldsToFallback = False
        self.silentSeconds = 0.0
        self._silence: Frame | None = None
        self.runs = 0
        self.framesDropped = 0
        self._reactor = reactor
        self._clock = clock if clock is not None else reactor
        self._backoff = backoff if backoff is not None else Backoff()
        self._segments: deque[_Segment] = deque()
        self._run: _Segment | None = None
        self._decision: str | None = None
        self._lastKind: tuple[int, int] | None = None
        self._heldTitles: list[TitleChange] = []
        self._restartAt: float | None = None
        self._closed = False
        self._running: set[EncoderProcess] = set()
        self._idleWaiters: list[Deferred] = []

    @property
    def outputFormat(self) -> AudioFormat:
        """
        The format handed on.
        """
        return self.encoderSettings.outputFormat

    @property
    def name(self) -> str:
        """
        A name for logs.
        """
        return self.encoderSettings.name

    # -- state ------------------------------------------------------------

    def _now(self) -> float:
        """
        @return: the clock's time.
        """
        if self._clock is None:
            from twisted.internet import reactor

            self._clock = reactor
        return self._clock.seconds()

    @property
    def backingOff(self) -> bool:
        """
        Whether an encoder failed and the next may not start yet.
        """
        return self._restartAt is not None and self._now() < self._restartAt

    @property
    def onAir(self) -> bool:
        """
        Whether there is audio to hand on: the inner source is on air and,
        for a derived mount, its encoder is not waiting to be restarted
        (the mount's fallback plays meanwhile).
        """
        if self._closed:
            return False
        if self.policy == ALWAYS and self.backingOff and self.yieldsToFallback:
            return False
        return bool(self.inner.onAir)

    @property
    def encoding(self) -> bool:
        """
        Whether an encoder is running for this source now.
        """
        return any(s.process is not None and not s.process.ended for s in self._segments)

    @property
    def processes(self) -> list[EncoderProcess]:
        """
        The encoder processes running now.
        """
        return [process for process in self._running if not process.ended]

    def whenIdle(self) -> Deferred:
        """
        Wait until no encoder process runs (after L{close}, until the killed
        children have been reaped).

        @return: a L{Deferred} firing with L{None}.
        """
        if not self._running:
            return succeed(None)
        d: Deferred = Deferred()
        self._idleWaiters.append(d)
        return d

    # -- IFrameSource -----------------------------------------------------

    def pull(self, duration: float) -> list:
        """
        Hand on what is ready, up to about C{duration} seconds; see
        L{IFrameSource.pull}.

        @param duration: seconds wanted.
        @return: frames of L{outputFormat} and title marks.
        """
        if self._closed:
            return []
        self._flushBacklog()
        self._readAhead(duration)
        out: list = []
        got = 0.0
        segments = self._segments
        while segments and got < duration:
            segment = segments[0]
            items = segment.items
            moved, title = moveFrames(items, duration - got, out)
            got += moved
            if title is not None:
                self.title = title
            if items:
                break
            if segment.closed:
                segments.popleft()
                continue
            break
        if got < duration and self.backingOff:
            got += self._fillWithSilence(duration - got, out)
        return out

    def _fillWithSilence(self, duration: float, out: list) -> float:
        """
        Keep listeners' players fed while the encoder waits to restart:
        silence in the mount's format, so that nothing stalls, no player
        gives up, and the programme's time goes on as on a radio.

        @param duration: seconds to fill.
        @param out: where the frames go.
        @return: the seconds filled.
        """
        frame = self._silence
        if frame is None:
            audio = self.outputFormat
            frame = self._silence = silentFrame(
                audio.sampleRate, audio.channels, audio.bitrate or DEFAULT_ENCODE_BITRATE
            )
        filled = 0.0
        step = frame.header.duration
        while filled < duration:
            out.append(frame)
            filled += step
        self.silentSeconds += filled
        return filled

    def standby(self) -> None:
        """
        No longer played (a switcher chose another source): stop the
        encoders, forget what was read ahead, and let the inner source stand
        by too.
        """
        self._abandon()
        if IStandby.providedBy(self.inner):
            self.inner.standby()

    def close(self) -> None:
        """
        Stop every encoder and close the inner source; see
        L{IFrameSource.close}.
        """
        if self._closed:
            return
        self._closed = True
        self._abandon()
        self.inner.close()

    def _abandon(self) -> None:
        """
        Kill every encoder run and drop everything queued.
        """
        for segment in self._segments:
            if segment.process is not None and not segment.process.ended:
                segment.abandoned = True
                segment.process.kill()
        self._segments.clear()
        self._run = None
        self._decision = None
        self._lastKind = None
        self._heldTitles = []

    # -- reading ----------------------------------------------------------

    def _readAhead(self, duration: float) -> None:
        """
        Pull the inner source until C{duration} seconds (plus L{lookahead}
        while an encoder is in use) are ready or in flight.

        @param duration: seconds wanted now.
        """
        for _ in range(_MAX_INNER_PULLS):
            encoding = any(s.process is not None and not s.closed for s in self._segments)
            target = duration + (self.lookahead if encoding else 0.0)
            have = sum(s.ready + s.inFlight for s in self._segments)
            run = self._run
            if run is not None and run.backlog:
                return
            # ffmpeg gives nothing back until it has probed some frames:
            # feed a new run that many, however short they are.
            priming = run is not None and run.outputSeconds == 0 and run.framesIn < PRIME_FRAMES
            if have >= target and not priming:
                return
            items = self.inner.pull(max(target - have, 0.05))
            if not items:
                return
            self._route(items)

    def _route(self, items: list) -> None:
        """
        Send pulled items where their format says.

        @param items: frames and marks from the inner source.
        """
        for item in items:
            if type(item) is not Frame:
                self._heldTitles.append(item)
                self._decision = None
                continue
            header = item.header
            kind = (header.sampleRate, header.channels)
            if self._decision is None or kind != self._lastKind:
                self._decide(item)
            self._lastKind = kind
            decision = self._decision
            if decision == PASS:
                segment = self._passSegment()
                segment.items.extend(self._heldTitles)
                segment.items.append(item)
            elif decision == TRANSCODE and not self.backingOff:
                segment = self._encodeSegment(kind)
                if segment is None:
                    self.framesDropped += 1
                    continue
                for mark in self._heldTitles:
                    segment.marks.append((segment.inputSeconds, mark.title))
                segment.backlog.append(item)
                segment.inputSeconds += header.duration
                segment.framesIn += 1
            else:
                self.framesDropped += 1
                if decision == SKIP:
                    # A skipped run's titles are not announced.
                    self._heldTitles = []
                continue
            self._heldTitles = []
        self._flushBacklog()

    def _decide(self, frame: Frame) -> None:
        """
        Choose what happens to the run of audio that starts with C{frame},
        logging a change from passing.

        @param frame: the first frame after a title change or a change of
            sample rate or channels.
        """
        if self.policy == ALWAYS:
            decision = TRANSCODE
        else:
            decision = decide(frame.header, self.outputFormat, self.policy, self.encoderAvailable)
        if decision != PASS:
            header = frame.header
            action = "transcoding it" if decision == TRANSCODE else "skipping it"
            if self.policy != ALWAYS:
                self._log.info(
                    "{name}: {title!r} is {rate} Hz, {channels} channel(s), {bitrate} kbps, not the mount's "
                    "{mountFormat}: {action}",
                    name=self.name,
                    title=self._heldTitles[-1].title if self._heldTitles else self.title,
                    rate=header.sampleRate,
                    channels=header.channels,
                    bitrate=header.bitrate,
                    mountFormat=self.outputFormat.describe(),
                    action=action,
                )
        self._decision = decision

    def _passSegment(self) -> _Segment:
        """
        @return: an open segment of passed frames at the end of the queue,
            after finishing any encoder run.
        """
        self._finishRun()
        if self._segments and self._segments[-1].process is None and not self._segments[-1].closed:
            return self._segments[-1]
        segment = _Segment()
        self._segments.append(segment)
        return segment

    def _encodeSegment(self, kind: tuple[int, int]) -> _Segment | None:
        """
        @param kind: the input's C{(sampleRate, channels)}.
        @return: the encoder run to feed, a new one if the input's format
            changed, or L{None} when no encoder can be started.
        """
        run = self._run
        if run is not None and not run.closed and run.inputKind == kind and not run.process.ended:
            return run
        self._finishRun()
        if self._segments and self._segments[-1].process is None:
            self._segments[-1].closed = True
        process = EncoderProcess(
            self._processReactor(),
            self.encoderSettings,
            onFrames=lambda frames: None,
            onEnded=self._ended,
            clock=self._clock,
        )
        segment = _Segment(process, kind)
        process._onFrames = lambda frames, segment=segment: self._encoded(segment, frames)
        self._segments.append(segment)
        self._run = segment
        self.runs += 1
        self._running.add(process)
        process.start()
        if process.ended:
            # It could not even be spawned; _ended has dealt with it.
            return None
        return segment

    def _processReactor(self):
        """
        @return: the reactor to spawn encoders with.
        """
        if self._reactor is None:
            from twisted.internet import reactor

            self._reactor = reactor
            if self._clock is None:
                self._clock = reactor
        return self._reactor

    def _finishRun(self) -> None:
        """
        The current encoder run gets no more input: let it flush and exit.
        """
        run, self._run = self._run, None
        if run is not None and run.process is not None:
            self._flushRun(run)
            if not run.backlog:
                run.process.finish()

    def _flushBacklog(self) -> None:
        """
        Write waiting frames to encoders whose pipes have room, and close
        the input of finished runs once their backlog is written.
        """
        for segment in self._segments:
            if segment.process is None or not segment.backlog:
                continue
            self._flushRun(segment)
            if segment is not self._run and not segment.backlog:
                segment.process.finish()

    def _flushRun(self, segment: _Segment) -> None:
        """
        Write a run's backlog unless its pipe is full.

        @param segment: an encoder run.
        """
        process = segment.process
        assert process is not None
        if process.ended:
            segment.backlog = []
            return
        if segment.backlog and not process.paused:
            frames, segment.backlog = segment.backlog, []
            process.write(frames)

    # -- encoder output ---------------------------------------------------

    def _encoded(self, segment: _Segment, frames: list[Frame]) -> None:
        """
        Output from a run's encoder: place titles by the encoder delay and
        queue the frames.

        @param segment: the run.
        @param frames: whole output frames.
        """
        delay = self.outputFormat.delay
        items = segment.items
        for frame in frames:
            position = segment.outputSeconds
            # A title at the very start of a run covers its first frame,
            # encoder priming included; later ones wait for the delay.
            while segment.marks and (
                segment.marks[0][0] <= 0.0 or segment.marks[0][0] + delay <= position + 1e-9
            ):
                items.append(TitleChange(segment.marks.popleft()[1]))
            items.append(frame)
            segment.outputSeconds = position + frame.header.duration
        if segment.outputSeconds >= HEALTHY_AFTER and self._backoff.failures:
            self._backoff.succeeded()

    def _ended(self, process: EncoderProcess, reason: Failure) -> None:
        """
        A run's encoder exited: close its segment, and on a failure wait
        before the next one starts.

        @param process: the encoder.
        @param reason: why it exited.
        """
        self._running.discard(process)
        if not self._running:
            waiters, self._idleWaiters = self._idleWaiters, []
            for d in waiters:
                d.callback(None)
        segment = next((s for s in self._segments if s.process is process), None)
        if segment is None or segment.abandoned:
            return
        segment.closed = True
        segment.backlog = []
        # Titles that never reached the output still apply after it.
        while segment.marks:
            segment.items.append(TitleChange(segment.marks.popleft()[1]))
        if self._run is segment:
            self._run = None
            self._decision = None
        if reason.check(ProcessDone) and process.failure is None:
            return
        self.restarts += 1
        delay = self._backoff.failed()
        self._restartAt = self._now() + delay
        self._log.warn(
            "{name}: the encoder stopped ({why}) after {seconds:.1f} s of audio; the next starts in {delay:.1f} s",
            name=self.name,
            why=process.failure or reason.getErrorMessage(),
            seconds=segment.outputSeconds,
            delay=delay,
        )
