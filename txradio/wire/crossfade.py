# -*- test-case-name: tests.test_crossfade -*-
"""
Planning a crossfade seam: the arithmetic, and the ffmpeg command line.

A crossfade between two tracks A and B re-encodes only the seconds where
they overlap.  The station plays A's own frames up to a cut point, then the
seam's frames (the end of A mixed with the start of B, encoded in A's
format), then B's own frames from a resume point.  Both points fall on frame
boundaries, and the seam holds a whole number of frames, so the stream's
timeline stays exact: what the seam adds is what it replaces.

The seam's input is the last part of A that would have played (from the cut
to A's end, or to where its trailing silence starts) and the first part of B
that plays (from its leading silence's end to the resume point).  The two
overlap by about the seam's length (L{SeamPlan.overlap}, within one frame of
what was asked, so the seam fits whole frames).

Where the seam gives way to B's own frames, B's first frames borrow audio
data (the bit reservoir) from B's frames that the seam replaced:
L{handOver} moves the seam's own audio data earlier, into room its frames
leave unused, so that the seam's last bytes are the ones B borrows.

Nothing here does I/O.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from txradio.wire.mp3 import Frame, MPEGVersion, mainDataBegin, mainDataBits, mainDataSize, withMainData

MIN_OVERLAP = 0.5
"""Seconds: a shorter crossfade is not worth a seam."""

SPAN_FACTOR = 3.0
"""A track must keep at least this many times the crossfade's length to
have a seam at either end (a short track plays with clean cuts)."""

LEAD = 1.0
"""Seconds the cut point must lie ahead of what was read of A when the seam
is planned, so there is time to make it."""

LEAD_FRAMES = 2
"""Frames the seam's encoding starts before the cut, and that are then
left out: an encoder's first frame starts with its priming silence (576
samples for LAME), so the seam's first frame kept decodes like A's own
frame it replaces, with nothing missing and nothing twice."""

LEVEL_GAP = 3.0
"""dB: when one track still plays this much louder than the other after
levelling, it gets the faster curve (see L{chooseCurves})."""

EVEN_CURVE = "qsin"
"""The equal-power curve used when the two tracks play at about the same
level."""

LOUD_CURVE = "qua"
"""The curve of the louder track when the levels differ (a parabola, 12 dB
down halfway where the equal-power curve is 3 dB down): it fades out
sooner, or in later, so it does not swamp the quieter one."""


@dataclass(frozen=True, slots=True)
class TrackSpan:
    """
    What the planner needs to know of one track.

    @ivar path: the file.
    @ivar start: seconds from the start of its frames where the audio kept
        starts (after trimmed silence).
    @ivar end: seconds from the start where the audio kept ends (where the
        trailing silence starts, or its measured duration).
    @ivar gain: the gain it plays at, in dB.
    @ivar loudness: the loudness it plays at (gain included) in LUFS, or
        L{None} when not known.
    """

    path: str
    start: float
    end: float
    gain: float = 0.0
    loudness: float | None = None


@dataclass(frozen=True, slots=True)
class SeamFormat:
    """
    The MP3 format the seam is encoded in: the outgoing track's.

    @ivar sampleRate: in Hz.
    @ivar channels: 1 or 2.
    @ivar bitrate: in kbps (a constant bitrate).
    @ivar frameSamples: samples per channel in a frame (1152, or 576 at
        the MPEG-2 rates).
    """

    sampleRate: int
    channels: int
    bitrate: int
    frameSamples: int = 1152

    @property
    def frameDuration(self) -> float:
        """A frame's duration in seconds."""
        return self.frameSamples / self.sampleRate


@dataclass(frozen=True, slots=True)
class SeamPlan:
    """
    One crossfade seam, planned.

    @ivar outgoing: the track that ends (A).
    @ivar incoming: the track that starts (B).
    @ivar cut: seconds from the start of A's frames at which its frames
        give way to the seam (a frame boundary).
    @ivar resume: seconds from the start of B's frames at which its own
        frames follow the seam (a frame boundary).
    @ivar overlap: the seconds A and B are mixed over.
    @ivar frames: the number of frames the seam holds.
    @ivar curves: C{acrossfade}'s C{c1} (A's fade-out) and C{c2} (B's
        fade-in).
    @ivar format: the format it is encoded in.
    @ivar lead: frames encoded before the cut and left out (see
        L{LEAD_FRAMES}).
    """

    outgoing: TrackSpan
    incoming: TrackSpan
    cut: float
    resume: float
    overlap: float
    frames: int
    curves: tuple[str, str]
    format: SeamFormat
    lead: int = LEAD_FRAMES

    @property
    def start(self) -> float:
        """Seconds from the start of A where the seam's encoding starts."""
        return self.cut - self.lead * self.format.frameDuration

    @property
    def outgoingLength(self) -> float:
        """Seconds of A that go into the seam's encoding."""
        return self.outgoing.end - self.start

    @property
    def incomingLength(self) -> float:
        """Seconds of B that go into the seam."""
        return self.resume - self.incoming.start

    @property
    def titleAt(self) -> int:
        """
        Frames of the seam before B's title is announced: the middle, where,
        on equal-power curves, B becomes the louder.
        """
        return self.frames // 2


def chooseCurves(outgoing: float | None, incoming: float | None) -> tuple[str, str]:
    """
    Pick the fade curves from the levels the two tracks play at.

    At about the same level both fade on the equal-power curve
    (L{EVEN_CURVE}); when one is more than L{LEVEL_GAP} dB louder it gets
    L{LOUD_CURVE}, spending less of the overlap at full level.

    @param outgoing: A's loudness in LUFS, or L{None} when not known.
    @param incoming: B's loudness in LUFS, or L{None} when not known.
    @return: C{(c1, c2)} for ffmpeg's C{acrossfade}.
    """
    if outgoing is None or incoming is None or not (math.isfinite(outgoing) and math.isfinite(incoming)):
        return EVEN_CURVE, EVEN_CURVE
    if outgoing - incoming > LEVEL_GAP:
        return LOUD_CURVE, EVEN_CURVE
    if incoming - outgoing > LEVEL_GAP:
        return EVEN_CURVE, LOUD_CURVE
    return EVEN_CURVE, EVEN_CURVE


def planSeam(
    outgoing: TrackSpan, incoming: TrackSpan, seconds: float, audioFormat: SeamFormat, played: float = 0.0
) -> SeamPlan | None:
    """
    Plan the seam between two tracks.

    @param outgoing: A.
    @param incoming: B.
    @param seconds: the crossfade's length wanted.
    @param audioFormat: A's format, which the seam is encoded in.
    @param played: seconds of A's frames already read; the cut must be
        at least L{LEAD} seconds beyond.
    @return: the plan, or L{None} when there is no room for a seam (a
        track too short, a crossfade too short, or A already too far).
    """
    frame = audioFormat.frameDuration
    if seconds < MIN_OVERLAP:
        return None
    for track in (outgoing, incoming):
        if track.end - track.start < SPAN_FACTOR * seconds:
            return None
    cut = math.floor((outgoing.end - seconds) / frame + 1e-9) * frame
    if cut < max(outgoing.start, played + LEAD, LEAD_FRAMES * frame):
        return None
    resume = math.ceil((incoming.start + seconds) / frame - 1e-9) * frame
    outgoingLength = outgoing.end - cut
    incomingLength = resume - incoming.start
    # Whole frames, and an overlap no longer than either part.
    frames = math.ceil((outgoingLength + incomingLength - seconds) / frame - 1e-9)
    overlap = outgoingLength + incomingLength - frames * frame
    if overlap < MIN_OVERLAP or frames < 1:
        return None
    curves = chooseCurves(outgoing.loudness, incoming.loudness)
    return SeamPlan(outgoing, incoming, cut, resume, overlap, frames, curves, audioFormat)


def _layout(channels: int) -> str:
    """
    @return: ffmpeg's name for a channel layout of C{channels}.
    """
    return "mono" if channels == 1 else "stereo"


def filterGraph(plan: SeamPlan) -> str:
    """
    The ffmpeg filter graph mixing the seam: each input brought to its
    gain and to A's sample rate and layout, then C{acrossfade}.

    @param plan: the seam.
    @return: a C{-filter_complex} argument whose output is C{[seam]}.
    """
    audioFormat = plan.format
    shape = (
        f"aresample={audioFormat.sampleRate},aformat=sample_fmts=fltp:channel_layouts={_layout(audioFormat.channels)}"
    )
    c1, c2 = plan.curves
    return (
        f"[0:a]volume={plan.outgoing.gain:.2f}dB,{shape}[a];"
        f"[1:a]volume={plan.incoming.gain:.2f}dB,{shape}[b];"
        f"[a][b]acrossfade=d={plan.overlap:.6f}:c1={c1}:c2={c2}[seam]"
    )


def seamArguments(plan: SeamPlan, executable: str = "ffmpeg") -> list[str]:
    """
    The whole ffmpeg command making a seam: both inputs read from their
    seam's part only, mixed by L{filterGraph}, encoded with LAME at A's
    constant bitrate to MP3 on standard output, without a Xing/Info frame
    or tags (the frames go straight into the stream), and without the bit
    reservoir, so that no frame borrows from the lead frames left out.

    @param plan: the seam.
    @param executable: the ffmpeg program.
    @return: the arguments, the program first.
    """
    audioFormat = plan.format
    return [
        executable, "-hide_banner", "-nostdin", "-nostats", "-v", "error",
        "-ss", f"{plan.start:.6f}", "-t", f"{plan.outgoingLength:.6f}",
        # file: keeps a name with a colon from being read as a protocol.
        "-i", "file:" + plan.outgoing.path,
        "-ss", f"{plan.incoming.start:.6f}", "-t", f"{plan.incomingLength:.6f}",
        "-i", "file:" + plan.incoming.path,
        "-filter_complex", filterGraph(plan),
        "-map", "[seam]", "-vn",
        "-c:a", "libmp3lame", "-b:a", f"{audioFormat.bitrate}k",
        "-ar", str(audioFormat.sampleRate), "-ac", str(audioFormat.channels),
        "-reservoir", "0", "-write_xing", "0", "-id3v2_version", "0",
        "-f", "mp3", "pipe:1",
    ]  # fmt: skip


def handOver(frames: Sequence[Frame], borrowed: bytes) -> list[Frame] | None:
    """
    Repack the last frames of a seam so that the frame after them finds the
    audio data it borrows.

    Each frame's own audio data (C{part2_3_length} bits) is moved as late
    as it may go, no later than its own frame and no earlier than its
    C{main_data_begin} allows, and never before the first frame given;
    the last C{len(borrowed)} bytes of the frames' audio data areas are
    then C{borrowed}.

    @param frames: the seam's last frames, Layer III, in order; the first
        borrows nothing from before it.
    @param borrowed: the bytes the next frame borrows (its
        C{main_data_begin} bytes from before it in its own stream).
    @return: the frames rewritten, or L{None} when they have not enough
        unused room (or are not Layer III).
    """
    if not borrowed:
        return list(frames)
    if not frames or any(frame.header.layer != 3 for frame in frames):
        return None
    furthest = 511 if frames[0].header.version is MPEGVersion.MPEG1 else 255
    areas = [frame.data[len(frame.data) - mainDataSize(frame) :] for frame in frames]
    stream = b"".join(areas)
    positions = []
    chunks = []
    at = 0
    for frame, area in zip(frames, areas):
        begin = at - mainDataBegin(frame)
        size = (mainDataBits(frame) + 7) // 8
        if begin < 0 or begin + size > at + len(area):
            return None
        positions.append(at)
        chunks.append(stream[begin : begin + size])
        at += len(area)
    end = len(stream) - len(borrowed)
    starts = [0] * len(frames)
    for index in reversed(range(len(frames))):
        position = positions[index]
        end = min(end, position + len(areas[index]))
        start = min(end - len(chunks[index]), position)
        if start < max(position - furthest, 0):
            return None
        starts[index] = end = start
    packed = bytearray(len(stream))
    for start, chunk in zip(starts, chunks):
        packed[start : start + len(chunk)] = chunk
    packed[len(stream) - len(borrowed) :] = borrowed
    return [
        withMainData(frame, position - start, bytes(packed[position : position + len(area)]))
        for frame, position, start, area in zip(frames, positions, starts, areas)
    ]
