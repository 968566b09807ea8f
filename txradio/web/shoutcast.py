# -*- test-case-name: tests.test_shoutcast_widgets -*-
"""
The SHOUTcast DNAS endpoints that widgets, players and directories poll.
They are public (no credentials) and readable from any origin, like
C{/status-json.xsl}.

 - C{/7.html?sid=N}: C{<html><body>CURRENTLISTENERS,STREAMSTATUS,
   PEAKLISTENERS,MAXLISTENERS,UNIQUELISTENERS,BITRATE,SONGTITLE</body>
   </html>}; the title is last and may hold commas (it is HTML-escaped);
 - C{/currentsong?sid=N}: the title as plain text;
 - C{/nextsong?sid=N}: the next title as plain text, when the mount's
   playlist knows it (L{txradio.sources.playlist.PlaylistSource.upcoming});
   an empty body when it does not (a live source, a relay, the end of a
   shuffled pass);
 - C{/stats?sid=N}: C{<SHOUTCASTSERVER>} (XML), or with C{json=1} the same
   fields in JSON under DNAS 2's lower-case names;
 - C{/played.html?sid=N}: the recent titles with their start times, most
   recent first (an HTML table), or with C{type=json} a JSON list of
   C{{"playedat": SECONDS, "title": …}}.

C{sid} counts the mounts from 1, in the configured order (1, the default
when C{sid} is absent, is the first mount); any other value answers C{404}.

Mapping to txradio's numbers: CURRENTLISTENERS is the C{listeners} of
C{/status-json.xsl}; MAXLISTENERS is the mount's limit, C{0} when it has
none; UNIQUELISTENERS counts the distinct addresses among the current
listeners (as the address policy shows them: with C{truncate}, listeners of
one network count once); AVERAGETIME is the mean time the current
listeners have been connected, in seconds; STREAMHITS the listeners served
since the mount started; STREAMSTATUS is 1 while the mount has audio to
play; STREAMUPTIME the seconds since it started.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs
from xml.etree import ElementTree

from twisted.web import http
from twisted.web.resource import Resource
from twisted.web.server import Request

from txradio.interfaces import IProgramme, IStation
from txradio.operations.logs import hostOf
from txradio.web.icecastadmin import listeners, xmlDocument, xmlText
from txradio.web.status import (
    SERVER_ID,
    STREAM_TYPE,
    WebContext,
    allowCORS,
    displayTitle,
    encodeJSON,
    isLive,
    isoTime,
    renderPreflight,
    stationBitrate,
)

__all__ = [
    "DNASResource",
    "nextTitle",
    "playedList",
    "sevenFields",
    "shoutcastPaths",
    "shoutcastStats",
    "uniqueListeners",
]

MAX_QUERY = 1024
"""The longest query string these endpoints read, in bytes."""


def uniqueListeners(station: IStation) -> int:
    """
    Count the distinct addresses among a station's listeners.

    @param station: the station.
    @return: how many different hosts listen now.
    """
    return len({hostOf(listener.peer) for listener in listeners(station)})


def nextTitle(station: IStation) -> str | None:
    """
    The title the station plays next, when it is known.

    @param station: the station.
    @return: the next title of its playlist, or L{None} while a live
        source plays or when its programme cannot tell.
    """
    if isLive(station):
        return None
    programme = station.programme
    if not IProgramme.providedBy(programme):
        return None
    title = programme.upcoming()
    return displayTitle(title) if title is not None else None


def sevenFields(station: IStation) -> list[str]:
    """
    The fields of C{/7.html}, in order.

    @param station: the station.
    @return: CURRENTLISTENERS, STREAMSTATUS, PEAKLISTENERS, MAXLISTENERS,
        UNIQUELISTENERS, BITRATE and SONGTITLE, as text.
    """
    return [
        str(station.listenerCount),
        "1" if station.onAir else "0",
        str(station.peakListeners),
        str(station.maxListeners or 0),
        str(uniqueListeners(station)),
        str(stationBitrate(station) or 0),
        displayTitle(station.broadcaster.title) or "",
    ]


def shoutcastStats(station: IStation, now: float) -> dict[str, Any]:
    """
    The fields of C{/stats}, with DNAS's upper-case names.

    @param station: the station.
    @param now: the time now, in the clock's seconds.
    @return: the fields in DNAS's order, values as numbers or text.
    """
    info = station.currentInfo
    players = listeners(station)
    average = int(sum(now - listener.connectedAt for listener in players) / len(players)) if players else 0
    started = station.broadcaster.startedAt
    fields: dict[str, Any] = {
        "CURRENTLISTENERS": station.listenerCount,
        "PEAKLISTENERS": station.peakListeners,
        "MAXLISTENERS": station.maxListeners or 0,
        "UNIQUELISTENERS": uniqueListeners(station),
        "AVERAGETIME": max(0, average),
        "SERVERGENRE": info.genre,
        "SERVERURL": info.url,
        "SERVERTITLE": info.name,
        "SONGTITLE": displayTitle(station.broadcaster.title) or "",
        "STREAMHITS": station.totalListeners,
        "STREAMSTATUS": 1 if station.onAir else 0,
        "STREAMPATH": station.mount.decode("ascii"),
        "STREAMUPTIME": max(0, int(now - started)) if started is not None and station.onAir else 0,
        "BITRATE": stationBitrate(station) or 0,
        "CONTENT": STREAM_TYPE,
        "VERSION": SERVER_ID,
    }
    upcoming = nextTitle(station)
    if upcoming is not None:
        fields["NEXTTITLE"] = upcoming
    return fields


def playedList(station: IStation) -> list[dict[str, Any]]:
    """
    The titles a station played recently, most recent first, as DNAS 2's
    C{played.html?type=json} lists them.

    @param station: the station.
    @return: C{{"playedat": SECONDS, "title": …}} dictionaries, the time
        in whole seconds since the epoch.
    """
    played = []
    for when, title in reversed(station.broadcaster.history):
        shown = displayTitle(title)
        if shown:
            played.append({"playedat": int(when), "title": shown})
    return played


class DNASResource(Resource):
    """
    One DNAS endpoint for the mount C{sid} names.

    @ivar context: the site's shared state.
    @ivar endpoint: which one, e.g. C{"7.html"}.
    """

    isLeaf = True

    def __init__(self, context: WebContext, endpoint: str) -> None:
        """
        @param context: the site's shared state.
        @param endpoint: one of L{ENDPOINTS}.
        @raise KeyError: for an unknown endpoint.
        """
        Resource.__init__(self)
        self._answer = ENDPOINTS[endpoint]
        self.context = context
        self.endpoint = endpoint

    def render_GET(self, request: Request) -> bytes:
        """
        Find the mount and answer for it.

        @param request: the request.
        @return: the body.
        """
        allowCORS(request)
        request.setHeader(b"cache-control", b"no-cache")
        request.setHeader(b"x-content-type-options", b"nosniff")
        fields = _query(request)
        station = self._station(fields.get("sid", "1"))
        if station is None:
            request.setResponseCode(http.NOT_FOUND)
            request.setHeader(b"content-type", b"text/plain; charset=utf-8")
            return b"no such stream (sid counts the mounts from 1)\n"
        return self._answer(self, request, station, fields)

    render_HEAD = render_GET

    def render_OPTIONS(self, request: Request) -> bytes:
        """
        Answer a CORS preflight.

        @param request: the request.
        @return: an empty body.
        """
        return renderPreflight(request)

    def _station(self, sid: str) -> IStation | None:
        """
        Find the mount a stream id names.

        @param sid: the C{sid} parameter.
        @return: the station, or L{None}.
        """
        stations = self.context.stations
        if not sid.isdigit() or len(sid) > 6:
            return None
        index = int(sid) - 1
        return stations[index] if 0 <= index < len(stations) else None

    def _seven(self, request: Request, station: IStation, fields: dict[str, str]) -> bytes:
        """
        C{/7.html}.

        @param request: the request.
        @param station: the mount.
        @param fields: unused.
        @return: the page.
        """
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        body = ElementTree.Element("body")
        body.text = xmlText(",".join(sevenFields(station)))
        html = ElementTree.Element("html")
        html.append(body)
        return ElementTree.tostring(html, encoding="unicode", method="html").encode("utf-8")

    def _currentSong(self, request: Request, station: IStation, fields: dict[str, str]) -> bytes:
        """
        C{/currentsong}.

        @param request: the request.
        @param station: the mount.
        @param fields: unused.
        @return: the title, or nothing.
        """
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        return (displayTitle(station.broadcaster.title) or "").encode("utf-8")

    def _nextSong(self, request: Request, station: IStation, fields: dict[str, str]) -> bytes:
        """
        C{/nextsong}.

        @param request: the request.
        @param station: the mount.
        @param fields: unused.
        @return: the next title, or nothing when it is not known.
        """
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        return (nextTitle(station) or "").encode("utf-8")

    def _stats(self, request: Request, station: IStation, fields: dict[str, str]) -> bytes:
        """
        C{/stats}, in XML or (C{json=1}) JSON.

        @param request: the request.
        @param station: the mount.
        @param fields: C{json}.
        @return: the document.
        """
        stats = shoutcastStats(station, self.context.clock.seconds())
        if fields.get("json") == "1":
            request.setHeader(b"content-type", b"application/json; charset=utf-8")
            return encodeJSON({key.lower(): value for key, value in stats.items()})
        request.setHeader(b"content-type", b"text/xml; charset=utf-8")
        root = ElementTree.Element("SHOUTCASTSERVER")
        for key, value in stats.items():
            ElementTree.SubElement(root, key).text = xmlText(value)
        return xmlDocument(root)

    def _played(self, request: Request, station: IStation, fields: dict[str, str]) -> bytes:
        """
        C{/played.html}, in HTML or (C{type=json}) JSON.

        @param request: the request.
        @param station: the mount.
        @param fields: C{type}.
        @return: the document.
        """
        played = playedList(station)
        if fields.get("type") == "json":
            request.setHeader(b"content-type", b"application/json; charset=utf-8")
            return encodeJSON(played)
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        html = ElementTree.Element("html")
        head = ElementTree.SubElement(html, "head")
        ElementTree.SubElement(head, "meta", {"charset": "utf-8"})
        ElementTree.SubElement(head, "title").text = xmlText(f"{station.currentInfo.name}: played")
        table = ElementTree.SubElement(ElementTree.SubElement(html, "body"), "table")
        header = ElementTree.SubElement(table, "tr")
        ElementTree.SubElement(header, "th").text = "Played @"
        ElementTree.SubElement(header, "th").text = "Song Title"
        for entry in played:
            row = ElementTree.SubElement(table, "tr")
            ElementTree.SubElement(row, "td").text = isoTime(entry["playedat"])
            ElementTree.SubElement(row, "td").text = xmlText(entry["title"])
        return b"<!DOCTYPE html>\n" + ElementTree.tostring(html, encoding="unicode", method="html").encode("utf-8")


ENDPOINTS: dict[str, Callable[[DNASResource, Request, IStation, dict[str, str]], bytes]] = {
    "7.html": DNASResource._seven,
    "currentsong": DNASResource._currentSong,
    "nextsong": DNASResource._nextSong,
    "stats": DNASResource._stats,
    "played.html": DNASResource._played,
}
"""Each endpoint's name and what answers it."""


def shoutcastPaths(context: WebContext) -> dict[bytes, Resource]:
    """
    The routes of the DNAS endpoints, for the site's root (C{/played} is
    DNAS 2's other name for C{/played.html}).

    @param context: the site's shared state.
    @return: paths to their resources.
    """
    paths: dict[bytes, Resource] = {b"/" + name.encode("ascii"): DNASResource(context, name) for name in ENDPOINTS}
    paths[b"/played"] = paths[b"/played.html"]
    return paths


def _query(request: Request) -> dict[str, str]:
    """
    Read the parameters (a query longer than L{MAX_QUERY} is ignored).

    @param request: the request.
    @return: the first value of each parameter.
    """
    query = request.uri.partition(b"?")[2]
    if len(query) > MAX_QUERY:
        return {}
    return {key: values[0] for key, values in parse_qs(query.decode("utf-8", "replace")).items()}
