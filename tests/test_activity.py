"""
Tests for L{txradio.stream.events}: the events a station tells, in the order
they happen, and the counters kept from them.
"""

from __future__ import annotations

from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import EventLoggingObserver, StringTransport
from twisted.logger import globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from txradio.net.listenerport import ListenerFactory
from txradio.stream.broadcast import Broadcaster
from txradio.stream.events import (
    CLIENT_LEFT,
    KICKED,
    LAG_LIMIT,
    EventBus,
    Histogram,
    ListenerJoined,
    ListenerLeft,
    ListenerRefused,
    MetadataUpdated,
    SourceConnected,
    SourceDisconnected,
    TitleChanged,
    reasonLabel,
)
from txradio.stream.station import Station
from txradio.testing import FakeFrameSource

MPG123 = b"GET /stream HTTP/1.0\r\nUser-Agent: mpg123/1.31.2\r\nIcy-MetaData: 1\r\nReferer: http://example.com/\r\n\r\n"


class StationEventsMixin:
    """
    A started station with a recording observer, and a listener port.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1_000_000)
        self.source = FakeFrameSource(titles=["Song A", "Song B"], framesPerTrack=100)
        self.station = Station(self.source, clock=self.clock, maxListeners=1, sourcePassword="pw")
        self.events: list = []
        self.station.events.subscribe(self.events.append)
        self.station.startService()
        self.addCleanup(self.station.stopService)
        self.factory = ListenerFactory({self.station.mount: self.station}, clock=self.clock)

    def connect(self, data: bytes = MPG123, host: str = "192.0.2.7"):
        address = IPv4Address("TCP", host, 5555)
        protocol = self.factory.buildProtocol(address)
        transport = StringTransport(peerAddress=address)
        protocol.makeConnection(transport)
        protocol.dataReceived(data)
        return protocol, transport

    def ofType(self, kind: type) -> list:
        return [event for event in self.events if type(event) is kind]


class ListenerEventTests(StationEventsMixin, SynchronousTestCase):
    """
    Listeners joining, leaving and being refused are told with what logs
    need.
    """

    def test_joinAndLeave(self) -> None:
        """
        A listener that joins and then closes its connection makes a
        L{ListenerJoined} and a L{ListenerLeft} with the request, the time
        listened, the bytes sent and the reason L{CLIENT_LEFT}.
        """
        protocol, transport = self.connect()
        self.clock.advance(30)
        protocol.connectionLost(None)
        [joined] = self.ofType(ListenerJoined)
        [left] = self.ofType(ListenerLeft)
        self.assertIs(joined.listener, left.listener)
        self.assertEqual(joined.peer, "192.0.2.7:5555")
        self.assertEqual(left.request.target, b"/stream")
        self.assertEqual(left.reason, CLIENT_LEFT)
        self.assertEqual(left.seconds, 30)
        self.assertEqual(left.requestedAt, 1_000_000)
        self.assertGreater(left.listener.bytesSent, 0)
        self.assertEqual(left.describe()["reason"], "client_left")
        self.assertEqual(left.describe()["bytes"], left.listener.bytesSent)
        self.assertEqual(self.station.stats.disconnects, {"client_left": 1})
        self.assertEqual(self.station.stats.departedBytes, left.listener.bytesSent)

    def test_burstCounted(self) -> None:
        """
        The burst a new listener gets is counted.
        """
        self.clock.pump([1] * 5)
        protocol, transport = self.connect()
        self.assertGreater(self.station.stats.burstBytes, 0)
        self.assertEqual(self.station.stats.burstBytes, protocol._listener.bytesSent)

    def test_lagLimit(self) -> None:
        """
        A listener dropped past its lag limit leaves with L{LAG_LIMIT}.
        """
        protocol, transport = self.connect()
        protocol._listener.pauseProducing()
        self.clock.pump([1] * 60)
        # The transport was aborted: the reactor would now call connectionLost.
        protocol.connectionLost(None)
        [left] = self.ofType(ListenerLeft)
        self.assertEqual(left.reason, LAG_LIMIT)
        self.assertEqual(self.station.stats.disconnects, {"lag_limit": 1})

    def test_kicked(self) -> None:
        """
        A listener the admin disconnects leaves with L{KICKED}.
        """
        protocol, transport = self.connect()
        protocol._listener.disconnect(KICKED)
        protocol.connectionLost(None)
        self.assertEqual(self.ofType(ListenerLeft)[0].reason, KICKED)

    def test_refusedWhenFull(self) -> None:
        """
        A listener refused because the station is full makes a
        L{ListenerRefused} with the 503 answered.
        """
        self.connect()
        protocol, transport = self.connect(host="192.0.2.8")
        [refused] = self.ofType(ListenerRefused)
        self.assertEqual((refused.status, reasonLabel(refused.reason)), (503, "limit_reached"))
        self.assertEqual(refused.peer, "192.0.2.8:5555")
        self.assertEqual(self.station.stats.refused, {"limit_reached": 1})
        self.assertEqual(len(self.ofType(ListenerJoined)), 1)

    def test_headIsNoListener(self) -> None:
        """
        A C{HEAD} request is answered without making a listener.
        """
        self.connect(b"HEAD /stream HTTP/1.0\r\n\r\n")
        self.assertEqual(self.events, [e for e in self.events if type(e) is TitleChanged])


class TitleEventTests(StationEventsMixin, SynchronousTestCase):
    """
    Titles reaching the stream, and metadata updates, are told.
    """

    def test_trackChanges(self) -> None:
        """
        Each new track's title is told once, when the stream starts carrying
        it.
        """
        self.clock.pump([1] * 10)
        titles = [event.title for event in self.ofType(TitleChanged)]
        self.assertEqual(titles[:3], ["Song A", "Song B", "Song A"])
        self.assertEqual(self.station.stats.titleChanges, len(titles))

    def test_metadataUpdate(self) -> None:
        """
        An update is told as L{MetadataUpdated}, then as L{TitleChanged}
        when it reaches the stream.
        """
        self.clock.advance(1)
        self.events.clear()
        self.station.updateTitle("News")
        self.assertEqual([type(e) for e in self.events], [MetadataUpdated])
        self.clock.advance(1)
        self.assertEqual([e.title for e in self.ofType(TitleChanged)][:1], ["News"])
        self.assertEqual(self.station.stats.metadataUpdates, 1)


class SourceEventTests(StationEventsMixin, SynchronousTestCase):
    """
    Live sources going on the air and leaving are told.
    """

    def test_sourceConnectsAndLeaves(self) -> None:
        """
        An Icecast C{PUT} source makes a L{SourceConnected} with its agent,
        and its end a L{SourceDisconnected}.
        """
        put = (
            b"PUT /stream HTTP/1.1\r\nAuthorization: Basic c291cmNlOnB3\r\n"
            b"Content-Type: audio/mpeg\r\nUser-Agent: Lavf/59\r\n\r\n"
        )
        protocol, transport = self.connect(put, host="192.0.2.50")
        [connected] = self.ofType(SourceConnected)
        self.assertEqual((connected.peer, connected.agent), ("192.0.2.50:5555", "Lavf/59"))
        protocol.connectionLost(None)
        [gone] = self.ofType(SourceDisconnected)
        self.assertEqual(gone.peer, "192.0.2.50:5555")
        self.assertEqual((self.station.stats.sourceConnects, self.station.stats.sourceDisconnects), (1, 1))


class EventBusTests(SynchronousTestCase):
    """
    L{EventBus} hands events to every observer, whatever one of them does.
    """

    def test_failingObserver(self) -> None:
        """
        An observer that raises is logged; the others still get the event.
        """
        logged = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        bus = EventBus()
        seen: list = []

        def broken(event):
            raise RuntimeError("boom")

        bus.subscribe(broken)
        bus.subscribe(seen.append)
        station = Station(FakeFrameSource(), clock=Clock())
        event = TitleChanged(station, 0.0, "x")
        bus.emit(event)
        self.assertEqual(seen, [event])
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)
        self.assertTrue(any("observer failed" in e.get("log_format", "") for e in logged))

    def test_unsubscribe(self) -> None:
        """
        An unsubscribed observer gets nothing more; subscribing twice
        delivers once.
        """
        bus = EventBus()
        seen: list = []
        bus.subscribe(seen.append)
        bus.subscribe(seen.append)
        station = Station(FakeFrameSource(), clock=Clock())
        bus.emit(TitleChanged(station, 0.0, "a"))
        bus.unsubscribe(seen.append)
        bus.emit(TitleChanged(station, 0.0, "b"))
        self.assertEqual([e.title for e in seen], ["a"])


class LatenessTests(SynchronousTestCase):
    """
    The broadcaster measures how late each tick runs.
    """

    def test_onTime(self) -> None:
        """
        Ticks run on time on a clock that advances by whole ticks.
        """
        clock = Clock()
        broadcaster = Broadcaster(FakeFrameSource(), clock=clock)
        broadcaster.startService()
        clock.pump([1] * 10)
        self.assertEqual(broadcaster.lateness.count, 11)
        self.assertEqual(broadcaster.lateness.largest, 0)

    def test_late(self) -> None:
        """
        A reactor that stalls for 0.3 s past a tick's time makes that tick
        0.3 s late; a stall of 2.5 ticks skips ticks and counts the lateness
        from the tick missed first.
        """
        clock = Clock()
        broadcaster = Broadcaster(FakeFrameSource(), clock=clock)
        broadcaster.startService()
        clock.advance(1.3)
        self.assertAlmostEqual(broadcaster.lateness.largest, 0.3)
        # Next due at 2.0; the reactor comes back at 4.5.
        clock.advance(3.2)
        self.assertAlmostEqual(broadcaster.lateness.largest, 2.5)
        self.assertEqual(broadcaster.lateness.count, 3)
        buckets = dict(broadcaster.lateness.cumulative())
        self.assertEqual(buckets[0.001], 1)
        self.assertEqual(buckets[0.5], 2)
        self.assertEqual(buckets[float("inf")], 3)


class HistogramTests(SynchronousTestCase):
    """
    L{Histogram} counts like a Prometheus histogram.
    """

    def test_cumulative(self) -> None:
        """
        Counts are cumulative, a value on a bound falls in that bucket, and
        values above the last bound only in C{+Inf}.
        """
        histogram = Histogram((1.0, 2.0))
        for value in (0.5, 1.0, 1.5, 3.0):
            histogram.observe(value)
        self.assertEqual(histogram.cumulative(), [(1.0, 2), (2.0, 3), (float("inf"), 4)])
        self.assertEqual((histogram.total, histogram.count, histogram.largest), (6.0, 4, 3.0))
