"""
Tests for L{txradio.operations.clock}: reactor time that a step of the wall clock does
not move.
"""

from __future__ import annotations

from twisted.internet.base import ReactorBase
from twisted.internet.testing import MemoryReactorClock
from twisted.trial.unittest import SynchronousTestCase

from txradio.operations.clock import steadyReactorTime, steadyTime


class FakeClocks:
    """
    A wall clock and a monotonic clock the test moves.
    """

    def __init__(self) -> None:
        self.wall = 1_795_518_000.0
        self.monotonic = 500.0

    def advance(self, seconds: float) -> None:
        self.wall += seconds
        self.monotonic += seconds


class BareReactor(ReactorBase):
    """
    Just enough of a reactor to schedule and run timers.
    """

    def installWaker(self) -> None:
        pass

    def _handleSignals(self) -> None:
        pass


class SteadyTimeTests(SynchronousTestCase):
    """
    L{steadyTime} reads as the wall clock, then follows the monotonic one.
    """

    def test_wallClockSteps(self) -> None:
        """
        It starts at the wall clock's time; steps of the wall clock, back or
        forward, do not move it.
        """
        clocks = FakeClocks()
        seconds = steadyTime(lambda: clocks.wall, lambda: clocks.monotonic)
        self.assertEqual(seconds(), clocks.wall)
        clocks.advance(10)
        self.assertEqual(seconds(), clocks.wall)
        clocks.wall -= 3600
        clocks.advance(1)
        self.assertEqual(seconds(), clocks.wall + 3600)
        clocks.wall += 7200
        self.assertEqual(seconds(), clocks.wall - 3600)


class SteadyReactorTests(SynchronousTestCase):
    """
    L{steadyReactorTime} keeps a reactor's timers on time when the wall
    clock steps back.
    """

    def test_timerOnTimeAfterStepBack(self) -> None:
        """
        A timer due in one second runs after one second of monotonic time,
        although the wall clock went back an hour meanwhile.
        """
        clocks = FakeClocks()
        reactor = BareReactor()
        self.assertTrue(steadyReactorTime(reactor, steadyTime(lambda: clocks.wall, lambda: clocks.monotonic)))
        ran = []
        reactor.callLater(1.0, ran.append, "tick")
        clocks.wall -= 3600
        clocks.advance(1.0)
        self.assertEqual(reactor.timeout(), 0)
        reactor.runUntilCurrent()
        self.assertEqual(ran, ["tick"])

    def test_onlyOnce(self) -> None:
        """
        A reactor is changed once; fake clocks are left alone.
        """
        reactor = BareReactor()
        self.assertTrue(steadyReactorTime(reactor))
        self.assertFalse(steadyReactorTime(reactor))
        self.assertFalse(steadyReactorTime(MemoryReactorClock()))
