# -*- test-case-name: tests.test_clock -*-
"""
A reactor time that does not jump when the wall clock does.

Twisted's reactors read the wall clock (C{time.time}) for every timer.  When
the system clock is stepped back (a manual change, a virtual machine
resumed, an NTP step), every pending timer fires that much later: a station
whose pacing tick is due in a second would fall silent for as long as the
clock went back.  L{steadyReactorTime} makes the reactor read the monotonic
clock instead, offset so that it still reads as the wall clock at the moment
it is installed; timers scheduled before keep their times.  After a step of
the wall clock, the reactor's time differs from it by the step: pacing and
timeouts are unaffected, and dates shown (status pages, playlists) are off
by that much until the next start.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from twisted.logger import Logger

_log = Logger()


def steadyTime(
    wall: Callable[[], float] = time.time, monotonic: Callable[[], float] = time.monotonic
) -> Callable[[], float]:
    """
    Make a time function that reads as the wall clock now and then advances
    with the monotonic clock.

    @param wall: the wall clock.
    @param monotonic: the monotonic clock.
    @return: a function returning seconds since the epoch, as of now, that
        never jumps.
    """
    offset = wall() - monotonic()

    def seconds() -> float:
        return monotonic() + offset

    return seconds


def steadyReactorTime(reactor, seconds: Callable[[], float] | None = None) -> bool:
    """
    Make a reactor's timers follow the monotonic clock.

    @param reactor: a reactor deriving from Twisted's C{ReactorBase}, whose
        C{seconds} every timer reads.
    @param seconds: the time function to install; L{steadyTime}'s by
        default.
    @return: whether it was changed (a reactor of another kind, or a fake
        clock, is left alone).
    """
    from twisted.internet.base import ReactorBase

    if not isinstance(reactor, ReactorBase) or getattr(reactor, "_txradioSteady", False):
        return False
    reactor.seconds = seconds if seconds is not None else steadyTime()
    reactor._txradioSteady = True
    _log.info("timers follow the monotonic clock: a step of the wall clock cannot stall the stations")
    return True
