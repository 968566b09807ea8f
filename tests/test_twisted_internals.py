"""
The private parts of Twisted that txradio relies on, pinned.

Three modules reach past Twisted's public API on purpose, each for a reason
given where it does: L{txradio.stream._writer} writes straight to a
listener's socket when the transport's own buffer is empty (and reads that
buffer's internals to know); L{txradio.web.browse} overrides private
methods of C{twisted.web.static.File} to fix its Range handling; and
L{txradio.operations.clock} replaces a reactor's C{seconds}, which every
timer of C{ReactorBase} reads.  A Twisted upgrade may rename or change any
of them without notice: these tests then fail with a message naming the
Twisted internal and the txradio module to revisit, rather than letting
txradio fall back silently (the writer would quietly stop sending
directly) or fail at run time.
"""

from __future__ import annotations

import inspect
import os
import socket

from twisted.internet import abstract, tcp
from twisted.internet.base import DelayedCall, ReactorBase
from twisted.internet.error import ConnectionLost
from twisted.internet.protocol import Protocol
from twisted.internet.testing import MemoryReactor
from twisted.trial.unittest import SynchronousTestCase
from twisted.web import static
from twisted.web.test.requesthelper import DummyRequest

import twisted
from txradio.operations.clock import steadyReactorTime
from txradio.stream import _writer
from txradio.web import browse


def changed(internal: str, user: str, detail: str) -> str:
    """
    @param internal: the Twisted internal, e.g.
        C{"twisted.internet.abstract.FileDescriptor._tempDataLen"}.
    @param user: the txradio module relying on it.
    @param detail: what was found.
    @return: the failure message.
    """
    return (
        f"Twisted {twisted.__version__} changed {internal}, which {user} relies on: {detail}. "
        f"Read {user} and adapt it (or drop the override if Twisted now does the right thing)."
    )


class WriterInternalsTests(SynchronousTestCase):
    """
    What L{txradio.stream._writer} reads of a TCP transport.
    """

    USER = "txradio.stream._writer"

    def connection(self) -> tcp.Connection:
        ours, theirs = socket.socketpair()
        self.addCleanup(ours.close)
        self.addCleanup(theirs.close)
        connection = tcp.Connection(ours, Protocol(), reactor=MemoryReactor())
        connection.connected = 1
        return connection

    def test_attributes(self) -> None:
        """
        A TCP transport is an C{abstract.FileDescriptor} with C{socket},
        C{_tempDataLen}, C{_tempDataBuffer}, C{dataBuffer}, C{offset},
        C{connected} and C{disconnecting}, so the writer takes its direct
        path.
        """
        connection = self.connection()
        self.assertIsInstance(
            connection,
            abstract.FileDescriptor,
            changed("twisted.internet.tcp.Connection", self.USER, "it is no longer an abstract.FileDescriptor"),
        )
        for name in ("socket", "_tempDataLen", "_tempDataBuffer", "dataBuffer", "offset", "connected", "disconnecting"):
            self.assertTrue(
                hasattr(connection, name),
                changed(f"twisted.internet.abstract.FileDescriptor.{name}", self.USER, "the attribute is gone"),
            )
        self.assertTrue(
            _writer._canSendDirectly(connection),
            changed("twisted.internet.tcp.Connection", self.USER, "the writer no longer recognises it"),
        )
        self.assertIsNot(
            _writer.writerFor(connection),
            connection.write,
            changed("twisted.internet.tcp.Connection", self.USER, "writes no longer go straight to the socket"),
        )

    def test_bufferSemantics(self) -> None:
        """
        C{write} queues in C{_tempDataBuffer} and counts in C{_tempDataLen};
        C{doWrite} moves it to C{dataBuffer}, sends from C{offset}, and
        leaves C{offset == len(dataBuffer)} and C{_tempDataLen == 0} once
        all is sent: the writer's test for an empty buffer.
        """
        internal = "twisted.internet.abstract.FileDescriptor.write/doWrite"
        connection = self.connection()
        self.assertEqual(
            (connection._tempDataLen, connection.offset, len(connection.dataBuffer)),
            (0, 0, 0),
            changed(internal, self.USER, "a new transport's buffer does not start empty"),
        )
        connection.write(b"abc")
        self.assertEqual(
            (connection._tempDataLen, b"".join(connection._tempDataBuffer)),
            (3, b"abc"),
            changed(internal, self.USER, "write no longer queues in _tempDataBuffer/_tempDataLen"),
        )
        self.assertIsNone(connection.doWrite())
        self.assertEqual(
            (connection._tempDataLen, connection.offset == len(connection.dataBuffer)),
            (0, True),
            changed(internal, self.USER, "after doWrite sent everything the buffer does not read as empty"),
        )

    def test_errorFoundByDoWrite(self) -> None:
        """
        After a failed send the writer leaves the bytes to C{write}, and
        C{doWrite} reports the lost connection itself.
        """
        connection = self.connection()
        connection.socket.shutdown(socket.SHUT_RDWR)
        connection.write(b"x")
        self.assertIsInstance(
            connection.doWrite(),
            ConnectionLost,
            changed("twisted.internet.abstract.FileDescriptor.doWrite", self.USER, "a send error is not reported"),
        )


class StaticFileInternalsTests(SynchronousTestCase):
    """
    The private methods of C{twisted.web.static.File} that
    L{txradio.web.browse} calls and overrides.
    """

    USER = "txradio.web.browse"

    def song(self) -> static.File:
        path = self.mktemp()
        with open(path, "wb") as f:
            f.write(bytes(1000))
        return static.File(os.path.abspath(path))

    def assertSignature(self, name: str, parameters: list[str]) -> None:
        internal = f"twisted.web.static.File.{name}"
        method = getattr(static.File, name, None)
        self.assertIsNotNone(method, changed(internal, self.USER, "the method is gone"))
        found = list(inspect.signature(method).parameters)
        self.assertEqual(found, parameters, changed(internal, self.USER, f"its parameters are now {found}"))

    def test_signatures(self) -> None:
        """
        The three methods exist with the parameters the overrides and
        calls in L{txradio.web.browse} use.
        """
        self.assertSignature("_parseRangeHeader", ["self", "range"])
        self.assertSignature("_rangeToOffsetAndSize", ["self", "start", "end"])
        self.assertSignature("_doMultipleRangeRequest", ["self", "request", "byteRanges"])
        self.assertTrue(issubclass(browse._SongFile, static.File))

    def test_parseRangeHeader(self) -> None:
        """
        C{_parseRangeHeader} returns C{(start, end)} pairs, L{None} for an
        open end or a suffix's start, and raises L{ValueError} for a
        malformed header.
        """
        internal = "twisted.web.static.File._parseRangeHeader"
        song = self.song()
        self.assertEqual(
            song._parseRangeHeader(b"bytes=0-9,20-,-5"),
            [(0, 9), (20, None), (None, 5)],
            changed(internal, self.USER, "it returns something else"),
        )
        self.assertRaises(ValueError, song._parseRangeHeader, b"lines=1-2")

    def test_rangeToOffsetAndSize(self) -> None:
        """
        C{_rangeToOffsetAndSize} returns C{(offset, size)} in bytes.
        """
        internal = "twisted.web.static.File._rangeToOffsetAndSize"
        song = self.song()
        song.restat()
        self.assertEqual(
            [song._rangeToOffsetAndSize(0, 9), song._rangeToOffsetAndSize(990, None)],
            [(0, 10), (990, 10)],
            changed(internal, self.USER, "it returns something else"),
        )

    def test_doMultipleRangeRequest(self) -> None:
        """
        C{_doMultipleRangeRequest} returns a list of C{(boundary, offset,
        size)} parts for ranges in the file (and a closing boundary of size
        0).
        """
        internal = "twisted.web.static.File._doMultipleRangeRequest"
        song = self.song()
        song.restat()
        request = DummyRequest([b""])
        parts = song._doMultipleRangeRequest(request, [(0, 9), (100, 109)])
        self.assertIsInstance(parts, list, changed(internal, self.USER, f"it returns {type(parts)}"))
        self.assertEqual(
            [part[1:] for part in parts],
            [(0, 10), (100, 10), (0, 0)],
            changed(internal, self.USER, "its parts are no longer (boundary, offset, size)"),
        )


class ReactorClockInternalsTests(SynchronousTestCase):
    """
    What L{txradio.operations.clock} assumes of C{ReactorBase}: every timer
    reads the reactor's C{seconds}, so replacing it moves them all.
    """

    USER = "txradio.operations.clock"

    def test_timersReadSeconds(self) -> None:
        """
        C{callLater} schedules by the instance's C{seconds}, and
        C{runUntilCurrent} runs what is due by it.
        """
        internal = "twisted.internet.base.ReactorBase.seconds"
        self.assertTrue(callable(getattr(ReactorBase, "seconds", None)), changed(internal, self.USER, "it is gone"))

        class Reactor(ReactorBase):
            def installWaker(self) -> None:
                pass

        reactor = Reactor()
        now = [1000.0]
        self.assertTrue(
            steadyReactorTime(reactor, lambda: now[0]),
            changed("twisted.internet.base.ReactorBase", self.USER, "the clock no longer takes it over"),
        )
        ran = []
        call = reactor.callLater(5, ran.append, "due")
        self.assertIsInstance(call, DelayedCall)
        self.assertEqual(call.getTime(), 1005.0, changed("ReactorBase.callLater", self.USER, "it ignores seconds"))
        reactor.runUntilCurrent()
        self.assertEqual(ran, [])
        now[0] = 1005.0
        reactor.runUntilCurrent()
        self.assertEqual(ran, ["due"], changed("ReactorBase.runUntilCurrent", self.USER, "it ignores seconds"))
