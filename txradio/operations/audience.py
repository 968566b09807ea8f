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
owns the connection (L{AudienceDatabase}) and also answers the reports.

A disk that fills up or a file that cannot be written costs one log line
per cause and the rows of the failed batches (counted in
L{AudienceRecorder.dropped}); the radio plays on.  When the disk is slower
than the events, the queue keeps at most L{QUEUE_LIMIT} rows and drops the
oldest, counted and logged.
"""

from __future__ import annotations

import calendar
import heapq
import sqlite3
import time
from bisect import bisect_right
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from twisted.internet.defer import Deferred, maybeDeferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from txradio.operations.logs import hostOf
from txradio.stream.events import Event, ListenerJoined, ListenerLeft, TitleChanged, reasonLabel

PROBE_SECONDS = 5.0
"""Sessions shorter than this many seconds are not kept: players probing
the stream, monitoring checks, a listener who clicked away at once."""

FLUSH_INTERVAL = 30.0
"""Seconds between writes of the queued rows."""

FLUSH_ROWS = 500
"""Queued rows that start a write before L{FLUSH_INTERVAL} is up."""

QUEUE_LIMIT = 100_000
"""The most rows waiting for the worker (about 20 MB); past it the oldest
are dropped, counted and logged, so a slow disk cannot exhaust memory."""

STOP_TIMEOUT = 10.0
"""Seconds stopping waits for the last rows to be written."""

PURGE_INTERVAL = 3600.0
"""Seconds between deletions of rows older than the retention."""

PAGE_ROWS = 2000
"""Rows the worker reads at a time for a CSV export."""

MAX_BUCKETS = 2000
"""The most hours, days or months one listeners report may cover."""

MAX_REPORT_ROWS = 10_000
"""The most rows a JSON report answers with."""

PERIODS = ("hour", "day", "month")
"""How a listeners report may group time."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY,
    started REAL NOT NULL,       -- seconds since the epoch (UTC)
    ended REAL NOT NULL,
    mount TEXT NOT NULL,         -- e.g. /stream
    seconds REAL NOT NULL,       -- how long the listener stayed
    protocol TEXT NOT NULL,      -- icy
    player TEXT NOT NULL,        -- the User-Agent
    address TEXT NOT NULL,       -- as log_addresses shows it (no port)
    reason TEXT NOT NULL         -- client_left, kicked, lag_limit...
);
CREATE INDEX IF NOT EXISTS sessions_started ON sessions (started);
CREATE INDEX IF NOT EXISTS sessions_mount_ended ON sessions (mount, ended);
CREATE TABLE IF NOT EXISTS plays (
    id INTEGER PRIMARY KEY,
    started REAL NOT NULL,
    ended REAL NOT NULL,
    mount TEXT NOT NULL,
    title TEXT NOT NULL,         -- as the stream carried it
    artist TEXT NOT NULL,        -- from "Artist - Title", else empty
    song TEXT NOT NULL,          -- the title part, else the whole title
    album TEXT NOT NULL,         -- empty: stream titles carry no album
    listeners_start INTEGER NOT NULL,
    listeners_end INTEGER NOT NULL,
    gained INTEGER NOT NULL,     -- listeners who joined during the track
    lost INTEGER NOT NULL,       -- listeners who left during it
    listener_seconds REAL NOT NULL  -- summed listening time during it
);
CREATE INDEX IF NOT EXISTS plays_started ON plays (started);
"""
"""The database's tables (docs/operations.md shows them)."""

SESSION_COLUMNS = ("start", "end", "mount", "seconds", "protocol", "player", "address", "reason")
"""The columns of C{sessions.csv}."""

PLAY_COLUMNS = (
    "start",
    "end",
    "mount",
    "title",
    "artist",
    "song",
    "album",
    "listeners_start",
    "listeners_end",
    "gained",
    "lost",
    "listener_hours",
)
"""The columns of C{plays.csv}."""

PERFORMANCE_COLUMNS = ("artist", "title", "album", "plays", "performances", "aggregate_tuning_hours")
"""The columns of C{performances.csv} (SoundExchange-style counts)."""


def splitTitle(title: str) -> tuple[str, str]:
    """
    Split a stream title into artist and song, as players do.

    @param title: e.g. C{"Artist - Song"}.
    @return: C{("Artist", "Song")}, or C{("", title)} without C{" - "}.
    """
    artist, sep, song = title.partition(" - ")
    if not sep or not artist.strip() or not song.strip():
        return "", title.strip()
    return artist.strip(), song.strip()


def isoTime(when: float) -> str:
    """
    @param when: seconds since the epoch.
    @return: ISO 8601 in UTC to the second, e.g. C{2026-12-06T03:00:00Z}.
    """
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when))


def parseTime(text: str) -> float:
    """
    Read a report's C{from} or C{to}.

    @param text: ISO 8601 (a date, or a date and time; UTC unless it says
        otherwise) or seconds since the epoch.
    @return: seconds since the epoch.
    @raise ValueError: for anything else.
    """
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def periodEdges(by: str, start: float, end: float) -> list[float]:
    """
    The boundaries of the hours, days or months (UTC) covering a range.

    @param by: one of L{PERIODS}.
    @param start: the range's start, in seconds since the epoch.
    @param end: its end.
    @return: ascending edges, the first at or before C{start}, the last at
        or after C{end}: one more than the periods.
    @raise ValueError: for an unknown period, or more than L{MAX_BUCKETS}.
    """
    if by not in PERIODS:
        raise ValueError(f"by must be one of {', '.join(PERIODS)}")
    edges: list[float] = []
    if by == "month":
        t = time.gmtime(start)
        year, month = t.tm_year, t.tm_mon
        while True:
            edge = float(calendar.timegm((year, month, 1, 0, 0, 0)))
            edges.append(edge)
            if edge >= end and len(edges) > 1:
                break
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
            if len(edges) > MAX_BUCKETS + 1:
                raise ValueError(f"a report may cover at most {MAX_BUCKETS} periods")
        return edges
    step = 3600.0 if by == "hour" else 86400.0
    first = (start // step) * step
    count = max(1, int(-(-(end - first) // step)))
    if count > MAX_BUCKETS:
        raise ValueError(f"a report may cover at most {MAX_BUCKETS} periods")
    return [first + i * step for i in range(count + 1)]


class AudienceDatabase:
    """
    The statistics file.  Every method blocks and must run in the
    recorder's one worker thread, which owns the connection (opened on
    first use, in that thread).

    @ivar path: the file, or C{":memory:"}.
    """

    def __init__(self, path: str) -> None:
        """
        @param path: the file, or C{":memory:"}.
        """
        self.path = path
        self._connection: sqlite3.Connection | None = None

    def connection(self) -> sqlite3.Connection:
        """
        @return: the connection, opened (and the tables made) if needed.
        @raise sqlite3.Error: when the file cannot be opened or written.
        """
        if self._connection is None:
            connection = sqlite3.connect(self.path)
            try:
                if self.path != ":memory:":
                    # Readers (the sqlite3 shell, a backup) do not block the writer.
                    connection.execute("PRAGMA journal_mode=WAL")
                    connection.execute("PRAGMA synchronous=NORMAL")
                connection.executescript(SCHEMA)
            except sqlite3.Error:
                connection.close()
                raise
            self._connection = connection
        return self._connection

    def write(self, rows: Sequence[tuple[str, tuple[Any, ...]]]) -> None:
        """
        Store rows in one transaction.

        @param rows: C{("session", row)} and C{("play", row)} pairs, each
            row in the table's column order (without C{id}).
        @raise sqlite3.Error: when they cannot be written (none are).
        """
        connection = self.connection()
        sessions = [row for kind, row in rows if kind == "session"]
        plays = [row for kind, row in rows if kind == "play"]
        with connection:
            if sessions:
                connection.executemany(
                    "INSERT INTO sessions (started, ended, mount, seconds, protocol, player, address, reason)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    sessions,
                )
            if plays:
                connection.executemany(
                    "INSERT INTO plays (started, ended, mount, title, artist, song, album, listeners_start,"
                    " listeners_end, gained, lost, listener_seconds) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    plays,
                )

    def purge(self, before: float) -> int:
        """
        Delete what ended before a time (the retention).

        @param before: seconds since the epoch.
        @return: the rows deleted.
        """
        connection = self.connection()
        with connection:
            deleted = connection.execute("DELETE FROM sessions WHERE ended < ?", (before,)).rowcount
            deleted += connection.execute("DELETE FROM plays WHERE ended < ?", (before,)).rowcount
        return deleted

    def close(self) -> None:
        """
        Close the connection.
        """
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def sessionPage(
        self, start: float, end: float, mount: str | None, after: tuple[float, int] | None, limit: int = PAGE_ROWS
    ) -> list[tuple[Any, ...]]:
        """
        One page of the sessions that started in a range, oldest first.

        @param start: the range's start, in seconds since the epoch.
        @param end: its end (excluded).
        @param mount: only this mount's, or L{None} for all.
        @param after: the C{(started, id)} of the previous page's last row,
            or L{None} for the first page.
        @param limit: the most rows.
        @return: C{(id, started, ended, mount, seconds, protocol, player,
            address, reason)} rows.
        """
        where, args = self._range(start, end, mount, after)
        return self.connection().execute(
            "SELECT id, started, ended, mount, seconds, protocol, player, address, reason FROM sessions"
            f" WHERE {where} ORDER BY started, id LIMIT ?",
            (*args, limit),
        ).fetchall()

    def playPage(
        self, start: float, end: float, mount: str | None, after: tuple[float, int] | None, limit: int = PAGE_ROWS
    ) -> list[tuple[Any, ...]]:
        """
        One page of the tracks that started in a range, oldest first.

        @param start: the range's start, in seconds since the epoch.
        @param end: its end (excluded).
        @param mount: only this mount's, or L{None} for all.
        @param after: the C{(started, id)} of the previous page's last row,
            or L{None} for the first page.
        @param limit: the most rows.
        @return: C{(id, started, ended, mount, title, artist, song, album,
            listeners_start, listeners_end, gained, lost, listener_seconds)}
            rows.
        """
        where, args = self._range(start, end, mount, after)
        return self.connection().execute(
            "SELECT id, started, ended, mount, title, artist, song, album, listeners_start, listeners_end,"
            f" gained, lost, listener_seconds FROM plays WHERE {where} ORDER BY started, id LIMIT ?",
            (*args, limit),
        ).fetchall()

    @staticmethod
    def _range(
        start: float, end: float, mount: str | None, after: tuple[float, int] | None
    ) -> tuple[str, list[Any]]:
        """
        @return: a C{WHERE} clause and its arguments for a page.
        """
        clauses = ["started >= ?", "started < ?"]
        args: list[Any] = [start, end]
        if mount is not None:
            clauses.append("mount = ?")
            args.append(mount)
        if after is not None:
            clauses.append("(started > ? OR (started = ? AND id > ?))")
            args.extend([after[0], after[0], after[1]])
        return " AND ".join(clauses), args

    def mounts(self) -> list[str]:
        """
        @return: every mount with sessions, sorted.
        """
        return [row[0] for row in self.connection().execute("SELECT DISTINCT mount FROM sessions ORDER BY mount")]

    def listeners(self, by: str, start: float, end: float, mount: str | None = None) -> list[dict[str, Any]]:
        """
        Listeners over time: per mount and period, the peak of listeners
        at once, the average, the distinct addresses and the hours
        listened (sessions cut at the periods' edges).

        Sessions are read oldest first through a cursor and the listeners
        at once kept as a heap of end times, so memory grows with the
        listeners at once and the periods, not the table.

        @param by: one of L{PERIODS}.
        @param start: the range's start, in seconds since the epoch.
        @param end: its end.
        @param mount: one mount, or L{None} for each.
        @return: one dictionary a mount and period, in order.
        @raise ValueError: for a bad period or too long a range.
        """
        edges = periodEdges(by, start, end)
        result = []
        for name in [mount] if mount is not None else self.mounts():
            result.extend(self._mountListeners(name, edges))
        return result

    def _mountListeners(self, mount: str, edges: list[float]) -> list[dict[str, Any]]:
        """
        The listeners report of one mount; see L{listeners}.
        """
        n = len(edges) - 1
        peak = [0] * n
        seconds = [0.0] * n
        unique = [0] * n
        pending: dict[int, set[str]] = {}
        ends: list[float] = []
        k = 0
        cursor = self.connection().execute(
            "SELECT started, ended, address FROM sessions WHERE mount = ? AND ended > ? AND started < ?"
            " ORDER BY started",
            (mount, edges[0], edges[-1]),
        )

        def edgeReached(k: int) -> None:
            while ends and ends[0] <= edges[k]:
                heapq.heappop(ends)
            peak[k] = max(peak[k], len(ends))
            # No session starting from here on overlaps the periods before.
            for index in [i for i in pending if i < k]:
                unique[index] = len(pending.pop(index))

        for started, ended, address in cursor:
            while k < n and edges[k] <= started:
                edgeReached(k)
                k += 1
            while ends and ends[0] <= started:
                heapq.heappop(ends)
            heapq.heappush(ends, ended)
            if k > 0:
                peak[k - 1] = max(peak[k - 1], len(ends))
            index = max(0, bisect_right(edges, started) - 1)
            while index < n and edges[index] < ended:
                overlap = min(ended, edges[index + 1]) - max(started, edges[index])
                if overlap > 0:
                    seconds[index] += overlap
                    pending.setdefault(index, set()).add(address)
                index += 1
        while k < n:
            edgeReached(k)
            k += 1
        for index, addresses in pending.items():
            unique[index] = len(addresses)
        return [
            {
                "mount": mount,
                "start": isoTime(edges[i]),
                "end": isoTime(edges[i + 1]),
                "peak": peak[i],
                "average": round(seconds[i] / (edges[i + 1] - edges[i]), 3),
                "unique": unique[i],
                "hours": round(seconds[i] / 3600, 3),
            }
            for i in range(n)
        ]

    def tracks(self, start: float, end: float, mount: str | None, limit: int) -> list[dict[str, Any]]:
        """
        Per-track audience: the tracks that started in a range.

        @param start: the range's start, in seconds since the epoch.
        @param end: its end.
        @param mount: one mount, or L{None} for all.
        @param limit: the most tracks, oldest first.
        @return: one dictionary a track.
        """
        return [
            {
                "start": isoTime(row[1]),
                "end": isoTime(row[2]),
                "mount": row[3],
                "title": row[4],
                "artist": row[5],
                "song": row[6],
                "listenersStart": row[8],
                "listenersEnd": row[9],
                "gained": row[10],
                "lost": row[11],
                "listenerHours": round(row[12] / 3600, 3),
            }
            for row in self.playPage(start, end, mount, None, limit)
        ]

    def performances(self, start: float, end: float, mount: str | None, limit: int) -> list[tuple[Any, ...]]:
        """
        SoundExchange-style performance counts of the tracks that started
        in a range: per recording, its plays, its performances (listeners
        at its start plus those who joined during it, summed over plays)
        and its aggregate tuning hours, most heard first.

        @param start: the range's start, in seconds since the epoch.
        @param end: its end.
        @param mount: one mount, or L{None} for all.
        @param limit: the most recordings.
        @return: rows in L{PERFORMANCE_COLUMNS}' order.
        """
        where, args = self._range(start, end, mount, None)
        return self.connection().execute(
            "SELECT artist, song, album, COUNT(*), SUM(listeners_start + gained),"
            f" ROUND(SUM(listener_seconds) / 3600.0, 3) FROM plays WHERE {where}"
            " GROUP BY artist, song, album ORDER BY SUM(listener_seconds) DESC, artist, song LIMIT ?",
            (*args, limit),
        ).fetchall()


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

    @ivar database: the L{AudienceDatabase} (used in the worker only).
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
        """
        self.database = database
        self._clock = clock
        self._stopPool: Callable[[], None] | None = None
        if runInThread is None:
            runInThread, self._stopPool = _threadPoolRunner(clock)
        self._run = runInThread
        self._epoch = epoch or (lambda seconds: seconds)
        self.retentionDays = retentionDays
        self.queueLimit = queueLimit
        self._queue: deque[tuple[str, tuple[Any, ...]]] = deque()
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

        @param event: any station event; joins, leaves and titles count.
        """
        # Per event only what must be read now (the listener count) and a
        # tuple of references; the formatting happens in the worker.
        # Inlined (no helper calls on the common paths): this runs for
        # every join and leave; see benchmarks/audience.py.
        kind = type(event)
        if kind is ListenerLeft:
            station = event.station
            airing = self._airing.get(station)
            if airing is not None:
                when = event.when
                if when > airing.lastChange:
                    airing.listenerSeconds += airing.listeners * (when - airing.lastChange)
                    airing.lastChange = when
                airing.listeners = station.listenerCount
                airing.lost += 1
            if event.seconds >= PROBE_SECONDS:  # type: ignore[attr-defined]
                queue = self._queue
                if len(queue) >= self.queueLimit:
                    self._overflow()
                queue.append(
                    (
                        "session",
                        (
                            event.when,
                            event.seconds,  # type: ignore[attr-defined]
                            station.mount,
                            event.listener.userAgent,  # type: ignore[attr-defined]
                            event.peer,  # type: ignore[attr-defined]
                            event.reason,  # type: ignore[attr-defined]
                        ),
                    )
                )
                if len(queue) >= FLUSH_ROWS and not self._busy:
                    self._pump()
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
        self._put(
            (
                "play",
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
                ),
            )
        )

    def _store(self, batch: list[tuple[str, tuple[Any, ...]]]) -> None:
        """
        Turn queued events into rows and write them: in the worker.

        @param batch: C{("session", ...)} and C{("play", ...)} tuples as
            L{__call__} and L{_endAiring} queue them.
        """
        epoch = self._epoch
        rows: list[tuple[str, tuple[Any, ...]]] = []
        for kind, raw in batch:
            if kind == "session":
                when, seconds, mount, player, peer, reason = raw
                end = epoch(when)
                row: tuple[Any, ...] = (
                    end - seconds,
                    end,
                    mount.decode("ascii", "replace"),
                    round(seconds, 3),
                    "icy",
                    str(player or ""),
                    hostOf(peer),
                    reasonLabel(reason),
                )
            else:
                started, ended, mount, title, listenersStart, listenersEnd, gained, lost, listenerSeconds = raw
                artist, song = splitTitle(title)
                row = (
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
                )
            rows.append((kind, row))
        self.database.write(rows)

    def _put(self, row: tuple[str, tuple[Any, ...]]) -> None:
        """
        Queue a row, dropping the oldest when the queue is full.
        """
        queue = self._queue
        if len(queue) >= self.queueLimit:
            self._overflow()
        queue.append(row)
        if len(queue) >= FLUSH_ROWS and not self._busy:
            self._pump()

    def _overflow(self) -> None:
        """
        The queue is full: drop its oldest row, counted, logged once until
        it drains.
        """
        self._queue.popleft()
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
        if not self._queue:
            waiters, self._waiters = self._waiters, []
            for waiter in waiters:
                waiter.callback(None)
            return
        batch = list(self._queue)
        self._queue.clear()
        if self._overflowing:
            self._overflowing = False
            self._log.info("audience statistics: the queue is below its limit again ({dropped} rows lost)",
                           dropped=self.dropped)
        self._busy = True

        def done(result: object) -> None:
            self._busy = False
            if isinstance(result, Failure):
                self.dropped += len(batch)
                self._failed(result)
            else:
                self.written += len(batch)
                if self._failing is not None:
                    self._log.info("audience statistics: writing again ({dropped} rows lost)", dropped=self.dropped)
                    self._failing = None
            if self._waiters or len(self._queue) >= FLUSH_ROWS:
                self._pump()

        maybeDeferred(self._run, self._store, batch).addBoth(done)

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
        Run a report in the worker thread.

        @param function: an L{AudienceDatabase} method, or any function of
            it taking the database first when given unbound.
        @param args: its arguments.
        @return: a L{Deferred} firing with its result.
        """
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
                    rows=len(self._queue),
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


def pages(fetch: Callable[[tuple[float, int] | None], list[tuple[Any, ...]]]) -> Iterator[list[tuple[Any, ...]]]:
    """
    Read every page synchronously (for tests and tools; the web reads them
    one at a time in the worker).

    @param fetch: returns the page after a C{(started, id)} key.
    @return: the pages, each non-empty.
    """
    after = None
    while True:
        page = fetch(after)
        if not page:
            return
        yield page
        after = (page[-1][1], page[-1][0])
