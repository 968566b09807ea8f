"""
Scraping C{/metrics} from a radio on 127.0.0.1 while listeners come and go
(the collectors and access rules are tested with fakes in
L{tests.test_metrics}).
"""

from __future__ import annotations

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.trial.unittest import TestCase

from integration._realpeers import RawClient, startRadio, withTimeout
from tests.test_metrics import MPG123, parse
from txradio.stream.station import Station
from txradio.testing import FakeFrameSource


class ScrapeTests(TestCase):
    """
    A real scrape over a socket while real listeners connect and leave.
    """

    timeout = 30

    @inlineCallbacks
    def test_scrapeWhileListening(self):
        """
        On a separate metrics port, the listener counts follow real clients
        connecting and leaving.
        """
        station = Station(FakeFrameSource(titles=["A"], framesPerTrack=10_000), clock=reactor)
        port = yield startRadio(self, [station], metricsListen=["tcp:0:interface=127.0.0.1"])
        radio = station.parent
        listening = yield radio.whenListening()
        metricsPort = listening[1].getHost().port

        @inlineCallbacks
        def scrape():
            client = RawClient()
            yield connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", metricsPort), client)
            client.transport.write(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            raw = yield client.waitForClose(10)
            head, _, body = raw.partition(b"\r\n\r\n")
            self.assertTrue(head.startswith(b"HTTP/1.0 200") or head.startswith(b"HTTP/1.1 200"), head)
            return parse(body.decode("utf-8"))

        listeners = []
        for _ in range(3):
            client = RawClient()
            yield connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), client)
            client.transport.write(MPG123)
            yield client.waitForBytes(20000, 10)
            listeners.append(client)
        icy = ("txradio_listeners", (("mount", "/stream"), ("protocol", "icy")))
        figures = yield scrape()
        self.assertEqual(figures[icy], 3)
        self.assertEqual(figures[("txradio_listener_connects_total", (("mount", "/stream"),))], 3)
        listeners[0].transport.loseConnection()
        yield withTimeout(listeners[0].whenClosed(), 10, "the first listener to close")
        yield self._waitUntil(lambda: station.listenerCount == 2)
        figures = yield scrape()
        self.assertEqual(figures[icy], 2)
        self.assertEqual(
            figures[("txradio_listener_disconnects_total", (("mount", "/stream"), ("reason", "client_left")))], 1
        )
        for client in listeners[1:]:
            client.transport.loseConnection()
            yield withTimeout(client.whenClosed(), 10, "a listener to close")

    def _waitUntil(self, condition):
        from twisted.internet.task import deferLater

        @inlineCallbacks
        def poll():
            for _ in range(200):
                if condition():
                    return
                yield deferLater(reactor, 0.05, lambda: None)
            self.fail("condition never held")

        return poll()
