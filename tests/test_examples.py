"""
The runnable example in the documentation builds a working radio.
"""

from __future__ import annotations

import importlib.util
import os

from twisted.internet.testing import MemoryReactorClock
from twisted.trial.unittest import SynchronousTestCase

EXAMPLE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "examples", "embedded_radio.py")


class EmbeddedRadioExampleTests(SynchronousTestCase):
    """
    C{docs/examples/embedded_radio.py} composes a radio from the public API.
    """

    def test_buildRadio(self) -> None:
        """
        The example's radio has two stations that play the demo and a port.
        """
        spec = importlib.util.spec_from_file_location("embedded_radio", EXAMPLE)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        reactor = MemoryReactorClock()
        radio = module.buildRadio(reactor, None)
        radio.startService()
        reactor.advance(1)
        self.assertEqual([s.mount for s in radio.stations], [b"/stream", b"/demo"])
        self.assertEqual(len(reactor.tcpServers), 1)
        for station in radio.stations:
            self.assertTrue(station.broadcaster.title.startswith("txradio - "))
        self.successResultOf(radio.stopService())
        self.assertEqual(reactor.getDelayedCalls(), [])
