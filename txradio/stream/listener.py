# -*- test-case-name: tests.test_listener -*-
"""
A listener: one connection receiving a station's stream.

The listener is a streaming producer registered on its transport.  Each tick
it writes the broadcaster's shared chunk, splicing its own metadata block in
where its metadata interval falls (listeners who joined at different moments
have different phases).  When the transport's buffer fills it is paused and
keeps references to the chunks it missed instead of writing them; past its
lag limit it disconnects itself, so a stalled listener never slows anyone
else and never holds more than a bounded amount of audio.
"""

from __future__ import annotations

from itertools import count
from typing import Any

from twisted.internet.interfaces import IDelayedCall, IPushProducer, IReactorTime
from twisted.logger import Logger

from zope.interface import implementer

from txradio.interfaces import IBroadcaster, IListener
from txradio.stream._writer import writerFor
from txradio.stream.broadcast import Chunk
from txradio.stream.events import DURATION_LIMIT, LAG_LIMIT
from txradio.stream.intro import afterIntro
from txradio.wire.icy import EMPTY_BLOCK

DEFAULT_LAG_LIMIT = 524288
"""
Bytes of audio a paused listener may fall behind before it is dropped:
Icecast's C{queue-size}, about 32 seconds at 128 kbps.
"""

_ids = count(1)
"""
Where listener ids come from: one sequence for the whole process, so that
an id stays unique when its listener moves to another mount (as Icecast's
connection ids are).
"""


class InternalListener:
    """
    What an internal consumer of a stream (the HLS segmenter, a show
    recorder) tells of itself as an L{IListener}: no player, always up to
    date, and not counted among the listeners.  A subclass names its
    C{peer} and counts its C{bytesSent}.
    """

    id: int | None = None
    userAgent = ""
    connectedAt: float | None = None
    seconds = 0.0
    lag = 0
    internal = True


@implementer(IListener, IPushProducer)
class Listener:
    """
    Sends a broadcaster's chunks to one transport, with ICY metadata if the
    listener asked for it.

    @ivar id: a number for this connection, unique in the process and fixed
        while it lasts (what the admin interfaces call it by).
    @ivar peer: the listener's address, for logs and status.
    @ivar userAgent: what the listener's player calls itself.
    @ivar bytesSent: bytes given to the transport so far, metadata included.
    @ivar lag: bytes of audio held back while paused.
    @ivar connectedAt: when the stream started, in the clock's seconds.
    @ivar endReason: why the server ended the stream (L{disconnect}'s
        reason), or L{None} while it plays or when the client left.
    """

    __slots__ = (
        "id",
        "peer",
        "userAgent",
        "bytesSent",
        "lag",
        "connectedAt",
        "endReason",
        "_transport",
        "_write",
        "_broadcaster",
        "_metaint",
        "_untilBlock",
        "_lastBlock",
        "_paused",
        "_queue",
        "_lagLimit",
        "_clock",
        "_done",
        "_timeLimit",
        "__provides__",
    )

    _log = Logger()
    internal = False
    """A listener is an audience member (see L{IListener.internal})."""

    def __init__(
        self,
        transport: Any,
        broadcaster: IBroadcaster,
        clock: IReactorTime,
        metaint: int = 0,
        lagLimit: int = DEFAULT_LAG_LIMIT,
        peer: str = "",
        userAgent: str = "",
    ) -> None:
        """
        @param transport: the connection, with the response head already
            written.
        @param broadcaster: the stream to follow.
        @param clock: used to time the listening session.
        @param metaint: audio bytes between metadata blocks, or 0 for none.
        @param lagLimit: bytes of audio this listener may fall behind before
            it is dropped.
        @param peer: the listener's address, for logs.
        @param userAgent: the player's name, for logs.
        """
        self.id = next(_ids)
        self.peer = peer
        self.userAgent = userAgent
        self.bytesSent = 0
        self.lag = 0
        self.connectedAt = clock.seconds()
        self.endReason: str | None = None
        self._transport = transport
        self._write = writerFor(transport)
        self._broadcaster = broadcaster
        self._metaint = metaint
        self._untilBlock = metaint
        self._lastBlock: bytes | None = None
        self._paused = False
        self._queue: list[Chunk] = []
        self._lagLimit = lagLimit
        self._clock = clock
        self._done = False
        self._timeLimit: IDelayedCall | None = None

    def start(self, intro: Chunk | None = None) -> int:
        """
        Register as the transport's producer, join the broadcaster and send
        the intro, if any, then the burst.

        The intro is written as it is (one shared object, no copy without
        metadata), counted in the metadata phase like any audio; the
        burst's first frames are then made safe to follow it (see
        L{afterIntro}).  With no recent audio to join (an empty burst) the
        intro is left out: the next tick's frames could not be joined to it
        cleanly.

        @param intro: the mount's intro chunk, or L{None}.
        @return: the bytes written for the intro (0 without one).
        """
        self._transport.registerProducer(self, True)
        burst = self._broadcaster.addListener(self)
        sent = 0
        if intro is not None and burst:
            self._write(self._splice(intro))
            sent = self.bytesSent
            burst = afterIntro(burst)
        if burst:
            self._send(burst)
        return sent

    def limitDuration(self, seconds: float) -> None:
        """
        Disconnect this listener after C{seconds} (a mount's
        C{max_listener_duration}), with the reason L{DURATION_LIMIT}: one
        delayed call on the clock, cancelled when the listener leaves.

        @param seconds: how long it may listen from now, more than 0.
        """
        if self._done:
            return
        if self._timeLimit is not None and self._timeLimit.active():
            self._timeLimit.cancel()
        self._timeLimit = self._clock.callLater(seconds, self._timeIsUp)

    def _timeIsUp(self) -> None:
        """
        The listener's time is up: drop it.
        """
        self._timeLimit = None
        self.disconnect(DURATION_LIMIT)

    @property
    def seconds(self) -> float:
        """
        How long this listener has been connected, in seconds.
        """
        return self._clock.seconds() - self.connectedAt

    def deliver(self, chunk: Chunk) -> None:
        """
        Write the next chunk, or hold it while paused; see
        L{IListener.deliver}.

        @param chunk: the shared chunk of this tick.
        """
        if not self._paused:
            self._write(self._splice(chunk))
            return
        self._queue.append(chunk)
        self.lag += len(chunk.data)
        if self.lag > self._lagLimit:
            self.disconnect(LAG_LIMIT)

    def _send(self, chunks: list[Chunk]) -> None:
        """
        Write several chunks in one go.

        @param chunks: consecutive chunks of the stream.
        """
        self._write(b"".join([self._splice(chunk) for chunk in chunks]))

    def _splice(self, chunk: Chunk) -> bytes:
        """
        Return the bytes this listener must send for C{chunk}: the audio with
        a metadata block after every C{metaint} bytes of it.

        @param chunk: the chunk to send.
        @return: the chunk's data itself when no block falls inside it (no
            copy), else a new L{bytes} with the blocks spliced in.
        """
        data = chunk.data
        size = len(data)
        metaint = self._metaint
        if not metaint or size < self._untilBlock:
            self._untilBlock -= size
            self.bytesSent += size
            return data
        pieces = []
        position = 0
        cut = self._untilBlock
        while cut <= size:
            pieces.append(data[position:cut])
            block = chunk.blockAt(cut)
            if block == self._lastBlock:
                pieces.append(EMPTY_BLOCK)
            else:
                pieces.append(block)
                self._lastBlock = block
            position = cut
            cut += metaint
        pieces.append(data[position:])
        self._untilBlock = cut - size
        out = b"".join(pieces)
        self.bytesSent += len(out)
        return out

    def moveTo(self, broadcaster: IBroadcaster) -> None:
        """
        Follow another broadcaster from its next chunk on, without
        reconnecting (Icecast's C{moveclients}).

        Every chunk holds whole frames, so the stream switches at a frame
        boundary; the metadata phase and the last block sent carry over, so
        blocks keep coming every C{metaint} bytes and the new mount's title
        is sent in the next one.  The new broadcaster's burst is not sent:
        the player already holds audio.  Chunks held back while paused
        still go out first, in order.

        @param broadcaster: the broadcaster to follow; nothing happens when
            it is the current one or the listener has ended.
        """
        if self._done or broadcaster is self._broadcaster:
            return
        self._broadcaster.removeListener(self)
        self._broadcaster = broadcaster
        broadcaster.addListener(self)

    def pauseProducing(self) -> None:
        """
        The transport's buffer is full: hold chunks instead of writing them.
        """
        self._paused = True

    def resumeProducing(self) -> None:
        """
        The transport drained: write what was held back, in order.
        """
        self._paused = False
        if self._queue:
            queue = self._queue
            self._queue = []
            self.lag = 0
            self._send(queue)

    def stopProducing(self) -> None:
        """
        The connection is going away: leave the broadcaster.
        """
        self._finish()

    def disconnect(self, reason: str) -> None:
        """
        Drop this listener at once; see L{IListener.disconnect}.

        @param reason: why, for the log.
        """
        if self._done:
            return
        self.endReason = reason
        self._log.info(
            "dropping listener {peer}: {reason} ({lag} bytes behind)",
            peer=self.peer,
            reason=reason,
            lag=self.lag,
        )
        self._finish()
        self._transport.abortConnection()

    def _finish(self) -> None:
        """
        Leave the broadcaster and let go of held chunks; idempotent.
        """
        if self._done:
            return
        self._done = True
        self._queue = []
        timeLimit, self._timeLimit = self._timeLimit, None
        if timeLimit is not None and timeLimit.active():
            timeLimit.cancel()
        self._broadcaster.removeListener(self)
