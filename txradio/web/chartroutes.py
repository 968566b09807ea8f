# -*- test-case-name: tests.test_charts -*-
"""
C{/admin/charts/…}: the audience statistics as SVG pictures for the admin
page, behind the admin password (the reports' check and login throttle):

  - C{listeners.svg?mount=/stream&by=hour|day}: the peak listeners at once
    per hour over the last 24 hours, or per day over the last 30 days;
  - C{tracks.svg?mount=}: the ten tracks most heard (aggregate tuning
    hours) over the last 7 days.

The queries run in the statistics' worker thread like the reports'; the
drawing is L{txradio.web.charts}.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web import http
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from txradio.web.charts import barChart, lineChart
from txradio.web.reports import AudienceReports

__all__ = ["CHARTS_PREFIX", "ChartsResource", "RANGES", "TOP_TRACKS"]

CHARTS_PREFIX = b"/admin/charts/"
"""Where the charts are."""

RANGES = {"hour": 86400.0, "day": 30 * 86400.0}
"""Seconds a listeners chart covers, by its period."""

TOP_TRACKS = 10
"""The bars of the tracks chart."""

TRACKS_RANGE = 7 * 86400.0
"""Seconds the tracks chart covers."""

_log = Logger()


class ChartsResource(Resource):
    """
    Answers C{/admin/charts/…} from the reports' statistics.

    @ivar reports: the site's L{AudienceReports}: its admin check, clock
        and recorder (read per request: statistics come and go).
    """

    isLeaf = True

    def __init__(self, reports: AudienceReports) -> None:
        Resource.__init__(self)
        self.reports = reports

    def _refuse(self, request: Request, code: int, message: str) -> bytes:
        request.setResponseCode(code)
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        return message.encode("utf-8") + b"\n"

    def render(self, request: Request) -> bytes | int:
        """
        Check credentials, then draw a chart.
        """
        request.setHeader(b"cache-control", b"no-store")
        request.setHeader(b"x-content-type-options", b"nosniff")
        refusal = self.reports.admin.access.refusal(request, "admin")
        if refusal is not None:
            return self._refuse(request, *refusal)
        if request.method not in (b"GET", b"HEAD"):
            request.setHeader(b"allow", b"GET, HEAD")
            return self._refuse(request, http.NOT_ALLOWED, "use GET")
        recorder = self.reports.recorder
        if recorder is None:
            return self._refuse(request, http.NOT_FOUND, "audience statistics are off (set server.stats_db)")
        query = {k: v[0] for k, v in parse_qs(request.uri.partition(b"?")[2].decode("utf-8", "replace")).items()}
        mount = query.get("mount") or None
        if mount is not None and not mount.startswith("/"):
            mount = "/" + mount
        now = self.reports.clock.seconds()
        database = recorder.database
        name = request.path[len(CHARTS_PREFIX) :]
        if name == b"listeners.svg":
            by = query.get("by", "hour")
            if by not in RANGES:
                return self._refuse(request, http.BAD_REQUEST, "by must be hour or day")
            if mount is None:
                return self._refuse(request, http.BAD_REQUEST, "mount is required")
            title = f"Peak listeners on {mount}, " + (
                "last 24 hours by hour" if by == "hour" else "last 30 days by day"
            )
            call = recorder.query(database.listeners, by, now - RANGES[by], now, mount)

            def draw(rows: Any) -> str:
                # An hour as "12-06 05:00" (a day's ends are 24 hours
                # apart: the time alone would read the same), a day as
                # "2026-12-06".
                label = (lambda start: start[5:16].replace("T", " ")) if by == "hour" else (lambda start: start[:10])
                return lineChart([(label(row["start"]), row["peak"]) for row in rows], title, "listeners")

        elif name == b"tracks.svg":
            title = "Tracks most heard, last 7 days"
            call = recorder.query(database.performances, now - TRACKS_RANGE, now, mount, TOP_TRACKS)

            def draw(rows: Any) -> str:
                return barChart(
                    [(" - ".join(part for part in (row[0], row[1]) if part), row[5]) for row in rows],
                    title,
                    "h",
                )

        else:
            return self._refuse(request, http.NOT_FOUND, "no such chart: listeners.svg or tracks.svg")
        gone: list[bool] = []
        request.notifyFinish().addErrback(lambda _: gone.append(True))

        def answer(result: Any) -> None:
            if isinstance(result, Failure):
                _log.failure("audience chart failed", result)
                body = self._refuse(request, http.SERVICE_UNAVAILABLE, "the statistics cannot be read now")
            else:
                request.setHeader(b"content-type", b"image/svg+xml; charset=utf-8")
                request.setHeader(b"content-security-policy", b"default-src 'none'; style-src 'unsafe-inline'")
                body = draw(result).encode("utf-8")
            if not gone:
                request.write(body)
                request.finish()

        call.addBoth(answer)
        return NOT_DONE_YET
