# -*- test-case-name: tests.test_encoder -*-
"""
The encoder: Debian's C{ffmpeg} as a child process that decodes MP3 frames
on its standard input and writes MP3 frames of a mount's format on its
standard output.

The reactor never encodes: L{EncoderProcess} is a L{ProcessProtocol} started
with C{reactor.spawnProcess}, so the encoding runs on another core.  Frames
are written to the child's stdin (the caller bounds how much audio is in
flight, and the process transport's producer callbacks say when its pipe is
full); stdout is parsed with L{txradio.wire.mp3.Framer} back into whole frames.
A watchdog kills a child that takes input but gives nothing back, or gives
back much less than real time; L{Backoff} spaces the restarts.

One process per encoded stream: ffmpeg can write several outputs from one
decode (C{pipe:3}, C{pipe:4}…), but each derived mount is paced by its own
broadcaster, and a shared process would tie their failures together.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from twisted.application.internet import backoffPolicy
from twisted.internet.error import ProcessExitedAlready
from twisted.internet.interfaces import IReactorTime
from twisted.internet.protocol import ProcessProtocol
from twisted.logger import Logger
from twisted.python.failure import Failure

from txradio.wire.audioformat import AudioFormat
from txradio.wire.mp3 import Frame, Framer

DEFAULT_EXECUTABLE = "ffmpeg"
"""The encoder program, looked up on C{PATH}."""

HANG_TIMEOUT = 5.0
"""Seconds between watchdog checks; a child that gives back nothing in one
period while it holds input is killed."""

PRIME_FRAMES = 80
"""
Input frames ffmpeg may hold before its first output: it probes about 50
to 60 frames (measured with ffmpeg 5.1: 52 at 320 kbps 44.1 kHz, 61 at
32 kbps 22.05 kHz; 1.2 to 1.6 s, and more at 8 to 12 kHz, whose frames are
shorter) before it decodes anything.  Fewer than this fed is never a hang.
"""

HELD = 0.5
"""Seconds of audio an encoder that has started may hold (LAME keeps a
frame or two) without being hung."""

MIN_SPEED = 0.5
"""A child that encodes less than this many seconds of audio per second
while it has input waiting is falling behind and is restarted."""

STDERR_KEPT = 2048
"""Bytes of the child's error output kept for the log."""


def encoderArguments(outputFormat: AudioFormat) -> list[str]:
    """
    The ffmpeg arguments for one MP3-to-MP3 encode through pipes.

    No ID3 tag and no Xing/Info frame (they are not audio, and must not
    appear mid-stream), and every packet is written as soon as it is made.

    @param outputFormat: the format to produce.
    @return: the arguments, without the program name.
    """
    return [
        "-hide_banner",
        "-nostats",
        "-loglevel",
        "error",
        "-f",
        "mp3",
        "-i",
        "pipe:0",
        "-map",
        "0:a",
        "-c:a",
        "libmp3lame",
        "-b:a",
        f"{outputFormat.encodeBitrate}k",
        "-ar",
        str(outputFormat.sampleRate),
        "-ac",
        str(outputFormat.channels),
        "-id3v2_version",
        "0",
        "-write_xing",
        "0",
        "-flush_packets",
        "1",
        "-f",
        "mp3",
        "pipe:1",
    ]


class Backoff:
    """
    How long to wait before the next restart: L{backoffPolicy} over the
    failures since the last success.

    @ivar failures: failures since the last L{succeeded}.
    """

    def __init__(
        self,
        initialDelay: float = 1.0,
        maxDelay: float = 60.0,
        factor: float = 2.0,
        jitter: Callable[[], float] | None = None,
    ) -> None:
        """
        @param initialDelay: seconds before the first restart.
        @param maxDelay: the longest wait, in seconds.
        @param factor: how much longer each wait is than the one before.
        @param jitter: seconds added to each wait (random by default; tests
            pass C{lambda: 0}).
        """
        kwargs = {} if jitter is None else {"jitter": jitter}
        self._policy = backoffPolicy(initialDelay, maxDelay, factor, **kwargs)
        self.failures = 0

    def failed(self) -> float:
        """
        Count a failure.

        @return: the seconds to wait before trying again.
        """
        delay = self._policy(self.failures)
        self.failures += 1
        return delay

    def succeeded(self) -> None:
        """
        The thing works again: the next failure waits the shortest time.
        """
        self.failures = 0


@dataclass(frozen=True, slots=True)
class EncoderSettings:
    """
    What every encoder run of a mount is asked to do.

    @ivar outputFormat: the format to produce.
    @ivar executable: the ffmpeg program.
    @ivar hangTimeout: seconds between watchdog checks.
    @ivar name: a name for logs, e.g. the mount.
    """

    outputFormat: AudioFormat
    executable: str = DEFAULT_EXECUTABLE
    hangTimeout: float = HANG_TIMEOUT
    name: str = ""


class EncoderProcess(ProcessProtocol):
    """
    One ffmpeg child process encoding MP3 frames into another format.

    @ivar settings: the L{EncoderSettings} it runs with.
    @ivar inputSeconds: seconds of audio written to it.
    @ivar outputSeconds: seconds of audio it gave back.
    @ivar ended: whether the child has exited.
    @ivar paused: whether its stdin pipe is full (the transport paused us).
    @ivar failure: why it was killed (C{"hung"}, C{"fell behind"}), or
        L{None}.
    @ivar stderr: the last bytes it wrote to its error output.
    """

    _log = Logger()

    def __init__(
        self,
        reactor,
        settings: EncoderSettings,
        onFrames: Callable[[list[Frame]], None],
        onEnded: Callable[[EncoderProcess, Failure], None],
        clock: IReactorTime | None = None,
    ) -> None:
        """
        @param reactor: an C{IReactorProcess} to spawn with.
        @param settings: the format, program, watchdog period and log name.
        @param onFrames: called with each batch of whole output frames.
        @param onEnded: called once, with this object and the reason, when
            the child has exited (or could not be started).
        @param clock: the time for the watchdog; C{reactor} by default.
        """
        self._reactor = reactor
        self._clock = clock if clock is not None else reactor
        self.settings = settings
        self._onFrames = onFrames
        self._onEnded = onEnded
        self.inputSeconds = 0.0
        self.outputSeconds = 0.0
        self.framesIn = 0
        self.ended = False
        self.paused = False
        self.failure: str | None = None
        self.stderr = b""
        self._framer = Framer()
        self._watchdog = None
        self._checkedOutput = 0.0
        self._stdinClosed = False

    @property
    def args(self) -> list[str]:
        """
        The whole command line, program first.
        """
        return [self.settings.executable, *encoderArguments(self.settings.outputFormat)]

    def start(self) -> None:
        """
        Spawn the child.  A failure to spawn is reported through C{onEnded}
        like a crash.
        """
        try:
            self._reactor.spawnProcess(
                self,
                self.settings.executable,
                self.args,
                env=None,
                childFDs={0: "w", 1: "r", 2: "r"},
            )
        except Exception as error:  # noqa: BLE001 - any spawn failure is a crash
            self._log.error("{name}: cannot start {program}: {error}", name=self.settings.name, program=self.settings.executable, error=error)
            self.ended = True
            self._onEnded(self, Failure())

    def connectionMade(self) -> None:
        """
        The child runs: ask to be told when its stdin pipe fills up.
        """
        self.transport.registerProducer(self, True)

    # IPushProducer, registered with the process transport (its stdin).
    def pauseProducing(self) -> None:
        """
        The child's stdin pipe is full: write nothing more until resumed.
        """
        self.paused = True

    def resumeProducing(self) -> None:
        """
        The child's stdin pipe has room again.
        """
        self.paused = False

    def stopProducing(self) -> None:
        """
        The child's stdin is gone.
        """
        self.paused = True

    def write(self, frames: list[Frame]) -> None:
        """
        Send frames to be encoded.

        @param frames: whole input frames, in stream order.
        """
        if self.ended or self._stdinClosed or not frames:
            return
        self.transport.write(b"".join(frame.data for frame in frames))
        self.inputSeconds += sum(frame.header.duration for frame in frames)
        self.framesIn += len(frames)
        if self._watchdog is None:
            self._checkedOutput = self.outputSeconds
            self._watchdog = self._clock.callLater(self.settings.hangTimeout, self._check)

    def finish(self) -> None:
        """
        No more input: ffmpeg encodes what it holds, writes it out and
        exits (with status 0).
        """
        if self.ended or self._stdinClosed:
            return
        self._stdinClosed = True
        self.transport.closeStdin()

    def kill(self, why: str | None = None) -> None:
        """
        End the child at once.

        @param why: a reason to record in L{failure} (the end is then a
            failure even if the child exits cleanly), or L{None}.
        """
        if why is not None and self.failure is None:
            self.failure = why
        self._cancelWatchdog()
        if self.ended:
            return
        try:
            self.transport.signalProcess("KILL")
        except ProcessExitedAlready:
            pass

    @property
    def pending(self) -> float:
        """
        Seconds of audio written but not yet given back.
        """
        return max(0.0, self.inputSeconds - self.outputSeconds)

    def _check(self) -> None:
        """
        The watchdog: kill a child that holds input but gave back nothing
        (or much less than real time) since the last check.
        """
        self._watchdog = None
        if self.ended:
            return
        produced = self.outputSeconds - self._checkedOutput
        self._checkedOutput = self.outputSeconds
        if self.outputSeconds > 0:
            waiting = self.pending > HELD or (self._stdinClosed and self.pending > 0)
        else:
            waiting = self.framesIn > PRIME_FRAMES or (self._stdinClosed and self.framesIn > 0)
        if waiting:
            if produced <= 0:
                self._log.warn(
                    "{name}: the encoder gave nothing back for {seconds} s while holding {pending:.1f} s of audio: restarting it",
                    name=self.settings.name,
                    seconds=self.settings.hangTimeout,
                    pending=self.pending,
                )
                self.kill("hung")
                return
            if produced < MIN_SPEED * self.settings.hangTimeout:
                self._log.warn(
                    "{name}: the encoder made {produced:.1f} s of audio in {seconds} s: it is falling behind, restarting it",
                    name=self.settings.name,
                    produced=produced,
                    seconds=self.settings.hangTimeout,
                )
                self.kill("fell behind")
                return
        if self.pending > 0 or not self._stdinClosed:
            self._watchdog = self._clock.callLater(self.settings.hangTimeout, self._check)

    def _cancelWatchdog(self) -> None:
        """
        Stop the watchdog.
        """
        if self._watchdog is not None and self._watchdog.active():
            self._watchdog.cancel()
        self._watchdog = None

    def childDataReceived(self, childFD: int, data: bytes) -> None:
        """
        Output from the child: frames on stdout, messages on stderr.

        @param childFD: 1 or 2.
        @param data: the bytes.
        """
        if childFD == 1:
            self._deliver(self._framer.feed(data))
        elif childFD == 2:
            self.stderr = (self.stderr + data)[-STDERR_KEPT:]

    def _deliver(self, frames: list[Frame]) -> None:
        """
        Pass whole output frames on.

        @param frames: the frames, possibly none.
        """
        if not frames:
            return
        self.outputSeconds += sum(frame.header.duration for frame in frames)
        self._onFrames(frames)

    def processEnded(self, reason: Failure) -> None:
        """
        The child exited: hand on its last frame and report.

        @param reason: L{twisted.internet.error.ProcessDone} or
            L{twisted.internet.error.ProcessTerminated}.
        """
        if self.ended:
            return
        self._cancelWatchdog()
        self._deliver(self._framer.flush())
        self.ended = True
        message = self.stderr.decode("utf-8", "replace").strip()
        if message:
            self._log.warn("{name}: the encoder said: {message}", name=self.settings.name, message=message[-500:])
        self._onEnded(self, reason)
