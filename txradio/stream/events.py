# -*- test-case-name: tests.test_activity -*-
"""
What happens at a station, as events, and the counters kept from them.

A station tells its L{EventBus} when a listener joins, leaves or is
refused, when the title changes, when an operator or source updates the
metadata and when a live source connects or leaves.  Everything an operator
watches hangs off that bus: the access and playlist logs
(L{txradio.operations.logs}), the event hooks (L{txradio.operations.hooks}) and the counters the
metrics page reads (L{StationStats}).  Nothing on the bus may slow the
audio down: observers run synchronously and must only record or queue.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from twisted.logger import Logger

CLIENT_LEFT = "client left"
"""The reason given when a listener closed the connection itself."""

LAG_LIMIT = "lag limit"
"""The reason given when a listener fell too far behind and was dropped."""

KICKED = "kicked by the admin"
"""The reason given when the admin disconnected a listener."""

STATION_STOPPED = "station stopped"
"""The reason given when the station (or the whole server) stopped."""

SOURCE_LEFT = "the source left"
"""The reason given when a live-only mount's source left."""

LIMIT_REACHED = "limit reached"
"""The reason a listener is refused when the station is full."""

NO_SOURCE = "no source"
"""The reason a listener is refused when the mount has nothing on the air."""

DURATION_LIMIT = "duration limit"
"""The reason given when a listener reached its mount's C{max_listener_duration}."""
ADDRESS_DENIED = "address denied"
"""A listener's address is denied (or not allowed) on the mount (403)."""

AGENT_BANNED = "user agent banned"
"""A listener's user agent is banned on the mount (403)."""

TOKEN_INVALID = "bad token"
"""A private mount's listen URL has no token, or a wrong one (403)."""

TOKEN_EXPIRED = "token expired"
"""A listen URL's token has expired: refused (403), or disconnected when it
expires while listening."""

LOGIN_REQUIRED = "login required"
"""A mount with an htpasswd file got no or wrong credentials (401)."""

AUTH_REFUSED = "auth refused"
"""The URL authentication server refused the listener (403)."""

AUTH_UNAVAILABLE = "auth unavailable"
"""The URL authentication server failed or timed out, or too many requests
to it were in flight (503)."""

AUTH_TIME_LIMIT = "auth time limit"
"""The URL authentication server's C{icecast-auth-timelimit} ran out."""

HLS_IDLE = "hls idle"
"""The reason given when an HLS client fetched nothing for some target
durations: it stopped playing."""

REASON_LABELS = {
    CLIENT_LEFT: "client_left",
    LAG_LIMIT: "lag_limit",
    KICKED: "kicked",
    STATION_STOPPED: "stopped",
    SOURCE_LEFT: "source_left",
    LIMIT_REACHED: "limit_reached",
    NO_SOURCE: "no_source",
    DURATION_LIMIT: "duration_limit",
    ADDRESS_DENIED: "address_denied",
    AGENT_BANNED: "agent_banned",
    TOKEN_INVALID: "bad_token",
    TOKEN_EXPIRED: "token_expired",
    LOGIN_REQUIRED: "login_required",
    AUTH_REFUSED: "auth_refused",
    AUTH_UNAVAILABLE: "auth_unavailable",
    AUTH_TIME_LIMIT: "auth_time_limit",
    HLS_IDLE: "hls_idle",
}
"""Short, stable names for the reasons, as metric labels and hook fields."""


REFUSAL_LABELS = (
    "limit_reached",
    "no_source",
    "address_denied",
    "agent_banned",
    "bad_token",
    "token_expired",
    "login_required",
    "auth_refused",
    "auth_unavailable",
)
"""The labels a refusal (L{ListenerRefused}) can have, for metrics."""

REFUSAL_ONLY_LABELS = frozenset(REFUSAL_LABELS) - {"token_expired"}
"""Refusal labels that are never why a connected listener left."""


def reasonLabel(reason: str) -> str:
    """
    Name a reason for metrics and hooks.

    @param reason: one of the reason constants, or any other text.
    @return: its short label, or C{"other"}.
    """
    return REASON_LABELS.get(reason, "other")


class Event:
    """
    Something that happened at a station.

    @cvar name: the event's name in hooks and configuration, e.g.
        C{"listener-joined"}.
    @ivar station: the L{txradio.stream.station.Station} it happened at.
    @ivar when: the station clock's time, in seconds.
    """

    name: ClassVar[str] = ""
    station: Any
    when: float

    @property
    def mount(self) -> str:
        """
        The mount path of the event's station, e.g. C{"/stream"}.
        """
        mount: bytes = self.station.mount
        return mount.decode("ascii")

    def describe(self) -> dict[str, Any]:
        """
        The event as plain data, for hooks (JSON) and tests.

        @return: C{event}, C{mount} and C{time} and the event's own fields.
        """
        return {"event": self.name, "mount": self.mount, "time": self.when, **self.fields()}

    def fields(self) -> dict[str, Any]:
        """
        The event's own fields as plain data; see L{describe}.

        @return: a JSON-ready dictionary.
        """
        return {}


@dataclass(frozen=True, eq=False)
class ListenerJoined(Event):
    """
    A listener started receiving the stream.

    @ivar listener: the L{txradio.stream.listener.Listener}.
    @ivar request: the listener's L{txradio.wire.request.RequestHead}.
    @ivar peer: the listener's address as shown in logs.
    """

    name: ClassVar[str] = "listener-joined"
    station: Any
    when: float
    listener: Any
    request: Any
    peer: str

    def fields(self) -> dict[str, Any]:
        """
        @return: the listener's address, player and the listener count now.
        """
        return {
            "peer": self.peer,
            "userAgent": self.listener.userAgent,
            "listeners": self.station.listenerCount,
        }


@dataclass(frozen=True, eq=False)
class ListenerLeft(Event):
    """
    A listener's stream ended.

    @ivar listener: the L{txradio.stream.listener.Listener}, with its C{bytesSent}.
    @ivar request: the listener's L{txradio.wire.request.RequestHead}.
    @ivar peer: the listener's address as shown in logs.
    @ivar reason: why: L{CLIENT_LEFT}, L{LAG_LIMIT}, L{KICKED}, ...
    @ivar seconds: how long the listener listened.
    @ivar requestedAt: when the request arrived, in the clock's seconds.
    """

    name: ClassVar[str] = "listener-left"
    station: Any
    when: float
    listener: Any
    request: Any
    peer: str
    reason: str
    seconds: float
    requestedAt: float

    def fields(self) -> dict[str, Any]:
        """
        @return: the listener's address, player, why and how long it
            listened, the bytes sent and the listener count now.
        """
        return {
            "peer": self.peer,
            "userAgent": self.listener.userAgent,
            "reason": reasonLabel(self.reason),
            "seconds": round(self.seconds, 3),
            "bytes": self.listener.bytesSent,
            "listeners": self.station.listenerCount,
        }


@dataclass(frozen=True, eq=False)
class HLSSessionEnded(Event):
    """
    An HLS client stopped fetching a mount's playlist and segments: its
    session ended, some target durations after its last request.

    @ivar peer: the client's address.
    @ivar userAgent: its C{User-Agent}, or C{""}.
    @ivar reason: why the session counts as ended: L{HLS_IDLE} or
        L{STATION_STOPPED}.
    @ivar seconds: from its first request to its last, plus the target
        duration the last segment plays.
    """

    name: ClassVar[str] = "hls-session-ended"
    station: Any
    when: float
    peer: str
    userAgent: str
    reason: str
    seconds: float

    def fields(self) -> dict[str, Any]:
        """
        @return: the client's address, player, why and how long it listened.
        """
        return {
            "peer": self.peer,
            "userAgent": self.userAgent,
            "reason": reasonLabel(self.reason),
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True, eq=False)
class ListenerRefused(Event):
    """
    A request for the stream was refused.

    @ivar request: the L{txradio.wire.request.RequestHead}.
    @ivar peer: the client's address as shown in logs.
    @ivar reason: L{LIMIT_REACHED} or L{NO_SOURCE}.
    @ivar status: the HTTP status answered.
    """

    name: ClassVar[str] = "listener-refused"
    station: Any
    when: float
    request: Any
    peer: str
    reason: str
    status: int

    def fields(self) -> dict[str, Any]:
        """
        @return: the client's address and why it was refused.
        """
        return {"peer": self.peer, "reason": reasonLabel(self.reason), "status": self.status}


@dataclass(frozen=True, eq=False)
class TitleChanged(Event):
    """
    The audio sent now carries a new title: a new track, or a source's or
    operator's update reaching the stream.

    @ivar title: the new title.
    """

    name: ClassVar[str] = "title-changed"
    station: Any
    when: float
    title: str

    def fields(self) -> dict[str, Any]:
        """
        @return: the title and the listener count now.
        """
        return {"title": self.title, "listeners": self.station.listenerCount}


@dataclass(frozen=True, eq=False)
class MetadataUpdated(Event):
    """
    A source client or the admin sent a new title for the mount.

    @ivar title: the title as given (it is cleaned before it is sent).
    """

    name: ClassVar[str] = "metadata-updated"
    station: Any
    when: float
    title: str

    def fields(self) -> dict[str, Any]:
        """
        @return: the title.
        """
        return {"title": self.title}


@dataclass(frozen=True, eq=False)
class SourceConnected(Event):
    """
    A live source client went on the air.

    @ivar peer: its address.
    @ivar agent: what it calls itself (its C{User-Agent}).
    @ivar dj: the DJ account it logged in as (the show's name), or C{""}.
    """

    name: ClassVar[str] = "source-connected"
    station: Any
    when: float
    peer: str
    agent: str
    dj: str = ""

    def fields(self) -> dict[str, Any]:
        """
        @return: the source's address and agent, and C{dj} for a DJ.
        """
        fields = {"peer": self.peer, "agent": self.agent}
        if self.dj:
            fields["dj"] = self.dj
        return fields


@dataclass(frozen=True, eq=False)
class SourceDisconnected(Event):
    """
    A live source client's connection ended.

    @ivar peer: its address.
    """

    name: ClassVar[str] = "source-disconnected"
    station: Any
    when: float
    peer: str

    def fields(self) -> dict[str, Any]:
        """
        @return: the source's address.
        """
        return {"peer": self.peer}


EVENT_TYPES: dict[str, type[Event]] = {
    kind.name: kind
    for kind in (
        ListenerJoined,
        ListenerLeft,
        ListenerRefused,
        HLSSessionEnded,
        TitleChanged,
        MetadataUpdated,
        SourceConnected,
        SourceDisconnected,
    )
}
"""Every event type by its name."""


Observer = Callable[[Event], None]


class EventBus:
    """
    Hands every event to every observer, in the order they subscribed.

    An observer that raises is logged and stays subscribed; the others still
    get the event.
    """

    _log = Logger()

    def __init__(self) -> None:
        self._observers: list[Observer] = []

    def subscribe(self, observer: Observer) -> None:
        """
        Receive every event from now on.

        @param observer: a callable taking an L{Event}.
        """
        if observer not in self._observers:
            self._observers.append(observer)

    def unsubscribe(self, observer: Observer) -> None:
        """
        Stop receiving events; harmless if not subscribed.

        @param observer: a callable given to L{subscribe}.
        """
        if observer in self._observers:
            self._observers.remove(observer)

    def emit(self, event: Event) -> None:
        """
        Hand an event to every observer.

        @param event: what happened.
        """
        for observer in list(self._observers):
            try:
                observer(event)
            except Exception:
                self._log.failure("an observer failed on {event}", event=event.name)


LATENESS_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
"""Upper bounds in seconds of the tick lateness histogram's buckets."""


class Histogram:
    """
    Counts observations in fixed buckets, as a Prometheus histogram does.

    @ivar bounds: the buckets' upper bounds, ascending.
    @ivar counts: observations per bucket (not cumulative), with one more
        for those above the last bound.
    @ivar total: the sum of every observation.
    @ivar count: the number of observations.
    @ivar largest: the largest observation.
    """

    __slots__ = ("bounds", "counts", "total", "count", "largest")

    def __init__(self, bounds: tuple[float, ...] = LATENESS_BUCKETS) -> None:
        """
        @param bounds: the buckets' upper bounds, ascending.
        """
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.total = 0.0
        self.count = 0
        self.largest = 0.0

    def observe(self, value: float) -> None:
        """
        Count one observation.

        @param value: the observed value.
        """
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value
        self.count += 1
        if value > self.largest:
            self.largest = value

    def cumulative(self) -> list[tuple[float, int]]:
        """
        The cumulative counts, as Prometheus exposes them.

        @return: C{(upper bound, observations at or below it)} pairs, the
            last bound being C{float("inf")}.
        """
        result = []
        running = 0
        for bound, count in zip((*self.bounds, float("inf")), self.counts):
            running += count
            result.append((bound, running))
        return result


@dataclass
class StationStats:
    """
    Counters a station keeps from its own events, for the metrics page.

    @ivar disconnects: listener streams ended, by reason label.
    @ivar refused: stream requests refused, by reason label.
    @ivar departedBytes: bytes sent to listeners who have left.
    @ivar burstBytes: bytes sent as bursts to new listeners.
    @ivar titleChanges: titles the stream has carried.
    @ivar metadataUpdates: metadata updates received.
    @ivar sourceConnects: live source connections that went on the air.
    @ivar sourceDisconnects: live source connections that ended.
    """

    disconnects: dict[str, int] = field(default_factory=dict)
    refused: dict[str, int] = field(default_factory=dict)
    departedBytes: int = 0
    burstBytes: int = 0
    titleChanges: int = 0
    metadataUpdates: int = 0
    sourceConnects: int = 0
    sourceDisconnects: int = 0

    def __call__(self, event: Event) -> None:
        """
        Count an event; an L{EventBus} observer.

        @param event: what happened.
        """
        kind = type(event)
        if isinstance(event, ListenerLeft):
            label = reasonLabel(event.reason)
            self.disconnects[label] = self.disconnects.get(label, 0) + 1
            self.departedBytes += event.listener.bytesSent
        elif isinstance(event, ListenerRefused):
            label = reasonLabel(event.reason)
            self.refused[label] = self.refused.get(label, 0) + 1
        elif kind is TitleChanged:
            self.titleChanges += 1
        elif kind is MetadataUpdated:
            self.metadataUpdates += 1
        elif kind is SourceConnected:
            self.sourceConnects += 1
        elif kind is SourceDisconnected:
            self.sourceDisconnects += 1
