# -*- test-case-name: tests.test_requests -*-
"""
Listener requests' settings: the C{[server.requests]} table (the queue's
size and the cool-downs); a mount takes requests with C{requests = true}.
"""

from __future__ import annotations

from dataclasses import dataclass

from txradio.config._check import setting
from txradio.config.kinds import Integer
from txradio.sources.requests import Limits

MAX_COOL_DOWN = 10080
"""The longest cool-down accepted, in minutes (a week)."""


@dataclass(frozen=True, slots=True)
class RequestsConfig:
    """
    The rules of every mount's request queue: C{[server.requests]}.  Zero
    turns a cool-down off.
    """

    queue: int = setting(20, kind=Integer(1, 1000, "songs"), help="The most requests waiting on a mount.")
    addressMinutes: int = setting(
        5,
        kind=Integer(0, MAX_COOL_DOWN, "minutes"),
        help="One request per listener's address within this many minutes.",
        doc="The real address of the connection, whatever `log_addresses` says.",
    )
    songMinutes: int = setting(
        60, kind=Integer(0, MAX_COOL_DOWN, "minutes"), help="No song requested if requested or played within this many minutes."
    )
    artistMinutes: int = setting(
        30,
        kind=Integer(0, MAX_COOL_DOWN, "minutes"),
        help="No artist requested if requested or played within this many minutes.",
    )

    def limits(self) -> Limits:
        """
        @return: the rules as L{txradio.sources.requests.RequestQueue} takes them.
        """
        return Limits(self.queue, self.addressMinutes * 60.0, self.songMinutes * 60.0, self.artistMinutes * 60.0)
