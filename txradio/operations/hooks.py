# -*- test-case-name: tests.test_hooks -*-
"""
Event hooks: run a program or POST to a URL when something happens at a
station (a source connects, a title changes, the listener count crosses a
threshold...).

A hook never delays the audio.  Events are put in a bounded queue per hook
(the oldest is dropped, with a log line, when it is full) and sent one at a
time, each attempt bounded by a timeout and retried with a growing delay.
A program is started with C{spawnProcess} and an argument list from the
configuration, never a shell command line, and gets the event as JSON on
its standard input and in a few environment variables; a URL gets the same
JSON as a C{POST} body.
"""

from __future__ import annotations

import json
import os
from collections import deque
from collections.abc import Callable, Sequence
from io import BytesIO
from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.internet.error import ProcessDone
from twisted.internet.interfaces import IReactorTime
from twisted.internet.protocol import ProcessProtocol
from twisted.logger import Logger
from twisted.python.failure import Failure

from txradio.stream.events import Event, ListenerJoined, ListenerLeft

DEFAULT_QUEUE = 100
"""Events a hook holds while it is busy or failing; older ones are dropped."""

RETRY_DELAYS = (1.0, 5.0, 30.0)
"""Seconds before each retry (the last repeats)."""

THRESHOLD_EVENT = "listener-threshold"
"""The name of the event sent when a listener count crosses a threshold."""


class HookFailed(Exception):
    """
    One attempt to run a hook failed.
    """


class _Collector(ProcessProtocol):
    """
    Feeds a hook program its input and waits for it to end, keeping the
    start of what it writes for the log.
    """

    LIMIT = 2048

    def __init__(self, payload: bytes) -> None:
        self.payload = payload
        self.output = b""
        self.done: Deferred = Deferred()

    def connectionMade(self) -> None:
        self.transport.write(self.payload)
        self.transport.closeStdin()

    def childDataReceived(self, childFD: int, data: bytes) -> None:
        if len(self.output) < self.LIMIT:
            self.output = (self.output + data)[: self.LIMIT]

    def processEnded(self, reason: Failure) -> None:
        if reason.check(ProcessDone):
            self.done.callback(None)
        else:
            detail = self.output.decode("utf-8", "replace").strip()[-200:]
            self.done.errback(HookFailed(f"{reason.getErrorMessage()}{': ' + detail if detail else ''}"))


class CommandAction:
    """
    Runs a program with an event: the event's JSON on its standard input,
    and C{TXRADIO_EVENT}, C{TXRADIO_MOUNT} (and C{TXRADIO_TITLE} where there
    is one) in its environment.

    @ivar argv: the program and its arguments.
    """

    def __init__(self, argv: Sequence[str], reactor) -> None:
        """
        @param argv: the program (found on C{PATH} when not a path) and its
            arguments.
        @param reactor: an L{IReactorProcess} provider.
        """
        self.argv = list(argv)
        self._reactor = reactor

    def __call__(self, payload: dict[str, Any], timeout: float) -> Deferred:
        """
        Run the program once.

        @param payload: the event as plain data.
        @param timeout: seconds before the program is killed.
        @return: a L{Deferred} firing when it exited with status 0, failing
            with L{HookFailed} otherwise.
        """
        from twisted.python.procutils import which

        program = self.argv[0]
        if os.sep not in program:
            found = which(program)
            if not found:
                raise HookFailed(f"{program!r} is not on PATH")
            program = found[0]
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": os.environ.get("LANG", "C.UTF-8"),
            "TXRADIO_EVENT": str(payload.get("event", "")),
            "TXRADIO_MOUNT": str(payload.get("mount", "")),
        }
        if "title" in payload:
            env["TXRADIO_TITLE"] = str(payload["title"])
        collector = _Collector(json.dumps(payload).encode("utf-8") + b"\n")
        process = self._reactor.spawnProcess(collector, program, [program, *self.argv[1:]], env=env)

        def kill(result: Failure) -> Failure:
            try:
                process.signalProcess("KILL")
            except Exception:
                pass
            return result

        done = collector.done
        done.addTimeout(timeout, self._reactor)
        done.addErrback(kill)
        return done

    def __str__(self) -> str:
        return self.argv[0]


class PostAction:
    """
    POSTs an event as JSON to a URL with Twisted's L{Agent}.

    @ivar url: the URL.
    """

    def __init__(self, url: str, reactor, agent=None) -> None:
        """
        @param url: an C{http://} or C{https://} URL.
        @param reactor: the reactor.
        @param agent: an L{IAgent}; a new L{Agent} by default.
        """
        from twisted.web.client import Agent

        self.url = url
        self._reactor = reactor
        self._agent = agent if agent is not None else Agent(reactor)

    def __call__(self, payload: dict[str, Any], timeout: float) -> Deferred:
        """
        POST the event once.

        @param payload: the event as plain data.
        @param timeout: seconds the whole exchange may take.
        @return: a L{Deferred} firing on a 2xx answer, failing with
            L{HookFailed} on any other.
        """
        from twisted.web.client import FileBodyProducer, readBody
        from twisted.web.http_headers import Headers

        body = FileBodyProducer(BytesIO(json.dumps(payload).encode("utf-8")))
        headers = Headers({b"content-type": [b"application/json"], b"user-agent": [b"txradio hooks"]})
        requested = self._agent.request(b"POST", self.url.encode("ascii"), headers, body)

        def answered(response):
            finished = readBody(response)

            def check(_):
                if not 200 <= response.code < 300:
                    raise HookFailed(f"{self.url} answered {response.code}")

            return finished.addCallback(check)

        requested.addCallback(answered)
        requested.addTimeout(timeout, self._reactor)
        return requested

    def __str__(self) -> str:
        return self.url


class Hook:
    """
    One configured hook, an L{txradio.stream.events.EventBus} observer: it picks
    the events it wants and runs its action for each, one at a time.

    @ivar name: a name for logs.
    @ivar events: the event names it runs on.
    @ivar mounts: the mounts it runs for (empty: every mount).
    @ivar thresholds: listener counts whose crossing makes a
        C{listener-threshold} event.
    @ivar runs: successful runs.
    @ivar failures: failed attempts.
    @ivar dropped: events dropped because the queue was full or every
        attempt failed.
    """

    _log = Logger()

    def __init__(
        self,
        action: Callable[[dict[str, Any], float], Deferred],
        events: Sequence[str],
        clock: IReactorTime,
        mounts: Sequence[str] = (),
        thresholds: Sequence[int] = (),
        timeout: float = 10.0,
        retries: int = 3,
        queueSize: int = DEFAULT_QUEUE,
        retryDelays: Sequence[float] = RETRY_DELAYS,
        name: str | None = None,
    ) -> None:
        """
        @param action: runs the hook once for an event's data and a timeout:
            a L{CommandAction} or L{PostAction}.
        @param events: the event names to run on.
        @param clock: the time for retries.
        @param mounts: the mounts to run for; every mount when empty.
        @param thresholds: listener counts to watch.
        @param timeout: seconds one attempt may take.
        @param retries: further attempts after a failed one.
        @param queueSize: events held at most.
        @param retryDelays: seconds before each retry; the last repeats.
        @param name: a name for logs; the action's by default.
        """
        self.action = action
        self.events = frozenset(events)
        self.mounts = frozenset(mounts)
        self.thresholds = tuple(sorted(thresholds))
        self.timeout = timeout
        self.retries = retries
        self.name = name or str(action)
        self.runs = 0
        self.failures = 0
        self.dropped = 0
        self._clock = clock
        self._retryDelays = tuple(retryDelays) or (1.0,)
        self._queue: deque[dict[str, Any]] = deque()
        self._queueSize = queueSize
        self._busy = False
        self._pending = None
        self._stopped = False
        self._counts: dict[str, int] = {}

    def __call__(self, event: Event) -> None:
        """
        Take an event: queue it if this hook wants it.

        @param event: any station event.
        """
        if self.mounts and event.mount not in self.mounts:
            return
        if self.thresholds and type(event) in (ListenerJoined, ListenerLeft):
            self._watchCount(event)
        if event.name in self.events:
            self.enqueue(event.describe())

    def _watchCount(self, event: Event) -> None:
        """
        Turn a listener count change into threshold events.

        @param event: a listener joining or leaving.
        """
        mount = event.mount
        count = event.station.listenerCount
        before = self._counts.get(mount, 0)
        self._counts[mount] = count
        if THRESHOLD_EVENT not in self.events:
            return
        for threshold in self.thresholds:
            if before < threshold <= count:
                direction = "up"
            elif count < threshold <= before:
                direction = "down"
            else:
                continue
            self.enqueue(
                {
                    "event": THRESHOLD_EVENT,
                    "mount": mount,
                    "time": event.when,
                    "threshold": threshold,
                    "direction": direction,
                    "listeners": count,
                }
            )

    def enqueue(self, payload: dict[str, Any]) -> None:
        """
        Queue an event's data to be sent, dropping the oldest when full.

        @param payload: the event as plain data.
        """
        if self._stopped:
            return
        if len(self._queue) >= self._queueSize:
            old = self._queue.popleft()
            self.dropped += 1
            self._log.warn(
                "hook {name}: queue full ({size} events); dropped a {event} event",
                name=self.name,
                size=self._queueSize,
                event=old.get("event"),
            )
        self._queue.append(payload)
        if not self._busy:
            self._next()

    def _next(self) -> None:
        """
        Send the next queued event, if any.
        """
        if not self._queue or self._stopped:
            self._busy = False
            return
        self._busy = True
        self._attempt(self._queue.popleft(), 0)

    def _attempt(self, payload: dict[str, Any], attempt: int) -> None:
        """
        Run the action once for an event.

        @param payload: the event's data.
        @param attempt: 0 for the first attempt.
        """
        self._pending = None
        try:
            running = self.action(payload, self.timeout)
        except Exception as error:
            running = Deferred()
            running.errback(Failure(error))

        def succeeded(_: object) -> None:
            self.runs += 1
            self._next()

        def failed(reason: Failure) -> None:
            self.failures += 1
            why = reason.getErrorMessage() or reason.type.__name__
            if attempt < self.retries and not self._stopped:
                delay = self._retryDelays[min(attempt, len(self._retryDelays) - 1)]
                self._log.warn(
                    "hook {name} failed on {event} ({why}); retrying in {delay:g} s",
                    name=self.name,
                    event=payload.get("event"),
                    why=why,
                    delay=delay,
                )
                self._pending = self._clock.callLater(delay, self._attempt, payload, attempt + 1)
                return
            self.dropped += 1
            self._log.error(
                "hook {name} failed on {event} ({why}); giving up on this event",
                name=self.name,
                event=payload.get("event"),
                why=why,
            )
            self._next()

        running.addCallbacks(succeeded, failed)

    def stop(self) -> Deferred:
        """
        Stop: forget queued events and pending retries (an attempt under
        way ends by its timeout).

        @return: a fired L{Deferred}.
        """
        self._stopped = True
        if self._pending is not None and self._pending.active():
            self._pending.cancel()
        self._pending = None
        self.dropped += len(self._queue)
        self._queue.clear()
        return succeed(None)

    @property
    def queued(self) -> int:
        """
        Events waiting.
        """
        return len(self._queue)


def hookFromConfig(config, reactor) -> Hook:
    """
    Build a hook from its configuration.

    @param config: a L{txradio.config.HookConfig}.
    @param reactor: the reactor (processes, HTTP, time).
    @return: the L{Hook}.
    """
    action: Callable[[dict[str, Any], float], Deferred]
    if config.command is not None:
        action = CommandAction(config.command, reactor)
    else:
        action = PostAction(config.url, reactor)
    return Hook(
        action,
        config.events,
        reactor,
        mounts=config.mounts,
        thresholds=config.thresholds,
        timeout=config.timeout,
        retries=config.retries,
    )
