# -*- test-case-name: tests.test_service -*-
"""
L{RadioService}: a whole radio (stations and the ports listeners connect to)
as one Twisted service, to run under C{twistd} or inside another program.
"""

from __future__ import annotations

from collections.abc import Sequence

from twisted.application.internet import StreamServerEndpointService
from twisted.application.service import MultiService
from twisted.internet.defer import Deferred, gatherResults
from twisted.internet.endpoints import serverFromString
from twisted.internet.interfaces import IStreamServerEndpoint

from txradio.protocol import DEFAULT_HEADER_TIMEOUT, DEFAULT_SEND_BUFFER, ListenerFactory
from txradio.source import DEFAULT_SOURCE_TIMEOUT, ShoutcastSourceFactory
from txradio.station import Station
from txradio.web.site import buildSite

DEFAULT_LISTEN = "tcp:8000"
"""Where listeners connect when nothing else is said."""

DEFAULT_BACKLOG = 1024
"""
The listen backlog given to C{tcp:} and C{ssl:} endpoints that do not set
one: Twisted's default of 50 refuses connections in a crowd of new
listeners.
"""


def withBacklog(description: str, backlog: int = DEFAULT_BACKLOG) -> str:
    """
    Add a listen backlog to a TCP or TLS endpoint description that has none.

    @param description: an endpoint string such as C{"tcp:8000"}.
    @param backlog: the backlog to add.
    @return: the description, with C{:backlog=N} appended where it applies.
    """
    kind = description.split(":", 1)[0].lower()
    if kind in ("tcp", "tcp6", "ssl") and "backlog=" not in description:
        return f"{description}:backlog={backlog}"
    return description


class RadioService(MultiService):
    """
    A radio: its stations, and one listening port per endpoint, all serving
    the same stations and web site.

    Stop it (C{stopService}) and the ports close first, then every station
    stops its clock and disconnects its listeners.

    @ivar stations: the stations, the default first.
    @ivar factory: the L{ListenerFactory} every port uses.
    """

    def __init__(
        self,
        stations: Sequence[Station],
        listen: Sequence[str | IStreamServerEndpoint] = (DEFAULT_LISTEN,),
        reactor=None,
        publicURL: str | None = None,
        headerTimeout: float = DEFAULT_HEADER_TIMEOUT,
        sendBufferSize: int = DEFAULT_SEND_BUFFER,
        site=None,
        adminPassword: str | None = None,
        sourceTimeout: float = DEFAULT_SOURCE_TIMEOUT,
        shoutcastSources: Sequence[tuple[str | IStreamServerEndpoint, Station]] = (),
        library=None,
        hls=None,
    ) -> None:
        """
        @param stations: the stations; each mount must be different.
        @param listen: endpoint descriptions (C{"tcp:8000"},
            C{"ssl:8443:privateKey=…"}, C{"systemd:domain=INET:index=0"}) or
            endpoint objects.
        @param reactor: the reactor for endpoints and time; the global one by
            default.
        @param publicURL: the base URL clients reach the server by, for
            playlists behind a proxy; by default each request's C{Host}.
        @param headerTimeout: seconds a client has to send its request head.
        @param sendBufferSize: kernel send buffer per listener in bytes.
        @param site: a L{twisted.web.server.Site} to serve non-stream
            requests, replacing the built-in one.
        @param adminPassword: the admin password (user C{admin}), or L{None}
            to leave admin functions off.
        @param sourceTimeout: seconds a source client may send nothing.
        @param shoutcastSources: C{(endpoint, station)} pairs: ports where
            SHOUTcast v1 encoders broadcast to a station.
        @param library: a L{txradio.web.library.Library} to serve at
            C{/library/}, or L{None} for none (only with the built-in site).
        @param hls: how the built-in site serves HLS, a
            L{txradio.web.hls.HLSSettings}; on with the defaults when
            L{None}, off with C{HLSSettings(enabled=False)}.
        @raise ValueError: if two stations share a mount.
        """
        MultiService.__init__(self)
        if reactor is None:
            from twisted.internet import reactor
        mounts = [station.mount for station in stations]
        if len(set(mounts)) != len(mounts):
            raise ValueError("two stations have the same mount: " + ", ".join(m.decode() for m in mounts))
        self.stations = list(stations)
        if site is None:
            site = buildSite(
                self.stations,
                clock=reactor,
                publicURL=publicURL,
                adminPassword=adminPassword,
                library=library,
                hls=hls,
            )
        webService = getattr(site, "webService", None)
        if webService is not None:
            # The site's live-update hub and library indexer run with the radio.
            webService.setServiceParent(self)
        self.factory = ListenerFactory(
            {station.mount: station for station in self.stations},
            site=site,
            clock=reactor,
            headerTimeout=headerTimeout,
            sendBufferSize=sendBufferSize,
            sourceTimeout=sourceTimeout,
        )
        for station in self.stations:
            station.setServiceParent(self)
        self.ports: list[StreamServerEndpointService] = []
        for where in listen:
            self._listen(reactor, where, self.factory)
        for where, station in shoutcastSources:
            self._listen(reactor, where, ShoutcastSourceFactory(station, clock=reactor, timeout=sourceTimeout))

    def _listen(self, reactor, where: str | IStreamServerEndpoint, factory) -> None:
        """
        Add a port service.

        @param reactor: the reactor for endpoint strings.
        @param where: an endpoint string or endpoint.
        @param factory: the protocol factory for it.
        """
        endpoint = serverFromString(reactor, withBacklog(where)) if isinstance(where, str) else where
        port = StreamServerEndpointService(endpoint, factory)
        # Fail startService loudly when the port cannot be bound.
        port._raiseSynchronously = True
        port.setServiceParent(self)
        self.ports.append(port)

    def whenListening(self) -> Deferred:
        """
        Wait until every port listens (after C{startService}).

        @return: a L{Deferred} firing with the L{IListeningPort}s, in the
            order of C{listen}; useful with C{tcp:0} to learn the port
            numbers.
        """
        return gatherResults([port._waitingForPort for port in self.ports], consumeErrors=True)
