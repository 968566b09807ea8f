# -*- test-case-name: tests.test_intro -*-
"""
Reading a mount's intro file, and converting it to the mount's format with
ffmpeg when it has another.

L{readIntro} reads the file (bounded by L{MAX_INTRO_FILE}) with the
L{Framer}; L{fitsFormat} tells whether its frames can be played as they
are.  L{convertIntro} runs C{ffmpeg} once as a child process (never on the
reactor thread) and gives back the converted frames; its output is bounded
too, and a child that takes longer than L{CONVERT_TIMEOUT} is killed.
"""

from __future__ import annotations

from collections.abc import Sequence

from twisted.internet.defer import Deferred
from twisted.internet.error import ProcessDone
from twisted.internet.protocol import ProcessProtocol
from twisted.python.failure import Failure

from txradio.wire.audioformat import AudioFormat
from txradio.wire.mp3 import Frame, Framer

MAX_INTRO_FILE = 16 << 20
"""The largest intro file read, in bytes (16 MiB): room for a minute of
WAV or high-bitrate MP3 that ffmpeg converts; what listeners get is
bounded again after conversion."""

MAX_CONVERTED = 4 << 20
"""The most bytes of ffmpeg output kept (the child is asked for 60 s)."""

CONVERT_SECONDS = 60
"""Seconds of the intro ffmpeg is asked to convert (C{-t})."""

CONVERT_TIMEOUT = 60.0
"""Seconds a conversion may take before the child is killed."""


class IntroError(ValueError):
    """
    An intro file cannot be used: it cannot be read, is too large, or is
    in another format and there is no ffmpeg to convert it.
    """


def readIntro(path: str, limit: int = MAX_INTRO_FILE) -> list[Frame]:
    """
    Read an intro file's MP3 frames (tags and Xing/Info frames skipped).

    This reads a file of at most C{limit} bytes; it is called when the
    configuration is applied (start and reload), as the playlist's folder
    is listed then.

    @param path: the file.
    @param limit: the largest file read, in bytes.
    @return: its frames; empty for a file that holds no MP3 (a WAV, say).
    @raise IntroError: when it cannot be read or is larger than C{limit}.
    """
    try:
        with open(path, "rb") as file:
            data = file.read(limit + 1)
    except OSError as error:
        raise IntroError(f"intro {path!r} cannot be read: {error.strerror or error}") from None
    if len(data) > limit:
        raise IntroError(f"intro {path!r} is larger than {limit} bytes")
    framer = Framer()
    return framer.feed(data) + framer.flush()


def fitsFormat(frames: Sequence[Frame], audioFormat: AudioFormat) -> bool:
    """
    Tell whether an intro can be played as it is on a mount.

    @param frames: the intro's frames.
    @param audioFormat: the mount's format.
    @return: L{True} when there are frames and every one has the format.
    """
    return bool(frames) and all(audioFormat.matches(frame.header) for frame in frames)


def converterArguments(path: str, audioFormat: AudioFormat) -> list[str]:
    """
    The ffmpeg arguments converting an intro file to a mount's format.

    @param path: the intro file (an absolute path; given as C{file:} so a
        name starting with C{-} is no option).
    @param audioFormat: the mount's format.
    @return: the arguments, without the program name.
    """
    return [
        "-hide_banner",
        "-nostats",
        "-nostdin",
        "-loglevel",
        "error",
        "-i",
        "file:" + path,
        "-map",
        "0:a:0",
        "-t",
        str(CONVERT_SECONDS),
        "-c:a",
        "libmp3lame",
        "-b:a",
        f"{audioFormat.encodeBitrate}k",
        "-ar",
        str(audioFormat.sampleRate),
        "-ac",
        str(audioFormat.channels),
        "-id3v2_version",
        "0",
        "-write_xing",
        "0",
        "-f",
        "mp3",
        "pipe:1",
    ]


class _Converter(ProcessProtocol):
    """
    Collects one conversion's output, bounded, and fires a L{Deferred}
    with its frames when the child exits.
    """

    def __init__(self, done: Deferred[list[Frame]], limit: int) -> None:
        self.done = done
        self.limit = limit
        self.framer = Framer()
        self.frames: list[Frame] = []
        self.size = 0
        self.stderr = b""
        self.timer = None

    def outReceived(self, data: bytes) -> None:
        if self.size > self.limit:
            return
        self.size += len(data)
        self.frames.extend(self.framer.feed(data))
        if self.size > self.limit:
            # Enough: what is kept is bounded again by the station.
            if self.transport is not None:
                self.transport.signalProcess("KILL")

    def errReceived(self, data: bytes) -> None:
        self.stderr = (self.stderr + data)[-2048:]

    def processEnded(self, reason: Failure) -> None:
        if self.timer is not None and self.timer.active():
            self.timer.cancel()
        self.frames.extend(self.framer.flush())
        if self.frames and (reason.check(ProcessDone) or self.size > self.limit):
            self.done.callback(self.frames)
            return
        message = self.stderr.decode("utf-8", "replace").strip() or str(reason.value)
        self.done.errback(IntroError(f"ffmpeg could not convert the intro: {message}"))


def convertIntro(
    reactor, path: str, audioFormat: AudioFormat, executable: str = "ffmpeg", timeout: float = CONVERT_TIMEOUT
) -> Deferred[list[Frame]]:
    """
    Convert an intro file to a mount's format in an ffmpeg child process.

    @param reactor: an C{IReactorProcess} and C{IReactorTime}.
    @param path: the intro file.
    @param audioFormat: the mount's format.
    @param executable: the ffmpeg program.
    @param timeout: seconds before a child still running is killed.
    @return: a L{Deferred} firing with the converted frames, or failing
        with L{IntroError}.
    """
    done: Deferred[list[Frame]] = Deferred()
    converter = _Converter(done, MAX_CONVERTED)
    try:
        transport = reactor.spawnProcess(
            converter,
            executable,
            [executable, *converterArguments(path, audioFormat)],
            env=None,
            childFDs={0: "w", 1: "r", 2: "r"},
        )
    except Exception as error:  # noqa: BLE001 - any spawn failure is a failed conversion
        done.errback(IntroError(f"cannot start {executable!r} to convert the intro: {error}"))
        return done
    transport.closeStdin()

    def tooSlow() -> None:
        converter.timer = None
        try:
            transport.signalProcess("KILL")
        except Exception:  # noqa: BLE001 - it ended meanwhile
            pass

    converter.timer = reactor.callLater(timeout, tooSlow)
    return done

