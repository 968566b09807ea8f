"""
Tests for L{txradio.service}: composing a radio from Python.
"""

from __future__ import annotations

from twisted.internet.testing import MemoryReactorClock
from twisted.trial.unittest import SynchronousTestCase

from txradio.service import RadioService, withBacklog
from txradio.stream.station import Station
from txradio.testing import FakeFrameSource


class RadioServiceTests(SynchronousTestCase):
    """
    L{RadioService} is a service of stations and ports.
    """

    def test_twoStations(self) -> None:
        """
        Several stations share the ports; the first is the default.
        """
        reactor = MemoryReactorClock()
        one = Station(FakeFrameSource(), mount="/one", clock=reactor)
        two = Station(FakeFrameSource(), mount="/two", clock=reactor)
        service = RadioService([one, two], listen=["tcp:0"], reactor=reactor)
        self.assertEqual(list(service.factory.stations), [b"/one", b"/two"])
        service.startService()
        reactor.advance(1)
        self.assertEqual(one.broadcaster.title, "Track 1")
        self.assertEqual(two.broadcaster.title, "Track 1")
        self.successResultOf(service.stopService())
        self.assertEqual(reactor.getDelayedCalls(), [])

    def test_duplicateMount(self) -> None:
        """
        Two stations on one mount are refused.
        """
        reactor = MemoryReactorClock()
        stations = [Station(FakeFrameSource(), mount="/x", clock=reactor) for _ in range(2)]
        self.assertRaises(ValueError, RadioService, stations, reactor=reactor)

    def test_whenListening(self) -> None:
        """
        L{RadioService.whenListening} fires with the listening ports.
        """
        reactor = MemoryReactorClock()
        service = RadioService([Station(FakeFrameSource(), clock=reactor)], listen=["tcp:0"], reactor=reactor)
        service.startService()
        ports = self.successResultOf(service.whenListening())
        self.assertEqual(len(ports), 1)
        self.successResultOf(service.stopService())

    def test_stopClosesSource(self) -> None:
        """
        Stopping a station closes its source.
        """
        reactor = MemoryReactorClock()
        source = FakeFrameSource()
        service = RadioService([Station(source, clock=reactor)], listen=[], reactor=reactor)
        service.startService()
        self.successResultOf(service.stopService())
        self.assertTrue(source.closed)


class BacklogTests(SynchronousTestCase):
    """
    L{withBacklog} gives TCP endpoints a backlog fit for crowds.
    """

    def test_added(self) -> None:
        """
        TCP and TLS descriptions without a backlog get one.
        """
        self.assertEqual(withBacklog("tcp:8000"), "tcp:8000:backlog=1024")
        self.assertEqual(withBacklog("ssl:8443:privateKey=k.pem"), "ssl:8443:privateKey=k.pem:backlog=1024")

    def test_kept(self) -> None:
        """
        A backlog already given, and other endpoint kinds, are left alone.
        """
        self.assertEqual(withBacklog("tcp:8000:backlog=10"), "tcp:8000:backlog=10")
        self.assertEqual(withBacklog("systemd:domain=INET:index=0"), "systemd:domain=INET:index=0")
        self.assertEqual(withBacklog("unix:/tmp/radio.sock"), "unix:/tmp/radio.sock")
