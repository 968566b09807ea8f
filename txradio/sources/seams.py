# -*- test-case-name: tests.test_crossfade -*-
"""
Making crossfade seams: ffmpeg mixes the end of one track with the start of
the next and encodes the mix in a child process, ahead of time, while the
first track plays (the plan and the command line come from
L{txradio.wire.crossfade}).

A L{Seam} is one such child: its output is kept up to L{MAX_SEAM_BYTES},
it is killed after L{SEAM_TIMEOUT} seconds, and when it exits its output is
parsed into frames.  A seam that fails says why in one log line; the
playlist then plays a clean cut.
"""

from __future__ import annotations

from twisted.internet.error import ProcessDone, ProcessExitedAlready
from twisted.internet.interfaces import IDelayedCall
from twisted.internet.protocol import ProcessProtocol
from twisted.logger import Logger
from twisted.python.failure import Failure

from txradio.wire.crossfade import SeamPlan, seamArguments
from txradio.wire.mp3 import Frame, Framer

MAX_SEAM_BYTES = 1 << 20
"""Bytes of ffmpeg output kept for one seam (15 s at 320 kbps is 600 kB);
a child writing more is killed and its seam abandoned."""

SEAM_TIMEOUT = 60.0
"""Seconds a seam's ffmpeg may run before it is killed (a 3 s seam takes
about 0.15 s of CPU)."""

STDERR_KEPT = 2048
"""Bytes of ffmpeg's error output kept for the log."""


class Seam(ProcessProtocol):
    """
    One seam being made.

    @ivar plan: what it is made for.
    @ivar frames: its frames once made (exactly C{plan.frames} of them),
        else L{None}.
    @ivar failure: why it could not be made, or L{None}.
    @ivar timeout: the call that kills a child running too long.
    """

    _log = Logger()

    def __init__(self, plan: SeamPlan, name: str = "") -> None:
        """
        @param plan: the seam's plan.
        @param name: a name for the log, e.g. the mount.
        """
        self.plan = plan
        self.name = name
        self.frames: list[Frame] | None = None
        self.failure: str | None = None
        self.timeout: IDelayedCall | None = None
        self._output = bytearray()
        self._stderr = b""
        self._cancelled = False
        self._ended = False

    @property
    def ready(self) -> bool:
        """Whether the seam's frames are ready to play."""
        return self.frames is not None

    def outReceived(self, data: bytes) -> None:
        if len(self._output) + len(data) > MAX_SEAM_BYTES:
            self._fail(f"ffmpeg wrote more than {MAX_SEAM_BYTES} bytes")
            self._kill()
            return
        self._output += data

    def errReceived(self, data: bytes) -> None:
        self._stderr = (self._stderr + data)[-STDERR_KEPT:]

    def processEnded(self, reason: Failure) -> None:
        self._ended = True
        if self.timeout is not None and self.timeout.active():
            self.timeout.cancel()
        self.timeout = None
        output, self._output = bytes(self._output), bytearray()
        if self._cancelled or self.failure is not None:
            return
        if not reason.check(ProcessDone):
            lines = self._stderr.decode("utf-8", "replace").strip().splitlines()
            self._fail(lines[-1] if lines else reason.getErrorMessage())
            return
        framer = Framer()
        frames = framer.feed(output) + framer.flush()
        lead, wanted = self.plan.lead, self.plan.frames
        if len(frames) < lead + wanted:
            self._fail(f"ffmpeg made {len(frames)} frames, {lead + wanted} were wanted")
            return
        # The lead frames (the encoder's priming) and the encoder's last
        # frame (its flush) are left out: the timeline keeps exactly the
        # frames the seam replaces.
        self.frames = frames[lead : lead + wanted]

    def expire(self) -> None:
        """
        The child ran too long: kill it, and give up on the seam.
        """
        self.timeout = None
        self._fail(f"ffmpeg took more than {SEAM_TIMEOUT:g} s")
        self._kill()

    def cancel(self) -> None:
        """
        The seam is not wanted any more (skipped, played, or too late):
        kill the child if it still runs, and forget the frames.
        """
        self._cancelled = True
        self.frames = None
        if self.timeout is not None and self.timeout.active():
            self.timeout.cancel()
        self.timeout = None
        self._kill()

    def _kill(self) -> None:
        """
        Kill the child, if it still runs.
        """
        if self._ended or self.transport is None:
            return
        try:
            self.transport.signalProcess("KILL")
        except ProcessExitedAlready:
            pass

    def _fail(self, reason: str) -> None:
        """
        Give up on the seam, saying why once.

        @param reason: why.
        """
        if self.failure is not None or self._cancelled:
            return
        self.failure = reason
        self._log.warn(
            "{name}: no crossfade from {outgoing} into {incoming}: {reason}; a clean cut plays",
            name=self.name,
            outgoing=self.plan.outgoing.path,
            incoming=self.plan.incoming.path,
            reason=reason,
        )


class SeamMaker:
    """
    Starts the children making a playlist's seams.

    @ivar seconds: the crossfade's length.
    @ivar executable: the ffmpeg program.
    @ivar bitrate: the mount's bitrate in kbps, which seams are encoded
        at, or L{None} for the outgoing track's.
    @ivar made: seams started so far.
    """

    def __init__(self, reactor, seconds: float, executable: str, name: str = "", bitrate: int | None = None) -> None:
        """
        @param reactor: an C{IReactorProcess} and C{IReactorTime}.
        @param seconds: the crossfade's length.
        @param executable: the ffmpeg program.
        @param name: a name for the log, e.g. the mount.
        @param bitrate: the mount's bitrate in kbps, or L{None}.
        """
        self._reactor = reactor
        self.seconds = seconds
        self.executable = executable
        self.name = name
        self.bitrate = bitrate
        self.made = 0

    def make(self, plan: SeamPlan) -> Seam:
        """
        Start making a seam; it is ready when its child exits.

        @param plan: the seam.
        @return: the seam (failed at once when the child cannot start).
        """
        seam = Seam(plan, self.name)
        self.made += 1
        try:
            transport = self._reactor.spawnProcess(
                seam, self.executable, seamArguments(plan, self.executable), env=None, childFDs={0: "w", 1: "r", 2: "r"}
            )
        except Exception as error:  # noqa: BLE001 - any spawn failure is a seam not made
            seam._fail(f"cannot start {self.executable!r}: {error}")
            return seam
        transport.closeStdin()
        seam.timeout = self._reactor.callLater(SEAM_TIMEOUT, seam.expire)
        return seam
