# -*- test-case-name: tests.test_relay -*-
"""
The relay source: a mount whose programme is another server's stream
(Icecast, SHOUTcast or another txradio), pulled with C{Icy-MetaData: 1}.

The upstream's titles are read out of its metadata blocks and announced
again here; its audio is parsed into frames like a live source's.  When the
upstream fails, the relay reconnects with a growing delay while the mount's
listeners stay connected (playing the fallback, if there is one).  This is
how a station grows past one machine: edge servers relay an origin.
"""

from __future__ import annotations

from twisted.application.internet import ClientService, backoffPolicy
from twisted.application.service import Service
from twisted.internet.interfaces import IReactorTime
from twisted.internet.protocol import Factory, Protocol
from twisted.logger import Logger

from zope.interface import implementer

from txradio._version import __version__
from txradio.interfaces import IRelay
from txradio.sources.live import LiveSource
from txradio.wire.icy import MAX_METAINT, MetadataDemuxer
from txradio.wire.upstream import ResponseHeadParser, Upstream, parseUpstream

MAX_REDIRECTS = 5
"""Redirects followed before an upstream is considered broken."""

DEFAULT_RELAY_TIMEOUT = 10.0
"""Seconds without bytes from the upstream (head or audio) before giving up."""

AUDIO_TYPES = (b"audio/mpeg", b"audio/mp3", b"audio/x-mpeg", b"audio/mpeg3")



def endpointFor(reactor, upstream: Upstream):
    """
    Make a client endpoint that reaches an upstream.

    @param reactor: the reactor to connect with.
    @param upstream: where to connect.
    @return: a L{HostnameEndpoint}, wrapped in TLS (verifying the host's
        certificate) for C{https}.
    """
    from twisted.internet.endpoints import HostnameEndpoint, wrapClientTLS

    endpoint = HostnameEndpoint(reactor, upstream.host, upstream.port)
    if upstream.secure:
        from twisted.internet.ssl import optionsForClientTLS

        endpoint = wrapClientTLS(optionsForClientTLS(upstream.host), endpoint)
    return endpoint


class RelayProtocol(Protocol):
    """
    One connection to the upstream: request, response head, then audio.
    """

    _log = Logger()
    factory: RelayFactory

    def __init__(self) -> None:
        self._parser: ResponseHeadParser | None = ResponseHeadParser()
        self._demuxer: MetadataDemuxer | None = None
        self._live: LiveSource | None = None
        self._timer = None

    def connectionMade(self) -> None:
        """
        Send the request and start the timeout.
        """
        relay = self.factory.relay
        upstream = relay.upstream
        self.transport.write(
            b"GET " + upstream.path + b" HTTP/1.0\r\n"
            b"Host: " + upstream.hostHeader + b"\r\n"
            b"User-Agent: txradio/" + __version__.encode() + b" (relay)\r\n"
            b"Accept: audio/mpeg, */*\r\n"
            b"Icy-MetaData: 1\r\n"
            b"Connection: close\r\n\r\n"
        )
        self._timer = relay.clock.callLater(relay.timeout, self._timedOut)

    def dataReceived(self, data: bytes) -> None:
        """
        Parse the head, then split metadata from audio.

        @param data: bytes from the upstream.
        """
        if self._timer is not None and self._timer.active():
            self._timer.reset(self.factory.relay.timeout)
        if self._parser is not None:
            head = self._parser.feedOrFail(data, self._fail)
            if head is None:
                return
            data, self._parser = self._parser.remainder, None
            if not self._accept(head):
                return
        if self._live is None:
            return
        if self._demuxer is None:
            self._live.feed(data)
            return
        for item in self._demuxer.feed(data):
            if type(item) is bytes:
                self._live.feed(item)
            elif "StreamTitle" in item:
                self._live.setTitle(item["StreamTitle"])

    def _accept(self, head) -> bool:
        """
        Decide what to do with the upstream's answer.

        @param head: the response head.
        @return: L{True} when audio follows.
        """
        relay = self.factory.relay
        if head.status in (301, 302, 303, 307, 308):
            location = head.header(b"location")
            self.transport.loseConnection()
            relay.redirect(location.decode("latin-1") if location else "")
            return False
        if head.status != 200:
            self._fail(f"the upstream answered {head.status}")
            return False
        contentType = (head.header(b"content-type") or b"audio/mpeg").split(b";")[0].strip().lower()
        if contentType not in AUDIO_TYPES:
            self._fail(f"the upstream sends {contentType.decode('latin-1')}, not MP3")
            return False
        metaint = head.header(b"icy-metaint")
        if metaint is not None:
            if not metaint.isdigit() or not 0 < int(metaint) <= MAX_METAINT:
                self._fail(f"the upstream announced a bad icy-metaint {metaint[:20]!r}")
                return False
            self._demuxer = MetadataDemuxer(int(metaint))
        self._live = relay.connected(head)
        return True

    def _fail(self, reason: str) -> None:
        """
        Give up on this connection; the relay will try again.

        @param reason: why, for the log.
        """
        self.factory.relay.failed(reason)
        self.transport.abortConnection()

    def _timedOut(self) -> None:
        """
        The upstream went quiet.
        """
        self._timer = None
        self._fail(f"nothing from the upstream for {self.factory.relay.timeout} s")

    def connectionLost(self, reason=None) -> None:
        """
        The connection ended: the relay's live source ends with it.

        @param reason: why.
        """
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        if self._live is not None:
            self.factory.relay.disconnected(self._live)
            self._live = None


class RelayFactory(Factory):
    """
    Makes L{RelayProtocol}s for a L{RelaySource}.

    @ivar relay: the relay source.
    """

    protocol = RelayProtocol

    def __init__(self, relay: RelaySource) -> None:
        """
        @param relay: the relay source the connections feed.
        """
        self.relay = relay


@implementer(IRelay)
class RelaySource(Service):
    """
    Another server's stream as a programme, kept connected with backoff.

    Start it as a service (a L{txradio.stream.station.Station} does, for its
    programme) to connect.

    @ivar upstream: the URL being relayed now (after redirects).
    @ivar label: a name for logs (not C{name}, which names a service).
    @ivar title: the title most recently returned.
    @ivar connects: successful connections so far.
    @ivar failures: failed attempts so far.
    """

    _log = Logger()

    def __init__(
        self,
        url: str,
        reactor=None,
        clock: IReactorTime | None = None,
        name: str = "",
        timeout: float = DEFAULT_RELAY_TIMEOUT,
        retryPolicy=None,
        endpointFactory=None,
    ) -> None:
        """
        @param url: the upstream stream URL.
        @param reactor: the reactor to connect with; the global one by
            default.
        @param clock: the time source; the reactor by default.
        @param name: a name for logs.
        @param timeout: seconds of upstream silence before reconnecting.
        @param retryPolicy: seconds to wait before attempt N; by default
            1 s growing to 60 s.
        @param endpointFactory: makes a client endpoint for an L{Upstream}
            (tests pass one that connects in memory).
        @raise ValueError: for a URL that is not http(s).
        """
        if reactor is None:
            from twisted.internet import reactor
        self.upstream: Upstream = parseUpstream(url)
        self._originalURL = url
        self._reactor = reactor
        self.clock = clock or reactor
        self.label = name or url
        self.timeout = timeout
        self.title: str | None = None
        self.connects = 0
        self.failures = 0
        self._retryPolicy = retryPolicy or backoffPolicy(initialDelay=1.0, maxDelay=60.0)
        self._endpointFactory = endpointFactory or (lambda upstream: endpointFor(reactor, upstream))
        self._live: LiveSource | None = None
        self._client: ClientService | None = None
        self._redirects = 0
        self._pendingReconnect = None

    @property
    def onAir(self) -> bool:
        """
        Whether upstream audio is flowing (or still queued).
        """
        return self._live is not None and self._live.onAir

    def startService(self) -> None:
        """
        Connect to the upstream, and keep connecting.
        """
        Service.startService(self)
        self._connect()

    def stopService(self):
        """
        Disconnect and stop retrying.

        @return: a L{Deferred} that fires once disconnected.
        """
        Service.stopService(self)
        if self._pendingReconnect is not None and self._pendingReconnect.active():
            self._pendingReconnect.cancel()
        self._pendingReconnect = None
        client, self._client = self._client, None
        if client is not None:
            return client.stopService()
        return None

    def _connect(self) -> None:
        """
        Start a client service for the current upstream.
        """
        self._client = ClientService(
            self._endpointFactory(self.upstream),
            RelayFactory(self),
            retryPolicy=self._retryPolicy,
            clock=self.clock,
        )
        self._client.startService()

    def connected(self, head) -> LiveSource:
        """
        The upstream answered with audio.

        @param head: its response head.
        @return: the live source the connection feeds.
        """
        self.connects += 1
        self._redirects = 0
        # The upstream announces its title in its first metadata block; the
        # previous connection's title must not be announced meanwhile.
        self.title = None
        self._live = LiveSource(name=f"relay of {self.upstream.url}")
        self._log.info("{name}: relaying {url}", name=self.label, url=self.upstream.url)
        return self._live

    def disconnected(self, live: LiveSource) -> None:
        """
        A connection that was streaming ended.

        @param live: the live source it fed.
        """
        live.end()
        self._log.warn("{name}: lost the upstream {url}; reconnecting", name=self.label, url=self.upstream.url)

    def failed(self, reason: str) -> None:
        """
        A connection attempt failed.

        @param reason: why.
        """
        self.failures += 1
        self._log.warn("{name}: relay of {url} failed: {reason}", name=self.label, url=self.upstream.url, reason=reason)

    def redirect(self, location: str) -> None:
        """
        Follow a redirect to another URL, a bounded number of times.

        @param location: the C{Location} the upstream gave.
        """
        self._redirects += 1
        try:
            target = parseUpstream(location)
        except ValueError as error:
            self.failed(f"bad redirect: {error}")
            return
        if self._redirects > MAX_REDIRECTS:
            self.failed(f"more than {MAX_REDIRECTS} redirects; starting over from {self._originalURL}")
            target = parseUpstream(self._originalURL)
            self._redirects = 0
        self._log.info("{name}: redirected to {url}", name=self.label, url=target.url)
        self.upstream = target
        client, self._client = self._client, None
        if client is not None:
            client.stopService()
        if self.running:
            # Reconnect after the usual delay, so that a redirect loop
            # cannot spin.
            self._pendingReconnect = self.clock.callLater(
                self._retryPolicy(self._redirects), self._reconnectIfRunning
            )

    def _reconnectIfRunning(self) -> None:
        """
        Connect again unless stopped meanwhile.
        """
        self._pendingReconnect = None
        if self.running and self._client is None:
            self._connect()

    def pull(self, duration: float) -> list:
        """
        Return the upstream's frames received so far; see
        L{IFrameSource.pull}.

        @param duration: seconds wanted.
        @return: frames and title marks.
        """
        if self._live is None:
            return []
        items = self._live.pull(duration)
        if self._live.title is not None:
            self.title = self._live.title
        return items

    def close(self) -> None:
        """
        Drop queued audio; see L{IFrameSource.close}.  (Stop the service to
        disconnect.)
        """
        if self._live is not None:
            self._live.close()
