"""
Tests for L{txradio.stream._writer}: writing straight to a socket when Twisted's
buffer is empty, and through it otherwise, without reordering bytes.
"""

from __future__ import annotations

import socket

from twisted.internet.error import ConnectionLost
from twisted.internet.protocol import Protocol
from twisted.internet.tcp import Connection
from twisted.internet.testing import MemoryReactor, StringTransport
from twisted.trial.unittest import SynchronousTestCase

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
        write = writerFor(connection)
        pieces = [bytes([n]) * 50000 for n in range(1, 6)]
        for piece in pieces:
            write(piece)
        self.assertGreater(connection._tempDataLen, 0)
        received = b""
        for _ in range(1000):
            received += readAll(peer)
            if connection._tempDataLen or connection.dataBuffer:
                connection.doWrite()
            else:
                received += readAll(peer)
                break
        self.assertEqual(received, b"".join(pieces))

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
