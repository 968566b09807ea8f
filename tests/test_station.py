"""
Tests for L{txradio.stream.station.Station} as the web pages, metrics and
protocols see it: an L{IStation} whose optional parts are typed attributes
that always exist.
"""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from zope.interface.verify import verifyObject

from txradio.interfaces import IStation
from txradio.stream.station import Station
from txradio.stream.switcher import MountFollower
from txradio.testing import FakeFrameSource, connectInMemory


class StationTests(SynchronousTestCase):
    """
    A station's declared members.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.station = Station(FakeFrameSource(), clock=self.clock)
        self.station.startService()
        self.addCleanup(self.station.stopService)

    def test_interface(self) -> None:
        """
        L{Station} provides L{IStation}.
        """
        self.assertTrue(verifyObject(IStation, self.station))

    def test_declaredLiveMembers(self) -> None:
        """
        C{liveDJ}, C{liveInfo} and C{recorder}, which the web pages and the
        recorder read without looking for them, are declared by L{IStation}
        and are L{None} on a station with nothing live and no recorder.
        """
        for name in ("liveDJ", "liveInfo", "recorder"):
            self.assertIn(name, IStation.names())
        self.assertEqual((self.station.liveDJ, self.station.liveInfo, self.station.recorder), (None, None, None))

    def test_defaults(self) -> None:
        """
        A plain station serves HLS, re-encodes nothing and is re-encoded by
        nothing: C{hls} is L{True}, C{derived} an empty list, C{derivedFrom},
        C{conformer} and C{audioFormat} L{None}.
        """
        station = self.station
        self.assertEqual(
            (station.hls, station.derived, station.derivedFrom, station.conformer, station.audioFormat),
            (True, [], None, None, None),
        )

    def test_internalListenersNotCounted(self) -> None:
        """
        A follower marked C{internal} (a derived mount) is not counted among
        the listeners; a listener and a fallback follower are.
        """
        self.clock.advance(0.5)
        connectInMemory(self.station)
        fallback = MountFollower(self.station, name="/other")
        derived = MountFollower(self.station, name="/low")
        derived.internal = True
        self.station.derived.append(Station(None, mount="/low", clock=self.clock))
        fallback.pull(0.1)
        derived.pull(0.1)
        self.assertEqual(len(self.station.broadcaster.listeners), 3)
        self.assertEqual(self.station.listenerCount, 2)
