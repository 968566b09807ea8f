# -*- test-case-name: tests.test_admin -*-
"""
The admin API under C{/admin/}, behind HTTP Basic auth as C{admin} with the
admin password.  With no password configured it does not exist (404).

 - C{GET /admin/mounts}: every mount with its listeners (JSON);
 - C{POST /admin/kick} C{{"mount": "/stream", "listener": ID}}: drop a
   listener;
 - C{POST /admin/skip} C{{"mount": …}}: play the playlist's next track;
 - C{POST /admin/reload} C{{"mount": …}}: read the playlist again;
 - C{POST /admin/title} C{{"mount": …, "title": …}}: change the title;
 - C{POST /admin/move} C{{"mount": …, "listener": ID, "destination": …}}:
   move one listener to another mount without a reconnect;
 - C{POST /admin/kill-source} C{{"mount": …}}: end the live source.

C{GET /admin/} answers the admin page (L{txradio.web.adminpage}) to a
browser (an C{Accept} header naming C{text/html}) and the mounts' JSON to
anything else.

A browser sends remembered Basic credentials with any request to this
server, even one a page on another site makes it send, so every change
must be a C{POST} that such a page cannot forge without the browser asking
this server first (a CORS preflight, which it refuses): one with a JSON
body (C{Content-Type: application/json}) or with an C{X-Requested-With}
header; a form body is accepted with that header.  A cross-origin
C{Origin} header is refused too.  Replies are never readable from other
origins (no CORS headers) and never cached.

Failed logins are logged with the client's address; passwords are compared
in constant time (L{txradio.wire.auth}).

(Icecast's C{/admin/metadata} and SHOUTcast's C{/admin.cgi}, which encoders
use, are in L{txradio.web.metadata}.)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from twisted.logger import Logger
from twisted.web import http
from twisted.web.resource import Resource
from twisted.web.server import Request

from txradio.interfaces import IListener, ILiveSource, ILoginThrottle, IProgramme, IReloader, IStation
from txradio.stream.events import KICKED
from txradio.stream.listener import Listener
from txradio.web.status import WebContext, displayTitle, encodeJSON, isLive, summary
from txradio.wire.auth import credentialsMatch, parseBasicAuth
from txradio.wire.icy import cleanTitle

MAX_BODY = 16384
"""The largest request body an admin action accepts, in bytes."""

ADMIN_USER = "admin"
"""The admin's user name."""

_log = Logger()


def listenerId(listener: IListener) -> str:
    """
    An opaque, stable identifier for a connected listener.

    @param listener: a listener, or another mount following this one (a
        fallback or derived mount), or a push.
    @return: the listener's L{id<txradio.stream.listener.Listener.id>} (the
        one Icecast's admin commands show), or for a mount following this
        one 16 hex digits; the same for as long as it is connected.
    """
    # Only listeners of the listener port have a number; followers and
    # pushes are named by a hash.
    if listener.id is not None:
        return str(listener.id)
    key = f"{id(listener)}:{listener.connectedAt!r}:{listener.peer}".encode("utf-8", "replace")
    return hashlib.sha256(key).hexdigest()[:16]


def listenerInfo(listener: IListener) -> dict[str, Any]:
    """
    What the admin sees of a listener.

    @param listener: a listener, or another mount following this one (which
        has no player, connection time or lag).
    @return: a JSON-ready dictionary.
    """
    return {
        "id": listenerId(listener),
        "peer": listener.peer,
        "userAgent": listener.userAgent,
        "seconds": round(listener.seconds, 1),
        "bytesSent": listener.bytesSent,
        "lag": listener.lag,
        # Listeners of the listener port are ICY (or plain HTTP) streams;
        # HLS sessions are only counted (C{hlsListeners} of the mount).
        "protocol": "ICY",
    }


def sourceInfo(station: IStation) -> dict[str, Any]:
    """
    What is on the air on a mount: a live source (with its name) or the
    programme.

    @param station: the station.
    @return: C{kind} (C{"live"}, C{"programme"} or C{"off"}) and C{name}.
    """
    if isLive(station):
        # Live sources name themselves for the log ("live source ADDRESS",
        # "relay of URL"); the stream's name is the one the source sent.
        live = station.liveSource
        return {"kind": "live", "name": (live.name if ILiveSource.providedBy(live) else "") or "live"}
    if station.onAir:
        return {"kind": "programme", "name": type(station.programme).__name__}
    return {"kind": "off", "name": ""}


def mountInfo(station: IStation, hls: Any = None) -> dict[str, Any]:
    """
    What the admin sees of a mount.

    @param station: the station.
    @param hls: its L{txradio.web.hls.HLSMount}, or L{None} without HLS.
    @return: a JSON-ready dictionary with its listeners.
    """
    info = summary(station, hls)
    programme = station.programme
    info.update(
        {
            "live": isLive(station),
            "source": sourceInfo(station),
            "canSkip": IProgramme.providedBy(programme),
            "canReload": IProgramme.providedBy(programme),
            "totalListeners": station.totalListeners,
            "maxListeners": station.maxListeners,
            "listenerList": [listenerInfo(listener) for listener in list(station.broadcaster.listeners)],
        }
    )
    return info


def adminRefusal(
    request: Request, user: str, password: str | None, what: str, logins: ILoginThrottle | None
) -> tuple[int, str] | None:
    """
    Check a request's admin credentials, slowing down failed logins per
    address and logging them.

    @param request: the request.
    @param user: the admin's user name.
    @param password: the admin password, or L{None} when admin is off.
    @param what: what is protected, for the log, e.g. C{"admin"}.
    @param logins: the radio's login throttle, or L{None} for none.
    @return: L{None} when the credentials are right, else the status code
        and message to refuse with (the headers it needs are set).
    """
    if not password:
        return http.NOT_FOUND, f"{what} is off: no admin password is set"
    credentials = parseBasicAuth(request.getHeader(b"authorization"))
    host = clientHost(request)
    wait = logins.wait(host) if credentials is not None and logins is not None else 0.0
    if wait:
        request.setHeader(b"retry-after", b"%d" % (int(wait) + 1,))
        return 429, "too many failed logins: try again later"
    if not credentialsMatch(credentials, user, password):
        if credentials is not None:
            _log.warn(f"failed {what} login from {{peer}} as {{user!r}}", peer=host, user=credentials[0][:64])
            if logins is not None:
                logins.failed(host, what)
        request.setHeader(b"www-authenticate", b'Basic realm="txradio admin", charset="UTF-8"')
        return http.UNAUTHORIZED, "admin credentials required"
    if logins is not None:
        logins.succeeded(host)
    return None


@dataclass(frozen=True, slots=True)
class AdminAccess:
    """
    What an admin-protected resource checks a request against.

    A reload that changes the password replaces the value.

    @ivar password: the admin password, or L{None} (admin off).
    @ivar user: the admin's user name.
    @ivar logins: the radio's login throttle, or L{None} for none.
    """

    password: str | None
    user: str = ADMIN_USER
    logins: ILoginThrottle | None = None

    def refusal(self, request: Request, what: str) -> tuple[int, str] | None:
        """
        Check a request's admin credentials; see L{adminRefusal}.

        @param request: the request.
        @param what: what is protected, for the log, e.g. C{"admin"}.
        @return: L{None} when the credentials are right, else the status
            code and message to refuse with.
        """
        return adminRefusal(request, self.user, self.password, what, self.logins)


class AdminError(Exception):
    """
    An admin request that must be refused.

    @ivar code: the status code.
    @ivar message: what was wrong, for the JSON reply.
    """

    def __init__(self, code: int, message: str) -> None:
        """
        @param code: the status code.
        @param message: what was wrong.
        """
        super().__init__(code, message)
        self.code = code
        self.message = message


class AdminResource(Resource):
    """
    C{/admin/…}: the admin API.
    """

    isLeaf = True
    _log = Logger()

    def __init__(self, context: WebContext, access: AdminAccess) -> None:
        """
        @param context: the site's shared state.
        @param access: the credentials asked for.
        """
        Resource.__init__(self)
        self.context = context
        self.access = access
        self.reloader: IReloader | None = None
        self.page: Callable[[Request], bytes] | None = None

    def render(self, request: Request) -> bytes:
        """
        Check credentials, then dispatch.

        @param request: the request.
        @return: the JSON reply.
        """
        request.setHeader(b"cache-control", b"no-store")
        request.setHeader(b"x-content-type-options", b"nosniff")
        refusal = self.access.refusal(request, "admin")
        if refusal is not None:
            code, message = refusal
            return self._reply(request, code, {"error": message})
        action = b"/".join(request.postpath).strip(b"/").decode("ascii", "replace")
        try:
            if action == "reload-config":
                self._onlyMethod(request, b"POST")
                self._checkForgery(request)
                return self._reply(request, http.OK, self._reloadConfig(request))
            if action in ("", "mounts"):
                self._onlyMethod(request, b"GET", b"HEAD")
                if action == "" and self.page is not None and b"text/html" in (request.getHeader(b"accept") or b""):
                    return self.page(request)
                mounts = [mountInfo(s, self.context.hls.get(s.mount)) for s in self.context.stations]
                return self._reply(request, http.OK, {"mounts": mounts})
            handler = {
                "kick": self._kick,
                "skip": self._skip,
                "reload": self._reload,
                "title": self._title,
                "move": self._move,
                "kill-source": self._killSource,
            }.get(action)
            if handler is None:
                raise AdminError(http.NOT_FOUND, "no such admin action")
            self._onlyMethod(request, b"POST")
            self._checkForgery(request)
            fields = self._fields(request)
            station = self._station(fields)
            result = handler(request, station, fields)
            return self._reply(request, http.OK, result)
        except AdminError as error:
            return self._reply(request, error.code, {"error": error.message})

    def _reply(self, request: Request, code: int, value: Any) -> bytes:
        """
        Answer with JSON (no CORS: admin replies are for this origin only).

        @param request: the request.
        @param code: the status code.
        @param value: JSON-ready data.
        @return: the body.
        """
        request.setResponseCode(code)
        request.setHeader(b"content-type", b"application/json; charset=utf-8")
        return encodeJSON(value)

    def _onlyMethod(self, request: Request, *methods: bytes) -> None:
        """
        Refuse other methods.

        @param request: the request.
        @param methods: the methods allowed.
        @raise AdminError: 405 for another method.
        """
        if request.method not in methods:
            request.setHeader(b"allow", b", ".join(methods))
            raise AdminError(http.NOT_ALLOWED, "use " + " or ".join(m.decode() for m in methods))

    def _checkForgery(self, request: Request) -> None:
        """
        Refuse a request another site's page could have made the browser
        send.

        @param request: a C{POST}.
        @raise AdminError: 403 without a JSON body or C{X-Requested-With},
            or with an C{Origin} other than this server.
        """
        contentType = (request.getHeader(b"content-type") or b"").split(b";")[0].strip().lower()
        if contentType != b"application/json" and request.getHeader(b"x-requested-with") is None:
            raise AdminError(
                http.FORBIDDEN, "send a JSON body or an X-Requested-With header (cross-site request protection)"
            )
        origin = request.getHeader(b"origin")
        if origin is not None:
            host = request.getHeader(b"host") or b""
            originHost = urlsplit(origin.decode("latin-1")).netloc.encode("latin-1")
            if originHost.lower() != host.lower():
                raise AdminError(http.FORBIDDEN, "requests from other origins are refused")

    def _fields(self, request: Request) -> dict[str, Any]:
        """
        Read the action's parameters from a JSON or form body, or the query.

        @param request: the request.
        @return: the parameters.
        @raise AdminError: 413 for a large body, 400 for a malformed one.
        """
        length = request.getHeader(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
            raise AdminError(http.REQUEST_ENTITY_TOO_LARGE, f"the body may have at most {MAX_BODY} bytes")
        body = request.content.read(MAX_BODY + 1) if request.content is not None else b""
        if len(body) > MAX_BODY:
            raise AdminError(http.REQUEST_ENTITY_TOO_LARGE, f"the body may have at most {MAX_BODY} bytes")
        contentType = (request.getHeader(b"content-type") or b"").split(b";")[0].strip().lower()
        if contentType == b"application/json":
            try:
                value = json.loads(body.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                raise AdminError(http.BAD_REQUEST, "the body is not valid JSON") from None
            if not isinstance(value, dict):
                raise AdminError(http.BAD_REQUEST, "the body must be a JSON object")
            return value
        fields: dict[str, Any] = {}
        query = request.uri.partition(b"?")[2]
        for source in (query, body if contentType == b"application/x-www-form-urlencoded" else b""):
            for key, values in parse_qs(source.decode("utf-8", "replace"), keep_blank_values=True).items():
                fields.setdefault(key, values[0])
        return fields

    def _station(self, fields: dict[str, Any]) -> IStation:
        """
        Find the mount an action names (the default mount when none is).

        @param fields: the parameters.
        @return: the station.
        @raise AdminError: 404 for an unknown mount.
        """
        mount = fields.get("mount")
        if mount is None and self.context.stations:
            return self.context.stations[0]
        station = self.context.station(mount) if isinstance(mount, str) else None
        if station is None:
            raise AdminError(http.NOT_FOUND, "no such mount")
        return station

    def _kick(self, request: Request, station: IStation, fields: dict[str, Any]) -> dict[str, Any]:
        """
        Disconnect a listener.

        @param request: the request.
        @param station: its mount.
        @param fields: C{listener}: the listener's id.
        @return: the reply.
        @raise AdminError: 404 for an unknown listener.
        """
        wanted = str(fields.get("listener", ""))
        for listener in list(station.broadcaster.listeners):
            if listenerId(listener) == wanted:
                self._log.info(
                    "admin {peer} kicked listener {listener} from {mount}",
                    peer=clientHost(request),
                    listener=listener.peer,
                    mount=station.mount.decode(),
                )
                listener.disconnect(KICKED)
                return {"kicked": wanted, "mount": station.mount.decode()}
        raise AdminError(http.NOT_FOUND, "no such listener on this mount")

    def _programme(self, station: IStation, method: str) -> IProgramme:
        """
        Find the playlist an action applies to.

        @param station: the station.
        @param method: C{"skip"} or C{"reload"}.
        @return: the programme.
        @raise AdminError: 409 when the mount has no playlist.
        """
        programme = station.programme
        if not IProgramme.providedBy(programme):
            raise AdminError(http.CONFLICT, f"{station.mount.decode()} has no playlist to {method}")
        return programme

    def _skip(self, request: Request, station: IStation, fields: dict[str, Any]) -> dict[str, Any]:
        """
        Skip to the playlist's next track.

        @param request: the request.
        @param station: the station.
        @param fields: unused.
        @return: the reply.
        @raise AdminError: 409 without a playlist or while a live source plays.
        """
        programme = self._programme(station, "skip")
        if isLive(station):
            raise AdminError(http.CONFLICT, "a live source is on the air; its audio cannot be skipped")
        previous = displayTitle(station.broadcaster.title)
        self._log.info("admin {peer} skipped a track on {mount}", peer=clientHost(request), mount=station.mount.decode())
        programme.skip()
        return {"skipped": previous, "mount": station.mount.decode()}

    def _reloadConfig(self, request: Request) -> dict[str, Any]:
        """
        Read the configuration file again and apply it, as C{SIGHUP} does.

        @param request: the request.
        @return: the reply: what changed.
        @raise AdminError: 409 when the radio has no configuration file, 422
            when the file has an error (the running configuration stays).
        """
        reloader = self.reloader
        if reloader is None:
            raise AdminError(http.CONFLICT, "this radio runs without a configuration file")
        self._log.info("admin {peer} reloads the configuration", peer=clientHost(request))
        try:
            plan = reloader.reload()
        except ValueError as error:
            # A configuration error (L{txradio.interfaces.IReloader.reload}).
            raise AdminError(422, str(error)) from None
        return {
            "reloaded": True,
            "added": list(plan.added),
            "removed": list(plan.removed),
            "rebuilt": list(plan.rebuilt),
            "updated": [path for path, _ in plan.updated],
            "unchanged": list(plan.unchanged),
            "restartNeeded": list(plan.restartNeeded),
            "summary": plan.describe(),
        }

    def _reload(self, request: Request, station: IStation, fields: dict[str, Any]) -> dict[str, Any]:
        """
        Read the playlist again.

        @param request: the request.
        @param station: the station.
        @param fields: unused.
        @return: the reply.
        @raise AdminError: 409 without a playlist.
        """
        programme = self._programme(station, "reload")
        self._log.info(
            "admin {peer} reloaded the playlist of {mount}", peer=clientHost(request), mount=station.mount.decode()
        )
        programme.reload()
        return {"reloaded": True, "mount": station.mount.decode()}

    def _title(self, request: Request, station: IStation, fields: dict[str, Any]) -> dict[str, Any]:
        """
        Change the title listeners see.

        @param request: the request.
        @param station: the station.
        @param fields: C{title}: the new title.
        @return: the reply.
        @raise AdminError: 400 without a title.
        """
        title = fields.get("title")
        if not isinstance(title, str) or not cleanTitle(title):
            raise AdminError(http.BAD_REQUEST, "give the new title as 'title'")
        title = cleanTitle(title)
        self._log.info(
            "admin {peer} set the title of {mount}: {title}",
            peer=clientHost(request),
            mount=station.mount.decode(),
            title=title,
        )
        station.updateTitle(title)
        return {"title": title, "mount": station.mount.decode()}

    def _move(self, request: Request, station: IStation, fields: dict[str, Any]) -> dict[str, Any]:
        """
        Move one listener to another mount without a reconnect (what
        Icecast's C{moveclients} does for all of a mount's listeners).

        @param request: the request.
        @param station: its mount.
        @param fields: C{listener}: the listener's id; C{destination}: the
            mount it moves to.
        @return: the reply.
        @raise AdminError: 404 for an unknown listener or destination, 409
            for the same mount or a destination not on the air.
        """
        wanted = str(fields.get("listener", ""))
        target = fields.get("destination")
        destination = self.context.station(target) if isinstance(target, str) else None
        if destination is None:
            raise AdminError(http.NOT_FOUND, "no such destination mount")
        if destination is station:
            raise AdminError(http.CONFLICT, "the listener is on that mount already")
        if not destination.onAir:
            raise AdminError(http.CONFLICT, f"{destination.mount.decode()} is not on the air")
        for listener in list(station.broadcaster.listeners):
            # Only listeners of the listener port can follow another mount.
            if isinstance(listener, Listener) and listenerId(listener) == wanted:
                listener.moveTo(destination.broadcaster)
                destination.peakListeners = max(destination.peakListeners, destination.listenerCount)
                self._log.info(
                    "admin {peer} moved listener {listener} from {mount} to {destination}",
                    peer=clientHost(request),
                    listener=listener.peer,
                    mount=station.mount.decode(),
                    destination=destination.mount.decode(),
                )
                return {"moved": wanted, "mount": station.mount.decode(), "destination": destination.mount.decode()}
        raise AdminError(http.NOT_FOUND, "no such listener on this mount")

    def _killSource(self, request: Request, station: IStation, fields: dict[str, Any]) -> dict[str, Any]:
        """
        End the live source; the mount goes back to its programme or
        fallback (Icecast's C{killsource}).

        @param request: the request.
        @param station: the station.
        @param fields: unused.
        @return: the reply.
        @raise AdminError: 409 when no live source is connected.
        """
        if not station.killSource():
            raise AdminError(http.CONFLICT, f"{station.mount.decode()} has no live source")
        self._log.info(
            "admin {peer} ended the live source of {mount}", peer=clientHost(request), mount=station.mount.decode()
        )
        return {"killed": True, "mount": station.mount.decode()}


def clientHost(request: Request) -> str:
    """
    The client's address, for the log and the login throttle.

    @param request: the request.
    @return: its host, or C{"?"} for a client without one.
    """
    # An IAddress has no common field: a UNIX socket's has no host.
    return getattr(request.getClientAddress(), "host", "?")
