"""
Tests for L{txradio.web.events}: live updates of the station page over
Server-Sent Events, on a fake clock.
"""

from __future__ import annotations

import json

from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import IPushProducer
from twisted.internet.task import Clock
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from zope.interface.verify import verifyObject

from tests._web import SiteClient, _dechunk, requestBytes
from txradio.net.listenerport import ListenerFactory
from txradio.stream.station import Station
from txradio.testing import FakeFrameSource, connectInMemory
from txradio.web.events import EventClient, EventHub, EventLimits, formatEvent
from txradio.web.site import buildSite


def readEvents(raw: bytes) -> list[tuple[str, object]]:
    """
    Parse the events an event stream carried so far.

    @param raw: the response's bytes, head included.
    @return: C{(event, data)} pairs; comments as C{(":", text)}.
    """
    head, _, body = raw.partition(b"\r\n\r\n")
    if b"chunked" in head.lower():
        body = _dechunk(body)
    events: list[tuple[str, object]] = []
    for block in body.decode("utf-8").split("\n\n"):
        if not block:
            continue
        if block.startswith(":"):
            events.append((":", block[1:].strip()))
            continue
        fields = dict(line.split(": ", 1) for line in block.split("\n") if ": " in line)
        if "event" in fields:
            events.append((fields["event"], json.loads(fields["data"])))
    return events


class EventsTests(SynchronousTestCase):
    """
    C{/events} streams each mount's state, then what changes.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.source = FakeFrameSource(titles=["Song A", "Song B"], framesPerTrack=100)
        self.station = Station(self.source, clock=self.clock)
        self.station.startService()
        self.site = buildSite([self.station], clock=self.clock)
        self.hub: EventHub = self.site.resource.events
        self.client = SiteClient(self, self.site)
        self.clock.advance(0)

    def tearDown(self) -> None:
        self.hub.stopService()
        self.station.stopService()
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_interface(self) -> None:
        """
        Each page following C{/events} is an L{EventClient}, which provides
        L{IPushProducer}.
        """
        self.follow()
        clients = list(self.hub.clients)
        self.assertTrue(clients)
        for client in clients:
            self.assertIsInstance(client, EventClient)
            self.assertTrue(verifyObject(IPushProducer, client))

    def follow(self):
        """
        Open C{/events} on a new connection.

        @return: the channel and its transport.
        """
        protocol, transport = self.client.connect()
        protocol.dataReceived(requestBytes("/events", headers={"Connection": "keep-alive"}))
        return protocol, transport

    def test_headers(self) -> None:
        """
        The stream is C{text/event-stream}, uncached, readable from any
        origin, and starts with the reconnection delay.
        """
        _, transport = self.follow()
        head, _, body = transport.value().partition(b"\r\n\r\n")
        self.assertIn(b"Content-Type: text/event-stream; charset=utf-8", head)
        self.assertIn(b"Cache-Control: no-cache", head)
        self.assertIn(b"Access-Control-Allow-Origin: *", head)
        self.assertIn(b"retry: 3000\n\n", _dechunk(body))

    def test_snapshot(self) -> None:
        """
        A new client first gets every mount's state.
        """
        _, transport = self.follow()
        ((event, data),) = readEvents(transport.value())
        self.assertEqual(event, "mount")
        self.assertEqual(data["mount"], "/stream")
        self.assertEqual(data["title"], "Song A")
        self.assertEqual(data["listeners"], 0)
        self.assertEqual(data["bitrate"], 128)
        self.assertTrue(data["onAir"])

    def test_titleChange(self) -> None:
        """
        When the track changes, the next tick pushes the new title.
        """
        _, transport = self.follow()
        self.clock.advance(1)
        self.assertEqual(len(readEvents(transport.value())), 1)
        for _ in range(3):
            self.clock.advance(1)
        titles = [data["title"] for event, data in readEvents(transport.value()) if event == "mount"]
        self.assertEqual(titles, ["Song A", "Song B"])

    def test_titleUpdate(self) -> None:
        """
        A metadata update reaches the page after one tick.
        """
        _, transport = self.follow()
        self.station.updateTitle("Breaking <news>")
        self.clock.advance(1)
        self.assertEqual(readEvents(transport.value())[-1][1]["title"], "Breaking <news>")

    def test_listenerCount(self) -> None:
        """
        A listener joining and leaving is pushed.
        """
        _, transport = self.follow()
        listener, _ = connectInMemory(self.station)
        self.clock.advance(1)
        listener.disconnect("test")
        self.clock.advance(1)
        counts = [data["listeners"] for _, data in readEvents(transport.value())]
        self.assertEqual(counts, [0, 1, 0])
        self.assertEqual(readEvents(transport.value())[-1][1]["peak"], 1)

    def test_onlyChanges(self) -> None:
        """
        Ticks without a change write nothing (until the keep-alive).
        """
        self.source.framesPerTrack = 100000
        _, transport = self.follow()
        before = transport.value()
        for _ in range(10):
            self.clock.advance(1)
        self.assertEqual(transport.value(), before)

    def test_keepAlive(self) -> None:
        """
        After 15 s without a change, a comment keeps the connection alive.
        """
        self.source.framesPerTrack = 100000
        _, transport = self.follow()
        for _ in range(15):
            self.clock.advance(1)
        self.assertEqual(readEvents(transport.value())[-1], (":", "keep-alive"))

    def test_sharedPayload(self) -> None:
        """
        Every client gets the same bytes for a change.
        """
        clients = [self.follow()[1] for _ in range(3)]
        self.station.updateTitle("Same for all")
        self.clock.advance(1)
        last = {transport.value().rpartition(b"event: ")[2] for transport in clients}
        self.assertEqual(len(last), 1)

    def test_noLoopWithoutClients(self) -> None:
        """
        The comparison loop runs only while a client follows.
        """
        calls = len(self.clock.getDelayedCalls())
        self.assertFalse(self.hub._loop.running)
        protocol, _ = self.follow()
        self.assertTrue(self.hub._loop.running)
        self.assertEqual(len(self.clock.getDelayedCalls()), calls + 1)
        protocol.connectionLost(Failure(ConnectionDone()))
        self.assertFalse(self.hub._loop.running)
        self.assertEqual(self.hub.clients, {})
        self.assertEqual(len(self.clock.getDelayedCalls()), calls)

    def test_maxClients(self) -> None:
        """
        Past the limit of clients, C{/events} answers a 200 event stream
        holding only a C{retry:} field of 20 to 40 seconds and a C{busy}
        event, and ends it: a browser's EventSource reconnects after that
        delay (after a 503 it would give up for good).
        """
        self.hub.limits = EventLimits(maxClients=2)
        self.hub._random = lambda: 0.5
        self.follow()
        self.follow()
        response = self.client.request("/events")
        self.assertEqual(response.status, 200)
        self.assertEqual(response.header("content-type"), "text/event-stream; charset=utf-8")
        self.assertEqual(response.header("retry-after"), "30")
        self.assertTrue(response.body.startswith(b"retry: 30000\n\n"), response.body)
        self.assertEqual(readEvents(b"\r\n\r\n" + response.body), [("busy", {"retry": 30000})])
        self.assertEqual(len(self.hub.clients), 2)

    def test_busyRetrySpread(self) -> None:
        """
        The retry delay of refused pages is spread over L{BUSY_RETRY}, so
        that they do not all come back at once.
        """
        for value, expected in ((0.0, 20000), (0.999999, 39999)):
            self.hub._random = lambda value=value: value
            self.assertTrue(self.hub.busyAnswer().startswith(b"retry: %d\n\n" % (expected,)))

    def test_maxClientsFromConfig(self) -> None:
        """
        C{[server] max_event_clients} sets the hub's limit, at start and on
        a reload (L{txradio.wiring.configureOperations}).
        """
        from txradio.config import ServerConfig
        from txradio.service import RadioService
        from txradio.wiring import configureOperations

        radio = RadioService([self.station], site=self.site, reactor=self.clock)
        configureOperations(radio, ServerConfig(maxEventClients=3), (), self.clock)
        self.assertEqual(self.hub.limits.maxClients, 3)

    def test_slowClientDropped(self) -> None:
        """
        A client whose connection stays full is dropped once its buffer
        overflows; the others are not.
        """
        self.source.framesPerTrack = 100000
        self.hub.limits = EventLimits(bufferLimit=300)
        _, slowTransport = self.follow()
        _, fastTransport = self.follow()
        slow = next(iter(self.hub.clients))
        slow.pauseProducing()
        for number in range(5):
            self.station.updateTitle(f"Title {number}")
            self.clock.advance(1)
        self.assertTrue(slow.dropped)
        self.assertTrue(slowTransport.disconnecting)
        self.assertEqual(len(self.hub.clients), 1)
        self.assertFalse(fastTransport.disconnecting)
        self.assertEqual(readEvents(fastTransport.value())[-1][1]["title"], "Title 4")

    def test_pausedClientCatchesUp(self) -> None:
        """
        Events held while paused are written in order on resume.
        """
        self.source.framesPerTrack = 100000
        _, transport = self.follow()
        client = next(iter(self.hub.clients))
        client.pauseProducing()
        self.station.updateTitle("One")
        self.clock.advance(1)
        self.station.updateTitle("Two")
        self.clock.advance(1)
        self.assertEqual(len(readEvents(transport.value())), 1)
        client.resumeProducing()
        self.assertEqual([d["title"] for _, d in readEvents(transport.value())], ["Song A", "One", "Two"])

    def test_stopService(self) -> None:
        """
        Stopping the hub closes every stream and the loop.
        """
        _, transport = self.follow()
        self.hub.stopService()
        self.assertTrue(transport.disconnecting)
        self.assertFalse(self.hub._loop.running)

    def test_head(self) -> None:
        """
        C{HEAD /events} answers the headers without following.
        """
        response = self.client.request("/events", method=b"HEAD")
        self.assertEqual(response.status, 200)
        self.assertEqual(response.header("content-type"), "text/event-stream; charset=utf-8")
        self.assertEqual(self.hub.clients, {})

    def test_throughListenerPort(self) -> None:
        """
        The stream works on the listener port, where the protocol hands the
        connection to the site.
        """
        factory = ListenerFactory({self.station.mount: self.station}, site=self.site, clock=self.clock)
        client = SiteClient(self, factory, self.client.clock)
        protocol, transport = client.connect()
        protocol.dataReceived(requestBytes("/events"))
        self.station.updateTitle("Via the port")
        self.clock.advance(1)
        self.assertEqual(readEvents(transport.value())[-1][1]["title"], "Via the port")
        protocol.connectionLost(Failure(ConnectionDone()))
        self.assertEqual(self.hub.clients, {})

    def test_formatEvent(self) -> None:
        """
        An event is one C{event:} line, one C{data:} line of JSON and a
        blank line, whatever the data holds.
        """
        data = formatEvent("mount", {"title": "two\nlines\r\n\u2028"})
        self.assertEqual(data.count(b"\n"), 3)
        self.assertTrue(data.endswith(b"\n\n"))
        self.assertEqual(json.loads(data.split(b"data: ")[1]), {"title": "two\nlines\r\n\u2028"})
