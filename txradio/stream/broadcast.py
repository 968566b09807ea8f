# -*- test-case-name: tests.test_broadcast -*-
"""
The broadcaster: one per mount, it paces a source's frames in real time and
hands the same immutable chunk of audio to every listener.

Pacing is computed from the clock and the audio already sent, never from a
count of ticks: on each tick the broadcaster sends every frame whose start
time is due, plus a small lead, so a late tick catches up, an early one sends
nothing, variable bitrate files pace correctly and no drift accumulates.
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass
from math import floor
from typing import cast

from twisted.application.service import Service
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from zope.interface import implementer

from txradio.interfaces import IBroadcaster, IFrameSource, IListener
from txradio.stream.events import STATION_STOPPED, Histogram
from txradio.wire.icy import encodeMetadata
from txradio.wire.mp3 import Frame
from txradio.wire.programme import TitleChange

DEFAULT_TICK = 1.0
"""Seconds between two writes to every listener."""

DEFAULT_BURST = 65536
"""Bytes of recent audio a new listener receives at once (Icecast's default)."""

TITLE_HISTORY = 50
"""Titles a broadcaster remembers in L{Broadcaster.history}."""

DEFAULT_FANOUT_SLICE = 1000
"""
Listeners written to in one reactor turn; a tick's chunk reaches the rest
over the following turns, so that connections being accepted meanwhile
need not wait for the whole audience (see L{Broadcaster.fanoutSlice}).
"""

DEFAULT_MAX_CATCH_UP = 2.0
"""
Seconds of debt after which the broadcaster stops catching up and starts its
clock afresh (a live source that paused, a reactor that stalled, a wall clock
that jumped).
"""


@dataclass(frozen=True, slots=True)
class Chunk:
    """
    A piece of the stream, shared by every listener of a broadcaster.

    @ivar data: whole MP3 frames, concatenated.
    @ivar frameStarts: the offsets in C{data} where frames begin, ascending.
    @ivar marks: C{(offset, block)} pairs, ascending by offset, the first at
        offset 0: from C{offset} on, the audio belongs to the title that the
        encoded metadata C{block} announces.
    @ivar position: the offset of C{data[0]} in the broadcaster's stream, in
        bytes since it started.
    """

    data: bytes
    frameStarts: tuple[int, ...]
    marks: tuple[tuple[int, bytes], ...]
    position: int = 0

    def blockAt(self, offset: int) -> bytes:
        """
        Find the metadata block for the audio at C{offset}.

        @param offset: an offset in C{data}; C{len(data)} means the end.
        @return: the encoded block of the title in effect there.
        """
        marks = self.marks
        if len(marks) == 1 or offset < marks[1][0]:
            return marks[0][1]
        block = marks[0][1]
        for start, candidate in marks:
            if start > offset:
                break
            block = candidate
        return block

    def tail(self, start: int) -> Chunk:
        """
        Take the chunk's data from a frame boundary on.

        @param start: an offset in L{frameStarts}.
        @return: a chunk holding C{data[start:]} with its frames and marks.
        """
        if start == 0:
            return self
        blockThere = self.blockAt(start)
        marks = ((0, blockThere),) + tuple((offset - start, block) for offset, block in self.marks if offset > start)
        return Chunk(
            self.data[start:],
            tuple(offset - start for offset in self.frameStarts if offset >= start),
            marks,
            self.position + start,
        )


class RecentAudio:
    """
    The most recent chunks, kept so that a new listener can start with a
    burst of audio that begins on a frame boundary.

    @ivar size: the burst size in bytes that this buffer can always serve.
    """

    def __init__(self, size: int) -> None:
        """
        @param size: bytes of recent audio to keep at least.
        """
        self.size = size
        self._chunks: deque[Chunk] = deque()
        self._bytes = 0

    def append(self, chunk: Chunk) -> None:
        """
        Remember a chunk just sent, forgetting chunks no burst needs.

        @param chunk: the newest chunk.
        """
        self._chunks.append(chunk)
        self._bytes += len(chunk.data)
        while self._chunks and self._bytes - len(self._chunks[0].data) >= self.size:
            self._bytes -= len(self._chunks.popleft().data)

    def clear(self) -> None:
        """
        Forget every chunk: the audio went off the air, and no burst may
        start a new listener with audio from before the gap.
        """
        self._chunks.clear()
        self._bytes = 0

    def burst(self, size: int | None = None) -> list[Chunk]:
        """
        Return at most C{size} bytes of the most recent audio.

        @param size: the burst size in bytes; by default L{size}.
        @return: chunks in stream order; the first starts on a frame boundary.
        """
        if size is None:
            size = self.size
        taken = 0
        result: list[Chunk] = []
        for chunk in reversed(self._chunks):
            length = len(chunk.data)
            if taken + length <= size:
                result.append(chunk)
                taken += length
                continue
            # Start inside this chunk at the first frame that leaves the
            # burst no larger than asked for.
            earliest = length - (size - taken)
            index = bisect.bisect_left(chunk.frameStarts, earliest)
            if index < len(chunk.frameStarts):
                result.append(chunk.tail(chunk.frameStarts[index]))
            break
        result.reverse()
        return result


@implementer(IBroadcaster)
class Broadcaster(Service):
    """
    Paces an L{IFrameSource} in real time and fans its audio out to
    listeners.

    Started as a service, it runs a L{LoopingCall} on the given clock.  On
    each tick it pulls the frames now due from its source, joins them into
    one L{Chunk}, remembers it for bursts and hands that same object to every
    listener.

    @ivar source: the L{IFrameSource} playing now.
    @ivar title: the title of the audio most recently sent.
    @ivar audioSeconds: seconds of audio sent since the pacing clock last
        started.
    @ivar bytesSent: bytes of audio produced since start (per listener, not
        summed over listeners).
    @ivar bitrate: the bitrate in kbps of the first frame of the current
        track (or source), or L{None} before any audio.
    @ivar tickInterval: seconds between ticks.
    @ivar lead: seconds of audio sent ahead of real time on each tick.
    @ivar startedAt: when the service last started, in the clock's seconds,
        or L{None} before it starts.
    @ivar lateness: a L{Histogram} of how late each tick ran, in seconds
        (how long the reactor kept the pacing loop waiting).
    @ivar metadataURL: called with each new title for the C{StreamUrl} of
        the metadata block (album art; see L{txradio.web.art}), or L{None}.
    @ivar onTitleChange: called with each new title as the stream starts
        carrying it, or L{None}.
    @ivar history: the last L{TITLE_HISTORY} titles as C{(when, title)}
        pairs, C{when} in the clock's seconds, the most recent last.
    @ivar fanoutSlice: the most listeners a tick writes to in one reactor
        turn.  With more, the tick writes to the first C{fanoutSlice} of
        them (in the order they joined) and the rest get the same chunk in
        slices on the following turns (C{callLater(0, ...)}), so that the
        reactor accepts connections and serves requests in between.  A
        listener that joins meanwhile is not among them: its burst already
        holds the chunk.  One that leaves meanwhile is skipped.  A tick that
        finds the previous fan-out unfinished finishes it first.
    """

    _log = Logger()

    def __init__(
        self,
        source: IFrameSource,
        clock: IReactorTime | None = None,
        burstSize: int = DEFAULT_BURST,
        tickInterval: float = DEFAULT_TICK,
        lead: float | None = None,
        maxCatchUp: float = DEFAULT_MAX_CATCH_UP,
        name: str = "",
        fanoutSlice: int = DEFAULT_FANOUT_SLICE,
    ) -> None:
        """
        @param source: where the frames come from.
        @param clock: the time to pace by; the global reactor by default.
        @param burstSize: bytes of recent audio a new listener receives.
        @param tickInterval: seconds between ticks (writes to listeners).
        @param lead: seconds of audio to send ahead of the clock; by default
            one tick, so that a listener always holds audio until the next.
        @param maxCatchUp: seconds of lateness after which the broadcaster
            starts its pacing clock afresh instead of catching up.
        @param name: a name for the log, e.g. the mount.
        @param fanoutSlice: the most listeners written to in one reactor
            turn (at least 1).
        """
        if fanoutSlice < 1:
            raise ValueError(f"fanoutSlice must be at least 1, not {fanoutSlice}")
        if clock is None:
            from twisted.internet import reactor

            clock = cast(IReactorTime, reactor)
        self.source = source
        self.name = name
        self._clock = clock
        self.tickInterval = tickInterval
        self.lead = tickInterval if lead is None else lead
        self.maxCatchUp = maxCatchUp
        self.recent = RecentAudio(burstSize)
        self.title: str | None = None
        self.bitrate: int | None = None
        self.audioSeconds = 0.0
        self.bytesSent = 0
        self.framesSent = 0
        self.startedAt: float | None = None
        self.history: deque[tuple[float, str]] = deque(maxlen=TITLE_HISTORY)
        self._listeners: dict[IListener, None] = {}
        self._observers: dict[IListener, None] = {}
        self._block = encodeMetadata("")
        self._pendingTitle: str | None = None
        self._anchor: float | None = None
        self._lastElapsed = 0.0
        self.lateness = Histogram()
        self.onTitleChange: Callable[[str], None] | None = None
        self.metadataURL: Callable[[str], str | None] | None = None
        self._due: float | None = None
        self.fanoutSlice = fanoutSlice
        self._fanout: tuple[Chunk, list[IListener], int] | None = None
        self._fanoutCall: IDelayedCall | None = None
        self._loop = LoopingCall(self.tick)
        self._loop.clock = clock

    @property
    def listeners(self) -> Collection[IListener]:
        """
        The attached listeners, in the order they joined.
        """
        return self._listeners.keys()

    def startService(self) -> None:
        """
        Start ticking; the first tick happens at once.
        """
        Service.startService(self)
        self.startedAt = self._clock.seconds()
        self._anchor = None
        self._due = None
        self._loop.start(self.tickInterval, now=True)

    def stopService(self) -> None:
        """
        Stop ticking and disconnect every listener.
        """
        Service.stopService(self)
        if self._loop.running:
            self._loop.stop()
        self._cancelFanout()
        for listener in list(self._listeners):
            listener.disconnect(STATION_STOPPED)
        self._listeners.clear()

    def addListener(self, listener: IListener) -> list[Chunk]:
        """
        Attach a listener; see L{IBroadcaster.addListener}.

        @param listener: the new listener.
        @return: the burst for it.
        """
        self._listeners[listener] = None
        return self.recent.burst()

    def addObserver(self, observer: IListener) -> None:
        """
        Hand every chunk to C{observer} too, as to a listener, though it is
        none: it gets no burst, is not counted among L{listeners}, is not
        disconnected when the station stops or its source leaves, and stays
        attached until L{removeObserver}.  The HLS segmenter is one.

        @param observer: an object with the L{IListener.deliver} method.
        """
        self._observers[observer] = None

    def removeObserver(self, observer: IListener) -> None:
        """
        Stop handing chunks to C{observer}; harmless if it is not attached.

        @param observer: an object given to L{addObserver}.
        """
        self._observers.pop(observer, None)

    def removeListener(self, listener: IListener) -> None:
        """
        Detach a listener; see L{IBroadcaster.removeListener}.

        @param listener: a listener given to L{addListener}.
        """
        self._listeners.pop(listener, None)

    def setSource(self, source: IFrameSource) -> None:
        """
        Play from C{source} from the next frame on.

        @param source: the new source; its first L{TitleChange} sets the
            title, or the current title stays until it sends one.
        """
        self.source = source

    def announce(self, title: str) -> None:
        """
        Change the title from the next frame sent on (an operator's or a
        source client's metadata update).

        @param title: the new title.
        """
        self._pendingTitle = title

    def tick(self) -> None:
        """
        Send the audio now due to every listener.

        A tick at which the source gives no audio while the audio already
        sent has all been played out (the audio clock, L{audioSeconds},
        has fallen behind real time) marks a gap in the mount's audio: a
        live source left or stalled and the mount went off the air.  The
        recent audio is forgotten there, so a listener who joins during or
        after the gap never gets audio from before it in its burst (as
        with Icecast, whose burst queue goes with the source).  A tick
        that finds no frames while listeners still hold audio sent ahead
        (one that falls between a live source's frames) is no gap, and a
        source that always has audio due (a playlist across its track
        changes, a hand-over from a live source to the playlist) never
        makes one.
        """
        if self._fanout is not None:
            # The reactor was too busy to finish the last fan-out: its
            # chunk goes first, so that every listener keeps stream order.
            self._finishFanout()
        now = self._clock.seconds()
        self._measureLateness(now)
        if self._anchor is None:
            self._anchor = now
            self._lastElapsed = 0.0
        elapsed = now - self._anchor
        behind = elapsed > self.audioSeconds
        if elapsed < self._lastElapsed or elapsed - self.audioSeconds > self.maxCatchUp:
            # The clock went backwards, or we are so far behind (a source
            # that had nothing, a stalled reactor) that catching up would
            # flood every listener: start the pacing clock afresh.
            self._anchor = now - self.audioSeconds
            elapsed = self.audioSeconds
        self._lastElapsed = elapsed
        due = elapsed + self.lead
        if self.audioSeconds >= due:
            return
        chunk = self._collect(due)
        if chunk is None:
            if behind:
                # A gap: see the docstring.
                self.recent.clear()
            return
        self.recent.append(chunk)
        for observer in list(self._observers):
            observer.deliver(chunk)
        if len(self._listeners) <= self.fanoutSlice:
            for listener in list(self._listeners):
                listener.deliver(chunk)
            return
        self._fanout = (chunk, list(self._listeners), 0)
        self._fanoutUpTo(self.fanoutSlice)

    def _continueFanout(self) -> None:
        """
        Write the pending chunk to the next slice of listeners (a reactor
        turn after the last).
        """
        self._fanoutCall = None
        assert self._fanout is not None
        self._fanoutUpTo(self._fanout[2] + self.fanoutSlice)

    def _fanoutUpTo(self, end: int) -> None:
        """
        Write the pending chunk to the listeners waiting for it, up to the
        C{end}th, skipping those that left; schedule the rest, if any, for
        the next reactor turn.

        @param end: the index in the fan-out's listeners to stop before.
        """
        assert self._fanout is not None
        chunk, targets, start = self._fanout
        attached = self._listeners
        for listener in targets[start:end]:
            if listener in attached:
                listener.deliver(chunk)
        if end < len(targets):
            self._fanout = (chunk, targets, end)
            self._fanoutCall = self._clock.callLater(0, self._continueFanout)
        else:
            self._fanout = None

    def _finishFanout(self) -> None:
        """
        Write the pending chunk to every listener still waiting for it, at
        once.
        """
        assert self._fanout is not None
        if self._fanoutCall is not None:
            self._fanoutCall.cancel()
            self._fanoutCall = None
        self._fanoutUpTo(len(self._fanout[1]))

    def _cancelFanout(self) -> None:
        """
        Drop the pending fan-out, if any: the station stops.
        """
        if self._fanoutCall is not None:
            self._fanoutCall.cancel()
            self._fanoutCall = None
        self._fanout = None

    def _measureLateness(self, now: float) -> None:
        """
        Record how late this tick runs, and when the next one is due.

        The loop runs at its start time plus whole intervals (skipping those
        it missed), so the next tick is due at the first such time after
        now.

        @param now: the clock's time.
        """
        start = self._loop.starttime
        if start is None:
            return
        due = self._due if self._due is not None else now
        late = now - due
        self.lateness.observe(late if late > 0 else 0.0)
        interval = self.tickInterval
        self._due = start + interval * (floor((now - start) / interval + 1e-9) + 1)

    def _collect(self, due: float) -> Chunk | None:
        """
        Pull frames from the source until C{due} seconds of audio are sent.

        @param due: the audio time, in seconds since the pacing clock
            started, that must be reached.
        @return: the chunk to send, or L{None} if the source had nothing.
        """
        pieces: list[bytes] = []
        frameStarts: list[int] = []
        if self._pendingTitle is not None:
            self._changeTitle(self._pendingTitle)
            self._pendingTitle = None
        marks: list[tuple[int, bytes]] = [(0, self._block)]
        size = 0
        audio = self.audioSeconds
        trackStart = self.bitrate is None
        while audio < due:
            items = self.source.pull(due - audio)
            if not items:
                break
            for item in items:
                if type(item) is Frame:
                    if trackStart:
                        self.bitrate = item.header.bitrate
                        trackStart = False
                    frameStarts.append(size)
                    pieces.append(item.data)
                    size += len(item.data)
                    audio += item.header.duration
                elif isinstance(item, TitleChange):
                    trackStart = True
                    self._changeTitle(item.title)
                    if marks[-1][0] == size:
                        marks[-1] = (size, self._block)
                    else:
                        marks.append((size, self._block))
        self.audioSeconds = audio
        if not pieces:
            return None
        chunk = Chunk(b"".join(pieces), tuple(frameStarts), tuple(marks), self.bytesSent)
        self.bytesSent += size
        self.framesSent += len(frameStarts)
        return chunk

    def _changeTitle(self, title: str) -> None:
        """
        Announce a new title from the current stream position on.

        @param title: the new title.
        """
        self.title = title
        self.history.append((self._clock.seconds(), title))
        url = self.metadataURL(title) if self.metadataURL is not None else None
        self._block = encodeMetadata(title, url)
        self._log.info("{name} now playing: {title}", name=self.name, title=title)
        if self.onTitleChange is not None:
            self.onTitleChange(title)
