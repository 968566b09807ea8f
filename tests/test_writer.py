"""
Tests for L{txradio.stream._writer}: writing straight to a socket when Twisted's
buffer is empty, and through it otherwise, without reordering bytes.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable

from twisted.internet.error import ConnectionLost
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import Clock
from twisted.internet.tcp import Connection
from twisted.internet.testing import MemoryReactor, StringTransport
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.trial.unittest import SynchronousTestCase

from tests.test_tls import writeCertificate
from txradio.net.tls import loadCertificateOptions
from txradio.stream._writer import writerFor


def connectedPair() -> tuple[Connection, socket.socket]:
    """
    Make a Twisted socket transport over one end of a socket pair.

    @return: the transport and the other end.
    """
    ours, theirs = socket.socketpair()
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    theirs.setblocking(False)
    connection = Connection(ours, Protocol(), reactor=MemoryReactor())
    connection.connected = 1
    return connection, theirs


def readAll(sock: socket.socket) -> bytes:
    """
    Read what is waiting on a non-blocking socket.
    """
    received = b""
    while True:
        try:
            data = sock.recv(1 << 20)
        except BlockingIOError:
            return received
        if not data:
            return received
        received += data


def overflowAndDrain(
    testCase: SynchronousTestCase, connection: Connection, write: Callable[[bytes], None], read: Callable[[], bytes]
) -> None:
    """
    Write more than the kernel takes, then let Twisted write the rest, and
    check that the peer reads every byte in order.

    @param testCase: the test.
    @param connection: the socket transport (with a small send buffer).
    @param write: the writer under test.
    @param read: reads what the peer received (decrypted, for TLS).
    """
    pieces = [bytes([n]) * 50000 for n in range(1, 6)]
    for piece in pieces:
        write(piece)
    testCase.assertGreater(connection._tempDataLen, 0)
    received = b""
    for _ in range(1000):
        received += read()
        if not (connection._tempDataLen or connection.dataBuffer):
            break
        connection.doWrite()
    received += read()
    testCase.assertEqual(received, b"".join(pieces))


class WriterTests(SynchronousTestCase):
    """
    L{writerFor} keeps every byte in order whichever path it takes.
    """

    def test_fakeTransport(self) -> None:
        """
        A transport that is not a socket gets plain C{write} calls.
        """
        transport = StringTransport()
        writerFor(transport)(b"abc")
        self.assertEqual(transport.value(), b"abc")

    def test_direct(self) -> None:
        """
        With an empty buffer the bytes go straight to the socket, and
        Twisted's buffer stays empty.
        """
        connection, peer = connectedPair()
        self.addCleanup(peer.close)
        self.addCleanup(connection.socket.close)
        writerFor(connection)(b"hello")
        self.assertEqual(connection._tempDataLen, 0)
        self.assertEqual(readAll(peer), b"hello")

    def test_overflowKeepsOrder(self) -> None:
        """
        When the kernel takes only part, the rest is buffered by Twisted and
        later writes queue behind it: the peer reads everything in order.
        """
        connection, peer = connectedPair()
        self.addCleanup(peer.close)
        self.addCleanup(connection.socket.close)
        overflowAndDrain(self, connection, writerFor(connection), lambda: readAll(peer))

    def test_closedPeer(self) -> None:
        """
        A peer that has gone away makes the write fall back to Twisted:
        nothing is raised here, every byte is handed to Twisted's buffer in
        order, and Twisted's own write then finds the error and reports the
        connection lost.
        """
        connection, peer = connectedPair()
        self.addCleanup(connection.socket.close)
        peer.close()
        write = writerFor(connection)
        write(b"x" * 10)
        write(b"y" * 10)
        buffered = b"".join(connection._tempDataBuffer) + connection.dataBuffer[connection.offset :]
        self.assertEqual(buffered, b"x" * 10 + b"y" * 10)
        self.assertEqual(connection._tempDataLen, 20)
        self.assertIsInstance(connection.doWrite(), ConnectionLost)


def tlsPair(testCase: SynchronousTestCase) -> tuple[Connection, Callable[[], bytes], Clock]:
    """
    Make Twisted's TLS, as a listening port makes it, over a socket
    transport on one end of a socket pair, and shake hands with a client on
    the other end.

    @param testCase: the test, for temporary files and clean-ups.
    @return: the socket transport, a function that reads and decrypts what
        the client's socket holds, and the clock of Twisted's TLS.
    """
    key, cert = testCase.mktemp(), testCase.mktemp()
    writeCertificate(key, cert, "localhost")
    clock = Clock()
    factory = TLSMemoryBIOFactory(loadCertificateOptions(key, cert), False, Factory.forProtocol(Protocol), clock=clock)
    ours, theirs = socket.socketpair()
    testCase.addCleanup(ours.close)
    testCase.addCleanup(theirs.close)
    theirs.setblocking(False)
    tls = factory.buildProtocol(None)
    connection = Connection(ours, tls, reactor=MemoryReactor())
    connection.connected = 1
    tls.makeConnection(connection)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    client = context.wrap_bio(incoming, outgoing)
    for _ in range(20):
        try:
            client.do_handshake()
            break
        except ssl.SSLWantReadError:
            theirs.sendall(outgoing.read())
            connection.doRead()
            connection.doWrite()
            incoming.write(readAll(theirs))
    theirs.sendall(outgoing.read())
    connection.doRead()
    connection.doWrite()  # the session tickets
    testCase.assertTrue(tls._handshakeDone)

    def read() -> bytes:
        incoming.write(readAll(theirs))
        plain = b""
        while True:
            try:
                plain += client.read(1 << 20)
            except ssl.SSLWantReadError:
                return plain

    return connection, read, clock


class TLSWriterTests(SynchronousTestCase):
    """
    For Twisted's TLS over a socket transport, L{writerFor} encrypts each
    write at once and sends the records straight to the socket.
    """

    def test_atOnce(self) -> None:
        """
        The bytes reach the socket encrypted in the same call: nothing waits
        in Twisted's TLS for the next iteration, nor in the socket
        transport's buffer.
        """
        connection, read, clock = tlsPair(self)
        writerFor(connection.protocol)(b"hello")
        self.assertEqual(clock.getDelayedCalls(), [])
        self.assertEqual((connection._tempDataLen, connection.dataBuffer), (0, b""))
        self.assertEqual(read(), b"hello")

    def test_heldBytesFirst(self) -> None:
        """
        Bytes Twisted's TLS holds for the next iteration (a response head
        written through the transport) are sent before the writer's.
        """
        connection, read, clock = tlsPair(self)
        tls = connection.protocol
        tls.write(b"head\r\n\r\n")
        writerFor(tls)(b"audio")
        self.assertEqual(read(), b"head\r\n\r\naudio")
        clock.advance(0)
        self.assertEqual(read(), b"")

    def test_overflowKeepsOrder(self) -> None:
        """
        Records the kernel does not take wait in the socket transport's
        buffer, and later records queue behind them.
        """
        connection, read, _ = tlsPair(self)
        connection.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        overflowAndDrain(self, connection, writerFor(connection.protocol), read)
