# -*- test-case-name: tests.test_source -*-
"""
Choosing what a mount plays: a live source when one is connected, else the
mount's own programme (a playlist or a relay), else its fallback (another
mount's stream).

The L{Switcher} is itself an L{IFrameSource}: the broadcaster pulls from it
and it pulls from the first of its sources that is on air, so a switch always
happens between two whole frames, and the new source's title is announced at
that point.
"""

from __future__ import annotations

from collections import deque

from twisted.logger import Logger

from zope.interface import implementer

from txradio.interfaces import IBroadcaster, IFrameSource, IListener, IStandby, IStation
from txradio.stream.broadcast import Chunk
from txradio.wire.mp3 import Frame, ReservoirGuard, parseHeader
from txradio.wire.programme import TitleChange, moveFrames


@implementer(IFrameSource)
class Switcher:
    """
    Plays the first source, in priority order, that is on air.

    @ivar current: the source played by the last pull, or L{None}.
    @ivar title: the title most recently returned.
    @ivar name: a name for logs.
    """

    _log = Logger()

    def __init__(self, sources: list[IFrameSource | None], name: str = "") -> None:
        """
        @param sources: in priority order (highest first); L{None} entries
            are empty slots that L{setSource} can fill later.
        @param name: a name for logs, e.g. the mount.
        """
        self._slots: list[IFrameSource | None] = list(sources)
        self.name = name
        self.current: IFrameSource | None = None
        self.title: str | None = None
        self._guard = ReservoirGuard()

    @property
    def onAir(self) -> bool:
        """
        Whether any source is on air.
        """
        return any(source is not None and source.onAir for source in self._slots)

    def setSource(self, slot: int, source: IFrameSource | None) -> None:
        """
        Put a source in a priority slot (or empty it).

        @param slot: the index given at construction.
        @param source: the new source, or L{None}.
        """
        self._slots[slot] = source

    def sourceAt(self, slot: int) -> IFrameSource | None:
        """
        @param slot: a priority slot.
        @return: the source in it, or L{None}.
        """
        return self._slots[slot]

    def pull(self, duration: float) -> list[Frame | TitleChange]:
        """
        Pull from the first source on air; see L{IFrameSource.pull}.

        @param duration: seconds wanted.
        @return: frames and marks; a switch starts with the new source's
            title.
        """
        chosen = next((s for s in self._slots if s is not None and s.onAir), None)
        out: list[Frame | TitleChange] = []
        if chosen is not self.current:
            # The new source's first frames may borrow audio data from its
            # frames before this point, which listeners never got.
            self._guard.reset()
            previous, self.current = self.current, chosen
            if previous is not None:
                if IStandby.providedBy(previous):
                    previous.standby()
            if chosen is not None:
                self._log.info(
                    "{name}: switching to {source}",
                    name=self.name,
                    source=_describe(chosen),
                )
                if chosen.title is not None:
                    out.append(TitleChange(chosen.title))
        if chosen is None:
            return out
        check = self._guard.check
        out.extend(check(item) if type(item) is Frame else item for item in chosen.pull(duration))
        for item in out:
            if type(item) is TitleChange:
                self.title = item.title
        return out

    def close(self) -> None:
        """
        Close every source; see L{IFrameSource.close}.
        """
        for source in self._slots:
            if source is not None:
                source.close()


def _describe(source: IFrameSource) -> object:
    """
    Name a source for the log.

    @param source: a source.
    @return: its C{label} or C{name} where it has one (a relay, a playlist),
        else the source itself; only for the log's text, so a guess is
        harmless here.
    """
    return getattr(source, "label", None) or getattr(source, "name", source)


@implementer(IStandby, IListener)
class MountFollower:
    """
    Another mount's stream as a source: it listens to that mount's
    broadcaster (only while it is being played) and turns its chunks back
    into frames.

    @ivar peer: how it appears among the other mount's listeners.
    @ivar bytesSent: bytes received from the other mount.
    @ivar title: the title most recently returned.
    @ivar internal: whether it re-encodes the mount it follows (a derived
        mount, not counted among that mount's listeners) rather than
        playing it as a fallback (counted).
    """

    # What an IListener tells about its player: a follower has none.
    id: int | None = None
    userAgent = ""
    connectedAt: float | None = None
    seconds = 0.0
    lag = 0
    internal = False

    def __init__(self, station: IStation, name: str = "") -> None:
        """
        @param station: the L{txradio.stream.station.Station} to follow.
        @param name: a name for logs.
        """
        self._station = station
        self._broadcaster: IBroadcaster = station.broadcaster
        self.name = name or f"fallback {station.mount.decode()}"
        self.peer = f"fallback for {name}" if name else "fallback"
        self.bytesSent = 0
        self.title: str | None = None
        self._attached = False
        self._closed = False
        self._lastBlock: bytes | None = None
        self._queue: deque[Frame | TitleChange] = deque()

    @property
    def station(self) -> IStation:
        """
        The station followed.
        """
        return self._station

    @property
    def onAir(self) -> bool:
        """
        Whether the followed mount has audio.
        """
        return bool(self._station.onAir)

    def deliver(self, chunk: Chunk) -> None:
        """
        Take a chunk from the followed mount and queue its frames.

        @param chunk: a L{txradio.stream.broadcast.Chunk}.
        """
        self.bytesSent += len(chunk.data)
        data = chunk.data
        marks = iter(chunk.marks)
        mark = next(marks, None)
        starts = chunk.frameStarts
        for index, start in enumerate(starts):
            while mark is not None and mark[0] <= start:
                if mark[1] != self._lastBlock:
                    self._lastBlock = mark[1]
                    self._queue.append(TitleChange(_titleOf(mark[1])))
                mark = next(marks, None)
            end = starts[index + 1] if index + 1 < len(starts) else len(data)
            frameData = data[start:end]
            self._queue.append(Frame(parseHeader(frameData), frameData))

    def disconnect(self, reason: str) -> None:
        """
        The followed mount stopped: forget it until pulled again.

        @param reason: why.
        """
        self._attached = False
        self._queue.clear()

    def pull(self, duration: float) -> list[Frame | TitleChange]:
        """
        Return the followed mount's frames received so far.

        @param duration: seconds wanted.
        @return: frames and marks.
        """
        if self._closed:
            return []
        if not self._attached:
            self._attached = True
            self._lastBlock = None
            burst = self._broadcaster.addListener(self)
            if burst:
                # The followed mount's latest chunk covers now: play it at
                # once rather than waiting for that mount's next tick.
                self.deliver(burst[-1])
        out: list[Frame | TitleChange] = []
        _, title = moveFrames(self._queue, duration, out)
        if title is not None:
            self.title = title
        return out

    def standby(self) -> None:
        """
        No longer played: stop listening to the followed mount.
        """
        if self._attached:
            self._attached = False
            self._broadcaster.removeListener(self)
        self._queue.clear()

    def close(self) -> None:
        """
        Stop following for good; see L{IFrameSource.close}.
        """
        self._closed = True
        self.standby()


def _titleOf(block: bytes) -> str:
    """
    Read the title back from an encoded metadata block.

    @param block: a block made by L{txradio.wire.icy.encodeMetadata}.
    @return: its C{StreamTitle}.
    """
    from txradio.wire.icy import parseMetadata

    return parseMetadata(block[1:]).get("StreamTitle", "")
