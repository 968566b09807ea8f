# -*- test-case-name: tests.test_protocol -*-
"""
The listener port's protocol: it reads a request head, then streams a mount
with the ICY handshake, runs the access checks, takes a source client, or
hands the connection to the web site.
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall
from twisted.internet.protocol import Protocol
from twisted.logger import Logger
from twisted.protocols.policies import ProtocolWrapper, TimeoutMixin
from twisted.python.failure import Failure

from txradio.interfaces import IStation
from txradio.net.access import AccessRequest, Admission, Refusal
from txradio.net.listenerphases import Phase, advance
from txradio.net.sourceport import (
    SourceSession,
    formatSourceRefusal,
    loginRefusal,
    sourceAccounts,
)
from txradio.stream.events import CLIENT_LEFT, LIMIT_REACHED, NO_SOURCE, ListenerJoined, ListenerLeft, ListenerRefused
from txradio.stream.listener import Listener
from txradio.wire.auth import credentialsMatch, parseBasicAuth
from txradio.wire.request import RequestError, RequestHead, RequestHeadParser, formatErrorResponse

if TYPE_CHECKING:
    from txradio.net.listenerport import ListenerFactory

LISTENER_WRITE_BUFFER = 16384
"""
Bytes Twisted may buffer for a listener before pausing it (its default is
64 KiB).  A stalled listener then costs little memory, and its lag is
counted in shared chunks instead of private copies.
"""

_STREAM_METHODS = (b"GET", b"HEAD")
_SOURCE_METHODS = (b"PUT", b"SOURCE")

_CORS_PREFLIGHT = (
    b"HTTP/1.0 204 No Content\r\n"
    b"Access-Control-Allow-Origin: *\r\n"
    b"Access-Control-Allow-Methods: GET, HEAD, OPTIONS\r\n"
    b"Access-Control-Allow-Headers: Icy-MetaData, Range\r\n"
    b"Access-Control-Max-Age: 86400\r\n"
    b"Allow: GET, HEAD, OPTIONS\r\n"
    b"Content-Length: 0\r\n"
    b"Connection: close\r\n\r\n"
)


class ListenerProtocol(Protocol):
    """
    One connection to the listener port.

    Its L{phase} says what it does with the bytes it receives (see
    L{Phase}): feed them to the request parser, hand them to the source
    session or the site's channel, or ignore them.  Each phase has its own
    partner (the parser, the L{Listener}, the L{SourceSession} or the
    channel), set when the phase starts and dropped when it ends.

    @ivar phase: the L{Phase} it is in.
    """

    _log = Logger()

    factory: ListenerFactory

    def __init__(self) -> None:
        self.phase = Phase.HEAD
        self._peer = ""
        # Phase.HEAD: the parser, the bytes read (replayed to the site) and
        # the header timeout.
        self._parser: RequestHeadParser | None = None
        self._received: list[bytes] = []
        self._timeout: IDelayedCall | None = None
        # Phase.STREAMING: the listener, its station and request, when asked.
        self._listener: Listener | None = None
        self._station: IStation | None = None
        self._head: RequestHead | None = None
        self._requestedAt = 0.0
        # Access control: the check in flight (Phase.AUTHENTICATING), the
        # admission and the call ending the session at its limit.
        self._checking: Deferred | None = None
        self._admission: Admission | None = None
        self._sessionEnd: IDelayedCall | None = None
        # Phase.SOURCE: the source session, and the mount it made if it
        # made one (a dynamic mount, which goes when it leaves).
        self._source: SourceSession | None = None
        self._madeMount: IStation | None = None
        # Phase.SITE: the site's channel; and one the site handed the
        # connection back from, which still hears of its end.
        self._delegate: Protocol | None = None
        self._abandonedChannel: Protocol | None = None

    def _moveTo(self, phase: Phase) -> None:
        """
        Enter another phase.

        @param phase: the next phase; see L{TRANSITIONS}.
        """
        self.phase = advance(self.phase, phase)

    def connectionMade(self) -> None:
        """
        Start the header timeout and the request parser.
        """
        self._peer = self.factory.formatPeer(self.transport.getPeer())
        self._parser = self.factory.makeParser()
        self._timeout = self.factory.clock.callLater(
            self.factory.headerTimeout, self._headerTimedOut
        )

    def dataReceived(self, data: bytes) -> None:
        """
        Parse the request head; pass bytes on once the connection has been
        handed to the web site or a source session; ignore what a listener
        sends, and anything after an answer.

        @param data: bytes from the client.
        """
        phase = self.phase
        if phase is Phase.SITE:
            assert self._delegate is not None
            self._delegate.dataReceived(data)
        elif phase is Phase.SOURCE:
            assert self._source is not None
            self._source.dataReceived(data)
        elif phase is Phase.HEAD and self._parser is not None:
            self._feedHead(data)

    def _feedHead(self, data: bytes) -> None:
        """
        Read more of the request head; answer it once complete.

        @param data: bytes from the client.
        """
        parser = self._parser
        assert parser is not None
        self._received.append(data)
        try:
            head = parser.feed(data)
        except RequestError as error:
            self._refuse(error)
            return
        if head is not None:
            self._parser = None
            self._cancelTimeout()
            self.dispatch(head, parser.remainder)

    def dispatch(self, head: RequestHead, remainder: bytes = b"") -> None:
        """
        Answer a complete request head.

        @param head: the parsed request.
        @param remainder: bytes that arrived after the head (a source's
            first audio).
        """
        station = self.factory.stationFor(head)
        if station is None:
            if head.method in _SOURCE_METHODS:
                self._sourceForNewMount(head, remainder)
                return
            self._handToSite(head)
            return
        if head.method in _SOURCE_METHODS:
            self._startSource(station, head, remainder)
            return
        access = self.factory.accessFor(station)
        request = self._accessRequest(station, head) if access is not None else None
        if access is not None and request is not None:
            # Before any other work for the request: address and player.
            refusal = access.screen(request)
            if refusal is not None:
                self._refuseAccess(station, head, refusal)
                return
        if head.method == b"OPTIONS":
            self._answer(_CORS_PREFLIGHT)
            return
        if head.method not in _STREAM_METHODS:
            self._refuse(
                RequestError(405, f"{station.mount.decode()} only answers GET, HEAD and OPTIONS")
            )
            return
        if access is not None and request is not None:
            verdict = access.check(request)
            if isinstance(verdict, Deferred):
                self._authenticate(station, head, verdict)
            else:
                self._decide(station, head, verdict)
            return
        self._admit(station, head)

    def _decide(self, station: IStation, head: RequestHead, verdict: Admission | Refusal) -> None:
        """
        Act on the access checks' verdict: refuse, or admit with what the
        admission says (a time limit, the URL authentication's leaving
        call).

        @param station: the station asked for.
        @param head: the request.
        @param verdict: the checks' answer.
        """
        if isinstance(verdict, Refusal):
            self._refuseAccess(station, head, verdict)
        else:
            self._admission = verdict
            self._admit(station, head)

    def _accessRequest(self, station: IStation, head: RequestHead) -> AccessRequest:
        """
        Describe a request for the access checks.

        @param station: the station asked for.
        @param head: the request.
        @return: what the checks know of it, with the real address.
        """
        peer = self.transport.getPeer()
        local = self.transport.getHost()
        host = (head.host or b"").decode("ascii", "replace")
        server = urlsplit("//" + host).hostname or str(getattr(local, "host", "")) if host else str(getattr(local, "host", ""))
        return AccessRequest(
            mount=station.mount.decode("ascii"),
            address=str(getattr(peer, "host", peer)),
            userAgent=head.userAgent,
            credentials=parseBasicAuth(head.header(b"authorization")),
            query=head.query,
            server=server,
            port=int(getattr(local, "port", 0) or 0),
            client=self.factory.access.nextClient() if self.factory.access is not None else 0,
        )

    def _authenticate(self, station: IStation, head: RequestHead, checking: Deferred) -> None:
        """
        Wait for the authentication server, sending nothing meanwhile.

        @param station: the station asked for.
        @param head: the request.
        @param checking: fires with an L{Admission} or a L{Refusal}.
        """
        self._moveTo(Phase.AUTHENTICATING)
        self._checking = checking

        def decided(verdict: Admission | Refusal) -> None:
            self._checking = None
            if self.phase is not Phase.AUTHENTICATING:
                # The client left meanwhile: nothing to answer.
                if isinstance(verdict, Admission):
                    verdict.left(0.0)
                return
            self._decide(station, head, verdict)

        def abandoned(reason: Failure) -> None:
            self._checking = None
            if self.phase is Phase.AUTHENTICATING:
                self._log.failure("checking listener {peer}", reason, peer=self._peer)
                self._refuse(RequestError(500, "the listener check failed"))

        checking.addCallbacks(decided, abandoned)

    def _admit(self, station: IStation, head: RequestHead) -> None:
        """
        Admit a request that passed the access checks: unless the mount is
        off the air or full, answer a C{HEAD} or start streaming.

        @param station: the station asked for.
        @param head: the request.
        """
        if not station.onAir:
            self._refuseListener(station, head, NO_SOURCE, RequestError(404, f"{station.mount.decode()} has no source on the air"))
            return
        if not station.admit():
            self._logListener(
                station,
                "refusing listener {peer} on {mount}: the station is full ({limit} listeners)",
                limit=station.maxListeners,
            )
            self._refuseListener(
                station, head, LIMIT_REACHED, RequestError(503, "this station has all the listeners it can take")
            )
            return
        if head.method == b"HEAD":
            self._endAdmission(0.0)
            self._answer(station.responseHead(head.wantsMetadata))
            return
        self._stream(station, head)

    def _startSource(self, station: IStation, head: RequestHead, remainder: bytes) -> bool:
        """
        Let a source client broadcast to a mount, if its request passes the
        session's checks.

        @param station: the mount.
        @param head: the C{PUT}/C{SOURCE} request.
        @param remainder: audio that came with the head.
        @return: L{False} when it was refused (the refusal is written).
        """
        self._received = []
        session = SourceSession(
            station,
            self.transport,
            self.factory.clock,
            self._peer,
            self.factory.sourceTimeout,
            self.factory.logins,
            djs=self.factory.djs,
        )
        self._source = session
        self._moveTo(Phase.SOURCE)
        accounts = sourceAccounts(self.factory.stations.values())
        if not session.start(head, remainder, accounts) and self.phase is Phase.SOURCE:
            # The session wrote its refusal and is closing.
            self._source = None
            self._moveTo(Phase.CLOSING)
            return False
        return True

    def _sourceForNewMount(self, head: RequestHead, remainder: bytes) -> None:
        """
        A source client asks for a mount that does not exist.  It logs in
        first, as on a mount that exists: only a source with good
        credentials learns anything about the mount.  With the credentials
        that may make mounts (see L{IMountMaker}), the mount is made for it
        (a dynamic mount) unless its name is refused; with others, there is
        no such mount.

        @param head: the C{PUT}/C{SOURCE} request.
        @param remainder: audio that came with the head.
        """
        mount = head.path.decode("utf-8", "backslashreplace")
        maker = self.factory.mountMaker
        makers = list(maker.accounts()) if maker is not None else []
        accounts = sourceAccounts(self.factory.stations.values()) + makers
        error = loginRefusal(head, self._peer, mount, accounts, self.factory.logins)
        station = None
        if error is None:
            credentials = parseBasicAuth(head.header(b"authorization"))
            if maker is None or not any([credentialsMatch(credentials, user, password) for user, password in makers]):
                error = RequestError(404, "there is no such mount")
            else:
                try:
                    station = maker.make(head.path, head)
                except RequestError as refusal:
                    self._log.info(
                        "refusing to make mount {mount} for source {peer}: {message}",
                        mount=mount,
                        peer=self._peer,
                        message=refusal.message,
                    )
                    error = refusal
        if error is not None or station is None:
            self._received = []
            self._answer(formatSourceRefusal(error or RequestError(404, "there is no such mount")))
            return
        assert maker is not None
        self._madeMount = station
        if not self._startSource(station, head, remainder):
            self._madeMount = None
            maker.release(station)

    def _stream(self, station: IStation, head: RequestHead) -> None:
        """
        Start streaming a station to this connection.

        @param station: the station asked for, which admits the listener.
        @param head: the request.
        """
        self.transport.write(station.responseHead(head.wantsMetadata))
        self._limitSendBuffer()
        self._moveTo(Phase.STREAMING)
        self._station = station
        self._head = head
        self._requestedAt = self.factory.clock.seconds()
        self._listener = station.connectListener(
            self.transport, head.wantsMetadata, self._peer, head.userAgent
        )
        self._received = []
        admission = self._admission
        if admission is not None and admission.endAt is not None:
            # One call per limited session, cancelled when it leaves.
            self._sessionEnd = self.factory.clock.callLater(
                max(0.0, admission.endAt - self._requestedAt), self._endSession, admission.endReason
            )
        station.events.emit(ListenerJoined(station, self._requestedAt, self._listener, head, self._peer))
        self._logListener(
            station,
            "listener {peer} joined {mount} ({userAgent}){metadata}",
            userAgent=head.userAgent or "no user agent",
            metadata=", with metadata" if head.wantsMetadata else "",
        )

    def _endSession(self, reason: str) -> None:
        """
        The session's limit (a token's expiry, an authentication server's
        time limit) is reached: drop the listener.

        @param reason: the reason it leaves with.
        """
        self._sessionEnd = None
        if self._listener is not None:
            self._listener.disconnect(reason)

    def _endAdmission(self, seconds: float) -> None:
        """
        Tell the admission its listener is gone (once), and cancel the
        session's end.

        @param seconds: how long it listened.
        """
        if self._sessionEnd is not None and self._sessionEnd.active():
            self._sessionEnd.cancel()
        self._sessionEnd = None
        admission, self._admission = self._admission, None
        if admission is not None:
            admission.left(seconds)

    def takeOverFromSite(self, requestBytes: bytes) -> None:
        """
        Take the connection back from the web site to stream to it.

        A client that fetched a page on a kept-alive connection may ask for
        the stream on the same connection; the site's stream resource calls
        this so the stream is still served here.

        @param requestBytes: the request head, re-serialized.
        """
        channel = self._delegate
        self._delegate = None
        self._abandonedChannel = channel
        self._moveTo(Phase.HEAD)
        self.transport.unregisterProducer()
        if isinstance(channel, TimeoutMixin):
            channel.setTimeout(None)
        try:
            head = self.factory.makeParser().feed(requestBytes)
        except RequestError as error:
            self._refuse(error)
            return
        if head is not None:
            self.dispatch(head)

    def connectionLost(self, reason: Failure = None) -> None:  # type: ignore[assignment]
        """
        Clean up: stop the timeout, leave the station, tell the web channel.

        @param reason: why the connection closed.
        """
        self._moveTo(Phase.CLOSED)
        self._cancelTimeout()
        self._parser = None
        if self._checking is not None:
            # The client hung up while its check was in flight: abandon it
            # (the authentication POST is cancelled).
            checking, self._checking = self._checking, None
            checking.addErrback(lambda _: None)
            checking.cancel()
        self.factory.connectionClosed(self.transport)
        for channel in (self._delegate, self._abandonedChannel):
            if channel is not None:
                channel.connectionLost(reason)
        self._delegate = self._abandonedChannel = None
        if self._source is not None:
            source, self._source = self._source, None
            source.connectionLost()
        made, self._madeMount = self._madeMount, None
        if made is not None and self.factory.mountMaker is not None:
            # A mount its source made goes with it.
            self.factory.mountMaker.release(made)
        listener, station = self._listener, self._station
        self._endAdmission(listener.seconds if listener is not None else 0.0)
        if listener is not None and station is not None:
            self._listener = None
            listener.stopProducing()
            station.events.emit(
                ListenerLeft(
                    station,
                    self.factory.clock.seconds(),
                    listener,
                    self._head,
                    self._peer,
                    listener.endReason or CLIENT_LEFT,
                    listener.seconds,
                    self._requestedAt,
                )
            )
            self._logListener(
                station,
                "listener {peer} left {mount} after {seconds:.0f} s, {bytes} bytes",
                seconds=listener.seconds,
                bytes=listener.bytesSent,
            )

    def _logListener(self, station: IStation, format: str, **fields: object) -> None:
        """
        Log what happens to this listener on a station, with its address
        (C{peer}) and the mount (C{mount}).

        @param station: the station.
        @param format: the log format.
        @param fields: its other fields.
        """
        self._log.info(format, peer=self._peer, mount=station.mount.decode(), **fields)

    def _handToSite(self, head: RequestHead) -> None:
        """
        Give the connection to the web site, replaying what was read.

        @param head: the parsed request, used only when there is no site.
        """
        site = self.factory.site
        if site is None:
            self._refuse(RequestError(404, "there is nothing at this address"))
            return
        channel = site.buildProtocol(self.transport.getPeer())
        if channel is None:
            self._moveTo(Phase.CLOSING)
            self.transport.loseConnection()
            return
        # The built-in site's channel (txradio.web.site.RadioChannel)
        # declares this link, which its stream resource follows back here
        # (L{takeOverFromSite}); another site's channel never reads it.
        channel.listenerProtocol = self  # type: ignore[attr-defined]
        self._delegate = channel
        self._moveTo(Phase.SITE)
        received, self._received = b"".join(self._received), []
        channel.makeConnection(self.transport)
        channel.dataReceived(received)

    def _limitSendBuffer(self) -> None:
        """
        Cap the kernel's and Twisted's send buffers for this listener, so
        that a listener that stops reading is noticed by the lag limit within
        seconds and holds little memory meanwhile.
        """
        transport = self.transport
        if isinstance(transport, ProtocolWrapper):
            # TLS (Twisted's TLSMemoryBIOProtocol): the socket transport,
            # whose buffer and socket these are, is the one below.
            transport = transport.transport
        # Twisted's socket transports (FileDescriptor) pause their producer
        # once this many bytes are buffered; on other transports the
        # attribute is inert.
        transport.bufferSize = LISTENER_WRITE_BUFFER
        size = self.factory.sendBufferSize
        if not size:
            return
        try:
            handle = transport.getHandle()
            handle.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)
        except (AttributeError, OSError, NotImplementedError):
            pass

    def _refuseListener(self, station: IStation, head: RequestHead, reason: str, error: RequestError) -> None:
        """
        Refuse a stream request, and tell the station's observers.

        @param station: the station asked for.
        @param head: the request.
        @param reason: L{LIMIT_REACHED} or L{NO_SOURCE}.
        @param error: the answer.
        """
        station.events.emit(
            ListenerRefused(station, self.factory.clock.seconds(), head, self._peer, reason, error.code)
        )
        self._endAdmission(0.0)
        self._refuse(error)

    def _refuseAccess(self, station: IStation, head: RequestHead, refusal: Refusal) -> None:
        """
        Refuse a stream request the access checks refused, and tell the
        station's observers.

        @param station: the station asked for.
        @param head: the request.
        @param refusal: the checks' answer.
        """
        self._logListener(
            station,
            "refusing listener {peer} on {mount}: {reason} ({status})",
            reason=refusal.reason,
            status=refusal.status,
        )
        station.events.emit(
            ListenerRefused(station, self.factory.clock.seconds(), head, self._peer, refusal.reason, refusal.status)
        )
        self._received = []
        self._answer(refusal.response())

    def _refuse(self, error: RequestError) -> None:
        """
        Answer with an error status and close.

        @param error: what was wrong.
        """
        if error.code not in (404, 503):
            self._log.info(
                "refused request from {peer}: {code} {message}",
                peer=self._peer,
                code=error.code,
                message=error.message,
            )
        self._answer(formatErrorResponse(error))

    def _answer(self, response: bytes) -> None:
        """
        Write a whole answer and close.

        @param response: the status line, headers and body.
        """
        self._parser = None
        self._cancelTimeout()
        self._moveTo(Phase.CLOSING)
        self.transport.write(response)
        self.transport.loseConnection()

    def _headerTimedOut(self) -> None:
        """
        The client took too long to send its request head: close.
        """
        self._timeout = None
        self._refuse(RequestError(408, "the request head took too long to arrive"))

    def _cancelTimeout(self) -> None:
        """
        Stop the header timeout if it is pending.
        """
        if self._timeout is not None and self._timeout.active():
            self._timeout.cancel()
        self._timeout = None
