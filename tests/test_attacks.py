"""
The attacks of L{integration.test_attacks} whose property needs no socket:
credentials compared and refused, the login throttle on a L{Clock}, and the
per-address connection cap on fake transports.  The attacks on a running
radio over 127.0.0.1 are in L{integration.test_attacks}.
"""

from __future__ import annotations

import inspect
import os

from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from zope.interface.verify import verifyObject

from txradio.interfaces import ILoginThrottle
from txradio.net import throttle
from txradio.net.sourceport import ShoutcastSourceFactory
from txradio.stream.station import Station
from txradio.wire import auth

SOURCE_PASSWORD = "s3cret-source"


class CredentialTests(SynchronousTestCase):
    """
    No default passwords, and constant-time comparisons.
    """

    def test_noDefaultPasswords(self):
        """
        Nothing has a password unless one is configured: the station, the
        radio, the command line and a configuration file without passwords.
        """
        from txradio.config import ConfigError, parseConfig
        from txradio.service import RadioService
        from txradio.tap import Options

        for function in (Station.__init__, RadioService.__init__):
            for name, parameter in inspect.signature(function).parameters.items():
                if "password" in name.lower():
                    self.assertIsNone(parameter.default, name)
        options = Options()
        for name in ("admin-password", "source-password"):
            self.assertIsNone(options[name], name)
        config = parseConfig('[[mount]]\npath = "/stream"\nrelay = "http://127.0.0.1:1/x"\n', "/nonexistent/radio.toml")
        self.assertIsNone(config.server.adminPassword)
        for mount in config.mounts:
            self.assertIsNone(mount.sourcePassword)
        error = self.assertRaises(
            ConfigError, parseConfig, '[[mount]]\npath = "/stream"\nlive = true\n', "/nonexistent/radio.toml"
        )
        self.assertIn("there is no default", str(error))
        self.assertFalse(auth.passwordMatches("", None))
        self.assertFalse(auth.passwordMatches("", ""))
        self.assertFalse(auth.credentialsMatch(("source", ""), "source", None))

    def test_noPasswordLiteralsInCode(self):
        """
        No module compares a password with C{==} or holds a well-known
        default (C{hackme}, C{changeme}, C{admin}/C{admin}).
        """
        folder = os.path.dirname(os.path.abspath(auth.__file__))
        for root, _, files in os.walk(folder):
            for name in files:
                if not name.endswith(".py"):
                    continue
                with open(os.path.join(root, name), encoding="utf-8") as f:
                    code = f.read()
                self.assertNotRegex(code, r"password\w*\s*[!=]=|[!=]=\s*\w*password", name)
                self.assertNotRegex(code, r"""["'](hackme|changeme|change-me|letmein)["']""", name)

    def test_constantTime(self):
        """
        Every password check goes through C{hmac.compare_digest}, comparing
        user and password both whatever the first gives.
        """
        self.assertIn("hmac.compare_digest", inspect.getsource(auth.passwordMatches))
        source = inspect.getsource(auth.credentialsMatch)
        self.assertIn("hmac.compare_digest", source)
        self.assertIn("userOK and passwordOK", source)
        import txradio.net.sourceport
        import txradio.web.admin
        import txradio.web.metadata

        for module in (txradio.net.sourceport, txradio.web.admin, txradio.web.metadata):
            code = inspect.getsource(module)
            self.assertRegex(code, r"credentialsMatch|passwordMatches", module.__name__)

    def test_forwardedForIgnored(self):
        """
        No module reads C{X-Forwarded-For} or C{Forwarded}: the address that
        counts (logs, login throttle) is the connecting one.
        """
        folder = os.path.dirname(os.path.abspath(auth.__file__))
        for root, _, files in os.walk(folder):
            for name in files:
                if name.endswith(".py"):
                    with open(os.path.join(root, name), encoding="utf-8") as f:
                        code = f.read().lower()
                    self.assertNotRegex(code, r"""["']x-forwarded-for["']|["']forwarded["']|x-real-ip""", name)


class ThrottleTests(SynchronousTestCase):
    """
    L{throttle.LoginThrottle}: a growing wait after ten failures per
    address, never a lockout of the right password.
    """

    def setUp(self):
        self.clock = Clock()
        self.throttle = throttle.LoginThrottle(clock=self.clock)
        self.events: list[dict] = []
        globalLogPublisher.addObserver(self.events.append)
        self.addCleanup(globalLogPublisher.removeObserver, self.events.append)

    def test_interface(self):
        """
        L{throttle.LoginThrottle} provides L{ILoginThrottle}.
        """
        self.assertTrue(verifyObject(ILoginThrottle, self.throttle))

    def test_growingWait(self):
        """
        Ten failures are free; then each waits 1, 2, 4 … seconds up to 60,
        with a log line naming the address; other addresses are not slowed.
        """
        for _ in range(10):
            self.assertEqual(self.throttle.wait("192.0.2.1"), 0)
            self.throttle.failed("192.0.2.1", "admin")
        self.assertEqual(self.throttle.wait("192.0.2.1"), 0)
        waits = []
        for _ in range(9):
            self.throttle.failed("192.0.2.1", "admin")
            waits.append(self.throttle.wait("192.0.2.1"))
            self.clock.advance(waits[-1])
        self.assertEqual(waits, [1, 2, 4, 8, 16, 32, 60, 60, 60])
        self.assertEqual(self.throttle.wait("192.0.2.2"), 0)
        logged = [e for e in self.events if e.get("address") == "192.0.2.1" and "failures" in e]
        self.assertEqual(len(logged), 9)
        self.assertEqual(logged[-1]["failures"], 19)

    def test_neverLockedOut(self):
        """
        After any number of failures the right password is accepted once the
        wait (at most 60 s) is over, and a success starts afresh; quiet
        addresses are forgotten.
        """
        for _ in range(1000):
            self.throttle.failed("192.0.2.1", "admin")
        self.assertLessEqual(self.throttle.wait("192.0.2.1"), throttle.MAX_DELAY)
        self.clock.advance(throttle.MAX_DELAY)
        self.assertEqual(self.throttle.wait("192.0.2.1"), 0)
        self.throttle.succeeded("192.0.2.1")
        self.assertEqual(self.throttle.failures("192.0.2.1"), 0)
        self.throttle.failed("192.0.2.3", "admin")
        self.clock.advance(throttle.FORGET_AFTER + 1)
        self.assertEqual(self.throttle.failures("192.0.2.3"), 0)

    def test_boundedTable(self):
        """
        The table of addresses never holds more than L{MAX_ADDRESSES}.
        """
        for n in range(throttle.MAX_ADDRESSES + 50):
            self.throttle.failed(f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}", "admin")
        self.assertEqual(len(self.throttle._entries), throttle.MAX_ADDRESSES)

    def test_shoutcastSource(self):
        """
        A SHOUTcast v1 encoder guessing passwords is refused unchecked once
        throttled, even with the right one, until its wait is over.
        """
        station = Station(None, clock=self.clock, sourcePassword=SOURCE_PASSWORD)
        factory = ShoutcastSourceFactory(station, clock=self.clock, logins=self.throttle)

        def attempt(password: bytes) -> bytes:
            protocol = factory.buildProtocol(None)
            transport = StringTransport(peerAddress=IPv4Address("TCP", "192.0.2.7", 1234))
            protocol.makeConnection(transport)
            protocol.dataReceived(password + b"\r\n")
            out = transport.value()
            protocol.connectionLost(None)
            return out

        for n in range(11):
            self.assertEqual(attempt(b"guess%d" % (n,)), b"invalid password\r\n")
        self.assertEqual(attempt(SOURCE_PASSWORD.encode()), b"invalid password\r\n")
        self.clock.advance(1)
        self.assertTrue(attempt(SOURCE_PASSWORD.encode()).startswith(b"OK2"))


class PerAddressCapTests(SynchronousTestCase):
    """
    L{ListenerFactory.maxPerAddress}: off by default, a cap per address when
    set.
    """

    def connect(self, factory, host: str):
        address = IPv4Address("TCP", host, 4000)
        protocol = factory.buildProtocol(address)
        if protocol is not None:
            protocol.makeConnection(StringTransport(peerAddress=address))
        return protocol

    def test_cap(self):
        """
        With a cap of 3, a fourth connection from the same address is
        refused, another address is not, and a closed connection frees its
        place; with the default (0) nothing is refused.
        """
        from txradio.net.listenerport import ListenerFactory

        clock = Clock()
        factory = ListenerFactory({}, clock=clock)
        self.assertEqual(factory.maxPerAddress, 0)
        unlimited = [self.connect(factory, "192.0.2.1") for _ in range(50)]
        self.assertNotIn(None, unlimited)
        factory = ListenerFactory({}, clock=clock)
        factory.maxPerAddress = 3
        held = [self.connect(factory, "192.0.2.1") for _ in range(3)]
        self.assertNotIn(None, held)
        self.assertIsNone(self.connect(factory, "192.0.2.1"))
        self.assertIsNotNone(self.connect(factory, "192.0.2.2"))
        held[0].connectionLost(None)
        self.assertIsNotNone(self.connect(factory, "192.0.2.1"))
        self.assertIsNone(self.connect(factory, "192.0.2.1"))
        for protocol in unlimited + held:
            protocol.connectionLost(None)
        for call in clock.getDelayedCalls():
            call.cancel()
