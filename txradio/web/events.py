# -*- test-case-name: tests.test_web_events -*-
"""
Live updates for the station page: Server-Sent Events at C{/events}.

One L{EventHub} serves every page that is open.  While at least one is
connected, a L{LoopingCall} on the injected clock compares each station's
L{summary} with the one it saw a tick before and pushes only the mounts that
changed (a new title, a listener more or less, a source coming or going).
The same encoded event is written to every client, as the broadcaster shares
one chunk of audio.  With no client connected nothing runs at all.

Each client is an L{IPushProducer} registered with its request: while the
connection's buffer is full the events wait in a small per-client buffer,
and a client whose buffer overflows is dropped (its browser reconnects and
gets a fresh snapshot).  The number of clients is bounded
(C{[server] max_event_clients}): a page over the limit is answered with a
C{200} event stream that holds only a C{retry:} field (20 to 40 seconds,
spread at random so that refused pages do not come back together) and a
C{busy} event, then closed.  A browser's C{EventSource} reconnects after
that delay; a C{503} would instead fail it for good (the HTML standard's
"fail the connection": no reconnection after a status other than 200).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from twisted.application.service import Service
from twisted.internet.interfaces import IPushProducer, IReactorTime, ITCPTransport
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from zope.interface import implementer

from txradio.web.art import artPath
from txradio.web.status import WebContext, allowCORS, encodeJSON, summary

MAX_CLIENTS = 256
"""The most pages that may follow C{/events} at once."""

BUFFER_LIMIT = 65536
"""Bytes of events held for a client whose connection is not draining."""

INTERVAL = 1.0
"""Seconds between two comparisons of the stations' state."""

KEEPALIVE = 15.0
"""Seconds of silence after which a comment line is sent, so proxies and
browsers keep the connection open and dead ones are noticed."""

RETRY = 3000
"""Milliseconds a browser waits before reconnecting (the C{retry} field)."""

BUSY_RETRY = (20000, 40000)
"""The range, in milliseconds, of the C{retry} field a page over the limit
is sent: it reconnects after a delay drawn from it."""


def formatEvent(name: str, value: Any) -> bytes:
    """
    Encode one server-sent event.

    @param name: the event type, e.g. C{"mount"}.
    @param value: JSON-ready data; its encoding has no line breaks, so it
        fits one C{data:} line.
    @return: the event, ending with the blank line that dispatches it.
    """
    return b"event: " + name.encode("ascii") + b"\ndata: " + encodeJSON(value).rstrip(b"\n") + b"\n\n"


@implementer(IPushProducer)
class EventClient:
    """
    One page following C{/events}.

    @ivar request: its request, kept open.
    @ivar buffered: bytes waiting while the connection is paused.
    @ivar dropped: whether it was dropped for being too slow.
    """

    _log = Logger()

    def __init__(self, hub: EventHub, request: Request, limit: int) -> None:
        """
        @param hub: the hub that feeds it.
        @param request: its request.
        @param limit: bytes it may hold while paused.
        """
        self.hub = hub
        self.request = request
        self.buffered = 0
        self.dropped = False
        self._limit = limit
        self._paused = False
        self._pending: list[bytes] = []
        self._done = False

    def send(self, data: bytes) -> None:
        """
        Write an event now, or hold it while the connection is paused.

        @param data: an encoded event (shared between clients).
        """
        if self._done:
            return
        if not self._paused:
            self.request.write(data)
            return
        self._pending.append(data)
        self.buffered += len(data)
        if self.buffered > self._limit:
            self.drop("too slow")

    def drop(self, reason: str) -> None:
        """
        Close this client's connection at once.

        @param reason: why, for the log.
        """
        if self._done:
            return
        self._log.info(
            "dropping event client {peer}: {reason}",
            peer=_peer(self.request),
            reason=reason,
        )
        self.dropped = True
        self._finish()
        # The channel is gone once the request has finished.
        channel = self.request.channel
        transport = channel.transport if channel is not None else None
        if ITCPTransport.providedBy(transport):
            transport.abortConnection()
        elif transport is not None:
            transport.loseConnection()

    def pauseProducing(self) -> None:
        """
        The connection's buffer is full: hold events.
        """
        self._paused = True

    def resumeProducing(self) -> None:
        """
        The connection drained: write what was held, in order.
        """
        self._paused = False
        if self._pending and not self._done:
            pending, self._pending = self._pending, []
            self.buffered = 0
            self.request.write(b"".join(pending))

    def stopProducing(self) -> None:
        """
        The connection is going away.
        """
        self._finish()

    def _finish(self) -> None:
        """
        Leave the hub; idempotent.
        """
        if self._done:
            return
        self._done = True
        self._pending = []
        self.hub.removeClient(self)


def _peer(request: Request) -> str:
    """
    The client's address for the log.

    @param request: a request.
    @return: C{host:port} or a description.
    """
    address = request.getClientAddress()
    # An IAddress has no common fields: a UNIX socket's has no host or port.
    host = getattr(address, "host", None)
    return f"{host}:{getattr(address, 'port', '')}" if host else str(address)


@dataclass(frozen=True, slots=True)
class EventLimits:
    """
    How much an L{EventHub} serves, and how often.

    @ivar maxClients: the most clients at once.
    @ivar bufferLimit: bytes a paused client may hold.
    @ivar interval: seconds between comparisons.
    @ivar keepAlive: seconds of silence before a comment is sent.
    """

    maxClients: int = MAX_CLIENTS
    bufferLimit: int = BUFFER_LIMIT
    interval: float = INTERVAL
    keepAlive: float = KEEPALIVE


class EventHub(Service):
    """
    Follows the stations for the pages that are open, and tells them what
    changed.

    It is a service so that stopping the radio also closes every event
    stream and stops the comparison loop.

    @ivar clients: the connected L{EventClient}s.
    @ivar limits: the L{EventLimits}; a reload may replace them, for pages
        that connect from then on.
    """

    _log = Logger()

    def __init__(
        self,
        context: WebContext,
        clock: IReactorTime,
        limits: EventLimits = EventLimits(),
        random: Callable[[], float] = random.random,
    ) -> None:
        """
        @param context: the site's shared state (the stations).
        @param clock: the time the comparison loop runs on.
        @param limits: how many clients, how much buffer, how often.
        @param random: a source of numbers in [0, 1), which spreads the
            retries of refused pages (see L{busyAnswer}).
        """
        self.setName("events")
        self._random = random
        self.context = context
        self.clock = clock
        self.limits = limits
        self.clients: dict[EventClient, None] = {}
        self._last: dict[str, dict[str, Any]] = {}
        self._quietSince = 0.0
        self._loop = LoopingCall(self.tick)
        self._loop.clock = clock

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """
        Read every station's changing facts now.

        @return: mount to L{summary}, with C{art}: the site path of the album
            art of what it plays, or L{None}.
        """
        hls = self.context.hls
        art = self.context.art
        return {
            station.mount.decode("ascii"): {**summary(station, hls.get(station.mount)), "art": artPath(station, art)}
            for station in self.context.stations
        }

    def addClient(self, request: Request) -> EventClient | None:
        """
        Start an event stream on a request: headers, the reconnection delay
        and one event per mount with its current state.

        @param request: a C{GET /events} request.
        @return: the new client, or L{None} when the hub is full.
        """
        if len(self.clients) >= self.limits.maxClients:
            return None
        client = EventClient(self, request, self.limits.bufferLimit)
        self.clients[client] = None
        request.registerProducer(client, True)
        current = self.snapshot()
        request.write(b"retry: %d\n\n" % (RETRY,) + b"".join(formatEvent("mount", value) for value in current.values()))
        if not self._loop.running:
            self._last = current
            self._quietSince = self.clock.seconds()
            self._loop.start(self.limits.interval, now=False)
        return client

    def busyAnswer(self) -> bytes:
        """
        The event stream a page over the limit gets: a C{retry:} field in
        L{BUSY_RETRY}, and a C{busy} event telling the page so.

        @return: the whole body.
        """
        low, high = BUSY_RETRY
        retry = low + int(self._random() * (high - low))
        return b"retry: %d\n\n" % (retry,) + formatEvent("busy", {"retry": retry})

    def removeClient(self, client: EventClient) -> None:
        """
        Forget a client; the loop stops with the last one.

        @param client: a client given by L{addClient}.
        """
        self.clients.pop(client, None)
        if not self.clients and self._loop.running:
            self._loop.stop()

    def tick(self) -> None:
        """
        Push what changed since the last tick (or a keep-alive comment).
        """
        current = self.snapshot()
        changed = [value for mount, value in current.items() if self._last.get(mount) != value]
        self._last = current
        now = self.clock.seconds()
        if changed:
            data = b"".join(formatEvent("mount", value) for value in changed)
        elif now - self._quietSince >= self.limits.keepAlive:
            data = b": keep-alive\n\n"
        else:
            return
        self._quietSince = now
        for client in list(self.clients):
            client.send(data)

    def stopService(self) -> None:
        """
        Close every event stream and stop the loop.
        """
        Service.stopService(self)
        for client in list(self.clients):
            client.drop("the server is stopping")
        self.clients.clear()
        if self._loop.running:
            self._loop.stop()


class EventsResource(Resource):
    """
    C{/events}: the stream of L{EventHub} events.
    """

    isLeaf = True

    def __init__(self, hub: EventHub) -> None:
        """
        @param hub: the hub that feeds the streams.
        """
        Resource.__init__(self)
        self.hub = hub

    def render_GET(self, request: Request) -> bytes | int:
        """
        Keep the request open and follow the stations.

        @param request: the request.
        @return: C{NOT_DONE_YET}; or, when too many pages follow, a short
            event stream telling the browser when to try again
            (L{EventHub.busyAnswer}), which then ends.
        """
        allowCORS(request)
        request.setHeader(b"cache-control", b"no-cache")
        request.setHeader(b"content-type", b"text/event-stream; charset=utf-8")
        if len(self.hub.clients) >= self.hub.limits.maxClients:
            # A 200 that ends, not a 503: EventSource reconnects after the
            # retry field's delay, and never after an error status.
            request.setHeader(b"retry-after", b"30")
            request.setHeader(b"connection", b"close")
            return self.hub.busyAnswer()
        # Tell buffering proxies (nginx) to pass events on at once.
        request.setHeader(b"x-accel-buffering", b"no")
        client = self.hub.addClient(request)
        assert client is not None

        def gone(reason: Failure | None) -> None:
            client.stopProducing()

        request.notifyFinish().addBoth(gone)
        return NOT_DONE_YET

    def render_HEAD(self, request: Request) -> bytes:
        """
        Answer the headers of an event stream without opening one.

        @param request: the request.
        @return: nothing.
        """
        allowCORS(request)
        request.setHeader(b"content-type", b"text/event-stream; charset=utf-8")
        request.setHeader(b"cache-control", b"no-cache")
        return b""
