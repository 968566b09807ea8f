# -*- test-case-name: tests.test_protocol -*-
"""
The phases of a connection to the listener port, and the moves allowed
between them.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum


class Phase(Enum):
    """
    The phases of a connection to the listener port.  L{TRANSITIONS} says
    which phase may follow which; L{ListenerProtocol} is in exactly one.
    """

    HEAD = "reading the request head"
    """Reading the request head, bounded in size (the parser) and time."""

    AUTHENTICATING = "waiting for the authentication server"
    """A stream request waits for URL authentication (see
    L{txradio.net.access}): nothing is sent, what arrives is ignored."""

    STREAMING = "streaming to a listener"
    """The head asked for a mount: a L{Listener} streams to the connection."""

    SOURCE = "receiving from a source client"
    """A source client's C{PUT}/C{SOURCE}: a L{SourceSession} reads its audio."""

    SITE = "handed to the web site"
    """Any other request: the site's channel has the connection."""

    CLOSING = "closing"
    """An answer (an error, a C{HEAD} or C{OPTIONS} reply) is written and the
    connection is closing: whatever else arrives is ignored."""

    CLOSED = "closed"
    """The connection is lost."""


TRANSITIONS: Mapping[Phase, frozenset[Phase]] = {
    # A head is answered by a stream, a source session, the site or a reply.
    Phase.HEAD: frozenset(
        {Phase.AUTHENTICATING, Phase.STREAMING, Phase.SOURCE, Phase.SITE, Phase.CLOSING, Phase.CLOSED}
    ),
    # The authentication server's answer streams or refuses; or the client left.
    Phase.AUTHENTICATING: frozenset({Phase.STREAMING, Phase.CLOSING, Phase.CLOSED}),
    # The site hands a kept-alive connection back when it asks for a mount:
    # its head is read again here.
    Phase.SITE: frozenset({Phase.HEAD, Phase.CLOSED}),
    # A source refused after its head (or one that left) closes.
    Phase.SOURCE: frozenset({Phase.CLOSING, Phase.CLOSED}),
    Phase.STREAMING: frozenset({Phase.CLOSED}),
    Phase.CLOSING: frozenset({Phase.CLOSED}),
    Phase.CLOSED: frozenset({Phase.CLOSED}),
}
"""The phases each phase may move to."""


def advance(current: Phase, new: Phase) -> Phase:
    """
    Check one move between phases.

    @param current: the phase a connection is in.
    @param new: the phase it moves to.
    @return: C{new}.
    @raise ValueError: when L{TRANSITIONS} does not allow the move (a bug).
    """
    if new not in TRANSITIONS[current]:
        raise ValueError(f"a listener connection cannot go from {current.name} to {new.name}")
    return new
