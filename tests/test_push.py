"""
Tests for L{txradio.net.push}: feeding an upstream Icecast as its source.
"""

from __future__ import annotations

from twisted.internet.defer import succeed
from twisted.internet.interfaces import IPushProducer
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase

from zope.interface.verify import verifyObject

from txradio.interfaces import IListener
from txradio.net.push import PushClient, PushFactory, PushProtocol, metadataRequest
from txradio.stream.station import Station
from txradio.testing import FakeFrameSource
from txradio.wire.upstream import parseUpstream


class RecordingEndpoint:
    """
    An endpoint that records what it is asked to connect, connecting nothing.
    """

    def __init__(self) -> None:
        self.factories: list = []

    def connect(self, factory):
        self.factories.append(factory)
        return succeed(None)


class PushProtocolTests(SynchronousTestCase):
    """
    The push logs in with PUT, streams the mount and sends titles.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.station = Station(FakeFrameSource(["One", "Two"], framesPerTrack=100), clock=self.clock)
        self.station.startService()
        self.endpoint = RecordingEndpoint()
        self.push = PushClient(
            self.station,
            "http://icecast.example:8000/relay",
            password="pw",
            reactor=object(),
            clock=self.clock,
            endpointFactory=lambda upstream: self.endpoint,
        )

    def test_interface(self) -> None:
        """
        L{PushProtocol} provides L{IListener} and L{IPushProducer}.
        """
        protocol, _ = self.connect()
        self.assertIsInstance(protocol, PushProtocol)
        self.assertTrue(verifyObject(IListener, protocol))
        self.assertTrue(verifyObject(IPushProducer, protocol))

    def connect(self) -> tuple:
        protocol = PushFactory(self.push).buildProtocol(None)
        transport = StringTransport()
        protocol.makeConnection(transport)
        return protocol, transport

    def test_request(self) -> None:
        """
        The push sends a C{PUT} with Basic credentials, the content type and
        the station's info.
        """
        _, transport = self.connect()
        request = transport.value()
        self.assertTrue(request.startswith(b"PUT /relay HTTP/1.1\r\n"))
        self.assertIn(b"Authorization: Basic c291cmNlOnB3\r\n", request)
        self.assertIn(b"Content-Type: audio/mpeg\r\n", request)
        self.assertIn(b"Expect: 100-continue\r\n", request)
        self.assertIn(b"ice-name: txradio\r\n", request)

    def test_streams(self) -> None:
        """
        After C{100 Continue} the mount's audio is written and each title is
        sent as a metadata update.
        """
        protocol, transport = self.connect()
        transport.clear()
        protocol.dataReceived(b"HTTP/1.1 100 Continue\r\n\r\n")
        self.assertEqual(self.push.state, "streaming")
        self.clock.pump([0.5] * 6)
        self.assertGreater(len(transport.value()), 10000)
        self.assertEqual(transport.value()[:2], b"\xff\xfb")
        self.assertEqual(len(self.endpoint.factories), 2)
        protocol.connectionLost(None)
        self.assertEqual(self.station.listenerCount, 0)

    def test_refused(self) -> None:
        """
        A 401 from Icecast is a failure, and the connection is dropped.
        """
        protocol, transport = self.connect()
        protocol.dataReceived(b"HTTP/1.0 401 Unauthorized\r\n\r\n")
        self.assertEqual(self.push.failures, 1)
        self.assertTrue(transport.disconnecting or transport.disconnected)
        self.assertEqual(self.station.listenerCount, 0)

    def test_stalledUpstream(self) -> None:
        """
        An upstream that stops reading is given up on past the backlog
        limit.
        """
        protocol, transport = self.connect()
        protocol.dataReceived(b"HTTP/1.0 200 OK\r\n\r\n")
        protocol.pauseProducing()
        self.clock.pump([0.5] * 80)
        self.assertEqual(self.push.failures, 1)

    def test_metadataRequest(self) -> None:
        """
        The metadata update names the mount, escapes the title and
        authenticates.
        """
        request = metadataRequest(parseUpstream("http://h:8000/relay"), "source", "pw", "A & B – C")
        self.assertTrue(
            request.startswith(
                b"GET /admin/metadata?mount=/relay&mode=updinfo&charset=UTF-8&song=A%20%26%20B%20%E2%80%93%20C HTTP/1.0\r\n"
            )
        )
        self.assertIn(b"Host: h:8000\r\n", request)
