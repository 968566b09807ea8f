# -*- test-case-name: tests.test_requests_web -*-
"""
What comes next on a mount: its listener requests and the next few titles,
for C{/api/v1/status}, C{/api/v1/requests} and the station page.
"""

from __future__ import annotations

from typing import Any

from txradio.interfaces import IStation
from txradio.sources.requests import RequestQueue

UPCOMING = 3
"""Titles foreseen per mount in the status."""


def requestQueueOf(station: IStation) -> RequestQueue | None:
    """
    @param station: a station.
    @return: its programme's request queue, or L{None} when it takes no
        requests.
    """
    queue = getattr(station.programme, "requests", None)
    return queue if isinstance(queue, RequestQueue) else None


def queueJSON(queue: RequestQueue, isoTime: Any) -> list[dict[str, Any]]:
    """
    @param queue: a request queue.
    @param isoTime: formats the clock's seconds (L{txradio.web.status.isoTime}).
    @return: its requests for the API, the next first; no addresses.
    """
    return [
        {"position": index, "path": r.relative, "title": r.title, "artist": r.artist, "requestedAt": isoTime(r.at)}
        for index, r in enumerate(queue.waiting(), 1)
    ]


def upcomingTitles(station: IStation, count: int = UPCOMING) -> list[str]:
    """
    Foresee what plays next: the track read ahead or the requests waiting,
    then what the playlist (or the programme clock) would choose.  A
    forecast: a jingle, a block's start or a live source may come first.

    @param station: a station.
    @param count: how many titles at most.
    @return: titles, the next first; empty when nothing is known.
    """
    programme = station.programme
    upcoming = getattr(programme, "upcoming", None)
    if upcoming is None:
        return []
    try:
        first = upcoming()
        queue = requestQueueOf(station)
        requested = [r.display for r in queue.waiting()] if queue is not None else []
        titles = requested if requested and first == requested[0] else [t for t in [first] if t is not None] + requested
        more = getattr(programme, "upcomingTitles", None)
        if more is not None and len(titles) < count:
            titles += more(count - len(titles))
    except Exception:
        # A forecast that fails (an unreadable file) is simply not known.
        return []
    return titles[:count]


def programmeStatus(station: IStation, isoTime: Any) -> dict[str, Any]:
    """
    @param station: a station.
    @param isoTime: formats the clock's seconds.
    @return: C{upcoming} and C{requests} (L{None} when the mount takes no
        requests) for a mount's status.
    """
    queue = requestQueueOf(station)
    return {
        "upcoming": upcomingTitles(station),
        "requests": None if queue is None else queueJSON(queue, isoTime),
    }


def upNextTags(station: IStation) -> list[Any]:
    """
    The station page's "Up next" list and request queue, filled again by
    C{requests.js} from C{/api/v1/status}.

    @param station: a station.
    @return: a C{<section>} element, or nothing for a mount with no
        playlist.
    """
    from twisted.web.template import tags

    if getattr(station.programme, "upcoming", None) is None:
        return []
    queue = requestQueueOf(station)
    parts = [
        tags.h3("Up next"),
        tags.ol(*[tags.li(title) for title in upcomingTitles(station)], class_="upcoming", **{"data-field": "upcoming"}),
    ]
    if queue is not None:
        parts += [
            tags.h3("Requests"),
            tags.ol(*[tags.li(r.display) for r in queue.waiting()], class_="requests", **{"data-field": "requests"}),
        ]
    return [tags.section(*parts, class_="next")]
