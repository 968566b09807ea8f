# -*- test-case-name: tests.test_source -*-
"""
Source clients: the programs that broadcast to a mount, as they do to
Icecast (C{PUT} or the older C{SOURCE}, on the listener port) and to
SHOUTcast v1 servers (a password line on their own port).

A connected source feeds a L{LiveSource}, which the mount's switcher plays
ahead of its programme.
"""

from __future__ import annotations

from collections.abc import Iterable

from twisted.internet.interfaces import IReactorTime
from twisted.internet.protocol import Factory, Protocol
from twisted.logger import Logger

from txradio.interfaces import ILiveSource, ILoginThrottle, IStation
from txradio.net.djs import HOLD_SECONDS, DJAccount, DJDesk
from txradio.net.throttle import LoginThrottle, hostOf
from txradio.sources.live import DEFAULT_MAX_QUEUE, LiveSource
from txradio.stream.events import SourceConnected
from txradio.wire.auth import credentialsMatch, parseBasicAuth, passwordMatches
from txradio.wire.chunked import ChunkedDecoder, ChunkedError
from txradio.wire.icy import StreamInfo, cleanTitle
from txradio.wire.passwordhash import PasswordHash
from txradio.wire.request import RequestError, RequestHead, formatErrorResponse

DEFAULT_SOURCE_TIMEOUT = 10.0
"""Seconds a source may send nothing before it is dropped (Icecast's default)."""

MP3_TYPES = (b"audio/mpeg", b"audio/mp3", b"audio/x-mpeg", b"audio/mpeg3", b"audio/x-mp3")
"""Content types a source may declare for MP3 audio."""

_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_OK = b"HTTP/1.0 200 OK\r\n\r\n"


_log = Logger()


def sourceAccounts(stations: Iterable[IStation]) -> list[tuple[str, str | PasswordHash]]:
    """
    The source credentials a server knows, whatever mount they are for.

    @param stations: the server's L{txradio.stream.station.Station}s.
    @return: C{(user, password)} of each mount that takes live sources.
    """
    return [(station.sourceUser, station.sourcePassword) for station in stations if station.acceptsSources]


def loginRefusal(
    head: RequestHead, peer: str, mount: str, accounts, logins: ILoginThrottle | None
) -> RequestError | None:
    """
    Check a source request's Basic credentials, before anything is said
    about its mount: a wrong or missing login gets the same 401 whether the
    mount exists or not, and counts against the address in
    the login throttle the same way, so that mounts cannot be enumerated.

    @param head: the C{PUT}/C{SOURCE} request.
    @param peer: its address, for logs and the throttle.
    @param mount: the mount asked for, for logs.
    @param accounts: the C{(user, password)} pairs that may log in: the
        mount's own when it takes sources, else every mount's (see
        L{sourceAccounts}); none means nobody may.
    @param logins: the radio's login throttle, or L{None} for none.
    @return: a 401 or 429 error, or L{None} when the credentials are good.
    """
    credentials = parseBasicAuth(head.header(b"authorization"))
    if credentials is None:
        # libshout asks without credentials first and retries with them
        # after the 401: not a failed login.
        _log.info("source on {mount} from {peer} asked without credentials", mount=mount, peer=peer)
        return RequestError(401, "source credentials required")
    address = hostOf(peer)
    wait = logins.wait(address) if logins is not None else 0.0
    if wait:
        return RequestError(429, f"too many failed logins from this address: try again in {wait:.0f} s")
    matched = False
    for user, password in accounts:
        # Every account is compared, without stopping at a match.
        matched = credentialsMatch(credentials, user, password) or matched
    if not matched:
        _log.warn("failed source login on {mount} from {peer}", mount=mount, peer=peer)
        if logins is not None:
            logins.failed(address, f"source {mount}")
        return RequestError(401, "wrong source credentials")
    if logins is not None:
        logins.succeeded(address)
    return None


def formatSourceRefusal(error: RequestError) -> bytes:
    """
    Format an error response for a source client, with a
    C{WWW-Authenticate} challenge on a 401.

    @param error: what was wrong.
    @return: the response's bytes.
    """
    response = formatErrorResponse(error)
    if error.code == 401:
        response = response.replace(b"\r\n", b'\r\nWWW-Authenticate: Basic realm="txradio"\r\n', 1)
    return response


def _hasLiveClient(station: IStation) -> bool:
    """
    Tell whether a live source client is connected to a mount now (its
    queued audio still playing after it left does not count).

    @param station: the mount.
    @return: L{True} while one is connected.
    """
    live = station.liveSource
    return ILiveSource.providedBy(live) and bool(live.connected)


def _truthy(value: bytes | None) -> bool:
    """
    Read an C{ice-public}/C{icy-pub} flag.

    @param value: the header's value.
    @return: L{True} for C{1}, C{yes} or C{true}.
    """
    return (value or b"").strip().lower() in (b"1", b"yes", b"true")


def infoFromHeaders(head: RequestHead, default: StreamInfo) -> StreamInfo:
    """
    Build the stream info a source announces in its C{ice-*} (or older
    C{icy-*}) request headers.

    @param head: the source's request.
    @param default: the mount's configured info, for what the source does
        not say.
    @return: the info listeners are shown while the source is live.
    """

    def text(*names: bytes) -> str | None:
        for name in names:
            value = head.header(name)
            if value is not None:
                return cleanTitle(value.decode("utf-8", "replace"), limit=256)
        return None

    bitrate = None
    audioInfo = head.header(b"ice-audio-info") or b""
    for part in audioInfo.split(b";"):
        key, _, value = part.partition(b"=")
        if key.strip().lower() in (b"ice-bitrate", b"bitrate") and value.strip().isdigit():
            bitrate = int(value.strip())
    brHeader = head.header(b"ice-bitrate") or head.header(b"icy-br")
    if brHeader is not None and brHeader.strip().isdigit():
        bitrate = int(brHeader.strip())
    public = head.header(b"ice-public") or head.header(b"icy-pub")
    return StreamInfo(
        name=text(b"ice-name", b"icy-name") or default.name,
        genre=text(b"ice-genre", b"icy-genre") or default.genre,
        url=text(b"ice-url", b"icy-url") or default.url,
        description=text(b"ice-description", b"icy-description") or default.description,
        public=_truthy(public) if public is not None else default.public,
        bitrate=bitrate or default.bitrate,
    )


def announcedFormat(head: RequestHead) -> tuple[int | None, int | None]:
    """
    Read the sample rate and channels a source announces in
    C{ice-audio-info} (C{ice-samplerate=44100;ice-channels=2}, or without
    the C{ice-} prefix).

    @param head: the source's request.
    @return: C{(sampleRate, channels)}, L{None} for what it does not say.
    """
    rate = channels = None
    for part in (head.header(b"ice-audio-info") or b"").split(b";"):
        key, _, value = part.partition(b"=")
        key = key.strip().lower().removeprefix(b"ice-")
        value = value.strip()
        if not value.isdigit() or len(value) > 6:
            continue
        if key == b"samplerate":
            rate = int(value)
        elif key == b"channels":
            channels = int(value)
    return rate, channels


class SourceSession:
    """
    One source client streaming to a mount: its checks, its reply, its
    audio and its timeout.

    @ivar live: the L{LiveSource} it feeds, once accepted.
    """

    _log = Logger()

    def __init__(
        self,
        station: IStation,
        transport,
        clock: IReactorTime,
        peer: str,
        timeout: float = DEFAULT_SOURCE_TIMEOUT,
        logins: ILoginThrottle | None = None,
        djs: DJDesk | None = None,
    ) -> None:
        """
        @param station: the station it broadcasts to.
        @param transport: its connection.
        @param clock: for the inactivity timeout.
        @param peer: its address, for logs.
        @param timeout: seconds of silence after which it is dropped.
        @param logins: the radio's login throttle; one of its own (on
            C{clock}) by default.
        @param djs: the radio's DJ accounts (L{txradio.net.djs}), or
            L{None} for none.
        """
        self.station = station
        self.peer = peer
        self._djs = djs
        # The DJ account it logged in as, and whether it waits for the
        # mount (hand-over) rather than being on the air.
        self.dj: DJAccount | None = None
        self._held = False
        self._info: StreamInfo | None = None
        self._agent = ""
        self.live: LiveSource | None = None
        self._transport, self._clock, self._peer, self._timeout = transport, clock, peer, timeout
        self._logins = logins if logins is not None else LoginThrottle(clock)
        self._timer = None
        self._startedAt = 0.0
        # Set for a chunked upload (Icecast 2.5 accepts them): the audio is
        # what the decoder makes of the bytes.
        self._chunked: ChunkedDecoder | None = None

    def refusal(self, head: RequestHead, accounts=()) -> RequestError | None:
        """
        Decide whether an Icecast-style source request may broadcast.

        The credentials are checked first (see L{loginRefusal}): only a
        source that logs in learns that the mount takes no sources or is
        busy.

        @param head: the C{PUT}/C{SOURCE} request.
        @param accounts: every mount's source credentials (see
            L{sourceAccounts}), checked when this mount takes no sources.
        @return: the error to answer with, or L{None} to accept it.
        """
        station = self.station
        mount = station.mount.decode()
        if station.acceptsSources:
            accounts = [(station.sourceUser, station.sourcePassword)]
        djs = self._djs
        credentials = parseBasicAuth(head.header(b"authorization")) if djs is not None else None
        if djs is not None and credentials is not None:
            accounts = [*accounts, *djs.accounts(credentials[0])]
        error = loginRefusal(head, self._peer, mount, accounts, self._logins)
        if error is not None:
            return error
        self.dj = djs.find(credentials) if djs is not None else None
        if self.dj is not None:
            assert djs is not None
            refusal = djs.refusal(self.dj, station.mount)
            if refusal is not None:
                self._log.info(
                    "refusing dj {dj} on {mount} from {peer}: {reason}",
                    dj=self.dj.name, mount=mount, peer=self._peer, reason=refusal.message,
                )
                return refusal
        elif not station.acceptsSources:
            return RequestError(403, f"{mount} does not take live sources")
        coding = head.header(b"transfer-encoding")
        if coding is not None and coding.strip().lower() != b"chunked":
            return RequestError(501, "a source's Transfer-Encoding may only be chunked")
        contentType = head.header(b"content-type")
        if contentType is None:
            return RequestError(400, "a source must say its Content-Type (audio/mpeg)")
        if contentType.split(b";")[0].strip().lower() not in MP3_TYPES:
            return RequestError(415, f"{mount} takes MP3 audio (audio/mpeg) only")
        problem = self._formatProblem(announcedFormat(head))
        if problem is not None:
            return RequestError(415, problem)
        if _hasLiveClient(station):
            if self.dj is not None and djs is not None and djs.mayWait(station.mount):
                self._held = True
                return None
            return RequestError(403, f"{mount} already has a live source")
        return None

    def _strictFormat(self):
        """
        @return: the mount's L{txradio.wire.audioformat.AudioFormat} when a live
            source of another format must be refused (the mount skips what
            does not match, or has no encoder), else L{None}.
        """
        conformer = self.station.conformer
        if conformer is None:
            return None
        if conformer.policy == "skip" or not conformer.encoderAvailable:
            return conformer.outputFormat
        return None

    def _formatProblem(self, announced: tuple[int | None, int | None]) -> str | None:
        """
        Check a source's sample rate and channels against the mount's.

        @param announced: C{(sampleRate, channels)}, either L{None} when
            not known.
        @return: what to tell the source, or L{None} when it may play.
        """
        expected = self._strictFormat()
        if expected is None:
            return None
        rate, channels = announced
        if (rate is not None and rate != expected.sampleRate) or (channels is not None and channels != expected.channels):
            return (
                f"{self.station.mount.decode()} plays {expected.describe()} and cannot transcode; "
                f"this source is {rate or '?'} Hz, {channels or '?'} channel(s)"
            )
        return None

    def start(self, head: RequestHead, remainder: bytes, accounts=()) -> bool:
        """
        Check the request and, if it may broadcast, answer it and go live.

        @param head: the source's request.
        @param remainder: audio bytes that arrived with the request head.
        @param accounts: every mount's source credentials, for
            L{refusal}.
        @return: L{False} when it was refused (the refusal is written and
            the connection is closing).
        """
        error = self.refusal(head, accounts)
        if error is not None:
            self._refuse(error)
            return False
        expect = (head.header(b"expect") or b"").lower()
        if head.header(b"transfer-encoding") is not None:
            self._chunked = ChunkedDecoder()
        self._transport.write(_CONTINUE if b"100-continue" in expect else _OK)
        info = infoFromHeaders(head, self.station.info)
        self._goLive(info, head.userAgent)
        if remainder:
            self.dataReceived(remainder)
        return True

    def _goLive(self, info: StreamInfo, agent: str) -> None:
        """
        Put a new live source on the mount.

        @param info: what the source announces.
        @param agent: the source client's name, for the log.
        """
        self._info, self._agent = info, agent
        if self._held:
            # It waits for the mount: its audio is kept, a bounded few
            # seconds of it, until it takes over (txradio.net.djs).
            assert self._djs is not None
            self.live = LiveSource(name=f"live source {self._peer}", title=info.name, maxQueue=HOLD_SECONDS)
            self.live.hangUp = self._transport.loseConnection
            self._timer = self._clock.callLater(self._timeout, self._timedOut)
            self._djs.hold(self.station.mount, self)
            return
        self.live = LiveSource(name=f"live source {self._peer}", title=info.name)
        self.live.hangUp = self._transport.loseConnection
        if not self.station.attachLive(self.live, info, dj=self.dj.name if self.dj is not None else None):
            # Another source won the mount between the check and now.
            self.live = None
            self._transport.loseConnection()
            return
        self._timer = self._clock.callLater(self._timeout, self._timedOut)
        self._announce()

    def _announce(self) -> None:
        """
        Tell the observers that this source is on the air, and have the DJ
        desk end a DJ's show with its window.
        """
        mount, agent = self.station.mount.decode(), self._agent
        self._startedAt = self._clock.seconds()
        dj = self.dj.name if self.dj is not None else ""
        self.station.events.emit(SourceConnected(self.station, self._startedAt, self._peer, agent, dj))
        if self.dj is not None and self._djs is not None:
            self._djs.onAir(self.station.mount, self.dj, self)
        self._log.info(
            "source {peer} is live on {mount} ({agent}){dj}",
            peer=self._peer,
            mount=mount,
            agent=agent or "no user agent",
            dj=f" as dj {dj}" if dj else "",
        )

    def takeOver(self) -> bool:
        """
        A waiting DJ's turn: its buffered audio plays right after the
        previous source's last frame.

        @return: L{False} when the mount would not take it (another source
            got there first): it is hung up.
        """
        live = self.live
        if live is None or not self._held:
            return False
        self._held = False
        live.maxQueue = DEFAULT_MAX_QUEUE
        if not self.station.attachLive(live, self._info, dj=self.dj.name if self.dj is not None else None):
            self.hangUp()
            return False
        self._announce()
        return True

    def hangUp(self) -> None:
        """
        Close the source's connection from the server side.
        """
        self._transport.loseConnection()

    def dataReceived(self, data: bytes) -> None:
        """
        Audio from the source.

        @param data: bytes as received.
        """
        if self.live is None:
            return
        if self._chunked is not None:
            data = self._unchunk(data)
            if self.live is None:
                return
        checked = self.live.firstHeader is not None
        self.live.feed(data)
        if not checked and self.live.firstHeader is not None:
            header = self.live.firstHeader
            problem = self._formatProblem((header.sampleRate, header.channels))
            if problem is not None:
                # The reply has gone out already: all that is left is to
                # drop the source, and say why in the log.
                self._log.warn(
                    "dropping source {peer} on {mount}: {problem}",
                    peer=self._peer,
                    mount=self.station.mount.decode(),
                    problem=problem,
                )
                self.live.close()
                self._transport.loseConnection()
                return
        if self._timer is not None and self._timer.active():
            self._timer.reset(self._timeout)

    def _unchunk(self, data: bytes) -> bytes:
        """
        Take the chunked framing off a chunked upload's bytes.  A malformed
        framing ends the source (its audio so far still plays, then the
        mount falls back); the last chunk ends it too, as the end of a body.

        @param data: bytes as received.
        @return: the audio they hold.
        """
        assert self._chunked is not None
        try:
            audio = self._chunked.feed(data)
        except ChunkedError as error:
            self._log.warn(
                "dropping source {peer} on {mount}: bad chunked framing ({problem})",
                peer=self._peer,
                mount=self.station.mount.decode(),
                problem=str(error),
            )
            self._transport.loseConnection()
            return b""
        if self._chunked.done:
            self._log.info(
                "source {peer} on {mount} sent its last chunk", peer=self._peer, mount=self.station.mount.decode()
            )
            self._transport.loseConnection()
        return audio

    def connectionLost(self) -> None:
        """
        The source went away: its mount falls back.
        """
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        live, self.live = self.live, None
        if live is None:
            return
        live.end()
        if self._djs is None or not self._djs.left(self.station.mount, self):
            self.station.detachLive(live, self._peer)
        self._log.info(
            "source {peer} left {mount} after {seconds:.0f} s, {bytes} bytes",
            peer=self._peer,
            mount=self.station.mount.decode(),
            seconds=self._clock.seconds() - self._startedAt,
            bytes=live.bytesReceived,
        )

    def _timedOut(self) -> None:
        """
        The source sent nothing for too long: drop it.
        """
        self._timer = None
        self._log.warn(
            "source {peer} on {mount} sent nothing for {timeout} s: dropping it",
            peer=self._peer,
            mount=self.station.mount.decode(),
            timeout=self._timeout,
        )
        self._transport.abortConnection()

    def _refuse(self, error: RequestError) -> None:
        """
        Answer with an error and close.

        @param error: what was wrong.
        """
        self._transport.write(formatSourceRefusal(error))
        self._transport.loseConnection()


MAX_SHOUTCAST_LINE = 1024
"""The longest line a SHOUTcast v1 source may send before its audio."""

MAX_SHOUTCAST_HEADERS = 64
"""The most C{icy-*} lines a SHOUTcast v1 source may send."""


class ShoutcastSourceProtocol(Protocol):
    """
    A SHOUTcast v1 source: C{PASSWORD} line, C{OK2}, C{icy-*} lines, a blank
    line, then audio.
    """

    _log = Logger()
    factory: ShoutcastSourceFactory

    def __init__(self) -> None:
        self._buffer = b""
        self._state = "password"
        self._headers: list[tuple[bytes, bytes]] = []
        self._session: SourceSession | None = None
        self._timer = None
        self._peer = ""

    def connectionMade(self) -> None:
        """
        Start the timeout for the handshake.
        """
        address = self.transport.getPeer()
        # An IAddress has no common fields: a UNIX socket's has no host.
        self._peer = f"{getattr(address, 'host', address)}:{getattr(address, 'port', '')}"
        self._timer = self.factory.clock.callLater(self.factory.timeout, self._timedOut)

    def dataReceived(self, data: bytes) -> None:
        """
        Read the handshake lines, then pass audio on.

        @param data: bytes from the encoder.
        """
        if self._state == "audio":
            assert self._session is not None
            self._session.dataReceived(data)
            return
        if self._state == "closed":
            return
        self._buffer += data
        while self._state in ("password", "headers"):
            end = self._buffer.find(b"\n")
            if end < 0:
                if len(self._buffer) > MAX_SHOUTCAST_LINE:
                    self._close(b"line too long\r\n")
                return
            line, self._buffer = self._buffer[:end].rstrip(b"\r"), self._buffer[end + 1 :]
            if self._state == "password":
                self._checkPassword(line)
            elif line:
                name, _, value = line.partition(b":")
                self._headers.append((name.strip().lower(), value.strip()))
                if len(self._headers) > MAX_SHOUTCAST_HEADERS:
                    self._close(b"too many header lines\r\n")
            else:
                self._startAudio()

    def _checkPassword(self, line: bytes) -> None:
        """
        Check the encoder's first line.

        @param line: the password (some encoders add C{:#mount}, ignored).
        """
        station = self.factory.station
        password = line.split(b":#", 1)[0].decode("utf-8", "replace")
        logins = self.factory.logins
        address = hostOf(self.transport.getPeer())
        if logins.wait(address):
            # Too many failures from this address lately: not even checked.
            self._close(b"invalid password\r\n")
            return
        if not passwordMatches(password, station.sourcePassword):
            self._log.warn(
                "failed SHOUTcast source login on {mount} from {peer}",
                mount=station.mount.decode(),
                peer=self._peer,
            )
            if password not in ("!POKE",):
                # libshout probes a server with the password "!POKE" before
                # it logs in for real: not a guess.
                logins.failed(address, f"SHOUTcast source {station.mount.decode()}")
            self._close(b"invalid password\r\n")
            return
        logins.succeeded(address)
        if _hasLiveClient(station):
            self._close(b"stream in use\r\n")
            return
        self.transport.write(b"OK2\r\nicy-caps:11\r\n\r\n")
        self._state = "headers"

    def _startAudio(self) -> None:
        """
        The header lines are done: go live and pass on the bytes after them.
        """
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        factory = self.factory
        head = RequestHead(b"SOURCE", b"/", b"/", b"", b"HTTP/1.0", tuple(self._headers))
        self._session = SourceSession(
            factory.station, self.transport, factory.clock, self._peer, factory.timeout, factory.logins
        )
        self._session._goLive(infoFromHeaders(head, factory.station.info), "SHOUTcast v1 source")
        self._state = "audio"
        rest, self._buffer = self._buffer, b""
        if rest:
            self._session.dataReceived(rest)

    def connectionLost(self, reason=None) -> None:
        """
        The encoder went away.

        @param reason: why.
        """
        self._state = "closed"
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        if self._session is not None:
            self._session.connectionLost()

    def _timedOut(self) -> None:
        """
        The handshake took too long.
        """
        self._timer = None
        self._close(b"")

    def _close(self, message: bytes) -> None:
        """
        Say why (in SHOUTcast's terse way) and close.

        @param message: the line to send.
        """
        self._state = "closed"
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        if message:
            self.transport.write(message)
        self.transport.loseConnection()


class ShoutcastSourceFactory(Factory):
    """
    Accepts SHOUTcast v1 sources for one mount.

    @ivar station: the mount they broadcast to.
    @ivar clock: for timeouts.
    @ivar timeout: seconds allowed for the handshake, and of silence after.
    """

    protocol = ShoutcastSourceProtocol

    def __init__(
        self,
        station: IStation,
        clock: IReactorTime | None = None,
        timeout: float = DEFAULT_SOURCE_TIMEOUT,
        logins: ILoginThrottle | None = None,
    ) -> None:
        """
        @param station: the mount SHOUTcast sources broadcast to.
        @param clock: the time source; the global reactor by default.
        @param timeout: seconds of silence allowed.
        @param logins: the radio's login throttle; one of its own (on
            C{clock}) by default.
        """
        if clock is None:
            from twisted.internet import reactor as clock  # type: ignore[assignment]
        self.station = station
        self.clock = clock
        self.timeout = timeout
        self.logins: ILoginThrottle = logins if logins is not None else LoginThrottle(clock)
