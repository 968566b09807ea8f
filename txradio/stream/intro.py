# -*- test-case-name: tests.test_intro -*-
"""
A mount's intro: audio played to each new listener before it joins the
stream (Icecast's C{<intro>}).

The intro is one immutable L{Chunk}, built once per mount from frames
already in the mount's format and shared by every listener: the listener
writes it at admission, then its burst, so nothing about the intro touches
the per-tick path (L{txradio.stream.listener.Listener.deliver}).

Two things make the join clean:

 - the intro's own first frames may not borrow audio data from before the
   file began, and the first frames of the burst may not borrow from the
   intro's last frames (the bit reservoir of Layer III): both are passed
   through a L{ReservoirGuard} once, the intro when it is built and a copy
   of the burst's first frames at each join (L{afterIntro});
 - the intro counts as audio for ICY metadata: it is sent through the
   listener's splice like any chunk, so the listener's metadata phase
   starts at its first intro byte, and its first block carries the title
   the intro chunk is built with (the station's name).
"""

from __future__ import annotations

from collections.abc import Sequence

from txradio.stream.broadcast import Chunk
from txradio.wire.icy import encodeMetadata
from txradio.wire.mp3 import Frame, ReservoirGuard, mainDataSize, parseHeader

MAX_INTRO_BYTES = 1 << 20
"""The most bytes of intro a listener is sent (1 MiB); frames past it are
left out (see C{docs/security.md})."""

MAX_INTRO_SECONDS = 60.0
"""The most seconds of intro a listener is sent; frames past it are left
out."""


def boundIntro(frames: Sequence[Frame]) -> list[Frame]:
    """
    Keep the intro's first frames within L{MAX_INTRO_BYTES} and
    L{MAX_INTRO_SECONDS}.

    @param frames: the intro's frames, in order.
    @return: the leading frames that fit both bounds.
    """
    kept: list[Frame] = []
    size = 0
    seconds = 0.0
    for frame in frames:
        size += len(frame.data)
        seconds += frame.header.duration
        if size > MAX_INTRO_BYTES or seconds > MAX_INTRO_SECONDS + 1e-9:
            break
        kept.append(frame)
    return kept


def introChunk(frames: Sequence[Frame], title: str) -> Chunk | None:
    """
    Build a mount's intro once: its frames (bounded by L{boundIntro}, the
    first ones guarded against borrowing from before the file) joined into
    one chunk carrying C{title}.

    @param frames: the intro's frames, in the mount's format.
    @param title: the title listeners' players show during the intro.
    @return: the chunk, or L{None} when there are no frames.
    """
    kept = boundIntro(frames)
    if not kept:
        return None
    guard = ReservoirGuard()
    pieces: list[bytes] = []
    starts: list[int] = []
    size = 0
    for frame in kept:
        data = guard.check(frame).data
        starts.append(size)
        pieces.append(data)
        size += len(data)
    return Chunk(b"".join(pieces), tuple(starts), ((0, encodeMetadata(title)),), 0)


def afterIntro(burst: list[Chunk]) -> list[Chunk]:
    """
    Make a burst safe to follow an intro: the burst's first Layer III
    frames that borrow audio data from before the burst (which, after an
    intro, would be read from the intro's bytes) are silenced, in a copy
    of the first chunk; the shared chunks are never changed.

    @param burst: the burst, from L{RecentAudio.burst}; its first chunk
        starts on a frame boundary.
    @return: the burst with its first chunk replaced when a frame had to
        be silenced, else C{burst} itself.
    """
    if not burst:
        return burst
    first = burst[0]
    data = first.data
    starts = first.frameStarts
    guard = ReservoirGuard()
    pieces: list[bytes] = []
    changed = False
    end = 0
    available = 0
    for index, start in enumerate(starts):
        stop = starts[index + 1] if index + 1 < len(starts) else len(data)
        header = parseHeader(data, start)
        if header.layer != 3:
            # Only Layer III has a bit reservoir.
            return burst
        frame = Frame(header, data[start:stop])
        checked = guard.check(frame)
        changed = changed or checked is not frame
        pieces.append(checked.data)
        end = stop
        # Past the guard's limit no frame can borrow from before the burst.
        available += mainDataSize(frame)
        if available >= ReservoirGuard.LIMIT:
            break
    if not changed:
        return burst
    copy = Chunk(b"".join(pieces) + data[end:], starts, first.marks, first.position)
    return [copy, *burst[1:]]
