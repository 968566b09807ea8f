# -*- test-case-name: tests.test_icecast_admin -*-
"""
Icecast's admin interface, the one operators' scripts call: C{GET
/admin/COMMAND?…} with HTTP Basic credentials as C{admin}, answered in
Icecast 2.4's XML shapes (C{text/xml}).

 - C{/admin/stats}: C{<icestats>} with the server's counters and one
   C{<source mount="…">} per mount on the air;
 - C{/admin/listmounts}: the mounts on the air, briefly;
 - C{/admin/listclients?mount=M}: a mount's listeners, each with its
   C{id} (L{txradio.stream.listener.Listener.id}, the same as in the JSON
   admin API);
 - C{/admin/killclient?mount=M&id=N}: disconnect one listener;
 - C{/admin/killsource?mount=M}: end the live source; the mount goes back
   to its programme or fallback;
 - C{/admin/moveclients?mount=M&destination=D}: move the listeners to
   another mount without a reconnect;
 - C{/admin/fallbacks?mount=M&fallback=F}: set (or, with an empty
   C{fallback}, clear) a mount's fallback.

Actions answer C{<iceresponse><message>…</message><return>1</return>
</iceresponse>}; a failed one answers C{400} with C{<return>0</return>},
as Icecast does for a missing parameter, an unknown mount or destination,
or a destination not on the air.  Without the right credentials the answer
is C{401} with Icecast's realm; with admin off (no password) every path is
C{404}, as in the JSON admin API (L{txradio.web.admin}), whose credential
check (and login throttle) this module calls.

These are C{GET} actions, which a page on another site could make a
browser send with remembered credentials (an image, a link): a request
whose C{Sec-Fetch-Site} or C{Origin} says it comes from another site is
refused (C{403}).  Scripts send neither header.

Every document is built with L{xml.etree.ElementTree}, so values are
escaped by construction; characters XML 1.0 cannot carry are dropped.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit
from xml.etree import ElementTree

from twisted.logger import Logger
from twisted.web import http
from twisted.web.resource import Resource
from twisted.web.server import Request

from txradio.interfaces import IStation
from txradio.operations.logs import hostOf
from txradio.stream.events import KICKED
from txradio.stream.listener import Listener
from txradio.web.admin import AdminAccess
from txradio.web.status import (
    SERVER_ID,
    STREAM_TYPE,
    WebContext,
    baseURL,
    icecastSource,
    isoTime,
    requestHost,
)

__all__ = [
    "ICECAST_REALM",
    "IcecastAdminError",
    "IcecastAdminResource",
    "icecastAdminPaths",
    "iceResponse",
    "listClients",
    "listMounts",
    "listeners",
    "statsDocument",
    "xmlDocument",
]

ICECAST_REALM = b'Basic realm="Icecast2 Server", charset="UTF-8"'
"""The challenge a request without the admin's credentials gets."""

MAX_QUERY = 8192
"""The longest query string a command may have, in bytes."""

XML_TYPE = b"text/xml; charset=utf-8"
"""The content type of every answer."""

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
"""Characters XML 1.0 documents cannot hold."""

_log = Logger()


def xmlText(value: object) -> str:
    """
    Turn a value into text an XML document can hold.

    @param value: any value; L{None} is the empty text, booleans are C{1}
        or C{0}.
    @return: its text, without the characters XML 1.0 forbids.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    return _NOT_XML.sub("", str(value))


def _child(parent: ElementTree.Element, tag: str, value: object) -> ElementTree.Element:
    """
    Add an element holding a value.

    @param parent: where to add it.
    @param tag: its name.
    @param value: its text (see L{xmlText}).
    @return: the new element.
    """
    element = ElementTree.SubElement(parent, tag)
    element.text = xmlText(value)
    return element


def xmlDocument(root: ElementTree.Element) -> bytes:
    """
    Serialize a document as Icecast sends it.

    @param root: the document element.
    @return: UTF-8 bytes with an XML declaration and a final newline.
    """
    text = ElementTree.tostring(root, encoding="unicode")
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + text.encode("utf-8") + b"\n"


def iceResponse(message: str, success: bool) -> bytes:
    """
    Build the answer to an action.

    @param message: what happened, as plain text.
    @param success: whether the action was done.
    @return: C{<iceresponse>} with C{message} and C{return} (1 or 0).
    """
    root = ElementTree.Element("iceresponse")
    _child(root, "message", message)
    _child(root, "return", success)
    return xmlDocument(root)


def listeners(station: IStation) -> list[Listener]:
    """
    A station's listeners as the admin sees them: players, not the mounts
    that follow this one (fallbacks, derived mounts).

    @param station: the station.
    @return: its listeners, in the order they joined.
    """
    return [listener for listener in station.broadcaster.listeners if isinstance(listener, Listener)]


def _connectedSeconds(station: IStation, now: float) -> int:
    """
    How long a mount has been on the air, as Icecast's C{Connected}.

    @param station: the station.
    @param now: the time now, in the clock's seconds.
    @return: whole seconds since its broadcaster started (0 before).
    """
    started = station.broadcaster.startedAt
    return max(0, int(now - started)) if started is not None else 0


def _sourceElement(parent: ElementTree.Element, station: IStation) -> ElementTree.Element:
    """
    Add a C{<source mount="…">} element.

    @param parent: the C{<icestats>} element.
    @param station: the mount.
    @return: the new element.
    """
    return ElementTree.SubElement(parent, "source", {"mount": station.mount.decode("ascii")})


def statsDocument(context: WebContext, base: str, host: str) -> ElementTree.Element:
    """
    Build C{/admin/stats}: the server's counters, then one C{<source>} per
    mount on the air with the keys of C{/status-json.xsl} and Icecast's
    admin-only ones.

    @param context: the site's shared state.
    @param base: the absolute URL prefix, e.g. C{"http://radio:8000"}.
    @param host: the host name clients reach the server by.
    @return: the C{<icestats>} element.
    """
    stations = context.stations
    onAir = [station for station in stations if station.onAir]
    current = sum(station.listenerCount for station in stations)
    served = sum(station.totalListeners for station in stations)
    sourceConnections = sum(station.stats.sourceConnects for station in stations)
    live = sum(1 for station in stations if station.liveSource is not None and station.liveSource.onAir)
    root = ElementTree.Element("icestats")
    for tag, value in (
        ("admin", ""),
        ("host", host),
        ("location", ""),
        ("server_id", SERVER_ID),
        ("server_start", _rfc1123(context.startedAt)),
        ("server_start_iso8601", isoTime(context.startedAt, icecast=True)),
        ("clients", current + live),
        ("connections", served + sourceConnections),
        ("listener_connections", served),
        ("listeners", current),
        ("source_client_connections", sourceConnections),
        ("source_relay_connections", 0),
        ("source_total_connections", sourceConnections),
        ("sources", len(onAir)),
        ("stats", 0),
        ("stats_connections", 0),
    ):
        _child(root, tag, value)
    for station in onAir:
        element = _sourceElement(root, station)
        entry = icecastSource(station, base)
        departed = station.stats.departedBytes
        entry.update(
            {
                "content-type": STREAM_TYPE,
                "max_listeners": station.maxListeners if station.maxListeners is not None else "unlimited",
                "public": station.currentInfo.public,
                "slow_listeners": 0,
                "source_ip": "",
                "total_bytes_read": station.broadcaster.bytesSent,
                "total_bytes_sent": departed + sum(listener.bytesSent for listener in listeners(station)),
            }
        )
        for tag in sorted(entry):
            if entry[tag] is not None:
                _child(element, tag, entry[tag])
    return root


def _rfc1123(seconds: float) -> str:
    """
    Format a time as Icecast's C{server_start}.

    @param seconds: seconds since the epoch.
    @return: e.g. C{"Wed, 01 May 2024 12:00:00 +0000"}.
    """
    return datetime.fromtimestamp(seconds, UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")


def listMounts(context: WebContext, now: float) -> ElementTree.Element:
    """
    Build C{/admin/listmounts}.

    @param context: the site's shared state.
    @param now: the time now, in the clock's seconds.
    @return: C{<icestats>} with a short C{<source>} per mount on the air.
    """
    root = ElementTree.Element("icestats")
    for station in context.stations:
        if not station.onAir:
            continue
        element = _sourceElement(root, station)
        _child(element, "listeners", station.listenerCount)
        _child(element, "Connected", _connectedSeconds(station, now))
        _child(element, "content-type", STREAM_TYPE)
    return root


def listClients(station: IStation, now: float) -> ElementTree.Element:
    """
    Build C{/admin/listclients}.

    @param station: the mount.
    @param now: the time now, in the clock's seconds.
    @return: C{<icestats>} with the mount's C{<source>} and its listeners;
        addresses are shown as the radio's address policy shows them in
        logs and status (each listener's C{peer} is already formatted by
        it).
    """
    root = ElementTree.Element("icestats")
    element = _sourceElement(root, station)
    players = listeners(station)
    _child(element, "Listeners", len(players))
    for listener in players:
        entry = ElementTree.SubElement(element, "listener", {"id": str(listener.id)})
        _child(entry, "IP", hostOf(listener.peer))
        _child(entry, "UserAgent", listener.userAgent or "Unknown")
        _child(entry, "Connected", max(0, int(now - listener.connectedAt)))
        _child(entry, "ID", listener.id)
    return root


class IcecastAdminError(Exception):
    """
    A command that cannot be done.

    @ivar code: the status to answer.
    @ivar message: the C{<message>} of the answer.
    """

    def __init__(self, message: str, code: int = http.BAD_REQUEST) -> None:
        """
        @param message: what was wrong.
        @param code: the status; Icecast's C{400} by default.
        """
        super().__init__(message, code)
        self.message = message
        self.code = code


class IcecastAdminResource(Resource):
    """
    One of Icecast's admin commands, e.g. C{/admin/listclients}.

    @ivar context: the site's shared state.
    @ivar command: the command's name, e.g. C{"listclients"}.
    @ivar access: the credentials asked for.
    """

    isLeaf = True
    _log = Logger()

    def __init__(
        self,
        context: WebContext,
        command: str,
        access: AdminAccess,
    ) -> None:
        """
        @param context: the site's shared state.
        @param command: one of L{COMMANDS}.
        @param access: the credentials asked for.
        @raise KeyError: for an unknown command.
        """
        Resource.__init__(self)
        self._handler = COMMANDS[command]
        self.context = context
        self.command = command
        self.access = access

    def render_GET(self, request: Request) -> bytes:
        """
        Check the credentials and where the request comes from, then run
        the command.

        @param request: the request.
        @return: the XML answer.
        """
        request.setHeader(b"content-type", XML_TYPE)
        request.setHeader(b"cache-control", b"no-store")
        request.setHeader(b"x-content-type-options", b"nosniff")
        refusal = self.access.refusal(request, "admin")
        if refusal is not None:
            code, message = refusal
            if code == http.UNAUTHORIZED:
                request.setHeader(b"www-authenticate", ICECAST_REALM)
            request.setResponseCode(code)
            return iceResponse(message, False)
        try:
            _refuseOtherSites(request)
            fields = _query(request)
            body = self._handler(self, request, fields)
        except IcecastAdminError as error:
            request.setResponseCode(error.code)
            return iceResponse(error.message, False)
        return body

    def _station(self, fields: dict[str, str], name: str = "mount") -> IStation:
        """
        Find the mount a parameter names.

        @param fields: the query.
        @param name: the parameter.
        @return: the station.
        @raise IcecastAdminError: when the parameter is missing or names
            no mount.
        """
        mount = fields.get(name)
        if not mount:
            raise IcecastAdminError(f"Missing parameter: {name}")
        station = self.context.station(mount)
        if station is None:
            raise IcecastAdminError("Source does not exist" if name == "mount" else f"No such {name}")
        return station

    def _base(self, request: Request) -> str:
        """
        @param request: the request.
        @return: the absolute URL prefix for it.
        """
        return baseURL(request, self.context.publicURL)

    def _stats(self, request: Request, fields: dict[str, str]) -> bytes:
        """
        C{/admin/stats}.

        @param request: the request.
        @param fields: unused.
        @return: the document.
        """
        base = self._base(request)
        return xmlDocument(statsDocument(self.context, base, requestHost(request, base)))

    def _listMounts(self, request: Request, fields: dict[str, str]) -> bytes:
        """
        C{/admin/listmounts}.

        @param request: the request.
        @param fields: unused.
        @return: the document.
        """
        return xmlDocument(listMounts(self.context, self.context.clock.seconds()))

    def _listClients(self, request: Request, fields: dict[str, str]) -> bytes:
        """
        C{/admin/listclients?mount=M}.

        @param request: the request.
        @param fields: C{mount}.
        @return: the document.
        """
        return xmlDocument(listClients(self._station(fields), self.context.clock.seconds()))

    def _killClient(self, request: Request, fields: dict[str, str]) -> bytes:
        """
        C{/admin/killclient?mount=M&id=N}: disconnect one listener.

        @param request: the request.
        @param fields: C{mount} and C{id}.
        @return: the answer.
        @raise IcecastAdminError: for a missing or unknown id.
        """
        station = self._station(fields)
        wanted = fields.get("id", "").strip()
        if not wanted:
            raise IcecastAdminError("Missing parameter: id")
        for listener in listeners(station):
            if str(listener.id) == wanted:
                self._log.info(
                    "admin {admin} kicked listener {id} ({peer}) from {mount}",
                    admin=_host(request),
                    id=listener.id,
                    peer=listener.peer,
                    mount=station.mount.decode(),
                )
                listener.disconnect(KICKED)
                return iceResponse(f"Client {listener.id} removed", True)
        raise IcecastAdminError(f"Client {wanted} not found")

    def _killSource(self, request: Request, fields: dict[str, str]) -> bytes:
        """
        C{/admin/killsource?mount=M}: end the live source.

        @param request: the request.
        @param fields: C{mount}.
        @return: the answer.
        @raise IcecastAdminError: when no live source is connected.
        """
        station = self._station(fields)
        if not station.killSource():
            raise IcecastAdminError(f"{station.mount.decode()} has no live source")
        self._log.info("admin {admin} ended the live source of {mount}", admin=_host(request), mount=station.mount.decode())
        return iceResponse("Source Removed", True)

    def _moveClients(self, request: Request, fields: dict[str, str]) -> bytes:
        """
        C{/admin/moveclients?mount=M&destination=D}: move every listener
        to another mount without a reconnect.  The destination's listener
        limit is not applied, as Icecast does not apply it either.

        @param request: the request.
        @param fields: C{mount} and C{destination}.
        @return: the answer.
        @raise IcecastAdminError: for the same mount or a destination not on
            the air.
        """
        station = self._station(fields)
        destination = self._station(fields, "destination")
        if destination is station:
            raise IcecastAdminError("supplied mountpoints are identical")
        if not destination.onAir:
            raise IcecastAdminError("Destination not running")
        moved = station.moveListeners(destination)
        source, target = station.mount.decode(), destination.mount.decode()
        self._log.info(
            "admin {admin} moved {count} listeners from {mount} to {destination}",
            admin=_host(request),
            count=moved,
            mount=source,
            destination=target,
        )
        return iceResponse(f"Clients moved from {source} to {target}", True)

    def _fallbacks(self, request: Request, fields: dict[str, str]) -> bytes:
        """
        C{/admin/fallbacks?mount=M&fallback=F}: set a mount's fallback
        (until the next configuration reload); an empty C{fallback} clears
        it.

        @param request: the request.
        @param fields: C{mount} and C{fallback}.
        @return: the answer.
        @raise IcecastAdminError: without C{fallback}, for an unknown one,
            or for one that would make a loop of fallbacks.
        """
        station = self._station(fields)
        if "fallback" not in fields:
            raise IcecastAdminError("Missing parameter: fallback")
        fallback = self._station(fields, "fallback") if fields["fallback"] else None
        hop = fallback
        for _ in range(len(self.context.stations) + 1):
            if hop is None:
                break
            if hop is station:
                raise IcecastAdminError("a mount cannot fall back to itself, directly or through others")
            hop = hop.fallback
        station.setFallback(fallback)
        self._log.info(
            "admin {admin} set the fallback of {mount} to {fallback}",
            admin=_host(request),
            mount=station.mount.decode(),
            fallback=fallback.mount.decode() if fallback is not None else "none",
        )
        return iceResponse("Fallback configured", True)


COMMANDS: dict[str, Callable[[IcecastAdminResource, Request, dict[str, str]], bytes]] = {
    "stats": IcecastAdminResource._stats,
    "listmounts": IcecastAdminResource._listMounts,
    "listclients": IcecastAdminResource._listClients,
    "killclient": IcecastAdminResource._killClient,
    "killsource": IcecastAdminResource._killSource,
    "moveclients": IcecastAdminResource._moveClients,
    "fallbacks": IcecastAdminResource._fallbacks,
}
"""Each command's name and what does it."""


def icecastAdminPaths(context: WebContext, access: AdminAccess) -> dict[bytes, Resource]:
    """
    The routes of Icecast's admin commands, for the site's root.

    @param context: the site's shared state.
    @param access: the credentials asked for.
    @return: C{/admin/COMMAND} paths to their resources.
    """
    return {b"/admin/" + name.encode("ascii"): IcecastAdminResource(context, name, access) for name in COMMANDS}


def _query(request: Request) -> dict[str, str]:
    """
    Read a command's parameters.

    @param request: the request.
    @return: the first value of each parameter.
    @raise IcecastAdminError: C{414} for a query longer than L{MAX_QUERY}.
    """
    query = request.uri.partition(b"?")[2]
    if len(query) > MAX_QUERY:
        raise IcecastAdminError("query too long", http.REQUEST_URI_TOO_LONG)
    fields: dict[str, str] = {}
    for key, values in parse_qs(query.decode("utf-8", "replace"), keep_blank_values=True).items():
        fields[key] = values[0]
    return fields


def _refuseOtherSites(request: Request) -> None:
    """
    Refuse a request a page on another site made the browser send.

    @param request: the request.
    @raise IcecastAdminError: C{403} when C{Sec-Fetch-Site} is
        C{cross-site} or C{same-site}, or C{Origin} names another host.
    """
    site = (request.getHeader(b"sec-fetch-site") or b"").strip().lower()
    if site in (b"cross-site", b"same-site"):
        raise IcecastAdminError("requests from other sites are refused", http.FORBIDDEN)
    origin = request.getHeader(b"origin")
    if origin is not None:
        host = (request.getHeader(b"host") or b"").lower()
        if urlsplit(origin.decode("latin-1")).netloc.encode("latin-1").lower() != host:
            raise IcecastAdminError("requests from other origins are refused", http.FORBIDDEN)


def _host(request: Request) -> str:
    """
    The client's address, for the log.

    @param request: the request.
    @return: its host.
    """
    return getattr(request.getClientAddress(), "host", "?")

