# -*- test-case-name: tests.test_attacks -*-
"""
Slow down password guessing, per client address.

Each radio has one L{LoginThrottle}, on its reactor's clock, made by
L{txradio.service.RadioService} and handed to every place that checks a
password (the admin API, C{/admin/metadata} and C{/admin.cgi}, C{/metrics},
Icecast C{PUT}/C{SOURCE} sources and SHOUTcast v1 sources, which see it as
an L{txradio.interfaces.ILoginThrottle}).  Each asks L{LoginThrottle.wait} first and reports the outcome with
L{LoginThrottle.failed} or L{LoginThrottle.succeeded}.  The first
L{FREE_FAILURES} failures from an address cost nothing; each further one
makes that address wait (1 s, 2 s, 4 s, … up to L{MAX_DELAY}) before its
next attempt is even checked, and an attempt made sooner is refused
unchecked.  It is never a lockout: the right password from the same address
works as soon as its wait is over (at most L{MAX_DELAY}), and other
addresses are never slowed.  A success, or L{FORGET_AFTER} seconds without a
failure, clears the address.

Only the connecting address counts: C{X-Forwarded-For} is never read (see
docs/security.md).
"""

from __future__ import annotations

from collections import OrderedDict

from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from zope.interface import implementer

from txradio.interfaces import ILoginThrottle

FREE_FAILURES = 10
"""Failed logins an address may make before it is slowed down."""

MAX_DELAY = 60.0
"""The longest wait, in seconds, imposed between two attempts."""

FORGET_AFTER = 900.0
"""Seconds without a failure after which an address starts afresh."""

MAX_ADDRESSES = 10000
"""Addresses remembered at most (the oldest are forgotten first)."""


@implementer(ILoginThrottle)
class LoginThrottle:
    """
    Failed-login counts and waits per address.

    @ivar clock: the radio's L{IReactorTime} (which
        L{txradio.operations.clock.steadyReactorTime} makes monotonic, so a
        step of the wall clock neither lengthens nor shortens a wait).
    """

    _log = Logger()

    def __init__(self, clock: IReactorTime, freeFailures: int = FREE_FAILURES, maxDelay: float = MAX_DELAY) -> None:
        """
        @param clock: the time source.
        @param freeFailures: see L{FREE_FAILURES}.
        @param maxDelay: see L{MAX_DELAY}.
        """
        self.clock = clock
        self.freeFailures = freeFailures
        self.maxDelay = maxDelay
        # address -> (failures, time of the last failure, next attempt allowed at)
        self._entries: OrderedDict[str, tuple[int, float, float]] = OrderedDict()

    def _entry(self, address: str) -> tuple[int, float, float] | None:
        entry = self._entries.get(address)
        if entry is not None and self.clock.seconds() - entry[1] > FORGET_AFTER:
            del self._entries[address]
            return None
        return entry

    def wait(self, address: str) -> float:
        """
        Tell whether an attempt from C{address} may be checked now.

        @param address: the client's IP address.
        @return: L{0.0} when it may; else the seconds it must still wait
            (the attempt must then be refused without checking it).
        """
        entry = self._entry(address)
        if entry is None:
            return 0.0
        return max(0.0, entry[2] - self.clock.seconds())

    def failed(self, address: str, what: str) -> None:
        """
        Count a failed login.

        @param address: the client's IP address.
        @param what: what it tried to log in to, for the log (e.g. C{"admin"}).
        """
        now = self.clock.seconds()
        entry = self._entry(address)
        failures = (entry[0] if entry else 0) + 1
        delay = 0.0
        if failures > self.freeFailures:
            delay = min(self.maxDelay, 2.0 ** (failures - self.freeFailures - 1))
            self._log.warn(
                "{failures} failed logins from {address} ({what}): its next attempt waits {delay:.0f} s",
                failures=failures,
                address=address,
                what=what,
                delay=delay,
            )
        self._entries[address] = (failures, now, now + delay)
        self._entries.move_to_end(address)
        while len(self._entries) > MAX_ADDRESSES:
            self._entries.popitem(last=False)

    def succeeded(self, address: str) -> None:
        """
        Forget an address's failures after a successful login.

        @param address: the client's IP address.
        """
        self._entries.pop(address, None)

    def failures(self, address: str) -> int:
        """
        @param address: the client's IP address.
        @return: its failed logins still remembered.
        """
        entry = self._entry(address)
        return entry[0] if entry else 0


def hostOf(peer: object) -> str:
    """
    The address part of a peer, as the throttle counts it.

    @param peer: an L{IAddress} provider, or a C{"host:port"} text.
    @return: its host.
    """
    # An IAddress has no common fields: a UNIX socket's has no host.
    host = getattr(peer, "host", None)
    if host is not None:
        return str(host)
    text = str(peer)
    if text.startswith("["):
        return text[1:].split("]", 1)[0]
    return text.rsplit(":", 1)[0] if text.count(":") == 1 else text
