# -*- test-case-name: tests.test_web -*-
"""
The web side of the listener port: a L{twisted.web.server.Site} for
everything that is not a stream.

 - C{/}: the station page (L{txradio.web.page}), live through C{/events}
   (L{txradio.web.events});
 - C{/MOUNT.m3u}, C{.pls}, C{.xspf}, C{/listen.pls}, C{/listen.m3u}:
   playlists: the mount's stream first, then the same programme at its
   other bitrates, then (XSPF only) its HLS playlist;
 - C{/status-json.xsl}: Icecast's status JSON (L{txradio.web.status});
 - C{/api/v1/…}: the JSON API (L{txradio.web.api});
 - C{/library/…}: the on-demand library (L{txradio.library.index});
 - C{/admin/…}: the admin API (L{txradio.web.admin}), the metadata
   updates encoders send (L{txradio.web.metadata}) and Icecast's admin
   commands (L{txradio.web.icecastadmin});
 - C{/7.html}, C{/currentsong}, C{/nextsong}, C{/stats}, C{/played.html}:
   SHOUTcast's widget endpoints (L{txradio.web.shoutcast});
 - C{/static/…}: the pages' style sheet, script and icon;
 - C{/MOUNT.m3u8}, C{/MOUNT/master.m3u8}, C{/MOUNT/hls/N.mp3}: HLS
   (L{txradio.web.hls}).
 - C{/MOUNT/shows.rss}, C{/MOUNT/shows/FILE.mp3}: the podcast of a
   recorded mount's shows (L{txradio.web.shows}).

The listener protocol hands such requests to this site; see
L{txradio.net.listenerport}.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Protocol

from twisted.application.service import MultiService
from twisted.internet.interfaces import IReactorTime
from twisted.web import http
from twisted.web.resource import NoResource, Resource
from twisted.web.server import NOT_DONE_YET, Request, Site

from zope.interface import implementer

from txradio.interfaces import IAudienceSite, ILoginThrottle, IRadioSite, IReloader, IStation
from txradio.library.art import ArtCache
from txradio.library.index import Library
from txradio.web.admin import AdminAccess, AdminResource
from txradio.web.adminpage import AdminPage
from txradio.web.api import APIRoot
from txradio.web.art import ArtResource, installStreamURLs
from txradio.web.browse import LibraryResource
from txradio.web.chartroutes import CHARTS_PREFIX, ChartsResource
from txradio.web.events import EventHub, EventsResource
from txradio.web.hls import HLSRoutes, HLSSettings, relatedStations
from txradio.web.icecastadmin import icecastAdminPaths
from txradio.web.metadata import IcecastMetadataResource, ShoutcastMetadataResource
from txradio.web.page import StaticResource, StationsPage
from txradio.web.reports import REPORTS_PREFIX, STATS_PREFIX, AudienceReports
from txradio.web.shoutcast import shoutcastPaths
from txradio.web.shows import ShowsRoutes
from txradio.web.status import IcecastStatusResource, PreflightMixin, WebContext, baseURL
from txradio.wire.playlists import M3U_TYPE, PLS_TYPE, XSPF_TYPE, buildM3U, buildPLS, buildXSPF

__all__ = [
    "RadioChannel",
    "RadioRoot",
    "RadioSite",
    "PlaylistResource",
    "StreamResource",
    "baseURL",
    "buildSite",
    "playlistEntries",
]

_PLAYLIST_FORMATS = {
    b".m3u": (M3U_TYPE, buildM3U),
    b".pls": (PLS_TYPE, buildPLS),
    b".xspf": (XSPF_TYPE, buildXSPF),
}

_HLS_PLAYLIST_FORMATS = (b".xspf",)
"""
The playlist formats that also list a mount's HLS playlist, after its
streams.  Not PLS nor M3U: the SHOUTcast-era players and hardware radios
that read PLS, and the classic players that read M3U (C{mpg123 -@}, XMMS,
Winamp), take every entry for an MP3 stream (a further entry is where they
go when the first fails, or what they play next) and decode an HLS
playlist's text as MP3.  The HLS playlist has its own C{.m3u8} URL.
"""


def playlistEntries(
    stations: Sequence[IStation],
    base: str,
    served: Sequence[IStation] | None = None,
    hls: HLSRoutes | None = None,
) -> list[tuple[str, str]]:
    """
    The entries of a playlist file for some stations.

    First each station's own ICY stream, so that a player that plays only
    the first entry (or plays them in order) gets it; then the same
    programme at its other bitrates (the mounts derived from it, or the one
    it is derived from and its siblings), where a player goes when the first
    fails; then, when C{hls} is given, the station's HLS playlist: its master
    playlist when it has variants, else its media playlist.

    @param stations: the stations the file is for, usually one.
    @param base: the absolute URL prefix, e.g. C{"http://radio.example:8000"}.
    @param served: the stations this site serves (a related station that is
        not among them is left out); all related stations when L{None}.
    @param hls: the site's HLS routes, or L{None} for no HLS entries.
    @return: C{(url, title)} pairs, without repeats.
    """
    known = None if served is None else {id(station) for station in served}
    entries: list[tuple[str, str]] = []
    seen: set[str] = set()

    def add(url: str, title: str) -> None:
        if url not in seen:
            seen.add(url)
            entries.append((url, title))

    for station in stations:
        add(base + station.mount.decode("ascii"), station.info.name)
    for station in stations:
        for relative in relatedStations(station):
            if known is None or id(relative) in known:
                add(base + relative.mount.decode("ascii"), relative.info.name)
    if hls is not None:
        for station in stations:
            mount = hls.mounts.get(station.mount)
            if mount is None:
                continue
            path = mount.masterPath if len(hls.family(station)) > 1 else mount.playlistPath
            add(base + path, f"{station.info.name} (HLS)")
    return entries


class ListenerPort(Protocol):
    """
    What the site's stream resource needs of the listener protocol that
    handed it a connection (L{txradio.net.listenerprotocol.ListenerProtocol}).
    """

    def takeOverFromSite(self, requestBytes: bytes) -> None:
        """
        Take the connection back to stream to it.

        @param requestBytes: the request head, re-serialized.
        """


class RadioChannel(http.HTTPChannel):
    """
    The site's HTTP channel, with a link back to the listener protocol that
    handed it the connection.

    @ivar listenerProtocol: the L{txradio.net.listenerprotocol.ListenerProtocol} that
        owns the connection, or L{None} for a connection made directly to
        the site.
    """

    listenerProtocol: ListenerPort | None = None


class PlaylistResource(PreflightMixin, Resource):
    """
    A playlist file (M3U, PLS or XSPF) pointing at one or more stations
    (see L{playlistEntries} for what it lists).
    """

    isLeaf = True

    def __init__(
        self,
        stations: Sequence[IStation],
        extension: bytes,
        publicURL: str | None,
        served: Sequence[IStation] | None = None,
        hls: HLSRoutes | None = None,
    ) -> None:
        """
        @param stations: the stations to list.
        @param extension: C{b".m3u"}, C{b".pls"} or C{b".xspf"}.
        @param publicURL: a configured base URL, or L{None} to use C{Host}.
        @param served: the site's stations, among which the related
            stations listed are found; by default only C{stations}.
        @param hls: the site's HLS routes, or L{None} for no HLS entry; PLS
            and M3U files never get one.
        """
        Resource.__init__(self)
        self._stations = list(stations)
        self._contentType, self._build = _PLAYLIST_FORMATS[extension]
        self._publicURL = publicURL
        self._served = list(served) if served is not None else list(stations)
        self._hls = hls if extension in _HLS_PLAYLIST_FORMATS else None

    def render_GET(self, request: Request) -> bytes:
        """
        Render the playlist with absolute URLs.

        @param request: the request.
        @return: the playlist's bytes.
        """
        base = baseURL(request, self._publicURL)
        entries = playlistEntries(self._stations, base, self._served, self._hls)
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
        channel = request.channel
        owner = channel.listenerProtocol if isinstance(channel, RadioChannel) else None
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
    C{/listen.pls} and C{/listen.m3u} for the first station; and the
    resources listed in this module's docstring.

    @ivar context: the state the resources share.
    @ivar events: the L{EventHub} behind C{/events}.
    @ivar library: the L{Library} behind C{/library/}, or L{None}.
    """

    def __init__(
        self,
        stations: Sequence[IStation],
        publicURL: str | None = None,
        adminPassword: str | None = None,
        clock: IReactorTime | None = None,
        library: Library | None = None,
        hls: HLSSettings | None = None,
        logins: ILoginThrottle | None = None,
    ) -> None:
        """
        @param stations: the stations, the default first.
        @param publicURL: a configured base URL, or L{None}.
        @param adminPassword: the admin password, or L{None} (admin off).
        @param clock: the time for live updates and uptimes; the global
            reactor by default.
        @param library: the on-demand library, or L{None} for none.
        @param hls: how to serve HLS (L{HLSSettings}); on with the defaults
            when L{None}.
        @param logins: the radio's login throttle for the admin API and the
            metadata updates, or L{None} for none.
        """
        Resource.__init__(self)
        if clock is None:
            from twisted.internet import reactor as clock  # type: ignore[assignment]
        self.context = WebContext(list(stations), clock, publicURL, clock.seconds(), libraryEnabled=library is not None)
        self.events = EventHub(self.context, clock)
        self.library = library
        self._publicURL = publicURL
        self._adminPassword = adminPassword
        self.logins = logins
        self._paths: dict[bytes, Resource] = {}
        self.hls = HLSRoutes(stations, clock, hls)
        self.context.hls = self.hls.mounts
        self.shows = ShowsRoutes()
        self.putChild(b"", StationsPage(self.context))
        self.putChild(b"status-json.xsl", IcecastStatusResource(self.context))
        self.putChild(b"api", APIRoot(self.context, library))
        self.putChild(b"events", EventsResource(self.events))
        self.admin = AdminResource(self.context, AdminAccess(adminPassword, logins=logins))
        self.admin.page = AdminPage(self.context)
        self.putChild(b"admin", self.admin)
        self.reports = AudienceReports(self.admin, clock)
        self.charts = ChartsResource(self.reports)
        self.admin.page.statistics = lambda: self.reports.recorder is not None
        self.putChild(b"static", StaticResource())
        self.context.art = ArtCache()
        self.putChild(b"art", ArtResource(self.context.art))
        installStreamURLs(self.context.stations, self.context.art, publicURL)
        if library is not None:
            self.putChild(b"library", LibraryResource(library, publicURL, self.context.art))
        self._route()

    def _route(self) -> None:
        """
        Build the routes that depend on the stations: each mount's stream
        and playlists, C{/listen.pls} and C{/listen.m3u}, HLS, and the
        metadata update forms.
        """
        stations = self.context.stations
        publicURL = self._publicURL
        paths: dict[bytes, Resource] = {}
        # HLS first, so that a mount's own paths win over them.
        paths.update(self.hls.paths())
        # Recorded shows' podcast feeds (txradio.web.shows).
        self.shows.update(stations, publicURL)
        paths.update(self.shows.paths)
        for station in stations:
            paths[station.mount] = StreamResource()
            for extension in _PLAYLIST_FORMATS:
                paths[station.mount + extension] = PlaylistResource([station], extension, publicURL, stations, self.hls)
        if stations:
            for extension in (b".pls", b".m3u"):
                paths.setdefault(
                    b"/listen" + extension, PlaylistResource(stations[:1], extension, publicURL, stations, self.hls)
                )
        paths[b"/admin/metadata"] = IcecastMetadataResource(stations, adminPassword=self._adminPassword, logins=self.logins)
        paths[b"/admin.cgi"] = ShoutcastMetadataResource(stations, adminPassword=self._adminPassword, logins=self.logins)
        # Icecast's admin commands, and SHOUTcast's widget endpoints (a
        # mount or playlist of the same path keeps it).
        paths.update(icecastAdminPaths(self.context, self.admin.access))
        for path, resource in shoutcastPaths(self.context).items():
            paths.setdefault(path, resource)
        self._paths = paths

    def setStations(self, stations: Sequence[IStation]) -> None:
        """
        Serve another set of stations from now on (after a configuration
        reload): the pages, playlists and HLS of removed mounts go, those of
        new ones appear, and unchanged mounts keep their HLS segments.

        @param stations: the stations, the default first.
        """
        stations = list(stations)
        kept = {station.mount: station for station in stations}
        for station in list(self.context.stations):
            if kept.get(station.mount) is not station:
                self.hls.removeStation(station)
        for station in stations:
            if station.mount not in self.hls.mounts:
                self.hls.addStation(station)
        self.context.stations[:] = stations
        self.context.byMount = dict(kept)
        self._route()

    def setAdminPassword(self, password: str | None) -> None:
        """
        Change the admin password (after a configuration reload).

        @param password: the new password, or L{None} to turn admin off.
        """
        self._adminPassword = password
        self.admin.access = replace(self.admin.access, password=password)
        self._route()

    def reservedPath(self, path: bytes) -> str | None:
        """
        Tell whether a mount at a path would hide what the site serves: a
        resource at its first segment (C{/admin}, C{/api}, C{/static},
        C{/status-json.xsl}…), a route of its own (C{/7.html},
        C{/admin.cgi}…), an HLS path, or a mount's own paths (a path below
        a mount, or above one, would mix with its HLS and playlists).

        @param path: a normalized mount path.
        @return: why it may not be a mount, or L{None}.
        """
        first = path.split(b"/")[1]
        mounts = {station.mount for station in self.context.stations}
        if first in self.children:
            return f"{path.decode('ascii')} would hide the site's own /{first.decode('ascii')}"
        if path in self._paths and path not in mounts:
            return f"{path.decode('ascii')} is one of the site's own addresses"
        if self.hls.resourceFor(path) is not None:
            return f"{path.decode('ascii')} is an HLS address"
        for mount in mounts:
            if path.startswith(mount + b"/") or mount.startswith(path + b"/"):
                return f"{path.decode('ascii')} would mix with the paths of mount {mount.decode('ascii')}"
        return None

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
            return self._guarded(resource)
        resource = self.hls.resourceFor(request.path)
        if resource is not None:
            return self._guarded(resource)
        resource = self.shows.resourceFor(request.path)
        if resource is not None:
            return resource
        if request.path.startswith((STATS_PREFIX, REPORTS_PREFIX)):
            return self.reports
        if request.path.startswith(CHARTS_PREFIX):
            return self.charts
        child = Resource.getChildWithDefault(self, name, request)
        return child

    access = None
    """The radio's L{txradio.net.access.AccessPolicy}, or L{None}: HLS of a
    protected mount passes its checks (set by L{txradio.wiring})."""

    def _guarded(self, resource: Resource) -> Resource:
        """
        Put a mount's HLS resource behind the mount's access checks.

        @param resource: the resource a path leads to.
        @return: it, or it wrapped in a L{GuardedResource}.
        """
        from txradio.web.guard import GuardedResource, isHLS

        if self.access is None or not isHLS(resource):
            return resource
        station = resource.mount.station  # type: ignore[attr-defined]
        access = self.access.forMount(station.mount)
        if access is None:
            return resource

        return GuardedResource(resource, access, station)

    def getChild(self, path: bytes, request: Request) -> Resource:
        """
        Nothing else lives here.

        @param path: the segment.
        @param request: the request.
        @return: a 404 page.
        """
        return NoResource("There is nothing at this address.")


MAX_REQUEST_BODY = 65536
"""
The largest request body the web site takes, in bytes (the admin API needs
at most L{txradio.web.admin.MAX_BODY}).  C{twisted.web} alone spools any
body to a temporary file, however large: without a bound, one client could
fill the disk.
"""


class BoundedRequest(Request):
    """
    A L{Request} whose body may hold at most L{MAX_REQUEST_BODY} bytes; a
    larger one (announced or chunked) is answered C{413} and the connection
    closed, without storing it.

    @ivar started: when its head had arrived, in the site's clock's seconds
        (the access log's request time and duration).
    """

    _refused = False
    _bodyBytes = 0
    started: float | None = None

    def gotLength(self, length: int | None) -> None:
        # Site.buildProtocol gives every channel its site.
        self.started = self.channel.site.reactor.seconds()  # type: ignore[attr-defined]
        if length is not None and length > MAX_REQUEST_BODY:
            self._refuseBody()
            return
        Request.gotLength(self, length)

    def handleContentChunk(self, data: bytes) -> None:
        if self._refused:
            return
        self._bodyBytes += len(data)
        if self._bodyBytes > MAX_REQUEST_BODY:
            self._refuseBody()
            return
        Request.handleContentChunk(self, data)

    def requestReceived(self, command: bytes, path: bytes, version: bytes) -> None:
        if self._refused:
            return
        Request.requestReceived(self, command, path, version)

    def _refuseBody(self) -> None:
        from io import BytesIO

        from txradio.wire.request import RequestError, formatErrorResponse

        self._refused = True
        self.content = BytesIO()
        transport = self.channel.transport if self.channel is not None else None
        if transport is not None:
            error = RequestError(413, f"a request body may have at most {MAX_REQUEST_BODY} bytes")
            transport.write(formatErrorResponse(error))
            transport.loseConnection()


def buildSite(
    stations: Sequence[IStation],
    clock: IReactorTime | None = None,
    publicURL: str | None = None,
    adminPassword: str | None = None,
    library: Library | None = None,
    hls: HLSSettings | None = None,
    logins: ILoginThrottle | None = None,
) -> RadioSite:
    """
    Build the web site served beside the streams.

    The site's C{webService} attribute is a service holding what the site
    runs (the live updates' hub, the library's indexer): add it to the
    radio's service so that they start and stop with it, as
    L{txradio.service.RadioService} does.

    @param stations: the stations, the default first.
    @param clock: the reactor (for the site's timeouts, live updates and
        uptimes); the global one by default.
    @param publicURL: a configured base URL for playlists, or L{None} to
        use each request's C{Host}.
    @param adminPassword: the admin password, or L{None} (admin off).
    @param library: the on-demand library, or L{None} for none.
    @param hls: how to serve HLS (L{HLSSettings}); on with the defaults
        when L{None}.
    @param logins: the login throttle for the admin API and the metadata
        updates, or L{None} for none (a L{txradio.service.RadioService}
        passes its own).
    @return: the site.
    """
    root = RadioRoot(stations, publicURL, adminPassword, clock=clock, library=library, hls=hls, logins=logins)
    return RadioSite(root, clock)


@implementer(IRadioSite, IAudienceSite)
class RadioSite(Site):
    """
    The built-in site: a L{RadioRoot} served with bounded request bodies,
    on plain HTTP/1.1 channels, with no access log of its own (listener
    joins and leaves are logged instead; see
    L{txradio.service.RadioService.logAccess}).

    @ivar webService: a service holding what the site runs (the live
        updates' hub, the HLS segmenters, the library's indexer).
    """

    requestFactory = BoundedRequest
    # Plain HTTP/1.1 channels (no HTTP/2 negotiation): a stream needs the
    # connection to itself, which HTTP/2 multiplexing cannot give.
    protocol = RadioChannel
    displayTracebacks = False

    def __init__(self, root: RadioRoot, clock: IReactorTime | None = None) -> None:
        """
        @param root: the site's root.
        @param clock: the reactor (for timeouts and request times); the
            global one by default.
        """
        Site.__init__(self, root, reactor=clock)
        self.root = root
        self.webService = MultiService()
        root.events.setServiceParent(self.webService)
        root.hls.service.setServiceParent(self.webService)
        if root.library is not None and root.library.parent is None:
            root.library.setServiceParent(self.webService)

    def log(self, request: http.Request) -> None:
        """
        Write no access log line: listener joins and leaves are logged
        instead, and a radio's access log replaces this method.

        @param request: the finished request.
        """

    def setStations(self, stations: Sequence[IStation]) -> None:
        """
        Serve another set of stations; see L{IRadioSite.setStations}.

        @param stations: the stations, the default first.
        """
        self.root.setStations(stations)

    def setAdminPassword(self, password: str | None) -> None:
        """
        Change the admin password; see L{IRadioSite.setAdminPassword}.

        @param password: the new password, or L{None} to turn admin off.
        """
        self.root.setAdminPassword(password)

    def setReloader(self, reloader: IReloader | None) -> None:
        """
        Let the admin API reload the configuration file.

        @param reloader: the radio's reloader, or L{None}.
        """
        self.root.admin.reloader = reloader

    def limitEventClients(self, maxClients: int) -> None:
        """
        Limit the live updates' connections; see
        L{IRadioSite.limitEventClients}.

        @param maxClients: the most live-update connections at once.
        """
        hub = self.root.events
        hub.limits = replace(hub.limits, maxClients=maxClients)

    def setAccess(self, policy: Any) -> None:
        """
        Check HLS requests by a policy; see L{IRadioSite.setAccess}.

        @param policy: the listener access policy, or L{None}.
        """
        self.root.access = policy

    def setHLS(self, station: IStation, served: bool) -> None:
        """
        Start or stop HLS for a station; see L{IRadioSite.setHLS}.

        @param station: one of the stations.
        @param served: whether to serve it as HLS.
        """
        if served:
            self.root.hls.addStation(station)
        else:
            self.root.hls.removeStation(station)

    def reservedPath(self, path: bytes) -> str | None:
        """
        Tell whether a mount at a path would hide what the site serves; see
        L{IRadioSite.reservedPath}.

        @param path: a normalized mount path.
        @return: why it may not be a mount, or L{None}.
        """
        return self.root.reservedPath(path)

    def hlsSessions(self, station: IStation) -> int | None:
        """
        Count a station's HLS listeners; see L{IRadioSite.hlsSessions}.

        @param station: one of the stations.
        @return: the count, or L{None} when no HLS is served for it.
        """
        mount = self.root.hls.mounts.get(station.mount)
        return mount.sessions.count() if mount is not None else None

    def setAudience(self, recorder: object | None) -> None:
        """
        Serve the audience reports from a radio's statistics; see
        L{IAudienceSite.setAudience}.

        @param recorder: the L{txradio.operations.audience.AudienceRecorder},
            or L{None}.
        """
        self.root.reports.recorder = recorder  # type: ignore[assignment]
