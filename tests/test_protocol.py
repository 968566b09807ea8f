"""
Tests for L{txradio.net.listenerport}: the listener port's handshake, its error
replies, its limits and its hand-over to the web site.
"""

from __future__ import annotations

from http import HTTPStatus

from twisted.internet.address import IPv4Address
from twisted.internet.interfaces import IProtocolNegotiationFactory
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase

from zope.interface.verify import verifyObject

from txradio.net.listenerphases import TRANSITIONS, Phase, advance
from txradio.net.listenerport import ListenerFactory
from txradio.net.listenerprotocol import ListenerProtocol
from txradio.stream.station import Station
from txradio.testing import FakeFrameSource
from txradio.web.site import buildSite
from txradio.wire.icy import MetadataDemuxer

MPG123 = (
    b"GET /stream HTTP/1.0\r\nHost: 127.0.0.1:8000\r\nUser-Agent: mpg123/1.31.2\r\n"
    b"Accept: audio/mpeg, audio/x-mpeg, audio/mp3, audio/x-mp3, audio/mpeg3, */*\r\n"
    b"Icy-MetaData: 1\r\n\r\n"
)
BROWSER = (
    b"GET /stream HTTP/1.1\r\nHost: radio.example\r\nUser-Agent: Mozilla/5.0 Chrome/120\r\n"
    b"Accept-Encoding: identity;q=1, *;q=0\r\nRange: bytes=0-\r\n\r\n"
)


class ProtocolTestMixin:
    """
    A started station and a factory on a fake clock.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.source = FakeFrameSource(titles=["Song A", "Song B"], framesPerTrack=500)
        self.station = Station(self.source, clock=self.clock, maxListeners=2)
        self.station.startService()
        self.factory = ListenerFactory(
            {self.station.mount: self.station},
            site=buildSite([self.station], clock=self.clock),
            clock=self.clock,
        )
        self.clock.pump([0.5] * 10)

    def connect(self) -> tuple[ListenerProtocol, StringTransport]:
        protocol = self.factory.buildProtocol(IPv4Address("TCP", "192.0.2.7", 5555))
        transport = StringTransport(peerAddress=IPv4Address("TCP", "192.0.2.7", 5555))
        protocol.makeConnection(transport)
        return protocol, transport

    def request(self, data: bytes) -> tuple[ListenerProtocol, StringTransport]:
        protocol, transport = self.connect()
        protocol.dataReceived(data)
        return protocol, transport

    def status(self, transport: StringTransport) -> bytes:
        return transport.value().split(b"\r\n", 1)[0]


class HandshakeTests(ProtocolTestMixin, SynchronousTestCase):
    """
    Players get the ICY handshake and the stream.
    """

    def test_mpg123(self) -> None:
        """
        A request as mpg123 sends it gets a 200 with C{icy-metaint} and audio
        with metadata blocks.
        """
        protocol, transport = self.request(MPG123)
        head, _, body = transport.value().partition(b"\r\n\r\n")
        self.assertEqual(head.split(b"\r\n")[0], b"HTTP/1.0 200 OK")
        self.assertIn(b"icy-metaint:16000", head.split(b"\r\n"))
        self.assertIn(b"icy-br:128", head.split(b"\r\n"))
        self.clock.pump([0.5] * 4)
        body = transport.value().partition(b"\r\n\r\n")[2]
        items = MetadataDemuxer(16000).feed(body)
        self.assertIn({"StreamTitle": "Song A"}, items)
        self.assertFalse(transport.disconnecting)
        self.assertEqual(self.station.listenerCount, 1)

    def test_browserRange(self) -> None:
        """
        A browser's C{Range: bytes=0-} gets the live stream with a 200 and no
        metadata.
        """
        _, transport = self.request(BROWSER)
        head, _, body = transport.value().partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.0 200 OK\r\n"))
        self.assertNotIn(b"\r\nicy-metaint:", head)
        self.assertEqual(body[:2], b"\xff\xfb")

    def test_splitRequest(self) -> None:
        """
        A request arriving one byte at a time is answered once complete.
        """
        protocol, transport = self.connect()
        for index in range(len(MPG123) - 1):
            protocol.dataReceived(MPG123[index : index + 1])
        self.assertEqual(transport.value(), b"")
        protocol.dataReceived(MPG123[-1:])
        self.assertEqual(self.status(transport), b"HTTP/1.0 200 OK")

    def test_trailingBytesIgnored(self) -> None:
        """
        Bytes a listener sends after its request are ignored.
        """
        protocol, transport = self.request(MPG123 + b"junk")
        protocol.dataReceived(b"more junk")
        self.assertEqual(self.status(transport), b"HTTP/1.0 200 OK")
        self.assertFalse(transport.disconnecting)

    def test_head(self) -> None:
        """
        C{HEAD} gets the headers and the connection closes.
        """
        _, transport = self.request(b"HEAD /stream HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertTrue(transport.value().endswith(b"\r\n\r\n"))
        self.assertEqual(self.status(transport), b"HTTP/1.0 200 OK")
        self.assertTrue(transport.disconnecting)
        self.assertEqual(self.station.listenerCount, 0)

    def test_options(self) -> None:
        """
        A CORS preflight gets a 204 with the allowed methods and headers.
        """
        _, transport = self.request(b"OPTIONS /stream HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(self.status(transport), b"HTTP/1.0 204 No Content")
        self.assertIn(b"Access-Control-Allow-Headers: Icy-MetaData", transport.value())

    def test_legacyPaths(self) -> None:
        """
        C{/;} serves the default station, and so does C{/} for a player that
        asks for metadata, while a browser at C{/} gets the page.
        """
        _, transport = self.request(b"GET /; HTTP/1.0\r\n\r\n")
        self.assertIn(b"audio/mpeg", transport.value())
        _, transport = self.request(b"GET / HTTP/1.0\r\nIcy-MetaData: 1\r\nUser-Agent: WinampMPEG/5.66\r\n\r\n")
        self.assertIn(b"audio/mpeg", transport.value())
        _, transport = self.request(b"GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: Mozilla/5.0\r\n\r\n")
        self.assertIn(b"text/html", transport.value())

    def test_queryIgnored(self) -> None:
        """
        A cache-busting query string on the mount still gets the stream.
        """
        _, transport = self.request(b"GET /stream?nocache=123 HTTP/1.0\r\n\r\n")
        self.assertIn(b"audio/mpeg", transport.value())

    def test_connectionLostLeaves(self) -> None:
        """
        When the connection closes the listener leaves the station.
        """
        protocol, transport = self.request(MPG123)
        self.assertEqual(self.station.listenerCount, 1)
        protocol.connectionLost(None)
        self.assertEqual(self.station.listenerCount, 0)


class ErrorReplyTests(ProtocolTestMixin, SynchronousTestCase):
    """
    Bad requests get a clear status and the connection closes at once.
    """

    def assertRefused(self, data: bytes, status: bytes) -> bytes:
        _, transport = self.request(data)
        self.assertEqual(self.status(transport), status)
        self.assertTrue(transport.disconnecting)
        return transport.value()

    def test_garbage(self) -> None:
        """
        Binary garbage gets a 400 at once.
        """
        self.assertRefused(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", b"HTTP/1.0 400 Bad Request")

    def test_http09(self) -> None:
        """
        An HTTP/0.9 request gets a 400.
        """
        self.assertRefused(b"GET /stream\r\n", b"HTTP/1.0 400 Bad Request")

    def test_notFound(self) -> None:
        """
        A path that is neither a mount nor a page gets a 404 from the site.
        """
        _, transport = self.request(b"GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(self.status(transport), b"HTTP/1.1 404 Not Found")

    def test_notFoundWithoutSite(self) -> None:
        """
        Without a site, an unknown path gets a 404 from the protocol.
        """
        self.factory.site = None
        self.assertRefused(b"GET /nothing HTTP/1.0\r\n\r\n", b"HTTP/1.0 404 Not Found")

    def test_method(self) -> None:
        """
        Another method on a mount gets a 405 with C{Allow}.
        """
        reply = self.assertRefused(b"POST /stream HTTP/1.1\r\nHost: x\r\n\r\n", b"HTTP/1.0 405 Method Not Allowed")
        self.assertIn(b"Allow: GET, HEAD, OPTIONS", reply)

    def test_longURL(self) -> None:
        """
        A very long URL gets a 414 before the line even ends, with the
        standard library's reason phrase (Python 3.13 follows RFC 9110's
        "URI Too Long"; 3.11 and 3.12 say "Request-URI Too Long").
        """
        phrase = HTTPStatus.REQUEST_URI_TOO_LONG.phrase.encode("ascii")
        self.assertRefused(b"GET /" + b"a" * 20000, b"HTTP/1.0 414 " + phrase)

    def test_tooManyHeaders(self) -> None:
        """
        Too many header fields get a 431.
        """
        headers = b"".join(b"X-%d: y\r\n" % n for n in range(200))
        self.assertRefused(b"GET /stream HTTP/1.0\r\n" + headers + b"\r\n", b"HTTP/1.0 431 Request Header Fields Too Large")

    def test_headerTooLarge(self) -> None:
        """
        An oversized header field gets a 431.
        """
        self.assertRefused(
            b"GET /stream HTTP/1.0\r\nCookie: " + b"a" * 20000, b"HTTP/1.0 431 Request Header Fields Too Large"
        )

    def test_full(self) -> None:
        """
        Past the listener limit, a new listener gets a 503 and the others
        keep playing.
        """
        _, first = self.request(MPG123)
        self.request(MPG123)
        reply = self.assertRefused(MPG123, b"HTTP/1.0 503 Service Unavailable")
        self.assertIn(b"Retry-After", reply)
        before = len(first.value())
        self.clock.advance(self.station.broadcaster.tickInterval)
        self.assertGreater(len(first.value()), before)

    def test_headerTimeout(self) -> None:
        """
        A client that trickles its request head is closed when the header
        timeout runs out, counted from connecting.
        """
        protocol, transport = self.connect()
        for _ in range(14):
            protocol.dataReceived(b"X")
            self.clock.advance(1)
        self.assertFalse(transport.disconnecting)
        self.clock.advance(1)
        self.assertTrue(transport.disconnecting)
        self.assertEqual(self.status(transport), b"HTTP/1.0 408 Request Timeout")

    def test_timeoutCancelled(self) -> None:
        """
        Once the head has arrived, the header timeout no longer applies.
        """
        _, transport = self.request(MPG123)
        self.clock.pump([1] * 30)
        self.assertFalse(transport.disconnecting)


class SiteHandOverTests(ProtocolTestMixin, SynchronousTestCase):
    """
    Requests that are not streams go to the web site, and a stream request
    on a connection the site holds comes back to the listener protocol.
    """

    def test_playlist(self) -> None:
        """
        A playlist request is answered by the site with absolute URLs built
        from the C{Host} header.
        """
        _, transport = self.request(b"GET /stream.m3u HTTP/1.1\r\nHost: radio.example:8000\r\n\r\n")
        reply = transport.value()
        self.assertTrue(reply.startswith(b"HTTP/1.1 200 OK"))
        self.assertIn(b"audio/x-mpegurl", reply)
        self.assertIn(b"http://radio.example:8000/stream\r\n", reply)

    def test_badHostIgnored(self) -> None:
        """
        A C{Host} header that is not a plain host name is not used in URLs.
        """
        _, transport = self.request(b'GET /listen.pls HTTP/1.1\r\nHost: x"><script>\r\n\r\n')
        self.assertNotIn(b"<script>", transport.value())
        self.assertIn(b"File1=http://", transport.value())

    def test_keepAliveThenStream(self) -> None:
        """
        A client that fetched a page and then asks for the stream on the same
        connection gets the stream.
        """
        protocol, transport = self.request(b"GET /stream.pls HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertIn(b"[playlist]", transport.value())
        transport.clear()
        protocol.dataReceived(b"GET /stream HTTP/1.1\r\nHost: x\r\nIcy-MetaData: 1\r\n\r\n")
        head = transport.value().partition(b"\r\n\r\n")[0]
        self.assertTrue(head.startswith(b"HTTP/1.0 200 OK"), head)
        self.assertIn(b"icy-metaint:16000", head)
        self.assertEqual(self.station.listenerCount, 1)
        self.assertIsNot(transport.producer, None)
        before = len(transport.value())
        self.clock.advance(self.station.broadcaster.tickInterval)
        self.assertGreater(len(transport.value()), before)
        protocol.connectionLost(None)
        self.assertEqual(self.station.listenerCount, 0)

    def test_page(self) -> None:
        """
        The page at C{/} names the station and what it plays.
        """
        _, transport = self.request(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        reply = transport.value()
        self.assertIn(b"text/html", reply)
        self.assertIn(b"Song A", reply)
        self.assertIn(b'<audio controls="" preload="none" src="/stream">', reply)


class PhaseTests(ProtocolTestMixin, SynchronousTestCase):
    """
    A listener connection is in one L{Phase} at a time, and moves only as
    L{TRANSITIONS} allows.
    """

    def test_interface(self) -> None:
        """
        L{ListenerFactory} provides L{IProtocolNegotiationFactory}.
        """
        self.assertTrue(verifyObject(IProtocolNegotiationFactory, self.factory))

    def test_advance(self) -> None:
        """
        L{advance} returns the new phase for an allowed move and raises
        L{ValueError} for any other, and every phase can be lost.
        """
        for current in Phase:
            self.assertIn(Phase.CLOSED, TRANSITIONS[current])
            for new in Phase:
                if new in TRANSITIONS[current]:
                    self.assertIs(advance(current, new), new)
                else:
                    self.assertRaises(ValueError, advance, current, new)

    def test_terminalPhases(self) -> None:
        """
        Streaming and closing lead only to closed; closed leads nowhere else.
        """
        self.assertEqual(TRANSITIONS[Phase.STREAMING], {Phase.CLOSED})
        self.assertEqual(TRANSITIONS[Phase.CLOSING], {Phase.CLOSED})
        self.assertEqual(TRANSITIONS[Phase.CLOSED], {Phase.CLOSED})

    def test_headThenStreaming(self) -> None:
        """
        A connection reads its head, then streams once a mount is asked for,
        and is closed when lost.
        """
        protocol, transport = self.connect()
        self.assertIs(protocol.phase, Phase.HEAD)
        protocol.dataReceived(b"GET /stream HTTP/1.0\r\n")
        self.assertIs(protocol.phase, Phase.HEAD)
        protocol.dataReceived(b"\r\n")
        self.assertIs(protocol.phase, Phase.STREAMING)
        protocol.connectionLost(None)
        self.assertIs(protocol.phase, Phase.CLOSED)

    def test_refusedIsClosing(self) -> None:
        """
        A refused request (a bad head, a C{HEAD}, an C{OPTIONS}) leaves the
        connection closing, and what the client sends next is ignored.
        """
        for request in (b"BREW /pot HTCPCP/1.0\r\n\r\n", b"HEAD /stream HTTP/1.0\r\n\r\n", b"OPTIONS /stream HTTP/1.0\r\n\r\n"):
            protocol, transport = self.request(request)
            self.assertIs(protocol.phase, Phase.CLOSING, request)
            self.assertTrue(transport.disconnecting)
            written = transport.value()
            protocol.dataReceived(b"GET /stream HTTP/1.0\r\n\r\n")
            self.assertEqual(transport.value(), written)

    def test_timeoutIsClosing(self) -> None:
        """
        A head that does not arrive in time leaves the connection closing.
        """
        protocol, transport = self.connect()
        self.clock.advance(self.factory.headerTimeout)
        self.assertIs(protocol.phase, Phase.CLOSING)

    def test_siteAndBack(self) -> None:
        """
        A page request hands the connection to the site; a stream request
        on the same kept-alive connection brings it back to stream.
        """
        protocol, transport = self.request(b"GET /status-json.xsl HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertIs(protocol.phase, Phase.SITE)
        protocol.dataReceived(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertIs(protocol.phase, Phase.STREAMING)

    def test_sourceSession(self) -> None:
        """
        A source request without credentials is refused (closing); the
        station takes no sources here.
        """
        protocol, transport = self.request(b"PUT /stream HTTP/1.1\r\nContent-Type: audio/mpeg\r\n\r\n")
        self.assertIs(protocol.phase, Phase.CLOSING)
