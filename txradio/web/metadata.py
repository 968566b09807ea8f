# -*- test-case-name: tests.test_metadata -*-
"""
Metadata updates from source clients and operators, in the two forms
encoders send them:

 - Icecast: C{GET /admin/metadata?mount=/live&mode=updinfo&song=…} with
   Basic credentials (the admin's, or the mount's source user's), optional
   C{charset};
 - SHOUTcast v1: C{GET /admin.cgi?pass=…&mode=updinfo&song=…} (the password
   in the query; the default mount).

The new title reaches every listener who asked for metadata in its next
block.
"""

from __future__ import annotations

import codecs
from collections.abc import Sequence
from urllib.parse import unquote_to_bytes

from twisted.logger import Logger
from twisted.web import http
from twisted.web.resource import Resource
from twisted.web.server import Request

from txradio.interfaces import ILoginThrottle, IStation
from txradio.web.admin import clientHost
from txradio.wire.auth import credentialsMatch, parseBasicAuth, passwordMatches
from txradio.wire.icy import cleanTitle

MAX_QUERY = 8192
"""The longest query string a metadata update may have, in bytes."""

_ICECAST_OK = (
    b'<?xml version="1.0"?>\n<iceresponse><message>Metadata update successful</message>'
    b"<return>1</return></iceresponse>\n"
)


def _iceResponse(message: str) -> bytes:
    """
    Build Icecast's XML reply for a failed request.

    @param message: what went wrong (plain text, no markup).
    @return: the XML document.
    """
    from xml.sax.saxutils import escape

    return (
        f'<?xml version="1.0"?>\n<iceresponse><message>{escape(message)}</message>'
        "<return>0</return></iceresponse>\n"
    ).encode()


def parseQuery(query: bytes) -> dict[bytes, bytes]:
    """
    Parse a query string, keeping values as raw bytes (their charset is
    given separately).

    @param query: the raw query, without C{?}.
    @return: the first value of each key, percent- and plus-decoded.
    @raise ValueError: for a query longer than L{MAX_QUERY}.
    """
    if len(query) > MAX_QUERY:
        raise ValueError("query string too long")
    fields: dict[bytes, bytes] = {}
    for part in query.split(b"&"):
        if not part:
            continue
        key, _, value = part.partition(b"=")
        key = unquote_to_bytes(key.replace(b"+", b" "))
        fields.setdefault(key, unquote_to_bytes(value.replace(b"+", b" ")))
    return fields


def decodeSong(raw: bytes, charset: bytes | None) -> str:
    """
    Decode a C{song} value in its declared charset (UTF-8 by default), with
    Latin-1 as a last resort for encoders that send it undeclared.

    @param raw: the value's bytes.
    @param charset: the C{charset} parameter, if any.
    @return: the title, cleaned.
    """
    encoding = "utf-8"
    if charset:
        try:
            encoding = codecs.lookup(charset.decode("ascii", "replace")).name
        except (LookupError, ValueError):
            # ValueError: a charset holding NUL ("charset=%00") made
            # codecs.lookup raise it, and the update fail with a 500 (found
            # by fuzz/targets.py fuzzQuery).
            encoding = "utf-8"
    try:
        text = raw.decode(encoding)
    except (UnicodeError, LookupError):
        # LookupError: codecs.lookup also finds bytes-to-bytes codecs
        # ("charset=hex", "rot13") that bytes.decode refuses; UnicodeError:
        # some codecs ("idna") raise it rather than UnicodeDecodeError.
        # Both made the update fail with a 500 (found by fuzzing).
        text = raw.decode("latin-1")
    return cleanTitle(text)


def songFrom(fields: dict[bytes, bytes]) -> bytes | None:
    """
    Find the new title in an update's fields: C{song}, or, as libshout sends
    it, C{artist} and C{title} (joined as C{Artist - Title}).

    @param fields: the parsed query.
    @return: the raw title bytes, or L{None} when there is none.
    """
    if b"song" in fields:
        return fields[b"song"]
    artist, title = fields.get(b"artist", b"").strip(), fields.get(b"title", b"").strip()
    if artist and title:
        return artist + b" - " + title
    return title or artist or None


class _UpdateResource(Resource):
    """
    Shared parts of the two update forms.
    """

    isLeaf = True
    _log = Logger()

    def __init__(
        self,
        stations: Sequence[IStation],
        adminUser: str = "admin",
        adminPassword: str | None = None,
        logins: ILoginThrottle | None = None,
    ) -> None:
        """
        @param stations: the stations, the default first.
        @param adminUser: the admin's user name.
        @param adminPassword: the admin's password, or L{None} (admin off).
        @param logins: the radio's login throttle, or L{None} for none.
        """
        Resource.__init__(self)
        self._logins = logins
        self._stations = {station.mount: station for station in stations}
        self._default = stations[0] if stations else None
        self._adminUser = adminUser
        self._adminPassword = adminPassword

    def _query(self, request: Request) -> dict[bytes, bytes] | None:
        """
        Parse the request's query, answering 414 when it is too long.

        @param request: the request.
        @return: the fields, or L{None} after an error reply.
        """
        query = request.uri.partition(b"?")[2]
        try:
            return parseQuery(query)
        except ValueError:
            request.setResponseCode(http.REQUEST_URI_TOO_LONG)
            return None

    def _update(self, station: IStation, title: str, peer: str) -> None:
        """
        Apply a title update and log it.

        @param station: the station.
        @param title: the new title.
        @param peer: who sent it.
        """
        station.updateTitle(title)
        self._log.info(
            "metadata update on {mount} from {peer}: {title}", mount=station.mount.decode(), peer=peer, title=title
        )

    def _refuse(self, request: Request, code: int, mount: str) -> None:
        """
        Log a failed login and set the status.

        @param request: the request.
        @param code: the status to answer.
        @param mount: the mount it was for.
        """
        host = clientHost(request)
        self._log.warn("failed metadata login for {mount} from {peer}", mount=mount, peer=host)
        if self._logins is not None:
            self._logins.failed(host, f"metadata {mount}")
        request.setResponseCode(code)

    def _throttled(self, request: Request) -> bool:
        """
        Tell whether this address must wait before its password is checked
        (too many failed logins); if so, set C{429} and C{Retry-After}.

        @param request: the request.
        @return: L{True} when the request must be refused unchecked.
        """
        wait = self._logins.wait(clientHost(request)) if self._logins is not None else 0.0
        if wait:
            request.setResponseCode(429)
            request.setHeader(b"retry-after", b"%d" % (int(wait) + 1,))
        return bool(wait)


class IcecastMetadataResource(_UpdateResource):
    """
    C{/admin/metadata}: Icecast's metadata update.
    """

    def render_GET(self, request: Request) -> bytes:
        """
        Check credentials and apply the update.

        @param request: the request.
        @return: Icecast's small XML reply.
        """
        request.setHeader(b"content-type", b"text/xml; charset=utf-8")
        fields = self._query(request)
        if fields is None:
            return _iceResponse("query too long")
        mount = fields.get(b"mount", b"")
        station = self._stations.get(mount)
        credentials = parseBasicAuth(request.getHeader(b"authorization"))
        if self._throttled(request):
            return _iceResponse("Too many failed logins: try again later")
        # Credentials first, whether the mount exists or not, so that a
        # 404 tells only someone who may log in that there is no such
        # mount: the mount's source user, or on an unknown mount any
        # mount's, or the admin.
        sources = [station] if station is not None else list(self._stations.values())
        asSource = False
        for candidate in sources:
            asSource = credentialsMatch(credentials, candidate.sourceUser, candidate.sourcePassword) or asSource
        asAdmin = credentialsMatch(credentials, self._adminUser, self._adminPassword)
        if not (asSource or asAdmin):
            self._refuse(request, http.UNAUTHORIZED, mount.decode("ascii", "replace"))
            request.setHeader(b"www-authenticate", b'Basic realm="txradio"')
            return _iceResponse("Authentication Required")
        if station is None:
            request.setResponseCode(http.NOT_FOUND)
            return _iceResponse("Source does not exist")
        song = songFrom(fields)
        if fields.get(b"mode") != b"updinfo" or song is None:
            self._log.info(
                "metadata update for {mount} without mode=updinfo and song (or title)", mount=mount.decode("ascii", "replace")
            )
            request.setResponseCode(http.BAD_REQUEST)
            return _iceResponse("Missing parameter: mode=updinfo and song (or title) are required")
        self._update(station, decodeSong(song, fields.get(b"charset")), clientHost(request))
        return _ICECAST_OK


class ShoutcastMetadataResource(_UpdateResource):
    """
    C{/admin.cgi}: SHOUTcast v1's metadata update, for the default mount (or
    the one named by C{mount}).
    """

    def render_GET(self, request: Request) -> bytes:
        """
        Check the password in the query and apply the update.

        @param request: the request.
        @return: a short plain-text reply.
        """
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        fields = self._query(request)
        if fields is None:
            return b"query too long\n"
        station = self._stations.get(fields.get(b"mount", b""), self._default)
        if station is None:
            request.setResponseCode(http.NOT_FOUND)
            return b"no such mount\n"
        password = fields.get(b"pass", b"").decode("utf-8", "replace")
        if self._throttled(request):
            return b"too many failed logins: try again later\n"
        if not (
            passwordMatches(password, station.sourcePassword) or passwordMatches(password, self._adminPassword)
        ):
            self._refuse(request, http.UNAUTHORIZED, station.mount.decode())
            return b"invalid password\n"
        if fields.get(b"mode") != b"updinfo" or b"song" not in fields:
            request.setResponseCode(http.BAD_REQUEST)
            return b"mode=updinfo and song are required\n"
        self._update(station, decodeSong(fields[b"song"], fields.get(b"charset")), clientHost(request))
        return b"OK\n"
