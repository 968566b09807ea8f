# -*- test-case-name: tests.test_audience_web -*-
"""
Audience reports from the statistics file (L{txradio.operations.audience}):
JSON under C{/api/v1/stats/…} and CSV under C{/admin/reports/…}, all behind
the admin password (the same checks and login throttle as the admin API:
addresses and players are the listeners' own).

Every query runs in the statistics' worker thread.  JSON answers are
bounded (L{MAX_REPORT_ROWS}, L{MAX_BUCKETS}); CSV exports are streamed a
page at a time as a push producer, so a huge table costs one page of
memory and a slow client pauses the reading.  See C{docs/api.md}.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from twisted.internet.interfaces import IPushProducer
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web import http
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from zope.interface import implementer

from txradio.operations.audience import AudienceRecorder
from txradio.operations.audiencedb import (
    MAX_REPORT_ROWS,
    PERFORMANCE_COLUMNS,
    PLAY_COLUMNS,
    SESSION_COLUMNS,
    AudienceDatabase,
    isoTime,
    parseTime,
)
from txradio.web.admin import AdminResource
from txradio.web.status import encodeJSON

STATS_PREFIX = b"/api/v1/stats/"
"""Where the JSON reports are."""

REPORTS_PREFIX = b"/admin/reports/"
"""Where the CSV exports are."""

DEFAULT_RANGE = 7 * 86400.0
"""Seconds a report covers when C{from} is not given: a week before C{to}."""

_log = Logger()

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    """
    Keep a text cell from being read as a formula by a spreadsheet (a
    player's name is whatever the client sent).

    @param value: a cell.
    @return: it, with C{'} before a leading C{=}, C{+}, C{-} or C{@}.
    """
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def _sessionRow(row: tuple[Any, ...]) -> list[Any]:
    """
    @param row: an L{AudienceDatabase.sessionPage} row.
    @return: its cells in L{SESSION_COLUMNS}' order.
    """
    return [isoTime(row[1]), isoTime(row[2]), *row[3:]]


def _playRow(row: tuple[Any, ...]) -> list[Any]:
    """
    @param row: an L{AudienceDatabase.playPage} row.
    @return: its cells in L{PLAY_COLUMNS}' order.
    """
    return [isoTime(row[1]), isoTime(row[2]), *row[3:12], round(row[12] / 3600, 3)]


def _csvBytes(rows: list[list[Any]]) -> bytes:
    """
    @param rows: rows of cells.
    @return: them as CSV lines (RFC 4180: CRLF, quoted where needed), UTF-8.
    """
    out = io.StringIO()
    writer = csv.writer(out)
    for row in rows:
        writer.writerow([_cell(value) for value in row])
    return out.getvalue().encode("utf-8")


class ReportError(Exception):
    """
    A report request that must be refused.

    @ivar code: the status code.
    @ivar message: what was wrong.
    """

    def __init__(self, code: int, message: str) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message


@implementer(IPushProducer)
class CSVExport:
    """
    Streams a CSV export a page at a time: it reads the next page in the
    worker only while the client keeps up (a push producer the request
    pauses when its buffer is full).
    """

    _log = Logger()

    def __init__(
        self,
        request: Request,
        recorder: AudienceRecorder,
        fetch: Callable[[tuple[float, int] | None], list[tuple[Any, ...]]],
        header: tuple[str, ...],
        format: Callable[[tuple[Any, ...]], list[Any]],
    ) -> None:
        """
        @param request: the request to answer.
        @param recorder: whose worker reads the pages.
        @param fetch: reads the page after a C{(started, id)} key (runs in
            the worker).
        @param header: the column names.
        @param format: turns a row into its cells.
        """
        self._request = request
        self._recorder = recorder
        self._fetch = fetch
        self._header = header
        self._format = format
        self._after: tuple[float, int] | None = None
        self._paused = False
        self._reading = False
        self._started = False
        self._done = False
        self._looping = False
        self.rows = 0

    def start(self) -> None:
        """
        Start answering.
        """
        self._request.notifyFinish().addErrback(lambda _: self.stopProducing())
        self._next()

    def _next(self) -> None:
        """
        Read the next page unless one is being read or the client is slow.
        """
        # With a synchronous runner (tests) a page arrives within the call:
        # loop here rather than recurse once per page.
        if self._looping:
            return
        self._looping = True
        try:
            while not (self._reading or self._paused or self._done):
                self._reading = True
                self._recorder.query(self._fetch, self._after).addBoth(self._got)
        finally:
            self._looping = False

    def _got(self, page: list[tuple[Any, ...]] | Failure) -> None:
        """
        Write a page, or finish.
        """
        self._reading = False
        if self._done:
            return
        request = self._request
        if isinstance(page, Failure):
            self._log.failure("audience report failed", page)
            if not self._started:
                request.setResponseCode(http.SERVICE_UNAVAILABLE)
                request.setHeader(b"content-type", b"text/plain; charset=utf-8")
                request.write(b"the statistics cannot be read now\n")
            self._finish()
            return
        if not self._started:
            self._started = True
            request.registerProducer(self, True)
            request.write(_csvBytes([list(self._header)]))
        if not page:
            self._finish()
            return
        self.rows += len(page)
        request.write(_csvBytes([self._format(row) for row in page]))
        self._after = (page[-1][1], page[-1][0])
        self._next()

    def _finish(self) -> None:
        """
        End the response.
        """
        self._done = True
        if self._started:
            self._request.unregisterProducer()
        self._request.finish()

    def pauseProducing(self) -> None:
        """
        The client's buffer is full: read no more pages for now.
        """
        self._paused = True

    def resumeProducing(self) -> None:
        """
        Go on reading.
        """
        self._paused = False
        self._next()

    def stopProducing(self) -> None:
        """
        The client went away.
        """
        self._done = True


class AudienceReports(Resource):
    """
    C{/api/v1/stats/…} and C{/admin/reports/…}: the audience reports.

    @ivar recorder: the radio's L{AudienceRecorder}, or L{None} while no
        statistics are kept (the reports then answer 404).
    """

    isLeaf = True

    def __init__(self, admin: AdminResource, clock: Any) -> None:
        """
        @param admin: the admin API, whose password, user and login
            throttle guard the reports (read per request: a reload changes
            them).
        @param clock: the radio's clock, for the default range.
        """
        Resource.__init__(self)
        self.admin = admin
        self.clock = clock
        self.recorder: AudienceRecorder | None = None

    def render(self, request: Request) -> bytes | int:
        """
        Check credentials, then answer a report.

        @param request: the request.
        @return: the body, or C{NOT_DONE_YET}.
        """
        request.setHeader(b"cache-control", b"no-store")
        request.setHeader(b"x-content-type-options", b"nosniff")
        admin = self.admin
        try:
            refusal = admin.access.refusal(request, "admin")
            if refusal is not None:
                raise ReportError(*refusal)
            if request.method not in (b"GET", b"HEAD"):
                request.setHeader(b"allow", b"GET, HEAD")
                raise ReportError(http.NOT_ALLOWED, "use GET")
            recorder = self.recorder
            if recorder is None:
                raise ReportError(http.NOT_FOUND, "audience statistics are off (set server.stats_db)")
            query = self._query(request)
            path = request.path
            if path.startswith(REPORTS_PREFIX):
                return self._csv(request, recorder, path[len(REPORTS_PREFIX) :], query)
            return self._json(request, recorder, path[len(STATS_PREFIX) :], query)
        except ReportError as error:
            return self._reply(request, error.code, {"error": error.message})

    def _query(self, request: Request) -> dict[str, Any]:
        """
        Read the query: C{mount}, C{from}, C{to}, C{by}, C{limit}.

        @raise ReportError: 400 for a bad value.
        """
        raw = {
            key: values[0]
            for key, values in parse_qs(request.uri.partition(b"?")[2].decode("utf-8", "replace")).items()
        }
        try:
            end = parseTime(raw["to"]) if "to" in raw else self.clock.seconds()
            start = parseTime(raw["from"]) if "from" in raw else end - DEFAULT_RANGE
        except ValueError:
            raise ReportError(http.BAD_REQUEST, "from and to must be ISO 8601 times or epoch seconds") from None
        if start >= end:
            raise ReportError(http.BAD_REQUEST, "from must be before to")
        try:
            limit = int(raw.get("limit", MAX_REPORT_ROWS))
        except ValueError:
            raise ReportError(http.BAD_REQUEST, "limit must be a whole number") from None
        if not 1 <= limit <= MAX_REPORT_ROWS:
            raise ReportError(http.BAD_REQUEST, f"limit must be from 1 to {MAX_REPORT_ROWS}")
        mount = raw.get("mount") or None
        if mount is not None and not mount.startswith("/"):
            mount = "/" + mount
        return {"start": start, "end": end, "mount": mount, "by": raw.get("by", "hour"), "limit": limit}

    def _json(self, request: Request, recorder: AudienceRecorder, name: bytes, q: dict[str, Any]) -> int:
        """
        Answer a JSON report.
        """
        database = recorder.database
        window = {"from": isoTime(q["start"]), "to": isoTime(q["end"]), "mount": q["mount"]}
        if name == b"listeners":
            call = recorder.query(database.listeners, q["by"], q["start"], q["end"], q["mount"])
            key, by = "periods", {"by": q["by"]}
        elif name == b"tracks":
            call = recorder.query(database.tracks, q["start"], q["end"], q["mount"], q["limit"])
            key, by = "tracks", {}
        elif name == b"performances":
            call = recorder.query(database.performances, q["start"], q["end"], q["mount"], q["limit"])
            call.addCallback(lambda rows: [dict(zip(PERFORMANCE_COLUMNS, row)) for row in rows])
            key, by = "performances", {}
        else:
            raise ReportError(http.NOT_FOUND, "no such report: listeners, tracks or performances")

        def shape(rows: Any) -> dict[str, Any]:
            return {**window, **by, key: rows}

        return self._later(request, call, shape)

    def _later(self, request: Request, call: Any, shape: Callable[[Any], dict[str, Any]]) -> int:
        """
        Answer with a query's result when it comes.
        """
        gone: list[bool] = []
        request.notifyFinish().addErrback(lambda _: gone.append(True))

        def answer(rows: Any) -> None:
            if isinstance(rows, Failure):
                if rows.check(ValueError):
                    body = self._reply(request, http.BAD_REQUEST, {"error": rows.getErrorMessage()})
                else:
                    _log.failure("audience report failed", rows)
                    body = self._reply(request, http.SERVICE_UNAVAILABLE, {"error": "the statistics cannot be read now"})
            else:
                body = self._reply(request, http.OK, shape(rows))
            if not gone:
                request.write(body)
                request.finish()

        call.addBoth(answer)
        return NOT_DONE_YET

    def _csv(self, request: Request, recorder: AudienceRecorder, name: bytes, q: dict[str, Any]) -> int:
        """
        Stream a CSV export.
        """
        database: AudienceDatabase = recorder.database
        start, end, mount = q["start"], q["end"], q["mount"]
        request.setHeader(b"content-type", b"text/csv; charset=utf-8")
        fetch: Callable[[tuple[float, int] | None], list[tuple[Any, ...]]]
        if name == b"sessions.csv":

            def fetch(after: tuple[float, int] | None) -> list[tuple[Any, ...]]:
                return database.sessionPage(start, end, mount, after)

            export = CSVExport(request, recorder, fetch, SESSION_COLUMNS, _sessionRow)
        elif name == b"plays.csv":

            def fetch(after: tuple[float, int] | None) -> list[tuple[Any, ...]]:
                return database.playPage(start, end, mount, after)

            export = CSVExport(request, recorder, fetch, PLAY_COLUMNS, _playRow)
        elif name == b"performances.csv":

            def fetch(after: tuple[float, int] | None) -> list[tuple[Any, ...]]:
                # One bounded page: at most `limit` recordings.
                return [] if after is not None else database.performances(start, end, mount, q["limit"])

            export = CSVExport(request, recorder, fetch, PERFORMANCE_COLUMNS, list)
        else:
            request.setHeader(b"content-type", b"application/json; charset=utf-8")
            raise ReportError(http.NOT_FOUND, "no such report: sessions.csv, plays.csv or performances.csv")
        request.setHeader(b"content-disposition", b'attachment; filename="%s"' % (name,))
        export.start()
        return NOT_DONE_YET

    def _reply(self, request: Request, code: int, value: Any) -> bytes:
        """
        Answer with JSON.
        """
        request.setResponseCode(code)
        request.setHeader(b"content-type", b"application/json; charset=utf-8")
        return encodeJSON(value)
