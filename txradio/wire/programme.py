# -*- test-case-name: tests.test_broadcast -*-
"""
What a frame source hands to a broadcaster besides audio frames.

A source returns a sequence of L{txradio.wire.mp3.Frame} objects interleaved with
marks; a mark applies to the frames that follow it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from txradio.wire.mp3 import Frame


@dataclass(frozen=True, slots=True)
class TitleChange:
    """
    The frames that follow belong to a new title.

    @ivar title: the title to announce, e.g. C{"Artist - Title"}; it is
        cleaned before it reaches a listener.
    """

    title: str


def moveFrames(
    queue: deque[Frame | TitleChange], duration: float, out: list[Frame | TitleChange]
) -> tuple[float, str | None]:
    """
    Move frames and marks from the front of a queue to a list until about
    C{duration} seconds of frames have moved (one frame more at most), as a
    source's C{pull} does.

    @param queue: frames (L{txradio.wire.mp3.Frame}) and L{TitleChange} marks.
    @param duration: seconds of audio wanted.
    @param out: the list to append them to.
    @return: C{(seconds moved, the last title moved or None)}.
    """
    from txradio.wire.mp3 import Frame

    got = 0.0
    title = None
    while queue and got < duration:
        item = queue.popleft()
        out.append(item)
        if type(item) is Frame:
            got += item.header.duration
        else:
            title = item.title
    return got, title
