# -*- test-case-name: tests.test_source -*-
"""
The live source: MP3 audio pushed by a source client (Icecast PUT/SOURCE,
SHOUTcast v1) or pulled from an upstream server by a relay, parsed into
frames as it arrives.

It is fed, not read: the connection calls L{LiveSource.feed} with whatever
bytes arrive, and the broadcaster pulls the whole frames found so far.  The
queue is bounded in seconds of audio, so a source that sends faster than real
time cannot make the server hold more than that.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from twisted.logger import Logger

from zope.interface import implementer

from txradio.interfaces import ILiveSource
from txradio.wire.mp3 import Frame, Framer
from txradio.wire.programme import TitleChange, moveFrames

DEFAULT_MAX_QUEUE = 8.0
"""Seconds of audio a live source may hold before its oldest is dropped."""


@implementer(ILiveSource)
class LiveSource:
    """
    Frames from a connection, queued until the broadcaster pulls them.

    @ivar title: the title most recently returned by L{pull}.
    @ivar onAir: whether the source can supply audio: while its connection
        lasts, and afterwards until its queue is empty.
    @ivar bytesReceived: bytes fed so far.
    @ivar framesDropped: frames dropped because the queue was full.
    @ivar name: a name for logs.
    @ivar firstHeader: the header of the first frame received, or L{None}
        before any (what a mount checks the source's format by).
    @ivar maxQueue: seconds of audio held at most; the oldest beyond are
        dropped.
    @ivar hangUp: closes the connection that feeds this source (set by
        whoever owns it), or L{None}; see L{kill}.
    """

    _log = Logger()

    def __init__(self, name: str = "live", title: str | None = None, maxQueue: float = DEFAULT_MAX_QUEUE) -> None:
        """
        @param name: a name for logs, e.g. the mount and the peer.
        @param title: a title to announce before the first frame.
        @param maxQueue: seconds of audio held at most.
        """
        self.name = name
        self.title: str | None = None
        self.bytesReceived = 0
        self.framesDropped = 0
        self.firstHeader = None
        self._connected = True
        self._framer = Framer()
        self._queue: deque[Frame | TitleChange] = deque()
        self._queued = 0.0
        self.maxQueue = maxQueue
        self.hangUp: Callable[[], object] | None = None
        if title is not None:
            self._queue.append(TitleChange(title))

    @property
    def onAir(self) -> bool:
        """
        Whether there is or will be audio: connected, or frames still queued.
        """
        return self._connected or any(type(item) is Frame for item in self._queue)

    @property
    def connected(self) -> bool:
        """
        Whether the connection feeding this source is still open.
        """
        return self._connected

    @property
    def queuedSeconds(self) -> float:
        """
        Seconds of audio waiting to be pulled.
        """
        return self._queued

    def feed(self, data: bytes) -> None:
        """
        Take bytes from the connection.

        @param data: the bytes as received, split anywhere.
        """
        if not self._connected:
            return
        self.bytesReceived += len(data)
        for frame in self._framer.feed(data):
            if self.firstHeader is None:
                self.firstHeader = frame.header
            self._queue.append(frame)
            self._queued += frame.header.duration
        while self._queued > self.maxQueue:
            item = self._queue.popleft()
            if type(item) is Frame:
                self._queued -= item.header.duration
                self.framesDropped += 1
            else:
                self.title = item.title  # type: ignore[union-attr]

    def setTitle(self, title: str) -> None:
        """
        Announce a new title from the audio received next on.

        @param title: the new title.
        """
        self._queue.append(TitleChange(title))

    def end(self) -> None:
        """
        The connection is gone: whatever partial frame was pending is
        discarded; queued whole frames can still be pulled.
        """
        self._connected = False
        self._framer = Framer()
        # The connection is gone: do not keep it alive through this source.
        self.hangUp = None

    def kill(self) -> None:
        """
        End this source from the server side (an admin's C{killsource}):
        its queued audio is dropped at once, so the mount plays its
        programme or fallback from the next frame, and L{hangUp}, when
        set, closes its connection.
        """
        hangUp, self.hangUp = self.hangUp, None
        self.close()
        if hangUp is not None:
            hangUp()

    def pull(self, duration: float) -> list[Frame | TitleChange]:
        """
        Return the queued frames, up to about C{duration} seconds; see
        L{IFrameSource.pull}.

        @param duration: seconds wanted.
        @return: frames and title marks, possibly none.
        """
        out: list[Frame | TitleChange] = []
        got, title = moveFrames(self._queue, duration, out)
        if title is not None:
            self.title = title
        self._queued = max(0.0, self._queued - got)
        return out

    def close(self) -> None:
        """
        Drop everything; see L{IFrameSource.close}.
        """
        self.end()
        self._queue.clear()
        self._queued = 0.0
