# -*- test-case-name: tests.test_upcoming,tests.test_requests_web -*-
"""
What comes next on a mount: its listener requests and the next few tracks,
each with the time it should start, and its programme clock's blocks and
coming block changes, for C{/api/v1/status}, C{/api/v1/requests} and the
station page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

from txradio.interfaces import IProgramme, IStation
from txradio.sources.requests import RequestQueue
from txradio.sources.schedule import Block, ScheduledSource
from txradio.sources.tags import Durations
from txradio.wire.schedule import expectedStarts

UPCOMING = 3
"""Titles foreseen per mount in the status."""

CHANGES = 10
"""Coming block changes listed per mount in the status."""

SCHEDULE_SHOWN = 5
"""Coming block changes shown on the station page."""

DURATIONS = Durations()
"""The tracks' lengths, read once per file version, for the expected times."""


def requestQueueOf(station: IStation) -> RequestQueue | None:
    """
    @param station: a station.
    @return: its programme's request queue, or L{None} when it takes no
        requests.
    """
    programme = station.programme
    return programme.requests if IProgramme.providedBy(programme) else None


def queueJSON(queue: RequestQueue, isoTime: Any, expected: list[float | None] | None = None) -> list[dict[str, Any]]:
    """
    @param queue: a request queue.
    @param isoTime: formats the clock's seconds (L{txradio.web.status.isoTime}).
    @param expected: when each request should start (see L{comingNext}),
        or L{None} when not known.
    @return: its requests for the API, the next first; no addresses.
    """
    waiting = queue.waiting()
    starts = list(expected or [])[: len(waiting)]
    starts += [None] * (len(waiting) - len(starts))
    return [
        {
            "position": index,
            "path": r.relative,
            "title": r.title,
            "artist": r.artist,
            "requestedAt": isoTime(r.at),
            "expected": isoTime(at),
        }
        for index, (r, at) in enumerate(zip(waiting, starts, strict=True), 1)
    ]


@dataclass(frozen=True, slots=True)
class Coming:
    """
    A track foreseen on a mount.

    @ivar title: its title, as the stream will show it.
    @ivar request: whether it is a listener's request.
    @ivar expected: when it should start, in the clock's seconds, or
        L{None} when not known.
    """

    title: str
    request: bool
    expected: float | None


def _endOfCurrent(station: IStation, now: float, durations: Callable[[str], float | None]) -> float | None:
    """
    @param station: a station playing a playlist.
    @param now: the clock's time.
    @param durations: reads a track's length.
    @return: when the track on the air should end (not before C{now}), or
        L{None} when not known.
    """
    history = station.broadcaster.history
    programme = station.programme
    path = programme.trackPath if IProgramme.providedBy(programme) else None
    if not history or path is None:
        return None
    length = durations(path)
    return None if length is None else max(now, history[-1][0] + length)


def _foreseen(
    station: IStation, now: float, durations: Callable[[str], float | None], count: int
) -> tuple[list[Coming], list[float | None]]:
    """
    Foresee what a mount plays next and when: the track read ahead, the
    requests waiting, then (on the programme clock) what the block on now
    would choose.

    @param station: a station.
    @param now: the clock's time.
    @param durations: reads a track's length.
    @param count: tracks of the block foreseen at most.
    @return: the tracks foreseen, and the expected start of each request
        waiting (in the queue's order).
    """
    programme = station.programme
    queue = requestQueueOf(station)
    requests = queue.waiting() if queue is not None else []
    runs: list[tuple[str, str | None, bool]] = []
    if isinstance(programme, ScheduledSource):
        ahead = programme.readAhead()
        first = None if ahead is None else now + ahead[1]
        if ahead is not None:
            runs.append((ahead[0], programme.trackPath, False))
        # A track chosen ahead for a crossfade plays before the requests.
        chosen = programme.chosenAhead()
        runs += [(title, path, False) for path, title in chosen]
        runs += [(r.display, r.path, True) for r in requests]
        runs += [(title, path, False) for path, title in programme.forecast(count)[len(chosen) :]]
    else:
        first = None
        title = programme.upcoming()  # type: ignore[union-attr]
        if title is not None and not (requests and title == requests[0].display):
            runs.append((title, None, False))
        runs += [(r.display, r.path, True) for r in requests]
    if first is None:
        first = _endOfCurrent(station, now, durations)
    starts = expectedStarts(first, [None if path is None else durations(path) for _, path, _ in runs])
    coming = [Coming(title, request, at) for (title, _, request), at in zip(runs, starts, strict=True)]
    return coming, [item.expected for item in coming if item.request]


def comingNext(
    station: IStation, now: float, count: int = UPCOMING, durations: Callable[[str], float | None] | None = None
) -> tuple[list[Coming], list[float | None]]:
    """
    Foresee what plays next on a mount.  A forecast: a jingle, a block's
    hard start, a live source, trimmed silence or a crossfade may move it.

    @param station: a station.
    @param now: the clock's time.
    @param count: how many tracks at most.
    @param durations: reads a track's length (L{DURATIONS} by default).
    @return: at most C{count} tracks, the next first, and the expected
        start of each request waiting; both empty when nothing is known.
    """
    if not IProgramme.providedBy(station.programme):
        return [], []
    try:
        coming, requests = _foreseen(station, now, durations or DURATIONS, count)
    except Exception:
        # A forecast that fails (an unreadable file) is simply not known.
        return [], []
    return coming[:count], requests


def requestTimes(station: IStation) -> list[float | None]:
    """
    @param station: a station.
    @return: when each of its requests waiting should start, in the
        queue's order (see L{comingNext}).
    """
    return comingNext(station, station.clock.seconds())[1]


def upcomingTitles(station: IStation, count: int = UPCOMING) -> list[str]:
    """
    @param station: a station.
    @param count: how many titles at most.
    @return: the titles L{comingNext} foresees, the next first.
    """
    return [item.title for item in comingNext(station, station.clock.seconds(), count)[0]]


def blockJSON(block: Block) -> dict[str, Any]:
    """
    @param block: a block of the programme clock.
    @return: it for the API: C{name}, C{when} (L{None} for the default
        block), C{start} (C{"hard"} or C{"soft"}) and C{plays}.
    """
    return {
        "name": block.name,
        "when": block.when or None,
        "start": "hard" if block.hard else "soft",
        "plays": block.plays,
    }


def scheduleJSON(station: IStation, isoTime: Any, count: int = CHANGES) -> dict[str, Any] | None:
    """
    @param station: a station.
    @param isoTime: formats the clock's seconds.
    @param count: block changes listed at most.
    @return: a mount's programme clock for the API, or L{None} for a mount
        without one; see C{docs/api.md}.
    """
    programme = station.programme
    if not isinstance(programme, ScheduledSource):
        return None
    tracks = programme.tracks
    changes = tracks.changes(count)
    playing = tracks.current
    return {
        "timezone": str(tracks.zone),
        "current": {
            **blockJSON(tracks.blockAt(tracks.now())),
            "until": isoTime(changes[0][0].timestamp()) if changes else None,
        },
        "playing": None if playing is None else playing.name,
        "blocks": [blockJSON(block) for block in [*tracks.blocks, tracks.default]],
        "changes": [
            {"at": isoTime(at.timestamp()), "local": at.isoformat(), **blockJSON(block)} for at, block in changes
        ],
    }


def programmeStatus(station: IStation, isoTime: Any) -> dict[str, Any]:
    """
    @param station: a station.
    @param isoTime: formats the clock's seconds.
    @return: C{upcoming} (titles), C{next} (titles, whether requested, and
        expected starts), C{requests} (L{None} when the mount takes no
        requests) and C{schedule} (L{None} without a programme clock) for a
        mount's status.
    """
    queue = requestQueueOf(station)
    coming, expected = comingNext(station, station.clock.seconds())
    return {
        "upcoming": [item.title for item in coming],
        "next": [{"title": item.title, "request": item.request, "expected": isoTime(item.expected)} for item in coming],
        "requests": None if queue is None else queueJSON(queue, isoTime, expected),
        "schedule": scheduleJSON(station, isoTime),
    }


def _clockTime(seconds: float | None, zone: tzinfo) -> str:
    """
    @param seconds: a time, or L{None}.
    @param zone: the station's time zone.
    @return: C{"HH:MM"} there, or C{""}.
    """
    return "" if seconds is None else datetime.fromtimestamp(seconds, zone).strftime("%H:%M")


def upNextTags(station: IStation) -> list[Any]:
    """
    The station page's "Up next" list, request queue and schedule, filled
    again by C{requests.js} from C{/api/v1/status}.

    @param station: a station.
    @return: a C{<section>} element, or nothing for a mount with no
        playlist.
    """
    from twisted.web.template import tags

    programme = station.programme
    if not IProgramme.providedBy(programme):
        return []
    zone = programme.tracks.zone if isinstance(programme, ScheduledSource) else UTC
    queue = requestQueueOf(station)
    coming, expected = comingNext(station, station.clock.seconds())

    def item(title: str, at: float | None) -> Any:
        when = _clockTime(at, zone)
        return tags.li(title, " ", tags.small("about " + when)) if when else tags.li(title)

    parts = [
        tags.h3("Up next"),
        tags.ol(*[item(c.title, c.expected) for c in coming], class_="upcoming", **{"data-field": "upcoming"}),
    ]
    if queue is not None:
        parts += [
            tags.h3("Requests"),
            tags.ol(
                *[item(r.display, at) for r, at in zip(queue.waiting(), expected, strict=False)],
                class_="requests",
                **{"data-field": "requests"},
            ),
        ]
    if isinstance(programme, ScheduledSource):
        tracks = programme.tracks
        parts += [
            tags.h3("Schedule"),
            tags.p("On now: ", tags.strong(tracks.blockAt(tracks.now()).name), class_="block"),
            tags.ol(
                *[tags.li(at.strftime("%a %H:%M"), " ", block.name) for at, block in tracks.changes(SCHEDULE_SHOWN)],
                class_="schedule",
            ),
        ]
    return [tags.section(*parts, class_="next")]
