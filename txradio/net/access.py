# -*- test-case-name: tests.test_access -*-
"""
Listener access control: who may listen to a mount.

Each protected mount has one L{MountAccess}, built by
L{txradio.wiring.accessPolicy} from the configuration (a mount's settings
override the server's) and held, with a default for mounts that have no
settings of their own, by the L{AccessPolicy} on the listener factory.  The
listener port asks it at admission, in this order:

 1. L{MountAccess.screen}, before any other work for the request: the
    address (allow and deny lists, deny wins) and the user agent (bans);
    both refuse with 403.
 2. L{MountAccess.check}: the signed listen URL's token (403 when missing,
    forged or expired), the htpasswd file's Basic credentials (401 with a
    challenge, through the radio's login throttle), then Icecast's URL
    authentication (a POST to the operator's server; 403 when it refuses,
    503 when it fails or too many are in flight).  The first two answer at
    once; URL authentication answers with a L{Deferred}, and the listener
    waits in L{txradio.net.listenerphases.Phase.AUTHENTICATING}.

An L{Admission} says when the session must end (the token's expiry, the
authentication server's time limit) and what to do when the listener
leaves (the C{listener_remove} POST).  The web site's HLS resources ask
L{MountAccess.checkWeb}: every check but URL authentication.

The pure parts (networks, tokens, hashes, forms) are in
L{txradio.wire.access}.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import os
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.interfaces import IPushProducer, IReactorTime
from twisted.internet.protocol import Protocol
from twisted.logger import Logger
from twisted.python.failure import Failure

from zope.interface import implementer

from txradio.interfaces import IListenerAccess, ILoginThrottle
from txradio.stream.events import (
    ADDRESS_DENIED,
    AGENT_BANNED,
    AUTH_REFUSED,
    AUTH_TIME_LIMIT,
    AUTH_UNAVAILABLE,
    LOGIN_REQUIRED,
    TOKEN_EXPIRED,
    TOKEN_INVALID,
)
from txradio.wire.access import (
    MAX_HTPASSWD_BYTES,
    AddressRules,
    AgentBans,
    AuthAnswer,
    TokenCheck,
    checkToken,
    listenerAddForm,
    listenerRemoveForm,
    parseHtpasswd,
    readAuthAnswer,
    tokenExpiry,
    verifyPassword,
)
from txradio.wire.request import RequestError, formatErrorResponse

DEFAULT_AUTH_TIMEOUT = 5.0
"""Seconds a URL authentication POST may take (Icecast's default)."""

DEFAULT_MAX_AUTH_REQUESTS = 64
"""URL authentication POSTs in flight at most, for the whole server; a
listener beyond waits for none and gets 503."""

MAX_REMOVE_QUEUE = 1000
"""C{listener_remove} POSTs waiting to be sent at most; older ones are
dropped (and counted) beyond."""

REMOVE_CONCURRENCY = 4
"""C{listener_remove} POSTs sent at once at most."""

REFUSE = "refuse"
"""On a URL authentication error or timeout, refuse the listener (503), as
Icecast does."""

ADMIT = "admit"
"""On a URL authentication error or timeout, admit the listener."""

ON_ERROR = (REFUSE, ADMIT)
"""What a mount may do when its authentication server fails."""

# A hash checked for unknown users, so that the time taken does not tell
# whether a user exists (made once, with few rounds: only its cost matters
# relative to the file's own hashes, which usually use more).
_DUMMY_HASH = "$pbkdf2-sha256$1000$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"


@dataclass(frozen=True, slots=True)
class AccessRequest:
    """
    What the checks know of a request.

    @ivar mount: the mount path, e.g. C{"/private"}.
    @ivar address: the client's real address (never the hidden form logs
        may show), e.g. C{"192.0.2.7"}.
    @ivar userAgent: its user agent.
    @ivar credentials: its Basic C{(user, password)}, or L{None}.
    @ivar query: the raw query of the request target.
    @ivar server: the host name the client asked for, for URL authentication.
    @ivar port: the server's port it connected to.
    @ivar client: the connection's number, for URL authentication.
    """

    mount: str
    address: str
    userAgent: str = ""
    credentials: tuple[str, str] | None = None
    query: bytes = b""
    server: str = ""
    port: int = 0
    client: int = 0


@dataclass(frozen=True, slots=True)
class Refusal:
    """
    A request refused.

    @ivar status: the HTTP status, e.g. C{403}.
    @ivar reason: the reason constant of L{txradio.stream.events} (its label
        goes to metrics, logs and hooks).
    @ivar message: one short sentence for the body.
    @ivar realm: for a 401, the realm of the C{WWW-Authenticate} challenge.
    """

    status: int
    reason: str
    message: str
    realm: str | None = None

    def headers(self) -> list[tuple[bytes, bytes]]:
        """
        @return: the extra headers of the answer: the challenge of a 401.
        """
        if self.realm is None:
            return []
        realm = self.realm.replace("\\", "").replace('"', "")
        return [(b"WWW-Authenticate", b'Basic realm="%s"' % realm.encode("ascii", "replace"))]

    def response(self) -> bytes:
        """
        @return: the whole HTTP answer, status line to body.
        """
        answer = formatErrorResponse(RequestError(self.status, self.message))
        extra = self.headers()
        if not extra:
            return answer
        line, _, rest = answer.partition(b"\r\n")
        return line + b"\r\n" + b"".join(name + b": " + value + b"\r\n" for name, value in extra) + rest


@dataclass(frozen=True, slots=True)
class Admission:
    """
    A listener admitted.

    @ivar endAt: when its session must end, in the radio clock's seconds,
        or L{None} for never.
    @ivar endReason: the reason it is then disconnected with.
    @ivar onLeave: called once with the seconds listened when the listener
        leaves (or, admitted but never streamed to, with 0), or L{None}.
    """

    endAt: float | None = None
    endReason: str = ""
    onLeave: Callable[[float], None] | None = field(default=None, compare=False)

    def left(self, seconds: float) -> None:
        """
        Tell the admission its listener left.

        @param seconds: how long it listened.
        """
        if self.onLeave is not None:
            self.onLeave(seconds)


Verdict = Admission | Refusal


class PasswordFile:
    """
    An htpasswd file, read whole at start and on every reload.

    @ivar path: the file.
    @ivar users: user name to stored hash.
    @ivar problems: the lines refused at the last read.
    """

    _log = Logger()

    def __init__(self, path: str, users: Mapping[str, str] | None = None) -> None:
        """
        @param path: the file's path.
        @param users: the users, when given directly (tests, embedders);
            else the file is read now.
        @raise OSError: when the file cannot be read or is larger than
            L{MAX_HTPASSWD_BYTES}.
        """
        self.path = path
        self.problems: list[str] = []
        self.users: dict[str, str] = dict(users) if users is not None else self._read()
        # The last good password of each user, as a keyed MAC (the key is
        # random per read): a player logging in again (HLS asks every few
        # seconds) costs one HMAC, not a slow hash that blocks the reactor.
        self._key = os.urandom(32)
        self._good: dict[str, bytes] = {}

    def _read(self) -> dict[str, str]:
        with open(self.path, "rb") as handle:
            data = handle.read(MAX_HTPASSWD_BYTES + 1)
        if len(data) > MAX_HTPASSWD_BYTES:
            raise OSError(f"{self.path} is larger than {MAX_HTPASSWD_BYTES} bytes")
        users, self.problems = parseHtpasswd(data.decode("utf-8", "replace"))
        for problem in self.problems:
            self._log.warn("htpasswd {path}: {problem}; that user cannot log in", path=self.path, problem=problem)
        return users

    def verify(self, user: str, password: str) -> bool:
        """
        Check a user's password; an unknown user costs as much as a known one.

        @param user: the user name.
        @param password: the password.
        @return: L{True} when the user exists and the password matches.
        """
        stored = self.users.get(user)
        mac = hmac.new(self._key, password.encode("utf-8"), hashlib.sha256).digest()
        known = self._good.get(user)
        if known is not None and hmac.compare_digest(known, mac):
            return True
        matched = verifyPassword(password, stored if stored is not None else _DUMMY_HASH) and stored is not None
        if matched:
            self._good[user] = mac
        return matched


class AuthLimiter:
    """
    Counts URL authentication POSTs in flight, for the whole server.

    @ivar limit: the most at once.
    @ivar pending: how many are in flight now.
    """

    def __init__(self, limit: int = DEFAULT_MAX_AUTH_REQUESTS) -> None:
        self.limit = limit
        self.pending = 0

    def acquire(self) -> bool:
        """
        @return: whether one more may start (it is then counted).
        """
        if self.pending >= self.limit:
            return False
        self.pending += 1
        return True

    def release(self) -> None:
        """
        Count one out.
        """
        self.pending = max(0, self.pending - 1)


class _Discard(Protocol):
    """
    Drops an authentication server's answer body at once: only its headers
    matter, and a large body must cost nothing.
    """

    def connectionMade(self) -> None:
        # A response body's transport is also its producer
        # (IResponse.deliverBody): stopping it drops the connection.
        cast(IPushProducer, self.transport).stopProducing()

    def connectionLost(self, reason: Failure = None) -> None:  # type: ignore[assignment]
        pass


class URLAuthenticator:
    """
    Icecast's URL authentication: C{listener_add} and C{listener_remove}
    POSTs with Twisted's C{Agent}.

    @ivar url: where it POSTs.
    @ivar timeout: seconds one POST may take.
    @ivar onError: L{REFUSE} or L{ADMIT}, on an error or a timeout.
    @ivar dropped: C{listener_remove} POSTs dropped because the queue was full.
    """

    _log = Logger()

    def __init__(
        self,
        url: str,
        clock: IReactorTime,
        agent: Any = None,
        limiter: AuthLimiter | None = None,
        timeout: float = DEFAULT_AUTH_TIMEOUT,
        onError: str = REFUSE,
    ) -> None:
        """
        @param url: an C{http://} or C{https://} URL.
        @param clock: the reactor (for timeouts, and for the default agent).
        @param agent: an C{IAgent}; a new C{Agent} on C{clock} by default.
        @param limiter: the server's count of POSTs in flight.
        @param timeout: seconds one POST may take.
        @param onError: see L{onError}.
        """
        if agent is None:
            from twisted.web.client import Agent

            agent = Agent(clock)
        self.url = url
        self.clock = clock
        self.agent = agent
        self.limiter = limiter if limiter is not None else AuthLimiter()
        self.timeout = timeout
        self.onError = onError
        self.dropped = 0
        self._removes: deque[bytes] = deque()
        self._removing = 0

    def _post(self, body: bytes) -> Deferred:
        """
        POST a form, bounded by L{timeout}.

        @param body: the form.
        @return: a L{Deferred} firing with the answer's headers as a dict of
            lower-case names to values.
        """
        from io import BytesIO

        from twisted.web.client import FileBodyProducer
        from twisted.web.http_headers import Headers

        headers = Headers(
            {b"content-type": [b"application/x-www-form-urlencoded"], b"user-agent": [b"txradio listener auth"]}
        )
        requested = self.agent.request(b"POST", self.url.encode("ascii"), headers, FileBodyProducer(BytesIO(body)))

        def answered(response: Any) -> dict[bytes, list[bytes]]:
            response.deliverBody(_Discard())
            return {name.lower(): list(values) for name, values in response.headers.getAllRawHeaders()}

        requested.addCallback(answered)
        requested.addTimeout(self.timeout, self.clock)
        return requested

    def add(self, request: AccessRequest, realm: str) -> Verdict | Deferred:
        """
        Ask whether a listener may listen.

        @param request: the listener's request.
        @param realm: the mount, for messages.
        @return: a L{Refusal} at once when too many POSTs are in flight;
            else a L{Deferred} firing with an L{Admission} or a L{Refusal}.
            Cancelling it cancels the POST.
        """
        if not self.limiter.acquire():
            self._log.warn("too many listener authentications in flight ({limit}); refusing one", limit=self.limiter.limit)
            return Refusal(503, AUTH_UNAVAILABLE, "too many listeners are being authenticated: try again")
        user, password = request.credentials or ("", "")
        body = listenerAddForm(
            request.server, request.port, request.client, request.mount, user, password, request.address, request.userAgent
        )
        try:
            posted = self._post(body)
        except Exception:
            self.limiter.release()
            self._log.failure("listener authentication at {url} could not start", url=self.url)
            return self._failed(request)

        def done(result: Any) -> Any:
            self.limiter.release()
            return result

        def judged(headers: dict[bytes, list[bytes]]) -> Verdict:
            answer = readAuthAnswer(headers)
            if not answer.admitted:
                return Refusal(403, AUTH_REFUSED, answer.message or "the authentication server refused this listener")
            return self._admission(request, answer)

        def failed(reason: Failure) -> Verdict | Failure:
            if reason.check(CancelledError):
                # The listener hung up (a timeout arrives as TimeoutError).
                return reason
            self._log.warn(
                "listener authentication at {url} failed: {error}", url=self.url, error=reason.getErrorMessage()
            )
            return self._failed(request)

        posted.addBoth(done)
        posted.addCallbacks(judged, failed)
        return posted

    def _failed(self, request: AccessRequest) -> Verdict:
        """
        @param request: the listener's request.
        @return: what L{onError} says: an admission, or a 503 refusal.
        """
        if self.onError == ADMIT:
            return self._admission(request, AuthAnswer(True))
        return Refusal(503, AUTH_UNAVAILABLE, "the authentication server cannot be reached: try again later")

    def _admission(self, request: AccessRequest, answer: AuthAnswer) -> Admission:
        """
        @param request: the listener's request.
        @param answer: what the authentication server said.
        @return: an admission ending at the answer's time limit, whose
            leaving sends C{listener_remove}.
        """
        endAt = self.clock.seconds() + answer.timeLimit if answer.timeLimit is not None else None
        return Admission(endAt, AUTH_TIME_LIMIT, lambda seconds: self.remove(request, seconds))

    def remove(self, request: AccessRequest, seconds: float) -> None:
        """
        Tell the authentication server a listener left: fire and forget,
        through a bounded queue.

        @param request: the listener's request.
        @param seconds: how long it listened.
        """
        user, password = request.credentials or ("", "")
        body = listenerRemoveForm(
            request.server, request.port, request.client, request.mount, user, password, request.address, seconds
        )
        if len(self._removes) >= MAX_REMOVE_QUEUE:
            self._removes.popleft()
            self.dropped += 1
        self._removes.append(body)
        self._sendRemoves()

    def _sendRemoves(self) -> None:
        """
        Send queued C{listener_remove} POSTs, L{REMOVE_CONCURRENCY} at a time.
        """
        while self._removes and self._removing < REMOVE_CONCURRENCY:
            body = self._removes.popleft()
            self._removing += 1
            try:
                posted = self._post(body)
            except Exception:
                posted = Deferred()
                posted.errback(Failure())

            def sent(result: Any) -> None:
                self._removing -= 1
                if isinstance(result, Failure):
                    self._log.info("listener_remove at {url} failed: {error}", url=self.url, error=result.getErrorMessage())
                self._sendRemoves()

            posted.addBoth(sent)


@implementer(IListenerAccess)
@dataclass(eq=False)
class MountAccess:
    """
    The checks one mount's listeners pass; see the module's docstring for
    their order.

    @ivar mount: the mount path.
    @ivar clock: the radio's clock: its C{seconds()} reads as the wall
        clock (tokens expire in seconds since the epoch).
    @ivar rules: the address lists.
    @ivar bans: the user-agent bans.
    @ivar tokenSecret: the secret of signed listen URLs, or L{None}.
    @ivar tokenBindsAddress: whether tokens are signed for one address.
    @ivar passwords: the htpasswd L{PasswordFile}, or L{None}.
    @ivar authenticator: the L{URLAuthenticator}, or L{None}.
    @ivar logins: the radio's login throttle for htpasswd logins.
    """

    _log = Logger()

    mount: str
    clock: IReactorTime
    rules: AddressRules = field(default_factory=AddressRules)
    bans: AgentBans = field(default_factory=AgentBans)
    tokenSecret: str | None = None
    tokenBindsAddress: bool = False
    passwords: PasswordFile | None = None
    authenticator: URLAuthenticator | None = None
    logins: ILoginThrottle | None = None

    def screen(self, request: AccessRequest) -> Refusal | None:
        """
        The checks made before any other work: address, then user agent.

        @param request: the request.
        @return: a 403 L{Refusal}, or L{None} to go on.
        """
        if not self.rules.permits(request.address):
            return Refusal(403, ADDRESS_DENIED, "this address may not listen here")
        if self.bans.banned(request.userAgent):
            return Refusal(403, AGENT_BANNED, "this player may not listen here")
        return None

    def _credentials(self, request: AccessRequest) -> Verdict:
        """
        The token, then the htpasswd login.

        @param request: the request.
        @return: a L{Refusal}, or an L{Admission} ending at the token's
            expiry.
        """
        endAt = None
        if self.tokenSecret is not None:
            now = self.clock.seconds()
            bound = request.address if self.tokenBindsAddress else None
            verdict = checkToken(self.tokenSecret, request.mount, request.query, now, bound)
            if verdict is TokenCheck.EXPIRED:
                return Refusal(403, TOKEN_EXPIRED, "this listen link has expired")
            if verdict is not TokenCheck.VALID:
                return Refusal(403, TOKEN_INVALID, "this mount needs a valid signed listen link")
            endAt = float(tokenExpiry(request.query) or now)
        if self.passwords is not None:
            refusal = self._login(request)
            if refusal is not None:
                return refusal
        return Admission(endAt, TOKEN_EXPIRED if endAt is not None else "")

    def _login(self, request: AccessRequest) -> Refusal | None:
        """
        Check Basic credentials against the htpasswd file, through the
        login throttle.

        @param request: the request.
        @return: a 401 (or, when the address must wait, 429) L{Refusal}, or
            L{None}.
        """
        assert self.passwords is not None
        if request.credentials is None:
            return Refusal(401, LOGIN_REQUIRED, "this mount needs a user name and password", realm=self.mount)
        wait = self.logins.wait(request.address) if self.logins is not None else 0.0
        if wait:
            return Refusal(429, LOGIN_REQUIRED, f"too many failed logins from this address: try again in {wait:.0f} s")
        user, password = request.credentials
        if not self.passwords.verify(user, password):
            self._log.warn("failed listener login on {mount} as {user!r}", mount=self.mount, user=user[:60])
            if self.logins is not None:
                self.logins.failed(request.address, f"listener {self.mount}")
            return Refusal(401, LOGIN_REQUIRED, "wrong user name or password", realm=self.mount)
        if self.logins is not None:
            self.logins.succeeded(request.address)
        return None

    def check(self, request: AccessRequest) -> Verdict | Deferred:
        """
        The checks after L{screen}: token, htpasswd, URL authentication.

        @param request: the request (already screened).
        @return: an L{Admission} or L{Refusal}, or a L{Deferred} firing with
            one while the authentication server is asked.
        """
        verdict = self._credentials(request)
        if isinstance(verdict, Refusal) or self.authenticator is None:
            return verdict
        asked = self.authenticator.add(request, self.mount)
        if not isinstance(asked, Deferred):
            return asked
        return asked.addCallback(_earliest, verdict)

    def checkWeb(self, request: AccessRequest) -> Refusal | None:
        """
        Every check but URL authentication, for HLS playlists and segments.

        @param request: the request.
        @return: a L{Refusal}, or L{None} to serve it.
        """
        refusal = self.screen(request)
        if refusal is not None:
            return refusal
        verdict = self._credentials(request)
        return verdict if isinstance(verdict, Refusal) else None


def _earliest(verdict: Verdict, before: Admission) -> Verdict:
    """
    Combine the admission of the token with that of URL authentication.

    @param verdict: URL authentication's verdict.
    @param before: the token's admission.
    @return: the refusal, or an admission ending at the earlier end.
    """
    if isinstance(verdict, Refusal) or before.endAt is None:
        return verdict
    if verdict.endAt is not None and verdict.endAt < before.endAt:
        return verdict
    return Admission(before.endAt, before.endReason, verdict.onLeave)


class AccessPolicy:
    """
    Every mount's checks: the listener factory's and the web site's one
    place to ask.

    @ivar mounts: mount path (L{str}) to its L{MountAccess}.
    @ivar default: the checks of a mount without its own (a mount added
        while running), or L{None} for none.
    @ivar limiter: the server's L{AuthLimiter}.
    """

    def __init__(
        self,
        mounts: Mapping[str, MountAccess],
        default: MountAccess | None = None,
        limiter: AuthLimiter | None = None,
    ) -> None:
        self.mounts = dict(mounts)
        self.default = default
        self.limiter = limiter if limiter is not None else AuthLimiter()
        self._clients = itertools.count(1)

    def forMount(self, mount: bytes | str) -> MountAccess | None:
        """
        @param mount: a mount path.
        @return: its checks, or L{None} when it is open to everyone.
        """
        if isinstance(mount, bytes):
            mount = mount.decode("ascii", "replace")
        return self.mounts.get(mount, self.default)

    def nextClient(self) -> int:
        """
        @return: a new connection number for URL authentication's C{client}.
        """
        return next(self._clients)


def hashForFile(password: str, rounds: int = 100_000) -> str:
    """
    Hash a password for an htpasswd line, with a random salt.

    @param password: the password.
    @param rounds: PBKDF2 iterations.
    @return: C{$pbkdf2-sha256$…}.
    """
    from txradio.wire.access import hashPassword

    return hashPassword(password, os.urandom(16), rounds)


__all__ = [
    "AccessPolicy",
    "AccessRequest",
    "Admission",
    "AuthLimiter",
    "MountAccess",
    "PasswordFile",
    "Refusal",
    "URLAuthenticator",
    "hashForFile",
]
