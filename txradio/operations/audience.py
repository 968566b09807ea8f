# -*- test-case-name: tests.test_audience -*-
"""
Audience statistics kept over time, in an SQLite file: every listener's
session and every track aired, for reports on listeners over time, per-track
audience and royalty (SoundExchange-style) performance counts.

Why SQLite from the standard library: one file next to the logs, no server
to run, queried with the C{sqlite3} shell by an operator, and it ships with
Python, so statistics add no dependency.  Its calls block, so none of them
run on the reactor thread: L{AudienceRecorder} observes the station events
the radio already emits (nothing on a listener's own path), queues small
tuples, and every few seconds hands a batch to I{one} worker thread, which
owns the connection (L{AudienceDatabase<txradio.operations.audiencedb.AudienceDatabase>}) and also answers the reports.

A disk that fills up or a file that cannot be written costs one log line
per cause and the rows of the failed batches (counted in
L{AudienceRecorder.dropped}); the radio plays on.  When the disk is slower
than the events, the queue keeps at most L{QUEUE_LIMIT} rows and drops the
oldest, counted and logged.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from twisted.internet.defer import Deferred, maybeDeferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from txradio.operations.audiencedb import AudienceDatabase, splitTitle
from txradio.operations.logs import hostOf
from txradio.stream.events import Event, HLSSessionEnded, ListenerJoined, ListenerLeft, TitleChanged, reasonLabel

PROBE_SECONDS = 5.0
"""Sessions shorter than this many seconds are not kept: players probing
the stream, monitoring checks, a listener who clicked away at once."""

FLUSH_INTERVAL = 300.0
"""The longest queued rows wait before they are written, in seconds.  Each
write costs the reactor a thread handoff and its answer, so rows go in few
large batches; the reports still see every row, since a report first hands
the queue to the worker (see L{AudienceRecorder.query}).  A crash loses at
most this much of the statistics."""

FLUSH_ROWS = 1000
"""Queued rows that start a write before L{FLUSH_INTERVAL} is up."""

QUEUE_LIMIT = 100_000
"""The most rows waiting for the worker (about 20 MB); past it the oldest
are dropped, counted and logged, so a slow disk cannot exhaust memory."""

STOP_TIMEOUT = 10.0
"""Seconds stopping waits for the last rows to be written."""

PURGE_INTERVAL = 3600.0
"""Seconds between deletions of rows older than the retention."""


@dataclass(slots=True)
class _Airing:
    """
    What the recorder knows of a mount's current track.
    """

    started: float
    title: str
    listenersStart: int
    listeners: int
    lastChange: float
    gained: int = 0
    lost: int = 0
    listenerSeconds: float = 0.0

    def count(self, when: float, listeners: int) -> None:
        """
        Add the listening time up to now, and note the listeners from now.
        """
        if when > self.lastChange:
            self.listenerSeconds += self.listeners * (when - self.lastChange)
            self.lastChange = when
        self.listeners = listeners


def _threadPoolRunner(reactor: Any) -> tuple[Callable[..., Deferred], Callable[[], None]]:
    """
    Run functions in one thread of a pool of its own, started on first use
    (after C{twistd} has forked: a thread started before would be lost).

    @param reactor: the reactor.
    @return: the runner and a function stopping the pool.
    """
    from twisted.internet.threads import deferToThreadPool
    from twisted.python.threadpool import ThreadPool

    pools: list[ThreadPool] = []

    def run(function: Callable[..., Any], *args: Any) -> Deferred:
        if not pools:
            pool = ThreadPool(minthreads=1, maxthreads=1, name="txradio-audience")
            pool.start()
            pools.append(pool)
        return deferToThreadPool(reactor, pools[0], function, *args)

    def stop() -> None:
        while pools:
            pools.pop().stop()

    return run, stop


class AudienceRecorder:
    """
    Keeps audience statistics: an L{EventBus} observer queuing a row per
    listener session and per track, written in batches by one worker
    thread, which also runs the reports (L{query}).

    @ivar database: the L{AudienceDatabase<txradio.operations.audiencedb.AudienceDatabase>} (used in the worker only).
    @ivar retentionDays: days rows are kept, or 0 for ever.
    @ivar dropped: rows lost: to a full queue or a failed write.
    @ivar written: rows stored.
    """

    _log = Logger()

    def __init__(
        self,
        database: AudienceDatabase,
        clock: IReactorTime,
        runInThread: Callable[..., Deferred] | None = None,
        epoch: Callable[[float], float] | None = None,
        retentionDays: int = 0,
        queueLimit: int = QUEUE_LIMIT,
        hosts: Callable[[str], str] | None = None,
    ) -> None:
        """
        @param database: the statistics file.
        @param clock: the radio's clock (the batches' timer; the reactor
            unless C{runInThread} is given).
        @param runInThread: runs a blocking function, returning a
            L{Deferred}; by default one thread of a pool of its own (tests
            pass a synchronous one).
        @param epoch: turns the clock's seconds into seconds since the
            epoch; the identity by default.
        @param retentionDays: days rows are kept, or 0 for ever.
        @param queueLimit: the most rows waiting.
        @param hosts: shows an HLS client's address as the privacy setting
            allows (a listener's comes shown already); unchanged by default.
        """
        self.database = database
        self._clock = clock
        self._stopPool: Callable[[], None] | None = None
        if runInThread is None:
            runInThread, self._stopPool = _threadPoolRunner(clock)
        self._run = runInThread
        self._epoch = epoch or (lambda seconds: seconds)
        self._hosts = hosts or (lambda host: host)
        self.retentionDays = retentionDays
        self.queueLimit = queueLimit
        self._threshold = min(FLUSH_ROWS, queueLimit)
        self._sessions: deque[tuple[Any, ...]] = deque()
        self._plays: deque[tuple[Any, ...]] = deque()
        self._airing: dict[str, _Airing] = {}
        self._busy = False
        self._waiters: list[Deferred] = []
        self._failing: str | None = None
        self._overflowing = False
        self._lastPurge: float | None = None
        self.dropped = 0
        self.written = 0
        self._loop = LoopingCall(self._tick)
        self._loop.clock = clock

    @property
    def path(self) -> str:
        """
        The statistics file's path.
        """
        return self.database.path

    def start(self) -> None:
        """
        Start writing every L{FLUSH_INTERVAL} seconds.
        """
        if not self._loop.running:
            self._loop.start(FLUSH_INTERVAL, now=False)

    def __call__(self, event: Event) -> None:
        """
        Note a station event: cheap, on the reactor thread.

        @param event: any station event; joins, leaves, HLS sessions and
            titles count.
        """
        # Per event only what must be read now (the listener count) and one
        # flat tuple of references a session; turning them into rows (the
        # epoch, the mount's text, the address, the reason's label) happens
        # in the worker.  Inlined (no helper calls on the common paths):
        # this runs for every join and leave; see benchmarks/audience.py.
        kind = type(event)
        if kind is ListenerLeft:
            station = event.station
            when = event.when
            airing = self._airing.get(station)
            if airing is not None:
                if when > airing.lastChange:
                    airing.listenerSeconds += airing.listeners * (when - airing.lastChange)
                    airing.lastChange = when
                airing.listeners = station.listenerCount
                airing.lost += 1
            seconds = event.seconds  # type: ignore[attr-defined]
            if seconds >= PROBE_SECONDS:
                sessions = self._sessions
                sessions.append(
                    (
                        when,
                        seconds,
                        station.mount,
                        event.listener.userAgent,  # type: ignore[attr-defined]
                        event.peer,  # type: ignore[attr-defined]
                        event.reason,  # type: ignore[attr-defined]
                        "icy",
                    )
                )
                if len(sessions) >= self._threshold:
                    self._full()
        elif kind is ListenerJoined:
            station = event.station
            airing = self._airing.get(station)
            if airing is not None:
                when = event.when
                if when > airing.lastChange:
                    airing.listenerSeconds += airing.listeners * (when - airing.lastChange)
                    airing.lastChange = when
                airing.listeners = station.listenerCount
                airing.gained += 1
        elif kind is HLSSessionEnded:
            if event.seconds >= PROBE_SECONDS:  # type: ignore[attr-defined]
                self._sessions.append(
                    (
                        event.when,
                        event.seconds,  # type: ignore[attr-defined]
                        event.station.mount,
                        event.userAgent,  # type: ignore[attr-defined]
                        event.peer,  # type: ignore[attr-defined]
                        event.reason,  # type: ignore[attr-defined]
                        "hls",
                    )
                )
                if len(self._sessions) >= self._threshold:
                    self._full()
        elif kind is TitleChanged:
            station = event.station
            listeners = station.listenerCount
            self._endAiring(station, event.when, listeners)
            self._airing[station] = _Airing(event.when, event.title, listeners, listeners, event.when)  # type: ignore[attr-defined]

    def _endAiring(self, station: Any, when: float, listeners: int) -> None:
        """
        Queue the row of a station's track that ended.

        @param station: the station.
        @param when: when it ended, by the clock.
        @param listeners: the station's listeners then.
        """
        airing = self._airing.pop(station, None)
        if airing is None:
            return
        airing.count(when, listeners)
        self._plays.append(
            (
                airing.started,
                when,
                station.mount,
                airing.title,
                airing.listenersStart,
                listeners,
                airing.gained,
                airing.lost,
                airing.listenerSeconds,
            )
        )
        if len(self._plays) >= self._threshold:
            self._full()

    def _store(self, sessions: Sequence[tuple[Any, ...]], plays: Sequence[tuple[Any, ...]]) -> None:
        """
        Turn queued events into rows and write them: in the worker.

        @param sessions: C{(when, seconds, mount, player, peer, reason,
            protocol)} tuples as L{__call__} queues them.
        @param plays: tuples as L{_endAiring} queues them.
        """
        epoch = self._epoch
        rows: list[tuple[str, tuple[Any, ...]]] = []
        for when, seconds, mount, player, peer, reason, protocol in sessions:
            end = epoch(when)
            rows.append(
                (
                    "session",
                    (
                        end - seconds,
                        end,
                        mount.decode("ascii", "replace"),
                        round(seconds, 3),
                        protocol,
                        str(player or ""),
                        hostOf(peer) if protocol == "icy" else self._hosts(peer),
                        reasonLabel(reason),
                    ),
                )
            )
        for started, ended, mount, title, listenersStart, listenersEnd, gained, lost, listenerSeconds in plays:
            artist, song = splitTitle(title)
            rows.append(
                (
                    "play",
                    (
                        epoch(started),
                        epoch(ended),
                        mount.decode("ascii", "replace"),
                        title,
                        artist,
                        song,
                        "",
                        listenersStart,
                        listenersEnd,
                        gained,
                        lost,
                        round(listenerSeconds, 3),
                    ),
                )
            )
        self.database.write(rows)

    def _full(self) -> None:
        """
        A queue reached L{FLUSH_ROWS} (or the L{queueLimit}, if smaller): hand it to the worker, or, while the
        worker is busy, keep it within L{queueLimit} by dropping its oldest.
        """
        if not self._busy and (len(self._sessions) >= FLUSH_ROWS or len(self._plays) >= FLUSH_ROWS):
            self._pump()
            return
        for queue in (self._sessions, self._plays):
            while len(queue) > self.queueLimit:
                self._overflow(queue)

    def _overflow(self, queue: deque[tuple[Any, ...]]) -> None:
        """
        A queue is full: drop its oldest row, counted, logged once until
        it drains.

        @param queue: the full queue.
        """
        queue.popleft()
        self.dropped += 1
        if not self._overflowing:
            self._overflowing = True
            self._log.warn(
                "audience statistics: {limit} rows wait for the disk; dropping the oldest ({dropped} lost so far)",
                limit=self.queueLimit,
                dropped=self.dropped,
            )

    def _tick(self) -> None:
        """
        Write what is queued, and delete old rows now and then.
        """
        if self.retentionDays:
            now = self._clock.seconds()
            if self._lastPurge is None or now - self._lastPurge >= PURGE_INTERVAL:
                self._lastPurge = now
                before = self._epoch(now) - self.retentionDays * 86400
                self._run(self.database.purge, before).addErrback(self._failed)
        self._pump()

    def flush(self) -> Deferred[None]:
        """
        Write everything queued now.

        @return: a L{Deferred} firing once the queue was empty (failed
            writes are logged, not raised).
        """
        waiter: Deferred[None] = Deferred()
        self._waiters.append(waiter)
        self._pump()
        return waiter

    def _pump(self) -> None:
        """
        Hand the queue to the worker unless it is busy; go on while someone
        waits for a L{flush}.
        """
        if self._busy:
            return
        if not self._sessions and not self._plays:
            waiters, self._waiters = self._waiters, []
            for waiter in waiters:
                waiter.callback(None)
            return
        # The queues go to the worker whole; new ones take their place.
        sessions, self._sessions = self._sessions, deque()
        plays, self._plays = self._plays, deque()
        rows = len(sessions) + len(plays)
        if self._overflowing:
            self._overflowing = False
            self._log.info(
                "audience statistics: the queue is below its limit again ({dropped} rows lost)", dropped=self.dropped
            )
        self._busy = True

        def done(result: object) -> None:
            self._busy = False
            if isinstance(result, Failure):
                self.dropped += rows
                self._failed(result)
            else:
                self.written += rows
                if self._failing is not None:
                    self._log.info("audience statistics: writing again ({dropped} rows lost)", dropped=self.dropped)
                    self._failing = None
            if self._waiters or len(self._sessions) >= FLUSH_ROWS or len(self._plays) >= FLUSH_ROWS:
                self._pump()

        maybeDeferred(self._run, self._store, sessions, plays).addBoth(done)

    def _failed(self, failure: Failure) -> None:
        """
        Log a failed write or purge once per cause.
        """
        cause = failure.getErrorMessage() or failure.type.__name__
        if cause != self._failing:
            self._failing = cause
            self._log.error(
                "audience statistics: cannot write {path}: {cause}; rows are dropped until it works again",
                path=self.database.path,
                cause=cause,
            )

    def query(self, function: Callable[..., Any], *args: Any) -> Deferred:
        """
        Run a report in the worker thread, after writing the rows queued
        (unless a write is under way: then the rows queued since wait).

        @param function: an L{AudienceDatabase<txradio.operations.audiencedb.AudienceDatabase>} method, or any function of
            it taking the database first when given unbound.
        @param args: its arguments.
        @return: a L{Deferred} firing with its result.
        """
        # The rows queued so far go first (the worker runs its jobs in
        # order), so a report counts them, however long until the next tick.
        self._pump()
        return maybeDeferred(self._run, function, *args)

    def stop(self) -> Deferred[None]:
        """
        Stop: end the tracks airing, write the queue (giving up after
        L{STOP_TIMEOUT} seconds), close the file and the worker.

        @return: a L{Deferred} firing when stopped.
        """
        if self._loop.running:
            self._loop.stop()
        now = self._clock.seconds()
        for station in list(self._airing):
            self._endAiring(station, now, self._airing[station].listeners)
        flushed = self.flush()
        flushed.addTimeout(STOP_TIMEOUT, self._clock)

        def close(result: object) -> Deferred:
            if isinstance(result, Failure):
                self._log.warn(
                    "audience statistics: the last {rows} rows were not written within {timeout} s",
                    rows=len(self._sessions) + len(self._plays),
                    timeout=STOP_TIMEOUT,
                )
                self._stopPool = None  # Joining a stuck worker would block the reactor.
                return succeed(None)
            closing = maybeDeferred(self._run, self.database.close)
            closing.addErrback(lambda _: None)
            return closing

        def stopPool(_: object) -> None:
            if self._stopPool is not None:
                self._stopPool()
                self._stopPool = None

        return flushed.addBoth(close).addCallback(stopPool)
