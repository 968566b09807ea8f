# -*- test-case-name: tests.test_web -*-
"""
The web side of the listener port: a L{twisted.web.server.Site} for
everything that is not a stream (the station's page, playlists).

The listener protocol hands such requests to this site; see
L{txradio.protocol}.
"""

from __future__ import annotations

from collections.abc import Sequence

from twisted.internet.interfaces import IReactorTime
from twisted.web import http
from twisted.web.resource import NoResource, Resource
from twisted.web.server import NOT_DONE_YET, Request, Site

from txradio.playlists import M3U_TYPE, PLS_TYPE, XSPF_TYPE, buildM3U, buildPLS, buildXSPF
from txradio.request import isValidHost
from txradio.station import Station
from txradio.web.metadata import IcecastMetadataResource, ShoutcastMetadataResource
from txradio.web.page import StationsPage

_PLAYLIST_FORMATS = {
    b".m3u": (M3U_TYPE, buildM3U),
    b".pls": (PLS_TYPE, buildPLS),
    b".xspf": (XSPF_TYPE, buildXSPF),
}


def baseURL(request: Request, publicURL: str | None = None) -> str:
    """
    Work out the absolute URL prefix clients reach this server by.

    @param request: the request being answered.
    @param publicURL: a configured base URL (for servers behind a proxy),
        which wins when given.
    @return: e.g. C{"http://radio.example:8000"}, without a trailing slash.
    """
    if publicURL:
        return publicURL.rstrip("/")
    scheme = "https" if request.isSecure() else "http"
    host = request.getHeader(b"host")
    if host is not None and isValidHost(host.encode("latin-1") if isinstance(host, str) else host):
        hostText = host.decode("ascii") if isinstance(host, bytes) else host
    else:
        address = request.getHost()
        hostText = f"[{address.host}]" if ":" in address.host else address.host
        hostText = f"{hostText}:{address.port}"
    return f"{scheme}://{hostText}"


class RadioChannel(http.HTTPChannel):
    """
    The site's HTTP channel, with a link back to the listener protocol that
    handed it the connection.

    @ivar listenerProtocol: the L{txradio.protocol.ListenerProtocol} that
        owns the connection, or L{None} for a connection made directly to
        the site.
    """

    listenerProtocol = None


class PlaylistResource(Resource):
    """
    A playlist file (M3U, PLS or XSPF) pointing at one or more stations.
    """

    isLeaf = True

    def __init__(self, stations: Sequence[Station], extension: bytes, publicURL: str | None) -> None:
        """
        @param stations: the stations to list.
        @param extension: C{b".m3u"}, C{b".pls"} or C{b".xspf"}.
        @param publicURL: a configured base URL, or L{None} to use C{Host}.
        """
        Resource.__init__(self)
        self._stations = list(stations)
        self._contentType, self._build = _PLAYLIST_FORMATS[extension]
        self._publicURL = publicURL

    def render_GET(self, request: Request) -> bytes:
        """
        Render the playlist with absolute URLs.

        @param request: the request.
        @return: the playlist's bytes.
        """
        base = baseURL(request, self._publicURL)
        entries = [
            (base + station.mount.decode("ascii"), station.info.name) for station in self._stations
        ]
        request.setHeader(b"content-type", self._contentType + b"; charset=utf-8")
        request.setHeader(b"cache-control", b"no-cache")
        request.setHeader(b"access-control-allow-origin", b"*")
        return self._build(entries)

    render_HEAD = render_GET


class StreamResource(Resource):
    """
    A mount path reached through the web site: the client fetched a page on
    this connection before and now asks for the stream on it.  The listener
    protocol takes the connection back and streams.
    """

    isLeaf = True

    def render(self, request: Request) -> bytes | int:
        """
        Hand the connection back to the listener protocol.

        @param request: the stream request.
        @return: C{NOT_DONE_YET}, or an error page when the connection did
            not come through a listener protocol.
        """
        owner = getattr(request.channel, "listenerProtocol", None)
        if owner is None:
            request.setResponseCode(http.NOT_FOUND)
            return b"streams are served on the listener port\n"
        head = [b"%s %s %s" % (request.method, request.uri, request.clientproto)]
        for name, values in request.requestHeaders.getAllRawHeaders():
            head.extend(name + b": " + value for value in values)
        owner.takeOverFromSite(b"\r\n".join(head) + b"\r\n\r\n")
        return NOT_DONE_YET


class RadioRoot(Resource):
    """
    The site's root: the stations page at C{/}, and for every mount its
    playlists (C{/MOUNT.m3u}, C{.pls}, C{.xspf}) and its stream; also
    C{/listen.pls} and C{/listen.m3u} for the first station.
    """

    def __init__(
        self, stations: Sequence[Station], publicURL: str | None = None, adminPassword: str | None = None
    ) -> None:
        """
        @param stations: the stations, the default first.
        @param publicURL: a configured base URL, or L{None}.
        @param adminPassword: the admin password, or L{None} (admin off).
        """
        Resource.__init__(self)
        self._paths: dict[bytes, Resource] = {}
        for station in stations:
            self._paths[station.mount] = StreamResource()
            for extension in _PLAYLIST_FORMATS:
                self._paths[station.mount + extension] = PlaylistResource(
                    [station], extension, publicURL
                )
        if stations:
            for extension in (b".pls", b".m3u"):
                self._paths.setdefault(
                    b"/listen" + extension, PlaylistResource(stations[:1], extension, publicURL)
                )
        self.putChild(b"", StationsPage(stations))
        self._paths[b"/admin/metadata"] = IcecastMetadataResource(stations, adminPassword=adminPassword)
        self._paths[b"/admin.cgi"] = ShoutcastMetadataResource(stations, adminPassword=adminPassword)

    def getChildWithDefault(self, name: bytes, request: Request) -> Resource:
        """
        Route by the whole path for mounts and playlists (mounts may have
        several segments), by segment for everything else.

        @param name: the next path segment.
        @param request: the request.
        @return: the resource for the path.
        """
        resource = self._paths.get(request.path)
        if resource is not None:
            return resource
        child = Resource.getChildWithDefault(self, name, request)
        return child

    def getChild(self, path: bytes, request: Request) -> Resource:
        """
        Nothing else lives here.

        @param path: the segment.
        @param request: the request.
        @return: a 404 page.
        """
        return NoResource("There is nothing at this address.")


def buildSite(
    stations: Sequence[Station],
    clock: IReactorTime | None = None,
    publicURL: str | None = None,
    adminPassword: str | None = None,
) -> Site:
    """
    Build the web site served beside the streams.

    @param stations: the stations, the default first.
    @param clock: the reactor (for the site's timeouts); the global one by
        default.
    @param publicURL: a configured base URL for playlists, or L{None} to
        use each request's C{Host}.
    @param adminPassword: the admin password, or L{None} (admin off).
    @return: the site.
    """
    site = Site(RadioRoot(stations, publicURL, adminPassword), reactor=clock)
    # Plain HTTP/1.1 channels (no HTTP/2 negotiation): a stream needs the
    # connection to itself, which HTTP/2 multiplexing cannot give.
    site.protocol = RadioChannel
    site.displayTracebacks = False
    site.log = lambda request: None  # listener joins and leaves are logged instead
    return site
