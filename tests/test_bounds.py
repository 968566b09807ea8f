"""
Every buffer has a number: tests that hit the bounds docs/security.md lists
and that no other test module hits by name.  (Bounds tested elsewhere: the
listener lag limit in C{tests.test_listener.test_droppedAtLagLimit}, SSE
clients in C{tests.test_web_events} C{test_maxClients} and
C{test_slowClientDropped}, ranges in C{tests.test_library.test_tooManyRanges},
the title history in C{tests.test_web_status}, the library index in
C{tests.test_library}, request heads in C{tests.test_request}, the login
throttle's table in C{tests.test_attacks}.)
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.internet.address import IPv4Address
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.protocols.policies import ProtocolWrapper, WrappingFactory
from twisted.trial.unittest import SynchronousTestCase

from txradio.library.index import MAX_QUERY as MAX_SEARCH
from txradio.library.index import MAX_TERMS, searchTerms
from txradio.net.listenerport import ListenerFactory
from txradio.net.listenerprotocol import LISTENER_WRITE_BUFFER
from txradio.net.sourceport import MAX_SHOUTCAST_HEADERS, MAX_SHOUTCAST_LINE, ShoutcastSourceFactory
from txradio.sources.live import DEFAULT_MAX_QUEUE, LiveSource
from txradio.stream.station import Station
from txradio.testing import FakeFrameSource, syntheticFrame
from txradio.web.metadata import MAX_QUERY, parseQuery
from txradio.wire.request import RequestError, RequestHeadParser
from txradio.wire.upstream import MAX_RESPONSE_HEAD, MAX_RESPONSE_HEADERS, ResponseError, ResponseHeadParser


class PureBoundsTests(SynchronousTestCase):
    """
    Bounds of the pure parts.
    """

    def test_liveSourceQueue(self) -> None:
        """
        A live source fed faster than it is pulled holds at most
        L{DEFAULT_MAX_QUEUE} seconds of audio, dropping the oldest.
        """
        live = LiveSource()
        frame = syntheticFrame(marker=1)
        count = int(3 * DEFAULT_MAX_QUEUE / frame.duration)
        live.feed(frame.data * count)
        self.assertLessEqual(live.queuedSeconds, DEFAULT_MAX_QUEUE)
        self.assertGreater(live.queuedSeconds, DEFAULT_MAX_QUEUE - 1)
        self.assertGreater(live.framesDropped, count // 2)

    def test_relayHead(self) -> None:
        """
        A relay's upstream may send at most L{MAX_RESPONSE_HEAD} bytes of
        head and L{MAX_RESPONSE_HEADERS} header lines; endless headers are
        refused once the budget is spent, without waiting for their end.
        """
        parser = ResponseHeadParser()
        parser.feed(b"HTTP/1.0 200 OK\r\n")
        with self.assertRaises(ResponseError):
            for _ in range(MAX_RESPONSE_HEAD):
                parser.feed(b"X-Endless: yes\r\n")
        self.assertLessEqual(len(parser._buffer), MAX_RESPONSE_HEAD + 64)
        many = b"HTTP/1.0 200 OK\r\n" + b"A: b\r\n" * (MAX_RESPONSE_HEADERS + 1) + b"\r\n"
        self.assertRaises(ResponseError, ResponseHeadParser().feed, many)

    def test_relayHeadFailure(self) -> None:
        """
        L{ResponseHeadParser.feedOrFail} hands a bad head's reason to its
        callback and returns L{None}; a good head is returned.
        """
        reasons: list[str] = []
        many = b"HTTP/1.0 200 OK\r\n" + b"A: b\r\n" * (MAX_RESPONSE_HEADERS + 1) + b"\r\n"
        self.assertIsNone(ResponseHeadParser().feedOrFail(many, reasons.append))
        self.assertEqual(reasons, ["the upstream sent too many header lines"])
        head = ResponseHeadParser().feedOrFail(b"ICY 200 OK\r\n\r\n", reasons.append)
        self.assertEqual((head.status if head is not None else None, len(reasons)), (200, 1))

    def test_requestHeadMemory(self) -> None:
        """
        A request head streamed without end is refused with 431 while the
        parser holds no more than one line.
        """
        parser = RequestHeadParser()
        parser.feed(b"GET /stream HTTP/1.0\r\nX-Endless: ")
        with self.assertRaises(RequestError) as caught:
            for _ in range(10000):
                parser.feed(b"a" * 100)
                self.assertLessEqual(len(parser._buffer), parser.maxLineLength + 100)
        self.assertEqual(caught.exception.code, 431)

    def test_metadataQuery(self) -> None:
        """
        A metadata update's query may be at most L{MAX_QUERY} bytes.
        """
        self.assertEqual(parseQuery(b"a=" + b"b" * (MAX_QUERY - 2)), {b"a": b"b" * (MAX_QUERY - 2)})
        self.assertRaises(ValueError, parseQuery, b"a=" + b"b" * (MAX_QUERY - 1))

    def test_searchQuery(self) -> None:
        """
        A library search reads at most L{MAX_SEARCH} characters and
        L{MAX_TERMS} words.
        """
        terms = searchTerms("word " * 1000)
        self.assertEqual(len(terms), MAX_TERMS)
        self.assertLessEqual(sum(len(t) + 1 for t in searchTerms("x" * 10000)), MAX_SEARCH + 1)

    def listenerOver(self, wrap: Callable[[Protocol], Protocol]) -> StringTransport:
        """
        Connect a listener (wrapped by C{wrap}) to a L{StringTransport} whose
        C{bufferSize} is Twisted's default, and start it streaming.

        @return: the transport.
        """
        clock = Clock()
        station = Station(FakeFrameSource(), clock=clock)
        station.startService()
        self.addCleanup(station.stopService)
        factory = ListenerFactory({station.mount: station}, clock=clock)
        protocol = factory.buildProtocol(None)
        transport = StringTransport(peerAddress=IPv4Address("TCP", "192.0.2.5", 5))
        transport.bufferSize = 65536
        wrap(protocol).makeConnection(transport)
        protocol.dataReceived(b"GET /stream HTTP/1.0\r\n\r\n")
        self.assertTrue(transport.value().startswith(b"HTTP/1.0 200"))
        self.addCleanup(protocol.connectionLost, None)
        return transport

    def test_listenerWriteBuffer(self) -> None:
        """
        A listener's Twisted write buffer is cut to L{LISTENER_WRITE_BUFFER}
        bytes when it starts streaming.
        """
        transport = self.listenerOver(lambda protocol: protocol)
        self.assertEqual(transport.bufferSize, LISTENER_WRITE_BUFFER)

    def test_listenerWriteBufferBelowTLS(self) -> None:
        """
        Under a protocol wrapper (as Twisted's TLS is), the cut applies to
        the socket transport below it.
        """
        transport = self.listenerOver(lambda protocol: ProtocolWrapper(WrappingFactory(Factory()), protocol))
        self.assertEqual(transport.bufferSize, LISTENER_WRITE_BUFFER)

    def shoutcast(self, data: bytes) -> bytes:
        station = Station(None, clock=Clock(), sourcePassword="pw")
        factory = ShoutcastSourceFactory(station, clock=Clock())
        protocol = factory.buildProtocol(None)
        transport = StringTransport(peerAddress=IPv4Address("TCP", "192.0.2.5", 5))
        protocol.makeConnection(transport)
        protocol.dataReceived(data)
        self.assertTrue(transport.disconnecting)
        return transport.value()

    def test_shoutcastHandshake(self) -> None:
        """
        A SHOUTcast v1 source may send lines of at most
        L{MAX_SHOUTCAST_LINE} bytes and at most L{MAX_SHOUTCAST_HEADERS}
        header lines.
        """
        self.assertEqual(self.shoutcast(b"x" * (MAX_SHOUTCAST_LINE + 1)), b"line too long\r\n")
        out = self.shoutcast(b"pw\r\n" + b"icy-x: y\r\n" * (MAX_SHOUTCAST_HEADERS + 1))
        self.assertTrue(out.endswith(b"too many header lines\r\n"), out)
