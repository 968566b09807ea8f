"""
Listener access control against real peers on 127.0.0.1: mpg123 plays a
signed link until it expires, logs in from an htpasswd file with its
C{http://user:pass@host/} form, and is admitted (or refused) by a local
Icecast-style authentication server; a denied address gets 403.

Each test is skipped when mpg123 is not installed, and every wait is bounded.
"""

from __future__ import annotations

import os
import time
from urllib.parse import parse_qs

from twisted.internet import reactor
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.trial.unittest import TestCase
from twisted.web.client import Agent, readBody
from twisted.web.http_headers import Headers
from twisted.web.resource import Resource
from twisted.web.server import Site

from integration._realpeers import CHECKOUT, requireProgram, run, withTimeout
from txradio.build import serviceFromConfig
from txradio.config import loadConfig
from txradio.wire.access import hashPassword, signURL

DEMO = os.path.join(CHECKOUT, "txradio", "demo")
SECRET = "integration-secret"


class AuthServer(Resource):
    """
    An Icecast-style authentication server: admits user C{good}, records
    every form it is POSTed.
    """

    isLeaf = True

    def __init__(self) -> None:
        Resource.__init__(self)
        self.forms: list[dict[str, list[str]]] = []
        self.waiters: list[tuple[str, Deferred]] = []

    def render_POST(self, request) -> bytes:
        form = parse_qs(request.content.read().decode())
        self.forms.append(form)
        if form.get("action") == ["listener_add"] and form.get("user") == ["good"]:
            request.setHeader(b"icecast-auth-user", b"1")
        else:
            request.setHeader(b"icecast-auth-message", b"not on the list")
        for action, waiter in list(self.waiters):
            if form.get("action") == [action]:
                self.waiters.remove((action, waiter))
                waiter.callback(form)
        return b"ok"

    def waitFor(self, action: str, seconds: float) -> Deferred:
        for form in self.forms:
            if form.get("action") == [action]:
                d = Deferred()
                d.callback(form)
                return d
        d = Deferred()
        self.waiters.append((action, d))
        return withTimeout(d, seconds, f"a {action} POST")


class AccessIntegrationTests(TestCase):
    """
    A radio on 127.0.0.1 with four protected mounts.
    """

    timeout = 90

    @inlineCallbacks
    def setUp(self):
        requireProgram("mpg123")
        self.auth = AuthServer()
        authPort = reactor.listenTCP(0, Site(self.auth), interface="127.0.0.1")
        self.addCleanup(authPort.stopListening)
        folder = os.path.abspath(self.mktemp())
        os.makedirs(folder)
        passwords = os.path.join(folder, "htpasswd")
        with open(passwords, "w") as f:
            f.write(f"listener:{hashPassword('secret', b'0123456789abcdef', 1000)}\n")
        path = os.path.join(folder, "radio.toml")
        with open(path, "w") as f:
            f.write(
                f"""
[server]
listen = ["tcp:0:interface=127.0.0.1"]

[[mount]]
path = "/private"
playlist = "{DEMO}"
token_secret = "{SECRET}"

[[mount]]
path = "/denied"
playlist = "{DEMO}"
deny_ip = ["127.0.0.0/8"]

[[mount]]
path = "/members"
playlist = "{DEMO}"
htpasswd = "{passwords}"

[[mount]]
path = "/auth"
playlist = "{DEMO}"
listener_auth_url = "http://127.0.0.1:{authPort.getHost().port}/auth"
"""
            )
        service = serviceFromConfig(loadConfig(path), reactor, encoder=None)
        service.startService()
        self.addCleanup(service.stopService)
        ports = yield withTimeout(service.whenListening(), 10, "the radio's port")
        self.port = ports[0].getHost().port

    def url(self, path: str, credentials: str = "") -> str:
        return f"http://{credentials}127.0.0.1:{self.port}{path}"

    @inlineCallbacks
    def status(self, path: str, headers: dict[bytes, list[bytes]] | None = None):
        """
        GET a URL and return its status and body, without reading a stream.
        """
        response = yield withTimeout(
            Agent(reactor).request(b"GET", self.url(path).encode(), Headers(headers or {})), 10, path
        )
        if response.code == 200:
            response._transport.stopProducing()
            return response.code, b""
        body = yield withTimeout(readBody(response), 10, path)
        return response.code, body

    @inlineCallbacks
    def test_tokenExpires(self):
        """
        mpg123 plays a signed link and is disconnected when it expires; an
        unsigned request gets 403.
        """
        expires = int(time.time()) + 5
        started = reactor.seconds()
        child = yield run(self, ["mpg123", "-q", "-w", "/dev/null", signURL(self.url(""), "/private", SECRET, expires)], 40)
        elapsed = reactor.seconds() - started
        self.assertGreater(elapsed, 3.0, child.describe())
        self.assertLess(elapsed, 20.0, child.describe())
        self.assertLess(abs(time.time() - expires), 6.0, child.describe())
        code, _ = yield self.status("/private")
        self.assertEqual(code, 403)

    @inlineCallbacks
    def test_deniedAddress(self):
        """
        A mount denying 127.0.0.0/8 answers 403; another mount streams.
        """
        code, body = yield self.status("/denied")
        self.assertEqual(code, 403, body)
        child = yield run(self, ["mpg123", "-q", "-n", "40", "-w", "/dev/null", self.url("/denied")], 30)
        self.assertNotEqual(child.exitCode, 0, child.describe())

    @inlineCallbacks
    def test_htpasswd(self):
        """
        mpg123 logs in with C{http://user:pass@host/mount} and decodes; no
        or wrong credentials get 401 with a challenge.
        """
        child = yield run(self, ["mpg123", "-q", "-n", "40", "-w", "/dev/null", self.url("/members", "listener:secret@")], 30)
        self.assertEqual(child.exitCode, 0, child.describe())
        code, _ = yield self.status("/members")
        self.assertEqual(code, 401)
        code, _ = yield self.status("/members", {b"authorization": [b"Basic bGlzdGVuZXI6d3Jvbmc="]})
        self.assertEqual(code, 401)

    @inlineCallbacks
    def test_urlAuthentication(self):
        """
        The authentication server admits user C{good} (mpg123 decodes, then
        C{listener_remove} arrives with a duration) and refuses C{bad} (403).
        """
        child = yield run(self, ["mpg123", "-q", "-n", "80", "-w", "/dev/null", self.url("/auth", "good:pw@")], 30)
        self.assertEqual(child.exitCode, 0, child.describe())
        add = self.auth.forms[0]
        self.assertEqual((add["action"], add["mount"], add["user"], add["ip"]), (["listener_add"], ["/auth"], ["good"], ["127.0.0.1"]))
        self.assertIn("mpg123", add["agent"][0])
        remove = yield self.auth.waitFor("listener_remove", 10)
        self.assertEqual((remove["client"], remove["user"]), (add["client"], ["good"]))
        self.assertGreaterEqual(int(remove["duration"][0]), 0)
        code, body = yield self.status("/auth", {b"authorization": [b"Basic YmFkOnB3"]})
        self.assertEqual((code, body), (403, b"not on the list\n"))
