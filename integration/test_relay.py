"""
A relay of another txradio over real TCP on 127.0.0.1 (the relay's parser
and protocol are tested with fakes in L{tests.test_relay}).
"""

from __future__ import annotations

from twisted.internet import defer, reactor, task
from twisted.trial.unittest import TestCase

from txradio.service import RadioService
from txradio.sources.relay import RelaySource
from txradio.stream.station import Station
from txradio.testing import FakeFrameSource


class RelayIntegrationTests(TestCase):
    """
    A relay mount relays another txradio over real TCP on 127.0.0.1.
    """

    timeout = 30

    @defer.inlineCallbacks
    def test_relayAnotherTxradio(self) -> None:
        """
        Titles and audio from an origin reach the relay mount.
        """
        origin = Station(FakeFrameSource(["Origin Song"], 100000), mount="/stream", metaint=2000)
        originService = RadioService([origin], listen=["tcp:0:interface=127.0.0.1"])
        originService.startService()
        self.addCleanup(originService.stopService)
        [port] = yield originService.whenListening()
        url = f"http://127.0.0.1:{port.getHost().port}/stream"
        relay = RelaySource(url, name="/edge")
        edge = Station(relay, mount="/edge")
        edgeService = RadioService([edge], listen=["tcp:0:interface=127.0.0.1"])
        edgeService.startService()
        self.addCleanup(edgeService.stopService)
        for _ in range(100):
            if edge.broadcaster.title == "Origin Song" and edge.broadcaster.framesSent > 20:
                break
            yield task.deferLater(reactor, 0.1, lambda: None)
        self.assertEqual(edge.broadcaster.title, "Origin Song")
        self.assertGreater(edge.broadcaster.framesSent, 20)
        self.assertEqual(relay.connects, 1)
