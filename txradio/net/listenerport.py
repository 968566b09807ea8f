# -*- test-case-name: tests.test_protocol -*-
"""
The listener port: the factory that holds its stations, settings and
per-address counts, and builds a L{ListenerProtocol} (in
L{txradio.net.listenerprotocol}) for each connection, which reads a request
head, answers stream requests with the ICY handshake and hands every other
request to a C{twisted.web} site.

Requests for a mount (C{GET} or C{HEAD}) are answered here, because a stream
is not an ordinary HTTP response: no length, no chunked encoding, and a write
path that must stay cheap for thousands of listeners.  Anything else (status
pages, playlists, files) goes to an ordinary L{twisted.web.server.Site}: the
connection is handed over, bytes already read included, and the site's
channel serves it from then on.
"""

from __future__ import annotations

from collections.abc import Mapping

from twisted.internet.interfaces import IProtocolNegotiationFactory, IReactorTime
from twisted.internet.protocol import Factory
from twisted.logger import Logger

from zope.interface import implementer

from txradio.interfaces import ILoginThrottle, IMountMaker, IStation
from txradio.net.access import AccessPolicy, MountAccess
from txradio.net.djs import DJDesk
from txradio.net.listenerprotocol import ListenerProtocol
from txradio.net.sourceport import DEFAULT_SOURCE_TIMEOUT
from txradio.net.throttle import LoginThrottle
from txradio.wire.request import RequestHead, RequestHeadParser

DEFAULT_HEADER_TIMEOUT = 15.0
"""Seconds a client has, from connecting, to send its whole request head."""

DEFAULT_SEND_BUFFER = 65536
"""
Bytes asked of the kernel for each listener socket's send buffer.  An
autotuned buffer can hold minutes of audio, which would hide a stalled
listener from the lag limit for that long.
"""


def _formatPeer(address: object) -> str:
    """
    Render a transport address for logs.

    @param address: an L{IAddress} provider.
    @return: C{host:port}, C{[v6]:port}, or the address's text.
    """
    # An IAddress has no common fields: an IPv4Address or IPv6Address has a
    # host and port, a UNIXAddress neither.
    host = getattr(address, "host", None)
    port = getattr(address, "port", None)
    if host is None:
        return str(address)
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{port}"


def _looksLikeBrowser(userAgent: str) -> bool:
    """
    Tell whether a user agent is a web browser (which wants a page at C{/}).

    @param userAgent: the request's C{User-Agent}.
    @return: L{True} for browsers.
    """
    return "Mozilla" in userAgent or "Opera" in userAgent


@implementer(IProtocolNegotiationFactory)
class ListenerFactory(Factory):
    """
    Builds L{ListenerProtocol}s for a set of stations.

    @ivar stations: mount path to L{IStation}, in the order given; the first
        is the default, also served at C{/;}, and at C{/} to players that ask
        for ICY metadata and are not browsers (as SHOUTcast servers did).
    @ivar site: the web site for every other request, or L{None}.
    @ivar clock: the time source for header timeouts.
    @ivar headerTimeout: seconds a client has to send its request head.
    @ivar sendBufferSize: bytes of kernel send buffer per listener, or 0 to
        leave the system's default.
    @ivar sourceTimeout: seconds a source client may send nothing before it
        is dropped.
    @ivar logins: the login throttle source clients' passwords go through.
    @ivar mountMaker: what makes mounts for sources that ask for one that
        does not exist (an L{IMountMaker}), or L{None} for no dynamic mounts.
    """

    _log = Logger()
    protocol = ListenerProtocol
    mountMaker: IMountMaker | None = None

    def __init__(
        self,
        stations: Mapping[bytes, IStation],
        site=None,
        clock: IReactorTime | None = None,
        headerTimeout: float = DEFAULT_HEADER_TIMEOUT,
        sendBufferSize: int = DEFAULT_SEND_BUFFER,
        parserLimits: Mapping[str, int] | None = None,
        sourceTimeout: float = DEFAULT_SOURCE_TIMEOUT,
        logins: ILoginThrottle | None = None,
    ) -> None:
        """
        @param stations: mount path to station.
        @param site: a L{twisted.web.server.Site} for other requests.
        @param clock: the time source; the global reactor by default.
        @param headerTimeout: seconds allowed for the request head.
        @param sendBufferSize: kernel send buffer per listener, in bytes.
        @param parserLimits: keyword arguments for L{RequestHeadParser}.
        @param sourceTimeout: seconds a source client may send nothing.
        @param logins: the radio's login throttle; one of its own (on
            C{clock}) by default.
        """
        if clock is None:
            from twisted.internet import reactor as clock  # type: ignore[assignment]
        self.stations = dict(stations)
        self.site = site
        self.clock = clock
        self.headerTimeout = headerTimeout
        self.sendBufferSize = sendBufferSize
        self.sourceTimeout = sourceTimeout
        self.logins: ILoginThrottle = logins if logins is not None else LoginThrottle(clock)
        self._parserLimits = dict(parserLimits or {})
        self._perAddress: dict[str, int] = {}

    djs: DJDesk | None = None
    """
    The radio's DJ accounts (L{txradio.net.djs.DJDesk}), or L{None} for
    none; set by L{txradio.wiring}.
    """

    access: AccessPolicy | None = None
    """
    Who may listen to which mount (L{txradio.net.access.AccessPolicy}), or
    L{None} for everyone everywhere; set by L{txradio.wiring}.
    """

    def accessFor(self, station: IStation) -> MountAccess | None:
        """
        @param station: a station.
        @return: the checks its listeners pass, or L{None} for none.
        """
        return self.access.forMount(station.mount) if self.access is not None else None

    maxPerAddress: int = 0
    """
    The most connections one address may hold at once (0: no limit, the
    default, because many listeners may share one address behind a NAT or a
    carrier-grade NAT).  Set it on a radio's factory, e.g.
    C{radioService.factory.maxPerAddress = 50}.
    """

    peerFormatter = staticmethod(_formatPeer)
    """
    Renders a client's address for logs, status and observers: C{host:port}
    by default; see L{txradio.operations.logs.AddressPolicy} to hide addresses.
    """

    def formatPeer(self, address: object) -> str:
        """
        Render a client's address as logs and status show it.

        @param address: an L{IAddress} provider.
        @return: the text L{peerFormatter} makes of it.
        """
        return self.peerFormatter(address)

    def acceptableProtocols(self) -> list[bytes]:
        """
        The protocols offered to TLS clients that negotiate one (ALPN):
        HTTP/1.1 only, since a stream needs the connection to itself.

        @return: C{[b"http/1.1"]}.
        """
        return [b"http/1.1"]

    def buildProtocol(self, addr):
        """
        Make a protocol for a new connection, unless its address already
        holds L{maxPerAddress} connections (it is then closed at once).

        @param addr: the peer's address.
        @return: a L{ListenerProtocol}, or L{None} to refuse.
        """
        host = getattr(addr, "host", None)  # none for a UNIX socket's address
        if self.maxPerAddress and host is not None:
            if self._perAddress.get(host, 0) >= self.maxPerAddress:
                self._log.info("refusing {host}: it has {limit} connections already", host=host, limit=self.maxPerAddress)
                return None
            self._perAddress[host] = self._perAddress.get(host, 0) + 1
        return super().buildProtocol(addr)

    def connectionClosed(self, transport) -> None:
        """
        Count a connection out of its address's connections.

        @param transport: the closed connection's transport.
        """
        if not self._perAddress or transport is None:
            return
        host = getattr(transport.getPeer(), "host", None)  # as in buildProtocol
        count = self._perAddress.get(host, 0) if host is not None else 0
        if count > 1:
            self._perAddress[host] = count - 1
        elif count:
            del self._perAddress[host]

    def makeParser(self) -> RequestHeadParser:
        """
        Make a request head parser with this factory's limits.

        @return: a new L{RequestHeadParser}.
        """
        return RequestHeadParser(**self._parserLimits)

    def stationFor(self, head: RequestHead) -> IStation | None:
        """
        Find the station a request asks for.

        @param head: the request.
        @return: the station, or L{None} when the request is for the site.
        """
        station = self.stations.get(head.path)
        if station is not None or not self.stations:
            return station
        if head.path.startswith(b"/;") or (
            head.path == b"/" and head.wantsMetadata and not _looksLikeBrowser(head.userAgent)
        ):
            return next(iter(self.stations.values()))
        return None
