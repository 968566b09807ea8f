# -*- test-case-name: tests.test_push -*-
"""
Pushing a mount on to an Icecast server, as its source client: txradio
connects, logs in with C{PUT} (Icecast 2.4+), streams the mount's audio and
sends its title changes as metadata updates, reconnecting with backoff when
the connection fails.  This is how txradio feeds an Icecast relay network or
a hosted Icecast service.
"""

from __future__ import annotations

import base64
from urllib.parse import quote

from twisted.application.internet import ClientService, backoffPolicy
from twisted.application.service import Service
from twisted.internet.interfaces import IPushProducer, IReactorTime
from twisted.internet.protocol import Factory, Protocol
from twisted.logger import Logger

from zope.interface import implementer

from txradio._version import __version__
from txradio.interfaces import IListener
from txradio.sources.relay import endpointFor
from txradio.wire.icy import headerValue, parseMetadata
from txradio.wire.upstream import ResponseHeadParser, Upstream, parseUpstream

MAX_PUSH_BACKLOG = 524288
"""Bytes of audio the push may fall behind before it reconnects."""


def metadataRequest(upstream: Upstream, user: str, password: str, title: str) -> bytes:
    """
    Build Icecast's metadata update request for a title.

    @param upstream: the Icecast mount being fed.
    @param user: the source user.
    @param password: its password.
    @param title: the new title.
    @return: the complete request bytes.
    """
    mount = upstream.path.split(b"?")[0].decode("ascii")
    query = f"mount={quote(mount, safe='/')}&mode=updinfo&charset=UTF-8&song={quote(title, safe='')}"
    credentials = base64.b64encode(f"{user}:{password}".encode())
    return (
        f"GET /admin/metadata?{query} HTTP/1.0\r\n".encode("ascii")
        + b"Host: " + upstream.hostHeader + b"\r\n"
        + b"Authorization: Basic " + credentials + b"\r\n"
        + b"User-Agent: txradio/" + __version__.encode() + b"\r\n\r\n"
    )


@implementer(IListener, IPushProducer)
class PushProtocol(Protocol):
    """
    One source connection to the upstream Icecast.

    Once Icecast accepts it, it listens to the mount's broadcaster like any
    listener (without metadata) and writes every chunk.

    @ivar peer: how it appears among the mount's listeners.
    @ivar bytesSent: bytes streamed so far.
    """

    _log = Logger()
    factory: PushFactory
    # What an IListener tells about its player: a push has none.
    id: int | None = None
    userAgent = ""
    connectedAt: float | None = None
    seconds = 0.0
    lag = 0
    internal = False

    def __init__(self) -> None:
        self.peer = "push"
        self.bytesSent = 0
        self._parser: ResponseHeadParser | None = ResponseHeadParser()
        self._streaming = False
        self._paused = False
        self._behind = 0
        self._lastBlock: bytes | None = None

    def connectionMade(self) -> None:
        """
        Send the source request.
        """
        push = self.factory.push
        upstream = push.upstream
        info = push.station.info
        credentials = base64.b64encode(f"{push.user}:{push.password}".encode())
        lines = [
            b"PUT " + upstream.path + b" HTTP/1.1",
            b"Host: " + upstream.hostHeader,
            b"Authorization: Basic " + credentials,
            b"User-Agent: txradio/" + __version__.encode(),
            b"Content-Type: audio/mpeg",
            b"ice-name: " + headerValue(info.name),
            b"ice-public: %d" % int(info.public),
            b"Expect: 100-continue",
        ]
        for name, value in ((b"ice-genre", info.genre), (b"ice-description", info.description), (b"ice-url", info.url)):
            if value:
                lines.append(name + b": " + headerValue(value))
        self.peer = f"push to {upstream.url}"
        self.transport.write(b"\r\n".join(lines) + b"\r\n\r\n")

    def dataReceived(self, data: bytes) -> None:
        """
        Read Icecast's answer; ignore anything after it.

        @param data: bytes from Icecast.
        """
        if self._parser is None:
            return
        head = self._parser.feedOrFail(data, self._giveUp)
        if head is None:
            return
        self._parser = None
        if head.status not in (100, 200):
            reasons = {401: "wrong source credentials", 403: "the mount is in use or forbidden"}
            self._giveUp(f"Icecast answered {head.status}: {reasons.get(head.status, 'refused')}")
            return
        self._streaming = True
        push = self.factory.push
        push.connected()
        self.transport.registerProducer(self, True)
        push.station.broadcaster.addListener(self)

    def deliver(self, chunk) -> None:
        """
        Stream the mount's next chunk, and send a title change.

        @param chunk: a L{txradio.stream.broadcast.Chunk}.
        """
        block = chunk.marks[-1][1]
        if block != self._lastBlock:
            self._lastBlock = block
            title = parseMetadata(block[1:]).get("StreamTitle", "")
            self.factory.push.sendTitle(title)
        if self._paused:
            self._behind += len(chunk.data)
            if self._behind > MAX_PUSH_BACKLOG:
                self._giveUp("the upstream is not keeping up")
            return
        self.bytesSent += len(chunk.data)
        self.transport.write(chunk.data)

    def pauseProducing(self) -> None:
        """
        Icecast is not reading: skip audio and count it.
        """
        self._paused = True

    def resumeProducing(self) -> None:
        """
        Icecast reads again.
        """
        self._paused = False
        self._behind = 0

    def stopProducing(self) -> None:
        """
        The connection is going away.
        """
        self._leave()

    def disconnect(self, reason: str) -> None:
        """
        Stop pushing; the push reconnects.

        @param reason: why.
        """
        self._leave()
        self.transport.loseConnection()

    def connectionLost(self, reason=None) -> None:
        """
        The connection ended.

        @param reason: why.
        """
        self._leave()
        if self._streaming:
            self.factory.push.lost()

    def _leave(self) -> None:
        """
        Stop listening to the mount.
        """
        self.factory.push.station.broadcaster.removeListener(self)

    def _giveUp(self, reason: str) -> None:
        """
        Log and close; the push will try again.

        @param reason: why.
        """
        self._leave()
        self.factory.push.failed(reason)
        self.transport.abortConnection()


class PushFactory(Factory):
    """
    Makes L{PushProtocol}s for a L{PushClient}.
    """

    protocol = PushProtocol

    def __init__(self, push: PushClient) -> None:
        """
        @param push: the push client.
        """
        self.push = push


class _MetadataProtocol(Protocol):
    """
    Sends one metadata update request and reads the answer.
    """

    def __init__(self, request: bytes) -> None:
        self._request = request

    def connectionMade(self) -> None:
        self.transport.write(self._request)

    def dataReceived(self, data: bytes) -> None:
        self.transport.loseConnection()


class PushClient(Service):
    """
    Keeps a mount pushed to an upstream Icecast.

    @ivar station: the mount pushed.
    @ivar upstream: the Icecast mount fed.
    @ivar connects: successful logins so far.
    @ivar failures: failed attempts so far.
    @ivar state: C{"connecting"}, C{"streaming"} or C{"stopped"}.
    """

    _log = Logger()

    def __init__(
        self,
        station,
        url: str,
        password: str,
        user: str = "source",
        reactor=None,
        clock: IReactorTime | None = None,
        retryPolicy=None,
        endpointFactory=None,
    ) -> None:
        """
        @param station: the L{txradio.stream.station.Station} to push.
        @param url: the Icecast mount's URL, e.g.
            C{http://icecast.example:8000/relay}.
        @param password: the source password there.
        @param user: the source user there.
        @param reactor: the reactor to connect with.
        @param clock: the time source; the reactor by default.
        @param retryPolicy: seconds to wait before attempt N.
        @param endpointFactory: makes a client endpoint for an L{Upstream}.
        @raise ValueError: for a URL that is not http(s).
        """
        if reactor is None:
            from twisted.internet import reactor
        self.station = station
        self.upstream = parseUpstream(url)
        self.user = user
        self.password = password
        self.connects = 0
        self.failures = 0
        self.state = "stopped"
        self._reactor = reactor
        self._clock = clock or reactor
        self._retryPolicy = retryPolicy or backoffPolicy(initialDelay=1.0, maxDelay=60.0)
        self._endpointFactory = endpointFactory or (lambda upstream: endpointFor(reactor, upstream))
        self._client: ClientService | None = None

    def startService(self) -> None:
        """
        Connect, and keep connecting.
        """
        Service.startService(self)
        self.state = "connecting"
        self._client = ClientService(
            self._endpointFactory(self.upstream), PushFactory(self), retryPolicy=self._retryPolicy, clock=self._clock
        )
        self._client.startService()

    def stopService(self):
        """
        Stop pushing.

        @return: a L{Deferred} firing once disconnected.
        """
        Service.stopService(self)
        self.state = "stopped"
        client, self._client = self._client, None
        return client.stopService() if client is not None else None

    def connected(self) -> None:
        """
        Icecast accepted the source.
        """
        self.connects += 1
        self.state = "streaming"
        self._log.info("pushing {mount} to {url}", mount=self.station.mount.decode(), url=self.upstream.url)

    def lost(self) -> None:
        """
        A streaming connection ended.
        """
        if self.running:
            self.state = "connecting"
            self._log.warn("push of {mount} to {url} lost; reconnecting", mount=self.station.mount.decode(), url=self.upstream.url)

    def failed(self, reason: str) -> None:
        """
        An attempt failed.

        @param reason: why.
        """
        self.failures += 1
        self._log.warn("push of {mount} to {url} failed: {reason}", mount=self.station.mount.decode(), url=self.upstream.url, reason=reason)

    def sendTitle(self, title: str) -> None:
        """
        Send a metadata update to Icecast for the pushed mount.

        @param title: the new title.
        """
        request = metadataRequest(self.upstream, self.user, self.password, title)
        endpoint = self._endpointFactory(self.upstream)
        d = endpoint.connect(Factory.forProtocol(lambda: _MetadataProtocol(request)))
        d.addErrback(lambda failure: self._log.warn(
            "metadata update to {url} failed: {error}", url=self.upstream.url, error=failure.getErrorMessage()
        ))
