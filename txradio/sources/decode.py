# -*- test-case-name: tests.test_decode -*-
"""
Playing files of other formats (FLAC, Ogg Vorbis, Opus, AAC/M4A, WAV) in a
playlist: ffmpeg decodes a file and encodes it to the mount's MP3 format in a
child process (never on the reactor thread), and the playlist reads the
child's output as if it were an MP3 file.

L{DecodedFile} is that file: a L{ProcessProtocol} whose C{read} hands on
what the child wrote so far.  Its output is paced like the encoder's input:
once L{MAX_BUFFERED} bytes wait to be read, the child's stdout is no longer
read (the pipe fills and ffmpeg waits) until the playlist catches up.
A child that writes nothing for L{DECODE_STALL} seconds while it is read
(a file on a hung network share, a decoder stuck on a damaged file) is
killed: the file ends there with a log line, and the next track plays.
Without ffmpeg, L{Decoders.skipped} tells the playlist what to leave out, so
it can say so once per format rather than once per file.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable

from twisted.internet.error import ProcessDone, ProcessExitedAlready
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.internet.protocol import ProcessProtocol
from twisted.logger import Logger
from twisted.python.failure import Failure

from txradio.sources.intro import converterArguments
from txradio.wire.audioformat import AudioFormat

FORMATS = {
    ".flac": "FLAC",
    ".ogg": "Ogg Vorbis",
    ".oga": "Ogg Vorbis",
    ".opus": "Opus",
    ".m4a": "AAC/M4A",
    ".aac": "AAC/M4A",
    ".wav": "WAV",
}
"""The extensions (lower case) of the formats ffmpeg decodes, and their names for the log."""

MAX_BUFFERED = 1 << 20
"""Bytes of ffmpeg output held before its stdout is paused (about a minute at 128 kbps)."""

DECODE_STALL = 10.0
"""Seconds a decoding child may write nothing, while it is read, before it is killed."""

STDERR_KEPT = 2048
"""Bytes of ffmpeg's error output kept for the log."""


def formatOf(path: str) -> str | None:
    """
    @param path: a file.
    @return: the name of the format ffmpeg must decode it from, or L{None}
        for an MP3 (or unknown) file, which is read as it is.
    """
    return FORMATS.get(os.path.splitext(path)[1].lower())


def decoderArguments(path: str, audioFormat: AudioFormat) -> list[str]:
    """
    The ffmpeg arguments decoding a whole file into a mount's MP3 format.

    @param path: the file (absolute).
    @param audioFormat: the mount's format.
    @return: the arguments, without the program name.
    """
    arguments = converterArguments(path, audioFormat)
    # The intro's conversion stops after a minute; a track plays whole.
    at = arguments.index("-t")
    del arguments[at : at + 2]
    return arguments


def countSkipped(paths: Iterable[str]) -> Counter[str]:
    """
    @param paths: files of a track list.
    @return: how many of them are in each format that needs ffmpeg.
    """
    return Counter(name for name in map(formatOf, paths) if name is not None)


class DecodedFile(ProcessProtocol):
    """
    One file being decoded by ffmpeg, read like a file opened for reading.

    @ivar finished: whether the child has exited (then L{read} returning
        nothing means the end of the track).
    @ivar failure: why the file cannot be played, when ffmpeg failed on
        it, or L{None}.
    @ivar stalled: whether the child was killed for writing nothing for
        too long.
    """

    _log = Logger()

    def __init__(self, clock: IReactorTime | None = None, path: str = "", stall: float = DECODE_STALL) -> None:
        """
        @param clock: the time source for the watchdog, or L{None} for no
            watchdog.
        @param path: the file, for the log.
        @param stall: seconds the child may write nothing while it is read.
        """
        self._buffer = bytearray()
        self._paused = False
        self._closed = False
        self._clock = clock
        self._stall = stall
        self._watchdog: IDelayedCall | None = None
        self.path = path
        self.finished = False
        self.stalled = False
        self.failure: str | None = None
        self.stderr = b""
        self.produced = 0

    def connectionMade(self) -> None:
        self._watch()

    def outReceived(self, data: bytes) -> None:
        self._buffer += data
        self.produced += len(data)
        if len(self._buffer) >= MAX_BUFFERED and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pauseProducing()  # type: ignore[attr-defined]
        self._watch()

    def _watch(self) -> None:
        """
        Start the watchdog again: the child has this long to write more.
        While its output is paused (the playlist has enough), or once it
        ended, there is no watchdog.
        """
        if self._clock is None:
            return
        if self._paused or self.finished or self._closed:
            self._unwatch()
        elif self._watchdog is not None and self._watchdog.active():
            self._watchdog.reset(self._stall)
        else:
            self._watchdog = self._clock.callLater(self._stall, self._stalledOut)

    def _unwatch(self) -> None:
        """
        Stop the watchdog.
        """
        if self._watchdog is not None and self._watchdog.active():
            self._watchdog.cancel()
        self._watchdog = None

    def _stalledOut(self) -> None:
        """
        The child wrote nothing for too long: kill it, and end the file at
        what it wrote (the playlist then plays the next track).
        """
        self._watchdog = None
        self.stalled = True
        self.finished = True
        reason = f"ffmpeg wrote nothing for {self._stall:g} s and was killed"
        if self.produced:
            # The playlist logs a file that played nothing; this one did.
            self._log.warn("{path}: {reason}; the next track plays", path=self.path, reason=reason)
        else:
            self.failure = reason
        self._kill()

    def errReceived(self, data: bytes) -> None:
        self.stderr = (self.stderr + data)[-STDERR_KEPT:]

    def processEnded(self, reason: Failure) -> None:
        self.finished = True
        self._unwatch()
        if self._closed or self.stalled:
            return
        if not reason.check(ProcessDone) or not self.produced:
            message = self.stderr.decode("utf-8", "replace").strip().splitlines()
            detail = message[-1] if message else reason.getErrorMessage()
            if not self.produced:
                self.failure = f"ffmpeg cannot read it: {detail}"

    def read(self, size: int) -> bytes:
        """
        @param size: the most bytes wanted.
        @return: what the child wrote so far, up to C{size} bytes; empty when
            nothing waits (see L{finished}).
        """
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        if self._paused and len(self._buffer) < MAX_BUFFERED // 2 and self.transport is not None:
            self._paused = False
            self.transport.resumeProducing()  # type: ignore[attr-defined]
            self._watch()
        return data

    def close(self) -> None:
        """
        Stop decoding: kill the child if it still runs.
        """
        self._closed = True
        self._buffer.clear()
        self._unwatch()
        if not self.finished:
            self._kill()

    def _kill(self) -> None:
        """
        Kill the child, if it still runs.
        """
        if self.transport is not None:
            try:
                self.transport.signalProcess("KILL")
            except ProcessExitedAlready:
                pass


class Decoders:
    """
    Starts ffmpeg for the files of a playlist that are not MP3.

    @ivar executable: the ffmpeg program, or L{None} when it is not
        installed (such files are then skipped).
    @ivar audioFormat: the mount's format, which the files are encoded to.
    """

    def __init__(self, reactor, audioFormat: AudioFormat, executable: str | None) -> None:
        self._reactor = reactor
        self.audioFormat = audioFormat
        self.executable = executable

    def open(self, path: str) -> DecodedFile:
        """
        Start decoding a file.

        @param path: the file.
        @return: the file being decoded.
        @raise OSError: when the child cannot be started.
        """
        assert self.executable is not None
        decoded = DecodedFile(self._reactor, path)
        try:
            transport = self._reactor.spawnProcess(
                decoded,
                self.executable,
                [self.executable, *decoderArguments(os.path.abspath(path), self.audioFormat)],
                env=None,
                childFDs={0: "w", 1: "r", 2: "r"},
            )
        except Exception as error:  # noqa: BLE001 - any spawn failure is a file that cannot play
            raise OSError(f"cannot start {self.executable!r}: {error}") from None
        transport.closeStdin()
        return decoded
