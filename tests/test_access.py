"""
Tests for listener access control: the pure parts (L{txradio.wire.access}),
the checks (L{txradio.net.access}) and the listener port's admission.
"""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import parse_qs

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.defer import Deferred, TimeoutError
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.http_headers import Headers

from zope.interface.verify import verifyObject

from txradio.interfaces import IListenerAccess
from txradio.net.access import (
    AccessPolicy,
    AccessRequest,
    Admission,
    AuthLimiter,
    MountAccess,
    PasswordFile,
    Refusal,
    URLAuthenticator,
)
from txradio.net.listenerphases import TRANSITIONS, Phase
from txradio.net.listenerport import ListenerFactory
from txradio.net.throttle import LoginThrottle
from txradio.stream.events import ListenerLeft, ListenerRefused, reasonLabel
from txradio.stream.station import Station
from txradio.testing import FakeFrameSource
from txradio.wire.access import (
    MAX_AGENT_PATTERN,
    AddressRules,
    AgentBans,
    TokenCheck,
    checkToken,
    hashPassword,
    listenerAddForm,
    listenerRemoveForm,
    parseHtpasswd,
    parseNetworks,
    readAuthAnswer,
    signedQuery,
    signToken,
    verifyPassword,
)

SECRET = "s3cret"
NOW = 1_700_000_000.0


def sha(password: str) -> str:
    return "{SHA}" + base64.b64encode(hashlib.sha1(password.encode()).digest()).decode()


class AddressRulesTests(SynchronousTestCase):
    """
    Allow and deny lists of networks.
    """

    def test_denyWins(self) -> None:
        """
        An address in both lists is denied.
        """
        rules = AddressRules(parseNetworks(["10.0.0.0/8"]), parseNetworks(["10.1.0.0/16"]))
        self.assertTrue(rules.permits("10.2.0.1"))
        self.assertFalse(rules.permits("10.1.0.1"))
        self.assertFalse(rules.permits("192.0.2.1"))

    def test_ipv4Mapped(self) -> None:
        """
        An IPv4-mapped IPv6 address is matched as its IPv4 address.
        """
        rules = AddressRules(deny=parseNetworks(["127.0.0.0/8"]))
        self.assertFalse(rules.permits("::ffff:127.0.0.1"))
        self.assertTrue(rules.permits("::1"))

    def test_ipv6(self) -> None:
        """
        IPv6 networks match IPv6 addresses, zones dropped.
        """
        rules = AddressRules(allow=parseNetworks(["2001:db8::/32"]))
        self.assertTrue(rules.permits("2001:db8::7%eth0"))
        self.assertFalse(rules.permits("2001:db9::7"))
        self.assertFalse(rules.permits("192.0.2.1"))

    def test_notIP(self) -> None:
        """
        A peer that is not IP passes only when there is no allow list.
        """
        self.assertTrue(AddressRules(deny=parseNetworks(["0.0.0.0/0"])).permits("/tmp/socket"))
        self.assertFalse(AddressRules(allow=parseNetworks(["0.0.0.0/0"])).permits("/tmp/socket"))

    def test_badNetwork(self) -> None:
        """
        Text that is no network is refused, named.
        """
        error = self.assertRaises(ValueError, parseNetworks, ["10.0.0.0/33"])
        self.assertIn("10.0.0.0/33", str(error))


class AgentBansTests(SynchronousTestCase):
    """
    User-agent bans.
    """

    def test_substringsAndRegexes(self) -> None:
        """
        Substrings and C{re:} patterns match case-insensitively.
        """
        bans = AgentBans(("curl", "re:^bad[a-z]*bot"))
        self.assertTrue(bans.banned("CURL/8.0"))
        self.assertTrue(bans.banned("BadSpiderBot/1"))
        self.assertFalse(bans.banned("mpg123/1.31"))

    def test_bounds(self) -> None:
        """
        A ban longer than L{MAX_AGENT_PATTERN}, an empty one or a bad
        regular expression is refused.
        """
        self.assertRaises(ValueError, AgentBans, ("x" * (MAX_AGENT_PATTERN + 1),))
        self.assertRaises(ValueError, AgentBans, ("",))
        self.assertRaises(ValueError, AgentBans, ("re:(",))


class TokenTests(SynchronousTestCase):
    """
    Signed listen URLs.
    """

    def test_message(self) -> None:
        """
        The token is HMAC-SHA256 of C{mount\\nexpires[\\naddress]}.
        """
        import hmac

        self.assertEqual(signToken(SECRET, "/m", 5), hmac.new(b"s3cret", b"/m\n5", hashlib.sha256).hexdigest())
        self.assertEqual(
            signToken(SECRET, "/m", 5, "192.0.2.7"), hmac.new(b"s3cret", b"/m\n5\n192.0.2.7", hashlib.sha256).hexdigest()
        )

    def test_checks(self) -> None:
        """
        A good token is valid until it expires; a forged, missing or
        malformed one is refused, and one for another mount is bad.
        """
        query = signedQuery(SECRET, "/m", int(NOW) + 60).encode()
        self.assertIs(checkToken(SECRET, "/m", query, NOW), TokenCheck.VALID)
        self.assertIs(checkToken(SECRET, "/m", query, NOW + 60), TokenCheck.EXPIRED)
        self.assertIs(checkToken(SECRET, "/other", query, NOW), TokenCheck.BAD)
        self.assertIs(checkToken("other", "/m", query, NOW), TokenCheck.BAD)
        self.assertIs(checkToken(SECRET, "/m", b"", NOW), TokenCheck.MISSING)
        self.assertIs(checkToken(SECRET, "/m", b"expires=x&token=y", NOW), TokenCheck.MALFORMED)

    def test_boundAddress(self) -> None:
        """
        A token signed for one address is bad from another.
        """
        query = signedQuery(SECRET, "/m", int(NOW) + 60, "192.0.2.7").encode()
        self.assertIs(checkToken(SECRET, "/m", query, NOW, "192.0.2.7"), TokenCheck.VALID)
        self.assertIs(checkToken(SECRET, "/m", query, NOW, "192.0.2.8"), TokenCheck.BAD)


class PasswordTests(SynchronousTestCase):
    """
    htpasswd files.
    """

    def test_formats(self) -> None:
        """
        C{{SHA}} and PBKDF2 hashes verify; other formats are refused per line.
        """
        pbkdf2 = hashPassword("pw2", b"0123456789abcdef", 1000)
        users, problems = parseHtpasswd(f"# users\na:{sha('pw1')}\nb:{pbkdf2}\nc:$2y$05$abc\nnocolon\n\n")
        self.assertEqual(sorted(users), ["a", "b"])
        self.assertEqual(len(problems), 2)
        self.assertNotIn("$2y$05$abc", " ".join(problems))
        self.assertTrue(verifyPassword("pw1", users["a"]))
        self.assertFalse(verifyPassword("pw2", users["a"]))
        self.assertTrue(verifyPassword("pw2", users["b"]))
        self.assertFalse(verifyPassword("pw1", users["b"]))

    def test_unknownUser(self) -> None:
        """
        An unknown user never matches.
        """
        self.assertFalse(PasswordFile("-", {"a": sha("x")}).verify("b", "x"))

    def test_sizeBound(self) -> None:
        """
        A file larger than the bound is refused.
        """
        path = self.mktemp()
        with open(path, "w") as f:
            f.write("a:" + sha("x") + "\n" + "#" * (1 << 20))
        self.assertRaises(OSError, PasswordFile, path)


class FormTests(SynchronousTestCase):
    """
    Icecast's URL authentication forms and answers.
    """

    def test_add(self) -> None:
        """
        C{listener_add} carries Icecast's field names.
        """
        form = parse_qs(listenerAddForm("radio", 8000, 7, "/m", "u", "p&q", "192.0.2.7", "mpg123").decode())
        self.assertEqual(
            form,
            {
                "action": ["listener_add"], "server": ["radio"], "port": ["8000"], "client": ["7"], "mount": ["/m"],
                "user": ["u"], "pass": ["p&q"], "ip": ["192.0.2.7"], "agent": ["mpg123"],
            },
        )

    def test_remove(self) -> None:
        """
        C{listener_remove} carries the duration in whole seconds.
        """
        form = parse_qs(listenerRemoveForm("radio", 8000, 7, "/m", "", "", "192.0.2.7", 61.9).decode())
        self.assertEqual((form["action"], form["duration"]), (["listener_remove"], ["61"]))

    def test_answer(self) -> None:
        """
        C{icecast-auth-user: 1} admits; the message is cleaned and the
        time limit read.
        """
        answer = readAuthAnswer(
            {b"Icecast-Auth-User": [b"1"], b"icecast-auth-message": [b"hi\x07 there"], b"icecast-auth-timelimit": [b"30"]}
        )
        self.assertEqual((answer.admitted, answer.message, answer.timeLimit), (True, "hi there", 30))
        self.assertFalse(readAuthAnswer({b"icecast-auth-user": [b"0"]}).admitted)
        self.assertFalse(readAuthAnswer({}).admitted)
        self.assertIsNone(readAuthAnswer({b"icecast-auth-user": [b"1"], b"icecast-auth-timelimit": [b"x"]}).timeLimit)


class FakeResponse:
    """
    An agent's response: headers, and a body that is never read.
    """

    def __init__(self, headers: dict[bytes, list[bytes]]) -> None:
        self.code = 200
        self.headers = Headers(headers)
        self.delivered = []

    def deliverBody(self, protocol) -> None:
        self.delivered.append(protocol)


class FakeAgent:
    """
    Records requests; each answers when the test says.
    """

    def __init__(self) -> None:
        self.requests: list[tuple[bytes, bytes, bytes, Deferred]] = []
        self.cancelled = 0

    def request(self, method, uri, headers=None, bodyProducer=None):
        body = bodyProducer._inputFile.read() if bodyProducer is not None else b""

        def cancel(d):
            self.cancelled += 1

        answer = Deferred(cancel)
        self.requests.append((method, uri, body, answer))
        return answer

    def forms(self) -> list[dict[str, list[str]]]:
        return [parse_qs(body.decode()) for _, _, body, _ in self.requests]


def request(**kwargs) -> AccessRequest:
    values = {"mount": "/m", "address": "192.0.2.7", "userAgent": "mpg123/1.31", "server": "radio", "port": 8000}
    values.update(kwargs)
    return AccessRequest(**values)


class MountAccessTests(SynchronousTestCase):
    """
    The checks of one mount, alone.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(NOW)
        self.agent = FakeAgent()

    def access(self, **kwargs) -> MountAccess:
        return MountAccess("/m", self.clock, **kwargs)

    def test_interface(self) -> None:
        """
        L{MountAccess} provides L{IListenerAccess}.
        """
        verifyObject(IListenerAccess, self.access())

    def test_screen(self) -> None:
        """
        The address is checked before the user agent, each with its reason.
        """
        access = self.access(rules=AddressRules(deny=parseNetworks(["192.0.2.0/24"])), bans=AgentBans(("curl",)))
        self.assertEqual(access.screen(request(userAgent="curl")).reason, "address denied")
        self.assertEqual(access.screen(request(address="198.51.100.1", userAgent="curl")).reason, "user agent banned")
        self.assertIsNone(access.screen(request(address="198.51.100.1")))

    def test_token(self) -> None:
        """
        A valid token admits until its expiry; a missing one is refused.
        """
        access = self.access(tokenSecret=SECRET)
        query = signedQuery(SECRET, "/m", int(NOW) + 30).encode()
        verdict = access.check(request(query=query))
        self.assertEqual((verdict.endAt, verdict.endReason), (NOW + 30, "token expired"))
        refusal = access.check(request())
        self.assertEqual((refusal.status, reasonLabel(refusal.reason)), (403, "bad_token"))
        self.clock.advance(31)
        self.assertEqual(reasonLabel(access.check(request(query=query)).reason), "token_expired")

    def test_htpasswd(self) -> None:
        """
        Missing or wrong credentials get a 401 with a challenge; failures go
        through the login throttle, which slows the address down.
        """
        logins = LoginThrottle(self.clock, freeFailures=1)
        access = self.access(passwords=PasswordFile("-", {"u": sha("pw")}), logins=logins)
        missing = access.check(request())
        self.assertEqual((missing.status, missing.realm), (401, "/m"))
        self.assertIn(b'WWW-Authenticate: Basic realm="/m"\r\n', missing.response())
        self.assertIsInstance(access.check(request(credentials=("u", "pw"))), Admission)
        self.assertEqual(access.check(request(credentials=("u", "no"))).status, 401)
        self.assertEqual(access.check(request(credentials=("u", "no"))).status, 401)
        self.assertEqual(access.check(request(credentials=("u", "pw"))).status, 429)

    def test_urlAuthAdmits(self) -> None:
        """
        URL authentication POSTs C{listener_add}; C{icecast-auth-user: 1}
        admits, with the time limit; leaving POSTs C{listener_remove}.
        """
        auth = URLAuthenticator("http://auth.example/", self.clock, agent=self.agent)
        access = self.access(authenticator=auth)
        checking = access.check(request(credentials=("u", "p"), client=9))
        self.assertNoResult(checking)
        self.assertEqual(auth.limiter.pending, 1)
        form = self.agent.forms()[0]
        self.assertEqual((form["action"], form["client"], form["user"], form["pass"]), (["listener_add"], ["9"], ["u"], ["p"]))
        self.agent.requests[0][3].callback(FakeResponse({b"icecast-auth-user": [b"1"], b"icecast-auth-timelimit": [b"60"]}))
        admission = self.successResultOf(checking)
        self.assertEqual((admission.endAt, admission.endReason), (NOW + 60, "auth time limit"))
        self.assertEqual(auth.limiter.pending, 0)
        admission.left(42.5)
        self.assertEqual((self.agent.forms()[1]["action"], self.agent.forms()[1]["duration"]), (["listener_remove"], ["42"]))

    def test_urlAuthRefuses(self) -> None:
        """
        Any other answer refuses with 403, with the server's message.
        """
        access = self.access(authenticator=URLAuthenticator("http://a/", self.clock, agent=self.agent))
        checking = access.check(request())
        self.agent.requests[0][3].callback(FakeResponse({b"icecast-auth-message": [b"no ticket"]}))
        refusal = self.successResultOf(checking)
        self.assertEqual((refusal.status, refusal.message, reasonLabel(refusal.reason)), (403, "no ticket", "auth_refused"))

    def test_urlAuthTimeout(self) -> None:
        """
        A POST that takes longer than the timeout is cancelled and refuses
        with 503 by default, or admits with C{onError="admit"}.
        """
        for onError, expected in (("refuse", Refusal), ("admit", Admission)):
            agent = FakeAgent()
            auth = URLAuthenticator("http://a/", self.clock, agent=agent, timeout=5, onError=onError)
            checking = self.access(authenticator=auth).check(request())
            self.clock.advance(5)
            self.assertEqual(agent.cancelled, 1)
            self.assertIsInstance(self.successResultOf(checking), expected)
            self.assertEqual(auth.limiter.pending, 0)

    def test_urlAuthBounded(self) -> None:
        """
        Beyond the limit of POSTs in flight, a listener is refused at once
        with 503.
        """
        auth = URLAuthenticator("http://a/", self.clock, agent=self.agent, limiter=AuthLimiter(1))
        access = self.access(authenticator=auth)
        access.check(request())
        refusal = access.check(request())
        self.assertEqual((refusal.status, reasonLabel(refusal.reason)), (503, "auth_unavailable"))
        self.assertEqual(len(self.agent.requests), 1)

    def test_tokenAndAuthEarliestEnd(self) -> None:
        """
        With a token and URL authentication, the session ends at the
        earlier of the token's expiry and the time limit.
        """
        auth = URLAuthenticator("http://a/", self.clock, agent=self.agent)
        access = self.access(tokenSecret=SECRET, authenticator=auth)
        query = signedQuery(SECRET, "/m", int(NOW) + 30).encode()
        checking = access.check(request(query=query))
        self.agent.requests[0][3].callback(FakeResponse({b"icecast-auth-user": [b"1"], b"icecast-auth-timelimit": [b"600"]}))
        admission = self.successResultOf(checking)
        self.assertEqual((admission.endAt, admission.endReason), (NOW + 30, "token expired"))
        self.assertIsNotNone(admission.onLeave)

    def test_order(self) -> None:
        """
        The token is checked before the password, and both before the
        authentication server is asked.
        """
        access = self.access(
            tokenSecret=SECRET,
            passwords=PasswordFile("-", {"u": sha("pw")}),
            authenticator=URLAuthenticator("http://a/", self.clock, agent=self.agent),
        )
        self.assertEqual(reasonLabel(access.check(request(credentials=("u", "no"))).reason), "bad_token")
        query = signedQuery(SECRET, "/m", int(NOW) + 30).encode()
        self.assertEqual(reasonLabel(access.check(request(query=query)).reason), "login_required")
        self.assertEqual(self.agent.requests, [])

    def test_checkWeb(self) -> None:
        """
        The web check makes every check but URL authentication.
        """
        access = self.access(
            bans=AgentBans(("curl",)),
            tokenSecret=SECRET,
            authenticator=URLAuthenticator("http://a/", self.clock, agent=self.agent),
        )
        self.assertEqual(reasonLabel(access.checkWeb(request(userAgent="curl")).reason), "agent_banned")
        self.assertEqual(reasonLabel(access.checkWeb(request()).reason), "bad_token")
        self.assertIsNone(access.checkWeb(request(query=signedQuery(SECRET, "/m", int(NOW) + 9).encode())))
        self.assertEqual(self.agent.requests, [])

    def test_removeQueueBounded(self) -> None:
        """
        C{listener_remove} POSTs are sent a few at a time; a full queue drops
        the oldest.
        """
        from txradio.net import access as module

        self.patch(module, "MAX_REMOVE_QUEUE", 2)
        auth = URLAuthenticator("http://a/", self.clock, agent=self.agent)
        for n in range(module.REMOVE_CONCURRENCY + 3):
            auth.remove(request(client=n), 1)
        self.assertEqual(len(self.agent.requests), module.REMOVE_CONCURRENCY)
        self.assertEqual(auth.dropped, 1)
        self.agent.requests[0][3].errback(TimeoutError())
        self.assertEqual(len(self.agent.requests), module.REMOVE_CONCURRENCY + 1)


MPG123 = b"GET /m%s HTTP/1.0\r\nHost: radio.example:8000\r\nUser-Agent: mpg123/1.31.2\r\n%s\r\n"


class AdmissionTests(SynchronousTestCase):
    """
    The listener port asks the access checks at admission.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(NOW)
        self.station = Station(FakeFrameSource(), mount="/m", clock=self.clock)
        self.station.startService()
        self.addCleanup(self.station.stopService)
        self.factory = ListenerFactory({self.station.mount: self.station}, clock=self.clock)
        self.events: list = []
        self.station.events.subscribe(self.events.append)
        self.agent = FakeAgent()
        self.clock.pump([0.5] * 4)

    def protect(self, **kwargs) -> MountAccess:
        access = MountAccess("/m", self.clock, **kwargs)
        self.factory.access = AccessPolicy({"/m": access})
        return access

    def connect(self, data: bytes, host: str = "192.0.2.7"):
        address = (IPv6Address if ":" in host else IPv4Address)("TCP", host, 5555)
        protocol = self.factory.buildProtocol(address)
        transport = StringTransport(peerAddress=address, hostAddress=IPv4Address("TCP", "127.0.0.1", 8000))
        protocol.makeConnection(transport)
        protocol.dataReceived(data)
        return protocol, transport

    def refusals(self) -> list[tuple[str, int]]:
        return [(reasonLabel(e.reason), e.status) for e in self.events if isinstance(e, ListenerRefused)]

    def test_transitions(self) -> None:
        """
        A check in flight may end in a stream, a refusal or a hang-up.
        """
        self.assertEqual(TRANSITIONS[Phase.AUTHENTICATING], {Phase.STREAMING, Phase.CLOSING, Phase.CLOSED})
        self.assertIn(Phase.AUTHENTICATING, TRANSITIONS[Phase.HEAD])

    def test_deniedFirst(self) -> None:
        """
        A denied address gets 403 even for C{OPTIONS}, with a refusal event.
        """
        self.protect(rules=AddressRules(deny=parseNetworks(["::ffff:192.0.2.0/120", "192.0.2.0/24"])))
        protocol, transport = self.connect(b"OPTIONS /m HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertTrue(transport.value().startswith(b"HTTP/1.0 403 "))
        self.assertIs(protocol.phase, Phase.CLOSING)
        self.assertEqual(self.refusals(), [("address_denied", 403)])
        _, transport = self.connect(MPG123 % (b"", b""), host="::ffff:192.0.2.9")
        self.assertTrue(transport.value().startswith(b"HTTP/1.0 403 "))

    def test_otherMountsOpen(self) -> None:
        """
        A mount without checks of its own (and no default) is open.
        """
        self.factory.access = AccessPolicy({"/other": MountAccess("/other", self.clock, bans=AgentBans(("mpg123",)))})
        protocol, transport = self.connect(MPG123 % (b"", b""))
        self.assertIs(protocol.phase, Phase.STREAMING)

    def test_htpasswd(self) -> None:
        """
        Without credentials: 401 and a challenge; with them: the stream.
        """
        self.protect(passwords=PasswordFile("-", {"u": sha("pw")}), logins=self.factory.logins)
        _, transport = self.connect(MPG123 % (b"", b""))
        self.assertIn(b"401", transport.value().split(b"\r\n")[0])
        self.assertIn(b'WWW-Authenticate: Basic realm="/m"', transport.value())
        good = b"Authorization: Basic " + base64.b64encode(b"u:pw") + b"\r\n"
        protocol, transport = self.connect(MPG123 % (b"", good))
        self.assertIs(protocol.phase, Phase.STREAMING)
        self.assertEqual(self.refusals(), [("login_required", 401)])

    def test_tokenExpiryDisconnects(self) -> None:
        """
        A listener whose token expires while listening is dropped then,
        with one delayed call, and leaves with the reason C{token_expired}.
        """
        self.protect(tokenSecret=SECRET)
        query = b"?" + signedQuery(SECRET, "/m", int(self.clock.seconds()) + 10).encode()
        before = len(self.clock.getDelayedCalls())
        protocol, transport = self.connect(MPG123 % (query, b""))
        self.assertIs(protocol.phase, Phase.STREAMING)
        self.assertEqual(len(self.clock.getDelayedCalls()), before + 1)
        self.clock.advance(9)
        self.assertFalse(transport.disconnected)
        self.clock.advance(1)
        self.assertTrue(transport.disconnected)
        protocol.connectionLost(None)
        left = [e for e in self.events if isinstance(e, ListenerLeft)]
        self.assertEqual([reasonLabel(e.reason) for e in left], ["token_expired"])

    def test_leavingCancelsExpiry(self) -> None:
        """
        A listener leaving before its token expires cancels the call.
        """
        self.protect(tokenSecret=SECRET)
        query = b"?" + signedQuery(SECRET, "/m", int(self.clock.seconds()) + 10).encode()
        before = len(self.clock.getDelayedCalls())
        protocol, transport = self.connect(MPG123 % (query, b""))
        protocol.connectionLost(None)
        self.assertEqual(len(self.clock.getDelayedCalls()), before)

    def test_badToken(self) -> None:
        """
        A forged token gets 403.
        """
        self.protect(tokenSecret=SECRET)
        query = b"?" + signedQuery("forged", "/m", int(self.clock.seconds()) + 10).encode()
        _, transport = self.connect(MPG123 % (query, b""))
        self.assertTrue(transport.value().startswith(b"HTTP/1.0 403 "))
        self.assertEqual(self.refusals(), [("bad_token", 403)])

    def authenticated(self):
        auth = URLAuthenticator("http://auth.example/", self.clock, agent=self.agent)
        self.protect(authenticator=auth)
        return auth

    def test_authInFlight(self) -> None:
        """
        While the authentication server is asked, the listener waits in
        C{AUTHENTICATING} and gets no audio; its admission starts the
        stream; its leaving POSTs C{listener_remove} with the duration.
        """
        self.authenticated()
        protocol, transport = self.connect(MPG123 % (b"", b""))
        self.assertIs(protocol.phase, Phase.AUTHENTICATING)
        self.clock.pump([0.5] * 4)
        self.assertEqual(transport.value(), b"")
        form = self.agent.forms()[0]
        self.assertEqual((form["server"], form["port"], form["ip"], form["mount"]), (["radio.example"], ["8000"], ["192.0.2.7"], ["/m"]))
        self.agent.requests[0][3].callback(FakeResponse({b"icecast-auth-user": [b"1"]}))
        self.assertIs(protocol.phase, Phase.STREAMING)
        self.assertTrue(transport.value().startswith(b"HTTP/1.0 200 OK"))
        self.clock.pump([1.0] * 5)
        protocol.connectionLost(None)
        form = self.agent.forms()[1]
        self.assertEqual((form["action"], form["duration"]), (["listener_remove"], ["5"]))

    def test_authRefused(self) -> None:
        """
        A refusal from the authentication server answers 403 with its message.
        """
        self.authenticated()
        protocol, transport = self.connect(MPG123 % (b"", b""))
        self.agent.requests[0][3].callback(FakeResponse({b"icecast-auth-message": [b"subscribe first"]}))
        self.assertTrue(transport.value().startswith(b"HTTP/1.0 403 "))
        self.assertTrue(transport.value().endswith(b"subscribe first\n"))
        self.assertEqual(self.refusals(), [("auth_refused", 403)])

    def test_hangUpWhileAuthenticating(self) -> None:
        """
        A client that hangs up while its check is in flight cancels the POST
        and frees its slot; nothing is written or left pending.
        """
        auth = self.authenticated()
        protocol, transport = self.connect(MPG123 % (b"", b""))
        protocol.connectionLost(None)
        self.assertEqual((self.agent.cancelled, auth.limiter.pending), (1, 0))
        self.assertIs(protocol.phase, Phase.CLOSED)
        self.assertEqual(transport.value(), b"")
        self.assertEqual(self.station.listenerCount, 0)

    def test_lateAnswerAfterHangUp(self) -> None:
        """
        An answer arriving after the client left (a POST that cannot be
        cancelled) is ignored, and an admission is released at once.
        """
        auth = self.authenticated()
        self.agent.request = lambda *a, **k: Deferred()  # no canceller
        protocol, transport = self.connect(MPG123 % (b"", b""))
        protocol.connectionLost(None)
        self.assertEqual(auth.limiter.pending, 0)
        self.assertEqual(self.station.listenerCount, 0)

    def test_authHead(self) -> None:
        """
        A C{HEAD} admitted by the authentication server is answered and
        its session closed at once (C{listener_remove}, duration 0).
        """
        self.authenticated()
        _, transport = self.connect(MPG123.replace(b"GET", b"HEAD") % (b"", b""))
        self.agent.requests[0][3].callback(FakeResponse({b"icecast-auth-user": [b"1"]}))
        self.assertTrue(transport.value().startswith(b"HTTP/1.0 200 OK"))
        self.assertEqual(self.agent.forms()[1]["duration"], ["0"])

    def test_authTimeLimit(self) -> None:
        """
        C{icecast-auth-timelimit} ends the session after that long.
        """
        self.authenticated()
        protocol, transport = self.connect(MPG123 % (b"", b""))
        self.agent.requests[0][3].callback(FakeResponse({b"icecast-auth-user": [b"1"], b"icecast-auth-timelimit": [b"3"]}))
        self.clock.advance(3)
        self.assertTrue(transport.disconnected)
        protocol.connectionLost(None)
        left = [e for e in self.events if isinstance(e, ListenerLeft)]
        self.assertEqual([reasonLabel(e.reason) for e in left], ["auth_time_limit"])

    def test_busy(self) -> None:
        """
        Beyond the server's limit of checks in flight: 503 at once.
        """
        auth = self.authenticated()
        auth.limiter.limit = 1
        self.connect(MPG123 % (b"", b""))
        _, transport = self.connect(MPG123 % (b"", b""))
        self.assertTrue(transport.value().startswith(b"HTTP/1.0 503 "))
        self.assertEqual(self.refusals(), [("auth_unavailable", 503)])


class CommandTests(SynchronousTestCase):
    """
    C{txradio sign-url} and C{txradio htpasswd}.
    """

    def test_signURL(self) -> None:
        """
        C{sign-url} prints a link whose token the mount accepts until it
        expires.
        """
        import io
        import time

        from txradio.__main__ import signURLCommand

        out = io.StringIO()
        self.patch(__import__("sys"), "stdout", out)
        self.assertEqual(signURLCommand(["/m", "--secret", SECRET, "--expires-in", "60", "--base", "http://r:8000/"]), 0)
        url = out.getvalue().strip()
        self.assertTrue(url.startswith("http://r:8000/m?expires="), url)
        query = url.partition("?")[2].encode()
        self.assertIs(checkToken(SECRET, "/m", query, time.time()), TokenCheck.VALID)
        self.assertIs(checkToken(SECRET, "/m", query, time.time() + 61), TokenCheck.EXPIRED)

    def test_htpasswd(self) -> None:
        """
        C{htpasswd} prints a line whose hash verifies the password read
        from standard input.
        """
        import io
        import sys

        from txradio.__main__ import htpasswdCommand

        out = io.StringIO()
        self.patch(sys, "stdout", out)
        self.patch(sys, "stdin", io.StringIO("hunter2\n"))
        self.assertEqual(htpasswdCommand(["alice"]), 0)
        users, problems = parseHtpasswd(out.getvalue())
        self.assertEqual(problems, [])
        self.assertTrue(verifyPassword("hunter2", users["alice"]))
