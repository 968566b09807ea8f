# -*- test-case-name: tests.test_audioformat -*-
"""
The format a mount promises its listeners, and what to do with audio that
does not have it.

Pure: nothing here looks at a clock, a process or a file.  A mount declares
an L{AudioFormat} (sample rate, channels and, optionally, a bitrate); for
every run of audio its sources produce, L{decide} says whether the frames
pass through untouched, go through an encoder, or are skipped.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass

from txradio.wire.mp3 import FrameHeader

PASS = "pass"
"""The audio already has the mount's format: send the frames as they are."""

TRANSCODE = "transcode"
"""The audio goes through an encoder that gives it the mount's format."""

SKIP = "skip"
"""The audio is not played (a playlist track is skipped, a live source refused)."""

POLICIES = (TRANSCODE, SKIP)
"""What a mount may do with audio of another format."""

SAMPLE_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
"""The sample rates MP3 (MPEG-1, 2 and 2.5 Layer III) can carry, in Hz."""

BITRATES = (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, 192, 224, 256, 320)
"""The bitrates an MP3 encoder can be asked for, in kbps."""

ENCODER_DELAY_SAMPLES = 1105
"""
Samples of delay that a decode and a LAME re-encode add, counted at the
output's sample rate: 576 of LAME's encoder delay and 529 of the listener's
decoder delay.  Measured with Debian's ffmpeg 5.1 on the command line
L{txradio.sources.encoder} uses: a click at sample 45,214 of a 44.1 kHz stream comes
out at sample 46,319 (1,105 later) when both are decoded by ffmpeg or by
mpg123.
"""

_FORMAT = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*(?:/\s*(\d+)\s*k?)?\s*$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class AudioFormat:
    """
    What a mount's listeners get: MPEG Layer III at one sample rate and
    channel count, and at one bitrate when L{bitrate} is set.

    @ivar sampleRate: in Hz, one of L{SAMPLE_RATES}.
    @ivar channels: 1 or 2.
    @ivar bitrate: in kbps, or L{None} when any bitrate (including VBR)
        passes; an encoder then uses L{DEFAULT_ENCODE_BITRATE}.
    """

    sampleRate: int = 44100
    channels: int = 2
    bitrate: int | None = None

    def __post_init__(self) -> None:
        """
        @raise ValueError: for a sample rate, channel count or bitrate MP3
            cannot carry.
        """
        if self.sampleRate not in SAMPLE_RATES:
            raise ValueError(f"sample rate must be one of {', '.join(map(str, SAMPLE_RATES))} Hz, not {self.sampleRate}")
        if self.channels not in (1, 2):
            raise ValueError(f"channels must be 1 or 2, not {self.channels}")
        if self.bitrate is not None and self.bitrate not in BITRATES:
            raise ValueError(f"bitrate must be one of {', '.join(map(str, BITRATES))} kbps, not {self.bitrate}")

    def matches(self, header: FrameHeader) -> bool:
        """
        Tell whether a frame has this format.

        @param header: the frame's header.
        @return: L{True} for a Layer III frame at this sample rate and
            channel count (and at this bitrate, when one is set).
        """
        return (
            header.layer == 3
            and header.sampleRate == self.sampleRate
            and header.channels == self.channels
            and (self.bitrate is None or header.bitrate == self.bitrate)
        )

    @property
    def encodeBitrate(self) -> int:
        """
        The bitrate an encoder is asked for, in kbps.
        """
        return self.bitrate if self.bitrate is not None else DEFAULT_ENCODE_BITRATE

    @property
    def delay(self) -> float:
        """
        The encoder delay (L{ENCODER_DELAY_SAMPLES}) in seconds of this
        format's audio.
        """
        return ENCODER_DELAY_SAMPLES / self.sampleRate

    def withBitrate(self, bitrate: int | None) -> AudioFormat:
        """
        @param bitrate: kbps, or L{None}.
        @return: the same format at another bitrate.
        """
        return AudioFormat(self.sampleRate, self.channels, bitrate)

    def __str__(self) -> str:
        """
        @return: e.g. C{"44100/2/128k"}, or C{"44100/2"} without a bitrate;
            L{parseFormat} reads it back.
        """
        text = f"{self.sampleRate}/{self.channels}"
        return text if self.bitrate is None else f"{text}/{self.bitrate}k"

    def describe(self) -> str:
        """
        @return: the format in words, e.g. C{"MP3 at 44100 Hz, 2 channels,
            128 kbps"}, for replies and log lines.
        """
        rate = "any bitrate" if self.bitrate is None else f"{self.bitrate} kbps"
        return f"MP3 at {self.sampleRate} Hz, {self.channels} channel{'s' if self.channels > 1 else ''}, {rate}"


DEFAULT_ENCODE_BITRATE = 128
"""The bitrate (kbps) an encoder uses for a mount that does not set one."""

DEFAULT_FORMAT = AudioFormat()
"""A mount's format when it declares none: 44.1 kHz stereo, any bitrate."""


def parseFormat(text: str) -> AudioFormat:
    """
    Read a format written as C{"RATE/CHANNELS[/BITRATE[k]]"}.

    @param text: e.g. C{"44100/2/128k"} or C{"22050/1"}.
    @return: the format.
    @raise ValueError: for anything else, or values MP3 cannot carry.
    """
    match = _FORMAT.match(text)
    if match is None:
        raise ValueError(f"expected RATE/CHANNELS[/BITRATEk], e.g. 44100/2/128k, not {text!r}")
    rate, channels, bitrate = match.groups()
    return AudioFormat(int(rate), int(channels), int(bitrate) if bitrate else None)


def formatOf(header: FrameHeader) -> AudioFormat | None:
    """
    The format of one frame.

    @param header: a frame header.
    @return: its format with its bitrate, or L{None} when it is not a
        Layer III frame (MP3 mounts cannot pass it on as it is).
    """
    if header.layer != 3:
        return None
    return AudioFormat(header.sampleRate, header.channels, header.bitrate)


def decide(header: FrameHeader, mountFormat: AudioFormat | None, policy: str, encoderAvailable: bool) -> str:
    """
    Choose what happens to a run of audio whose first frame is C{header}.

    @param header: the first frame of the run (a track, a live source).
    @param mountFormat: the mount's format, or L{None} when the mount
        promises none (everything passes, as before formats existed).
    @param policy: L{TRANSCODE} or L{SKIP}: what the mount does with
        audio of another format.
    @param encoderAvailable: whether an encoder program can be run.
    @return: L{PASS} when the frame has the format; L{TRANSCODE} when it
        does not, the policy is to transcode and an encoder exists;
        L{SKIP} otherwise.
    @raise ValueError: for an unknown policy.
    """
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {', '.join(POLICIES)}, not {policy!r}")
    if mountFormat is None or mountFormat.matches(header):
        return PASS
    if policy == TRANSCODE and encoderAvailable:
        return TRANSCODE
    return SKIP


def refuser(mountFormat: AudioFormat) -> Callable[[FrameHeader], str | None]:
    """
    Make a playlist's C{refuse} hook for a mount that skips audio of
    another format.

    @param mountFormat: the mount's format.
    @return: a callable taking a track's first frame header and returning
        the reason to skip the track, or L{None} to play it.
    """

    def refuse(header: FrameHeader) -> str | None:
        if mountFormat.matches(header):
            return None
        return (
            f"it is {header.sampleRate} Hz, {header.channels} channel(s), {header.bitrate} kbps; "
            f"the mount plays {mountFormat.describe()} (format policy skip)"
        )

    return refuse


def findEncoder(name: str = "ffmpeg") -> str | None:
    """
    Look for the encoder program on C{PATH}.

    @param name: the program, or a path to it.
    @return: its full path, or L{None} when it cannot be found.
    """
    return shutil.which(name)
