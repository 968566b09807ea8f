# -*- test-case-name: tests.test_audience,tests.test_audience_web -*-
"""
The audience statistics file: its SQLite tables, the writes and the report
queries, every call blocking and run in the recorder's one worker thread.
"""

from __future__ import annotations

import calendar
import heapq
import sqlite3
import time
from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

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
        return self._page(
            "sessions",
            "id, started, ended, mount, seconds, protocol, player, address, reason",
            start,
            end,
            mount,
            after,
            limit,
        )

    def playPage(
        self, start: float, end: float, mount: str | None, after: tuple[float, int] | None, limit: int = PAGE_ROWS
    ) -> list[tuple[Any, ...]]:
        """
        One page of the tracks that started in a range, oldest first; the
        parameters are those of L{sessionPage}.

        @return: C{(id, started, ended, mount, title, artist, song, album,
            listeners_start, listeners_end, gained, lost, listener_seconds)}
            rows.
        """
        return self._page(
            "plays",
            "id, started, ended, mount, title, artist, song, album, listeners_start, listeners_end,"
            " gained, lost, listener_seconds",
            start,
            end,
            mount,
            after,
            limit,
        )

    def _page(
        self,
        table: str,
        columns: str,
        start: float,
        end: float,
        mount: str | None,
        after: tuple[float, int] | None,
        limit: int,
    ) -> list[tuple[Any, ...]]:
        """
        One page of a table's rows that started in a range, oldest first,
        keyed by C{(started, id)}.

        @param table: C{sessions} or C{plays}.
        @param columns: the columns to read, C{id} and C{started} first.
        @return: the rows.
        """
        where, args = self._range(start, end, mount, after)
        return (
            self.connection()
            .execute(f"SELECT {columns} FROM {table} WHERE {where} ORDER BY started, id LIMIT ?", (*args, limit))
            .fetchall()
        )

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
        return (
            self.connection()
            .execute(
                "SELECT artist, song, album, COUNT(*), SUM(listeners_start + gained),"
                f" ROUND(SUM(listener_seconds) / 3600.0, 3) FROM plays WHERE {where}"
                " GROUP BY artist, song, album ORDER BY SUM(listener_seconds) DESC, artist, song LIMIT ?",
                (*args, limit),
            )
            .fetchall()
        )


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
