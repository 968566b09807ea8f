"""
Tests for L{txradio.sources.relay} and L{txradio.wire.upstream}: pulling
another server's stream.
"""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase

from zope.interface.verify import verifyObject

from txradio.interfaces import IFrameSource, IRelay
from txradio.sources.relay import RelayFactory, RelaySource
from txradio.testing import syntheticFrame
from txradio.wire.icy import encodeMetadata
from txradio.wire.mp3 import Frame
from txradio.wire.programme import TitleChange
from txradio.wire.upstream import ResponseError, ResponseHeadParser, parseUpstream

FRAME = syntheticFrame()


class UpstreamTests(SynchronousTestCase):
    """
    Upstream URLs are parsed strictly.
    """

    def test_parse(self) -> None:
        """
        Host, port, path and query are taken apart.
        """
        upstream = parseUpstream("http://origin.example:8000/stream?x=1")
        self.assertEqual((upstream.host, upstream.port, upstream.path), ("origin.example", 8000, b"/stream?x=1"))
        self.assertEqual(upstream.hostHeader, b"origin.example:8000")
        self.assertEqual(parseUpstream("https://h/").port, 443)
        self.assertEqual(parseUpstream("http://[::1]:80/s").hostHeader, b"[::1]")

    def test_bad(self) -> None:
        """
        Other schemes, missing hosts and bad ports are refused.
        """
        for url in ("ftp://x/", "http:///x", "http://x:99999/", "icy://x/"):
            self.assertRaises(ValueError, parseUpstream, url)


class ResponseHeadParserTests(SynchronousTestCase):
    """
    Response heads are read within bounds, HTTP or ICY.
    """

    def test_icy(self) -> None:
        """
        SHOUTcast's C{ICY 200 OK} is accepted, split anywhere.
        """
        raw = b"ICY 200 OK\r\nicy-metaint:8192\r\ncontent-type: audio/mpeg\r\n\r\naudio"
        for size in range(1, len(raw)):
            parser = ResponseHeadParser()
            head = None
            for start in range(0, len(raw), size):
                head = head or parser.feed(raw[start : start + size])
            self.assertEqual(head.status, 200)
            self.assertEqual(head.header(b"icy-metaint"), b"8192")

    def test_tooLarge(self) -> None:
        """
        An endless head is refused once it passes the bound.
        """
        parser = ResponseHeadParser()
        parser.feed(b"HTTP/1.0 200 OK\r\n")
        self.assertRaises(ResponseError, lambda: [parser.feed(b"X-A: " + b"a" * 1000 + b"\r\n") for _ in range(20)])

    def test_notHTTP(self) -> None:
        """
        A reply that is not HTTP is refused.
        """
        self.assertRaises(ResponseError, ResponseHeadParser().feed, b"SSH-2.0-OpenSSH\r\n\r\n")


class RelayProtocolTests(SynchronousTestCase):
    """
    The relay connection reads the upstream's head, titles and audio.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.relay = RelaySource("http://origin.example:8000/stream", reactor=object(), clock=self.clock)

    def connect(self) -> tuple:
        protocol = RelayFactory(self.relay).buildProtocol(None)
        transport = StringTransport()
        protocol.makeConnection(transport)
        return protocol, transport

    def test_interface(self) -> None:
        """
        L{RelaySource} is an L{IRelay} (and so an L{IFrameSource}).
        """
        self.assertTrue(verifyObject(IRelay, self.relay))
        self.assertTrue(verifyObject(IFrameSource, self.relay))

    def test_request(self) -> None:
        """
        The relay asks for metadata, with a Host header.
        """
        _, transport = self.connect()
        request = transport.value()
        self.assertTrue(request.startswith(b"GET /stream HTTP/1.0\r\n"))
        self.assertIn(b"Host: origin.example:8000\r\n", request)
        self.assertIn(b"Icy-MetaData: 1\r\n", request)

    def test_audioAndTitles(self) -> None:
        """
        Audio and titles are split apart and re-emitted as frames and marks.
        """
        protocol, _ = self.connect()
        metaint = 1000
        audio = FRAME.data * 10
        blocks = [encodeMetadata("Upstream Song"), b"\x00", b"\x00", b"\x00"]
        stream = b"".join(audio[n * 1000 : (n + 1) * 1000] + blocks[n] for n in range(4)) + audio[4000:]
        protocol.dataReceived(b"HTTP/1.0 200 OK\r\nContent-Type: audio/mpeg\r\nicy-metaint: %d\r\n\r\n" % metaint)
        for start in range(0, len(stream), 77):
            protocol.dataReceived(stream[start : start + 77])
        self.assertTrue(self.relay.onAir)
        items = self.relay.pull(60)
        frames = [item for item in items if isinstance(item, Frame)]
        self.assertEqual(b"".join(f.data for f in frames), audio)
        self.assertIn(TitleChange("Upstream Song"), items)
        protocol.connectionLost(None)
        self.assertFalse(self.relay.onAir)

    def test_otherFormat(self) -> None:
        """
        An upstream that sends another format is refused.
        """
        protocol, transport = self.connect()
        protocol.dataReceived(b"HTTP/1.0 200 OK\r\nContent-Type: audio/aacp\r\n\r\n")
        self.assertTrue(transport.disconnecting or transport.disconnected)
        self.assertEqual(self.relay.failures, 1)
        self.assertFalse(self.relay.onAir)

    def test_errorStatus(self) -> None:
        """
        An error status counts as a failure.
        """
        protocol, _ = self.connect()
        protocol.dataReceived(b"HTTP/1.0 404 Not Found\r\n\r\n")
        self.assertEqual(self.relay.failures, 1)

    def test_silentUpstream(self) -> None:
        """
        An upstream that hangs in its headers is dropped after the timeout.
        """
        protocol, transport = self.connect()
        protocol.dataReceived(b"HTTP/1.0 200 OK\r\n")
        self.clock.advance(9)
        self.assertFalse(transport.disconnecting)
        self.clock.advance(2)
        self.assertTrue(transport.disconnecting or transport.disconnected)

    def test_endlessHeaders(self) -> None:
        """
        An upstream that sends endless headers is dropped.
        """
        protocol, transport = self.connect()
        protocol.dataReceived(b"HTTP/1.0 200 OK\r\n")
        for _ in range(40):
            protocol.dataReceived(b"X-Junk: " + b"j" * 500 + b"\r\n")
        self.assertTrue(transport.disconnecting or transport.disconnected)

    def test_redirectLoop(self) -> None:
        """
        Redirects are followed a bounded number of times, each after a
        delay, so a loop cannot spin.
        """
        self.relay.startService = lambda: None
        self.relay.running = True
        for _ in range(12):
            protocol, _ = self.connect()
            protocol.dataReceived(b"HTTP/1.0 302 Found\r\nLocation: http://origin.example:8000/stream\r\n\r\n")
        self.assertGreaterEqual(self.relay.failures, 1)
        self.assertTrue(self.clock.getDelayedCalls())
        self.relay.running = False
        for call in self.clock.getDelayedCalls():
            call.cancel()
