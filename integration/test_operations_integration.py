"""
Operating a real txradio process: the signals an operator sends it, its
access log, its graceful stop, its renewed TLS certificate and its
Prometheus metrics, checked from outside as an operator's tools see them.

Each test runs the C{twist} front end (C{python -m twisted txradio}) from
this checkout as a child process, on free ports of 127.0.0.1, and talks to
it over real sockets:

 - C{SIGHUP} with a changed configuration file adds a mount while a real
   mpg123 keeps decoding the first one without a complaint; a file with an
   error is refused and the running configuration stays;
 - C{SIGUSR1} after the access log was moved makes a new file, which gets
   the next lines (read back with the C{apachelogs} parser), while the moved
   file keeps the old ones;
 - C{SIGTERM} stops the server within C{stop_timeout} while listeners are
   connected (one of them not reading), after sending them the last title;
 - a renewed self-signed certificate is served to new TLS clients after
   C{SIGHUP} while an older TLS listener keeps receiving audio, and a client
   that offers ALPN connects;
 - C{/metrics} on its own port, read with C{prometheus_client}'s parser,
   counts real listeners as they come and go.

Every wait is on an event (output from the server, bytes on a socket, a
process's end) or a poll with a deadline; every child process is stopped
when its test ends.  A test is skipped when a program it needs is missing.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import re
import socket
import sys

from apachelogs import COMBINED, LogParser
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from prometheus_client.parser import text_string_to_metric_families
from twisted.internet import reactor
from twisted.internet.defer import gatherResults, inlineCallbacks, maybeDeferred
from twisted.internet.endpoints import SSL4ClientEndpoint, TCP4ClientEndpoint, connectProtocol
from twisted.internet.error import ConnectError
from twisted.internet.ssl import Certificate, optionsForClientTLS
from twisted.internet.task import deferLater
from twisted.trial.unittest import TestCase

from integration._figures import recordFigure
from integration._realpeers import (
    CHECKOUT,
    ChildProcess,
    RawClient,
    Timeout,
    adoptSocket,
    childSignal,
    connectRaw,
    fetch,
    parseResponse,
    requireProgram,
    run,
    spawn,
    withTimeout,
)
from txradio.wire.icy import MetadataDemuxer

DEMO = os.path.join(CHECKOUT, "txradio", "demo")
"""The built-in demo playlist: 128 kbps, 44.1 kHz stereo tracks."""

BYTES_PER_SECOND = 128000 // 8
"""Audio bytes a second at 128 kbps."""

FRAMES_PER_SECOND = 44100 / 1152
"""MPEG-1 Layer III frames a second at 44.1 kHz."""

PLAYER_TROUBLE = ("error", "resync", "illegal", "did not find", "warning")
"""Words in a player's output that mean it did not like the stream."""

COMBINED_WITH_SECONDS = COMBINED + " %T"
"""The access log's format: combined, and the seconds the client stayed."""

LAST_TITLE = "Off the air"
"""The title the stopping server sends."""


def freePort() -> int:
    """
    Find a TCP port on 127.0.0.1 that nothing listens on now.

    @return: the port number.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def local(port: int) -> str:
    """
    @param port: a port number.
    @return: the endpoint description of that port on 127.0.0.1.
    """
    return f"tcp:{port}:interface=127.0.0.1"


def streamRequest(agent: str, metadata: bool = False, path: str = "/stream") -> bytes:
    """
    A player's request for a stream.

    @param agent: its C{User-Agent}, to find its line in the access log.
    @param metadata: whether it asks for ICY metadata.
    @param path: the mount.
    @return: the request's bytes.
    """
    icy = b"Icy-MetaData: 1\r\n" if metadata else b""
    return b"GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n%sUser-Agent: %s\r\n\r\n" % (path.encode(), icy, agent.encode())


def webRequest(path: str, agent: str = "txradio-tests") -> bytes:
    """
    An HTTP/1.0 request for a page; the server closes the connection after
    answering it.

    @param path: the page.
    @param agent: its C{User-Agent}.
    @return: the request's bytes.
    """
    return b"GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\nUser-Agent: %s\r\n\r\n" % (path.encode(), agent.encode())


def streamTitles(data: bytes) -> list[str]:
    """
    The titles in an ICY stream received with C{Icy-MetaData: 1}.

    @param data: the response, head included.
    @return: each C{StreamTitle} in stream order.
    """
    _, headers, body = parseResponse(data)
    demuxer = MetadataDemuxer(int(headers[b"icy-metaint"]))
    return [item["StreamTitle"] for item in demuxer.feed(body) if isinstance(item, dict) and "StreamTitle" in item]


def writeCertificate(testCase: TestCase, commonName: str, serial: int) -> tuple[str, str, bytes]:
    """
    Write a new self-signed certificate and its key to files.

    @param testCase: the test, for a temporary folder.
    @param commonName: its subject's common name.
    @param serial: its serial number.
    @return: the key's path, the certificate's path and the certificate
        (PEM).
    """
    folder = os.path.abspath(testCase.mktemp())
    os.makedirs(folder)
    keyPath = os.path.join(folder, "key.pem")
    certPath = os.path.join(folder, "cert.pem")
    key, certificate = makeCertificate(commonName, serial)
    for path, content in ((keyPath, key), (certPath, certificate)):
        with open(path, "wb") as file:
            file.write(content)
    return keyPath, certPath, certificate


@inlineCallbacks
def connectTLS(testCase: TestCase, port: int, certificatePEM: bytes, agent: str):
    """
    Connect a TLS listener that trusts only one certificate.

    @param testCase: the test, for clean-ups and checks.
    @param port: the server's TLS port on 127.0.0.1.
    @param certificatePEM: the certificate the server must show.
    @param agent: its C{User-Agent}.
    @return: a L{Deferred} firing with the L{RawClient} once it has the
        response head.
    """
    options = optionsForClientTLS("localhost", trustRoot=Certificate.loadPEM(certificatePEM))
    endpoint = SSL4ClientEndpoint(reactor, "127.0.0.1", port, options, timeout=10)
    client = yield connectProtocol(endpoint, RawClient())
    testCase.addCleanup(client.close)
    client.transport.write(streamRequest(agent))
    yield client.waitForHead(15)
    status, headers, _ = parseResponse(client.data)
    testCase.assertEqual((status, headers[b"content-type"]), (b"HTTP/1.0 200 OK", b"audio/mpeg"))
    return client


def makeCertificate(commonName: str, serial: int) -> tuple[bytes, bytes]:
    """
    Make a self-signed certificate for C{localhost} and 127.0.0.1.

    @param commonName: its subject's common name.
    @param serial: its serial number.
    @return: the private key and the certificate, both PEM.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, commonName)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    keyPEM = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return keyPEM, certificate.public_bytes(serialization.Encoding.PEM)


ALPN_CLIENT = r"""
import json, socket, ssl, sys

context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE
context.set_alpn_protocols(["http/1.1"])
with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10) as raw:
    with context.wrap_socket(raw, server_hostname="localhost") as tls:
        tls.sendall(b"GET /stream HTTP/1.1\r\nHost: localhost\r\nUser-Agent: alpn-client\r\n\r\n")
        data = b""
        while len(data) < int(sys.argv[2]):
            chunk = tls.recv(65536)
            if not chunk:
                break
            data += chunk
        print(json.dumps({
            "alpn": tls.selected_alpn_protocol(),
            "certificate": ssl.DER_cert_to_PEM_cert(tls.getpeercert(binary_form=True)),
            "head": data.partition(b"\r\n\r\n")[0].decode("latin-1"),
            "received": len(data),
        }))
"""
"""
A TLS client made with Python's C{ssl} module that offers ALPN
C{http/1.1}, reads a stream and prints what it negotiated, the certificate
it was shown and the response head, as JSON; its arguments are the port and
the bytes to read.
"""


@inlineCallbacks
def pollUntil(check, seconds: float, what: str, interval: float = 0.1):
    """
    Check something again and again until it holds, up to a deadline.

    @param check: returns (or fires a L{Deferred} with) something true once
        it holds.
    @param seconds: the deadline, from now.
    @param what: what is awaited, for the failure message.
    @param interval: seconds between two checks.
    @return: a L{Deferred} firing with the first true result, or failing
        with L{Timeout}.
    """
    deadline = reactor.seconds() + seconds
    while True:
        value = yield maybeDeferred(check)
        if value:
            return value
        if reactor.seconds() >= deadline:
            raise Timeout(f"{what}: not within {seconds} s (last: {value!r})")
        yield deferLater(reactor, interval, lambda: None)


def readLines(path: str) -> list[str]:
    """
    @param path: a text file, which may not exist.
    @return: its whole lines (a last line without its end is left out).
    """
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
    except FileNotFoundError:
        return []
    return text.splitlines()[: text.count("\n")]


class RealRadioTestCase(TestCase):
    """
    Runs txradio as a child process and talks to it.
    """

    timeout = 45

    def startServer(self, args: list[str], ports: list[int], timeout: float = 60):
        """
        Start C{python -m twisted txradio ARGS} from the checkout, stopped
        with C{SIGTERM} (then C{SIGKILL}) when the test ends.

        @param args: the plugin's arguments.
        @param ports: the ports it should listen on.
        @param timeout: seconds before it is killed.
        @return: a L{Deferred} firing with the L{ChildProcess} once every
            port listens.
        """
        command = [sys.executable, "-m", "twisted", "--log-format=text", "txradio", *args]
        env = dict(os.environ, PYTHONUNBUFFERED="1", LC_ALL="C.UTF-8")
        for name in ("LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"):
            env.pop(name, None)
        child = spawn(self, command, timeout, path=CHECKOUT, env=env)
        # Registered after spawn's own cleanup, so it runs first: a gentle
        # stop, then spawn's SIGKILL if the process is still there.
        self.addCleanup(self.stopGently, child)
        waits = [child.waitForOutput(rf"starting on {port}\b", 20) for port in ports]
        d = gatherResults(waits, consumeErrors=True)
        d.addErrback(lambda failure: failure.value.subFailure)
        return d.addCallback(lambda _: child)

    def stopGently(self, child: ChildProcess):
        """
        Stop a server with C{SIGTERM}, for cleanup.

        @param child: the server.
        @return: a L{Deferred} firing once it exited or 10 s passed.
        """
        child.kill("TERM")
        d = withTimeout(child.whenEnded(), 10, "the server to stop")
        return d.addErrback(lambda _: None)

    @inlineCallbacks
    def get(self, port: int, path: str, agent: str = "txradio-tests"):
        """
        Fetch a page.

        @param port: the server's port on 127.0.0.1.
        @param path: the page.
        @param agent: the C{User-Agent} sent.
        @return: a L{Deferred} firing with the status code and the body.
        """
        data = yield fetch(self, port, webRequest(path, agent))
        status, _, body = parseResponse(data)
        return int(status.split()[1]), body

    @inlineCallbacks
    def listen(self, port: int, agent: str = "txradio-tests", metadata: bool = False, path: str = "/stream"):
        """
        Connect a listener and wait for its response head.

        @param port: the server's port on 127.0.0.1.
        @param agent: its C{User-Agent}.
        @param metadata: whether it asks for ICY metadata.
        @param path: the mount.
        @return: a L{Deferred} firing with the connected L{RawClient}.
        """
        client = yield connectRaw(self, port, streamRequest(agent, metadata, path))
        yield client.waitForHead(15)
        status, headers, _ = parseResponse(client.data)
        self.assertEqual(status, b"HTTP/1.0 200 OK", bytes(client.data[:300]))
        self.assertEqual(headers[b"content-type"], b"audio/mpeg")
        return client

    def waitForMore(self, client: RawClient, seconds: float, what: str):
        """
        Wait until a listener has received C{seconds} more of audio.

        @param client: the listener.
        @param seconds: seconds of audio at 128 kbps.
        @param what: what is awaited, for the failure message.
        @return: a L{Deferred} firing with its bytes.
        """
        count = len(client.data) + int(seconds * BYTES_PER_SECOND)
        return client.waitFor(lambda: len(client.data) >= count and client.data, seconds + 8, what)

    def writeConfig(self, path: str, text: str) -> None:
        """
        Write a configuration file whole, as an editor that renames would.

        @param path: the file.
        @param text: its content.
        """
        with open(path + ".new", "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(path + ".new", path)


class ReloadTests(RealRadioTestCase):
    """
    C{SIGHUP} reloads the configuration file; listeners of unchanged mounts
    never notice, and a file with an error changes nothing.
    """

    @inlineCallbacks
    def setUp(self):
        """
        Start a server from a file with one mount playing the demo.
        """
        self.port = freePort()
        self.config = os.path.abspath(self.mktemp())
        self.base = f'[server]\nlisten = ["{local(self.port)}"]\n\n[[mount]]\npath = "/stream"\nplaylist = "{DEMO}"\n'
        self.writeConfig(self.config, self.base)
        self.server = yield self.startServer(["--config", self.config], [self.port])

    @inlineCallbacks
    def test_newMountWhileMpg123Plays(self):
        """
        mpg123 decodes C{/stream} without a complaint for seconds after a
        C{SIGHUP} that adds C{/new}, which then answers, playlist and
        stream; C{/stream} is reported unchanged.
        """
        requireProgram("mpg123")
        status, _ = yield self.get(self.port, "/new.m3u")
        self.assertEqual(status, 404)
        # Ten seconds of frames: less the burst (up to four), mpg123 runs
        # for six seconds or more, most of them after the reload.
        frames = int(10 * FRAMES_PER_SECOND)
        url = f"http://127.0.0.1:{self.port}/stream"
        player = spawn(self, ["mpg123", "-v", "-n", str(frames), "-w", "/dev/null", url], 40)
        yield player.waitForOutput(r"ICY-META: StreamTitle=", 15)

        self.writeConfig(self.config, self.base + f'\n[[mount]]\npath = "/new"\nname = "New Mount"\nplaylist = "{DEMO}"\n')
        self.server.kill("HUP")
        reloaded = reactor.seconds()
        match = yield self.server.waitForOutput(r"reloaded .*: (.*)\n", 10)
        self.assertEqual(match.group(1).strip(), "added /new; unchanged /stream", self.server.describe())
        self.assertTrue(player.running, player.describe())

        status, body = yield self.get(self.port, "/new.m3u")
        self.assertEqual(status, 200, body)
        self.assertIn(b"/new", body)
        newListener = yield self.listen(self.port, path="/new")
        yield newListener.waitForBytes(8192, 10)

        yield withTimeout(player.whenEnded(), 30, "mpg123 to decode its frames")
        self.assertEqual(player.exitCode, 0, player.describe())
        # mpg123 was still playing, paced in real time, seconds after the
        # reload: a lower bound, which a slow machine only makes easier.
        self.assertGreaterEqual(reactor.seconds() - reloaded, 4, player.describe())
        self.assertIn("Decoding of stream finished", player.output)
        trouble = [word for word in PLAYER_TROUBLE if word in player.output.lower()]
        self.assertEqual(trouble, [], player.describe())
        self.assertNotIn("Traceback", self.server.output, self.server.describe())

    @inlineCallbacks
    def test_errorKeepsConfiguration(self):
        """
        After a C{SIGHUP} with a file that has an error, the server logs
        that it kept its configuration, keeps running and streaming to the
        listener it had and to new ones, and none of the broken file applies.
        """
        before = yield self.listen(self.port, agent="before-reload")
        broken = self.base.replace('path = "/stream"', 'path = "/stream"\nmetaint = "lots"')
        self.writeConfig(self.config, broken + f'\n[[mount]]\npath = "/new"\nplaylist = "{DEMO}"\n')
        self.server.kill("HUP")
        match = yield self.server.waitForOutput(r"not reloading: (.*); the running configuration stays", 10)
        self.assertIn("metaint", match.group(1))
        self.assertIn(self.config, match.group(1))

        yield self.waitForMore(before, 2, "audio after the refused reload")
        self.assertIsNone(before.lost)
        self.assertTrue(self.server.running, self.server.describe())
        after = yield self.listen(self.port, agent="after-reload")
        yield after.waitForBytes(8192, 10)
        status, _ = yield self.get(self.port, "/new.m3u")
        self.assertEqual(status, 404)
        self.assertNotIn("Traceback", self.server.output, self.server.describe())


class LogReopenTests(RealRadioTestCase):
    """
    C{SIGUSR1} reopens the access log, as logrotate needs.
    """

    @inlineCallbacks
    def test_moveThenReopen(self):
        """
        After the access log is moved and C{SIGUSR1} sent, a new file is
        made at the path and gets the next lines (a listener that left, a
        web request), in the combined format plus seconds; the moved file
        keeps the lines written before.
        """
        port = freePort()
        path = os.path.abspath(self.mktemp())
        moved = path + ".1"
        parser = LogParser(COMBINED_WITH_SECONDS)
        self.server = yield self.startServer(["--listen", local(port), "--access-log", path], [port])

        status, _ = yield self.get(port, "/status-json.xsl", agent="before-rotation")
        self.assertEqual(status, 200)
        old = yield pollUntil(lambda: readLines(path), 10, "the first access log line")
        self.assertEqual(len(old), 1, old)
        entry = parser.parse(old[0])
        self.assertEqual(
            (entry.remote_host, entry.request_line, entry.final_status, entry.headers_in["User-Agent"]),
            ("127.0.0.1", "GET /status-json.xsl HTTP/1.0", 200, "before-rotation"),
        )

        os.rename(path, moved)
        self.server.kill(childSignal("USR1"))
        yield self.server.waitForOutput(rf"reopened {re.escape(path)}\n", 10)
        self.assertTrue(os.path.exists(path))
        self.assertEqual(readLines(path), [])

        listener = yield self.listen(port, agent="after-rotation-listener")
        yield listener.waitForBytes(20000, 10)
        received = len(listener.data)
        yield listener.close()
        status, _ = yield self.get(port, "/status-json.xsl", agent="after-rotation-web")
        self.assertEqual(status, 200)

        def bothLines():
            lines = readLines(path)
            return len(lines) >= 2 and lines

        new = yield pollUntil(bothLines, 10, "two lines in the new access log")
        entries = {entry.headers_in["User-Agent"]: entry for entry in map(parser.parse, new)}
        self.assertEqual(sorted(entries), ["after-rotation-listener", "after-rotation-web"], new)
        listened = entries["after-rotation-listener"]
        self.assertEqual(
            (listened.remote_host, listened.request_line, listened.final_status),
            ("127.0.0.1", "GET /stream HTTP/1.0", 200),
        )
        head = bytes(listener.data).find(b"\r\n\r\n") + 4
        self.assertGreaterEqual(listened.bytes_sent, received - head)
        self.assertGreaterEqual(listened.request_duration_seconds, 0)
        self.assertEqual(entries["after-rotation-web"].request_line, "GET /status-json.xsl HTTP/1.0")
        self.assertEqual(readLines(moved), old)
        self.assertNotIn("Traceback", self.server.output, self.server.describe())


class StopTests(RealRadioTestCase):
    """
    C{SIGTERM} stops the server gracefully, within its bound.
    """

    stopTimeout = 4
    """The C{stop_timeout} the server is given, in seconds."""

    @inlineCallbacks
    def test_lastTitleThenExit(self):
        """
        With listeners connected (one of them not reading at all),
        C{SIGTERM} closes the port at once, sends an ICY listener the last
        title before its connection closes, and the process ends, cleanly,
        within C{stop_timeout}: by re-raising C{SIGTERM} after the main loop
        ended.
        """
        port = freePort()
        config = os.path.abspath(self.mktemp())
        self.writeConfig(
            config,
            f'[server]\nlisten = ["{local(port)}"]\nlast_title = "{LAST_TITLE}"\nstop_timeout = {self.stopTimeout}\n'
            f'\n[[mount]]\npath = "/stream"\nplaylist = "{DEMO}"\n',
        )
        server = yield self.startServer(["--config", config], [port])
        icy = yield self.listen(port, agent="icy-listener", metadata=True)
        plain = yield self.listen(port, agent="plain-listener")
        stalled = adoptSocket(self, port, streamRequest("stalled-listener"), 4096)
        yield stalled.waitForHead(15)
        stalled.transport.pauseProducing()
        yield icy.waitFor(lambda: streamTitles(icy.data), 15, "a first title")
        self.assertNotIn(LAST_TITLE, streamTitles(icy.data))

        server.kill("TERM")
        signalled = reactor.seconds()
        yield icy.waitFor(lambda: LAST_TITLE in streamTitles(icy.data), self.stopTimeout, "the last title")
        self.assertTrue(server.running)
        refused = connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port, timeout=5), RawClient())
        yield self.assertFailure(refused, ConnectError)

        yield withTimeout(icy.whenClosed(), self.stopTimeout + 5, "the ICY listener to be disconnected")
        yield withTimeout(plain.whenClosed(), self.stopTimeout + 5, "the plain listener to be disconnected")
        yield withTimeout(server.whenEnded(), self.stopTimeout + 5, "the server to exit")
        elapsed = reactor.seconds() - signalled
        recordFigure("stop on SIGTERM", stopTimeout=self.stopTimeout, stoppedAfter=round(elapsed, 3))
        # The stop bound is a correctness property (stop_timeout is the
        # documented longest stop); the process's own exit after it gets a
        # margin of 5 s on a loaded machine.
        self.assertLess(elapsed, self.stopTimeout + 5, server.describe())
        self.assertEqual(streamTitles(icy.data)[-1], LAST_TITLE)
        cleanly = server.exitCode == 0 or server.signal == childSignal("TERM")
        self.assertTrue(cleanly, server.describe())
        self.assertIn("Main loop terminated.", server.output)
        self.assertNotIn("Traceback", server.output, server.describe())


class CertificateReloadTests(RealRadioTestCase):
    """
    A renewed certificate on an C{ssl:} port applies to new connections
    after C{SIGHUP}, while the connections made before carry on.
    """

    @inlineCallbacks
    def test_renewedCertificate(self):
        """
        After the key and certificate files are replaced and C{SIGHUP}
        sent, a new client is shown the new certificate (and trusts nothing
        else), the listener connected before keeps its certificate and its
        audio, and a client offering ALPN C{http/1.1} gets the stream.
        """
        port = freePort()
        keyPath, certPath, oldCert = writeCertificate(self, "txradio old", 1001)
        newKey, newCert = makeCertificate("txradio renewed", 2002)
        listen = f"ssl:{port}:interface=127.0.0.1:privateKey={keyPath}:certKey={certPath}"
        server = yield self.startServer(["--listen", listen], [port])

        old = yield connectTLS(self, port, oldCert, "old-tls-listener")
        self.assertEqual(old.transport.getPeerCertificate().get_serial_number(), 1001)
        yield self.waitForMore(old, 1, "audio over TLS")

        for path, content in ((keyPath, newKey), (certPath, newCert)):
            with open(path, "wb") as file:
                file.write(content)
        server.kill("HUP")
        yield server.waitForOutput(rf"ssl:{port}: certificate reloaded", 10)

        new = yield connectTLS(self, port, newCert, "new-tls-listener")
        shown = new.transport.getPeerCertificate()
        self.assertEqual(shown.get_serial_number(), 2002)
        self.assertEqual(shown.get_subject().CN, "txradio renewed")
        yield new.waitForBytes(8192, 10)

        script = os.path.abspath(self.mktemp())
        with open(script, "w", encoding="utf-8") as file:
            file.write(ALPN_CLIENT)
        alpn = yield run(self, [sys.executable, script, str(port), "20000"], 30)
        self.assertEqual(alpn.exitCode, 0, alpn.describe())
        result = json.loads(alpn.out)
        self.assertEqual(result["alpn"], "http/1.1")
        self.assertRegex(result["head"], r"^HTTP/1\.[01] 200 ")
        self.assertGreaterEqual(result["received"], 20000)
        self.assertEqual(x509.load_pem_x509_certificate(result["certificate"].encode("ascii")).serial_number, 2002)

        yield self.waitForMore(old, 2, "audio to the old TLS listener after the reload")
        self.assertIsNone(old.lost)
        self.assertEqual(old.transport.getPeerCertificate().get_serial_number(), 1001)
        self.assertNotIn("Traceback", server.output, server.describe())


class TLSPlayerTests(RealRadioTestCase):
    """
    Real players decode what an C{ssl:} port streams, through the writer
    that encrypts each listener's tick at once and sends the records
    straight to the socket.
    """

    @inlineCallbacks
    def test_ffmpegDecodes(self):
        """
        Three ffmpeg players at once (asking for ICY metadata, by default
        and with C{-icy 1}, and not, with C{-icy 0}) decode 8 s of the
        HTTPS stream and print nothing at their error level; with C{-v
        debug}, ffmpeg reports no decoding error and reads the title from
        the metadata.
        """
        requireProgram("ffmpeg")
        port = freePort()
        keyPath, certPath, _ = writeCertificate(self, "txradio", 3003)
        listen = f"ssl:{port}:interface=127.0.0.1:privateKey={keyPath}:certKey={certPath}"
        server = yield self.startServer(["--listen", listen], [port])
        url = f"https://127.0.0.1:{port}/stream"
        children = yield gatherResults(
            [
                run(self, ["ffmpeg", "-nostdin", "-v", "error", *icy, "-t", "8", "-i", url, "-f", "null", "-"], 40)
                for icy in ([], ["-icy", "1"], ["-icy", "0"])
            ]
        )
        for child in children:
            self.assertEqual((child.exitCode, child.err), (0, b""), child.describe())
        debug = yield run(self, ["ffmpeg", "-nostdin", "-v", "debug", "-t", "2", "-i", url, "-f", "null", "-"], 30)
        self.assertEqual(debug.exitCode, 0, debug.describe())
        self.assertIn("0 decoding errors", debug.output)
        self.assertRegex(debug.output, r"Metadata update for StreamTitle: \S")
        self.assertNotIn("Traceback", server.output, server.describe())

    @inlineCallbacks
    def test_sharedPort(self):
        """
        Two servers listen on one C{ssl:} port with C{reusePort=1}; the
        kernel spreads 24 TLS listeners between them and each gets audio.
        """
        port = freePort()
        keyPath, certPath, certificate = writeCertificate(self, "localhost", 4004)
        listen = f"ssl:{port}:interface=127.0.0.1:privateKey={keyPath}:certKey={certPath}:reusePort=1"
        servers = []
        for _ in range(2):
            servers.append((yield self.startServer(["--listen", listen], [port])))
        clients = []
        for n in range(24):
            clients.append((yield connectTLS(self, port, certificate, f"shared-{n}")))
        for client in clients:
            yield client.waitForBytes(8192, 10)
        served = [len(re.findall(r"listener \S+ joined /stream \(shared-", server.output)) for server in servers]
        self.assertEqual(sum(served), 24)
        self.assertNotIn(0, served)


class MetricsTests(RealRadioTestCase):
    """
    C{/metrics} on its own port counts real listeners.
    """

    @inlineCallbacks
    def scrape(self, port: int):
        """
        Read the metrics with C{prometheus_client}'s parser.

        @param port: the metrics port on 127.0.0.1.
        @return: a L{Deferred} firing with a function from a sample's name
            and labels to its value (L{None} when there is no such sample).
        """
        status, body = yield self.get(port, "/metrics", agent="scraper")
        self.assertEqual(status, 200, body)
        samples = {}
        for family in text_string_to_metric_families(body.decode("utf-8")):
            for sample in family.samples:
                samples[sample.name, frozenset(sample.labels.items())] = sample.value

        def value(name: str, **labels: str):
            return samples.get((name, frozenset(labels.items())))

        return value

    @inlineCallbacks
    def test_listenersComeAndGo(self):
        """
        With two listeners the metrics say two are connected and two came;
        after one leaves, one is connected, one left as a client, the peak
        stays two, and the bytes sent cover what the listeners received.
        The listener port does not serve the metrics without credentials.
        """
        port = freePort()
        metricsPort = freePort()
        args = ["--listen", local(port), "--metrics-listen", local(metricsPort)]
        yield self.startServer(args, [port, metricsPort])
        mount = {"mount": "/stream"}

        value = yield self.scrape(metricsPort)
        self.assertEqual(value("txradio_listeners", protocol="icy", **mount), 0)
        self.assertEqual(value("txradio_listener_connects_total", **mount), 0)
        self.assertGreater(value("process_open_fds"), 0)
        self.assertGreater(value("process_resident_memory_bytes"), 0)

        first = yield self.listen(port, agent="first")
        second = yield self.listen(port, agent="second")
        yield first.waitForBytes(20000, 10)
        yield second.waitForBytes(20000, 10)
        value = yield self.scrape(metricsPort)
        self.assertEqual(value("txradio_listeners", protocol="icy", **mount), 2)
        self.assertEqual(value("txradio_listener_connects_total", **mount), 2)
        self.assertEqual(value("txradio_listeners_peak", **mount), 2)
        self.assertEqual(value("txradio_listener_disconnects_total", reason="client_left", **mount), 0)

        yield first.close()
        # Counted before the scrapes: what the server had sent by then.
        bodies = sum(len(client.data) - bytes(client.data).find(b"\r\n\r\n") - 4 for client in (first, second))

        @inlineCallbacks
        def oneLeft():
            value = yield self.scrape(metricsPort)
            return value("txradio_listeners", protocol="icy", **mount) == 1 and value

        value = yield pollUntil(oneLeft, 10, "the metrics to count one listener")
        self.assertEqual(value("txradio_listener_connects_total", **mount), 2)
        self.assertEqual(value("txradio_listeners_peak", **mount), 2)
        self.assertEqual(value("txradio_listener_disconnects_total", reason="client_left", **mount), 1)
        self.assertEqual(value("txradio_listener_disconnects_total", reason="lag_limit", **mount), 0)
        self.assertGreaterEqual(value("txradio_sent_bytes_total", **mount), bodies)
        self.assertGreater(value("txradio_burst_bytes_total", **mount), 0)

        status, _ = yield self.get(port, "/metrics")
        self.assertNotEqual(status, 200)
