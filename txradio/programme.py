# -*- test-case-name: tests.test_broadcast -*-
"""
What a frame source hands to a broadcaster besides audio frames.

A source returns a sequence of L{txradio.mp3.Frame} objects interleaved with
marks; a mark applies to the frames that follow it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TitleChange:
    """
    The frames that follow belong to a new title.

    @ivar title: the title to announce, e.g. C{"Artist - Title"}; it is
        cleaned before it reaches a listener.
    """

    title: str
