"""
Tests for L{txradio.operations.metrics} and L{txradio.web.metrics}: the figures after
scripted events, read back with C{prometheus_client}'s own parser, and who
may read them.
"""

from __future__ import annotations

import base64

from prometheus_client.parser import text_string_to_metric_families
from twisted.internet.address import IPv4Address
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.trial.unittest import SynchronousTestCase

from txradio.operations.metrics import exposition
from txradio.service import RadioService
from txradio.stream.events import KICKED
from txradio.stream.station import Station
from txradio.testing import FakeFrameSource

MPG123 = b"GET /stream HTTP/1.0\r\nUser-Agent: mpg123/1.31.2\r\nIcy-MetaData: 1\r\n\r\n"


def parse(text: str) -> dict[tuple[str, tuple], float]:
    """
    Read an exposition with C{prometheus_client}'s parser.

    @param text: the exposition.
    @return: C{(sample name, sorted labels)} to value.
    """
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


class CollectorTests(SynchronousTestCase):
    """
    The figures follow what happened at the stations.
    """

    def setUp(self) -> None:
        self.reactor = MemoryReactorClock()
        self.station = Station(
            FakeFrameSource(titles=["A", "B"], framesPerTrack=100),
            clock=self.reactor,
            maxListeners=2,
            sourcePassword="pw",
        )
        self.radio = RadioService([self.station], listen=[], reactor=self.reactor)
        self.radio.startService()
        self.addCleanup(self.radio.stopService)

    def connect(self, data: bytes = MPG123, host: str = "192.0.2.7"):
        address = IPv4Address("TCP", host, 5555)
        protocol = self.radio.factory.buildProtocol(address)
        transport = StringTransport(peerAddress=address)
        protocol.makeConnection(transport)
        protocol.dataReceived(data)
        return protocol, transport

    def figures(self) -> dict:
        return parse(exposition(self.radio.registry).decode("utf-8"))

    def test_listeners(self) -> None:
        """
        Listeners now, connects, disconnects by reason, refusals, bytes and
        bursts are counted per mount.
        """
        self.reactor.pump([1] * 5)
        one, _ = self.connect()
        two, _ = self.connect(host="192.0.2.8")
        self.connect(host="192.0.2.9")  # refused: the station is full
        self.reactor.pump([1] * 3)
        figures = self.figures()
        mount = ("mount", "/stream")
        self.assertEqual(figures[("txradio_listeners", (mount, ("protocol", "icy")))], 2)
        self.assertEqual(figures[("txradio_listeners", (mount, ("protocol", "hls")))], 0)
        self.assertEqual(figures[("txradio_listener_connects_total", (mount,))], 2)
        self.assertEqual(figures[("txradio_listener_refusals_total", (mount, ("reason", "limit_reached")))], 1)
        sent = one._listener.bytesSent + two._listener.bytesSent
        self.assertEqual(figures[("txradio_sent_bytes_total", (mount,))], sent)
        self.assertEqual(figures[("txradio_burst_bytes_total", (mount,))], self.station.stats.burstBytes)
        self.assertGreater(self.station.stats.burstBytes, 0)
        one._listener.disconnect(KICKED)
        one.connectionLost(None)
        two.connectionLost(None)
        figures = self.figures()
        self.assertEqual(figures[("txradio_listeners", (mount, ("protocol", "icy")))], 0)
        self.assertEqual(figures[("txradio_listener_disconnects_total", (mount, ("reason", "kicked")))], 1)
        self.assertEqual(figures[("txradio_listener_disconnects_total", (mount, ("reason", "client_left")))], 1)
        self.assertEqual(figures[("txradio_listener_disconnects_total", (mount, ("reason", "lag_limit")))], 0)
        self.assertEqual(figures[("txradio_sent_bytes_total", (mount,))], sent)

    def test_slowListener(self) -> None:
        """
        A listener dropped for lagging counts as a slow-listener drop.
        """
        protocol, _ = self.connect()
        protocol._listener.pauseProducing()
        self.reactor.pump([1] * 60)
        protocol.connectionLost(None)
        figures = self.figures()
        self.assertEqual(figures[("txradio_slow_listener_drops_total", (("mount", "/stream"),))], 1)

    def test_titlesAndSources(self) -> None:
        """
        Track changes, metadata updates and live sources are counted; a
        source on the air shows as up.
        """
        self.reactor.pump([1] * 10)
        self.station.updateTitle("News")
        mount = (("mount", "/stream"),)
        put = b"PUT /stream HTTP/1.1\r\nAuthorization: Basic c291cmNlOnB3\r\nContent-Type: audio/mpeg\r\n\r\n"
        source, _ = self.connect(put)
        figures = self.figures()
        self.assertEqual(figures[("txradio_title_changes_total", mount)], self.station.stats.titleChanges)
        self.assertGreaterEqual(self.station.stats.titleChanges, 3)
        self.assertEqual(figures[("txradio_metadata_updates_total", mount)], 1)
        self.assertEqual(figures[("txradio_source_up", mount)], 1)
        self.assertEqual(figures[("txradio_source_connects_total", mount)], 1)
        source.connectionLost(None)
        figures = self.figures()
        self.assertEqual(figures[("txradio_source_up", mount)], 0)
        self.assertEqual(figures[("txradio_source_disconnects_total", mount)], 1)

    def test_lateness(self) -> None:
        """
        The tick lateness histogram counts every tick, late ones above their
        bound.
        """
        self.reactor.advance(1.3)
        figures = self.figures()
        mount = ("mount", "/stream")
        self.assertEqual(figures[("txradio_tick_lateness_seconds_count", (mount,))], 2)
        self.assertEqual(figures[("txradio_tick_lateness_seconds_bucket", (("le", "0.25"), mount))], 1)
        self.assertEqual(figures[("txradio_tick_lateness_seconds_bucket", (("le", "0.5"), mount))], 2)
        self.assertAlmostEqual(figures[("txradio_tick_lateness_seconds_sum", (mount,))], 0.3)

    def test_process(self) -> None:
        """
        The process's own figures are there (on Linux).
        """
        figures = self.figures()
        names = {name for name, _ in figures}
        self.assertIn("process_resident_memory_bytes", names)
        self.assertIn("process_open_fds", names)
        self.assertIn("process_cpu_seconds_total", names)


class AccessTests(SynchronousTestCase):
    """
    C{/metrics} is behind the admin's credentials by default, public or off
    by option.
    """

    def get(self, radio: RadioService, auth: tuple[str, str] | None = None) -> bytes:
        address = IPv4Address("TCP", "192.0.2.7", 5555)
        protocol = radio.factory.buildProtocol(address)
        transport = StringTransport(peerAddress=address)
        protocol.makeConnection(transport)
        headers = b""
        if auth is not None:
            headers = b"Authorization: Basic " + base64.b64encode(":".join(auth).encode()) + b"\r\n"
        protocol.dataReceived(b"GET /metrics HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n")
        return transport.value()

    def radio(self, **kwargs) -> RadioService:
        reactor = MemoryReactorClock()
        return RadioService([Station(FakeFrameSource(), clock=reactor)], listen=[], reactor=reactor, **kwargs)

    def test_adminByDefault(self) -> None:
        """
        Without credentials: 401; with the admin's: the figures.
        """
        radio = self.radio(adminPassword="secret")
        self.assertTrue(self.get(radio).startswith(b"HTTP/1.1 401"))
        self.assertTrue(self.get(radio, ("admin", "wrong")).startswith(b"HTTP/1.1 401"))
        answer = self.get(radio, ("admin", "secret"))
        self.assertTrue(answer.startswith(b"HTTP/1.1 200"))
        self.assertIn(b"content-type: text/plain", answer.lower())
        self.assertIn(b'txradio_listeners{mount="/stream",protocol="icy"} 0.0', answer)

    def test_noAdminPassword(self) -> None:
        """
        Admin-only metrics without an admin password are off (404).
        """
        self.assertTrue(self.get(self.radio()).startswith(b"HTTP/1.1 404"))

    def test_public(self) -> None:
        """
        Public metrics need no credentials.
        """
        self.assertTrue(self.get(self.radio(metrics="public")).startswith(b"HTTP/1.1 200"))

    def test_off(self) -> None:
        """
        With metrics off, C{/metrics} is not there.
        """
        answer = self.get(self.radio(metrics="off", adminPassword="secret"), ("admin", "secret"))
        self.assertTrue(answer.startswith(b"HTTP/1.1 404"))

    def test_badMode(self) -> None:
        """
        An unknown mode is refused.
        """
        self.assertRaises(ValueError, self.radio, metrics="open")


class DashboardTests(SynchronousTestCase):
    """
    The example Grafana dashboard asks only for figures the radio gives.
    """

    def test_namesExist(self) -> None:
        """
        Every metric name in the dashboard's queries is in the exposition.
        """
        import json
        import os
        import re

        path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "grafana", "txradio-dashboard.json")
        with open(path) as f:
            dashboard = json.load(f)
        reactor = MemoryReactorClock()
        radio = RadioService([Station(FakeFrameSource(), clock=reactor)], listen=[], reactor=reactor)
        names = set()
        for family in text_string_to_metric_families(exposition(radio.registry).decode("utf-8")):
            names.add(family.name)
            names.update(sample.name for sample in family.samples)
            names.update(family.name + suffix for suffix in ("_total", "_bucket", "_sum", "_count"))
        wanted = set()
        for panel in dashboard["panels"]:
            for target in panel["targets"]:
                wanted.update(re.findall(r"\b((?:txradio|process)_[a-z_]+)\b", target["expr"]))
        self.assertGreater(len(wanted), 15)
        self.assertEqual(wanted - names, set())
