"""
Tests for L{txradio.operations.hooks}: which events a hook takes, its bounded queue,
retries with backoff, thresholds, programs run without a shell, URLs
POSTed to, and that a slow hook never delays the audio.
"""

from __future__ import annotations

import json

from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from tests._process import FakeProcessReactor
from txradio.config import parseConfig
from txradio.operations.hooks import CommandAction, Hook, HookFailed, hookFromConfig
from txradio.stream.events import ListenerJoined, ListenerLeft, MetadataUpdated, SourceConnected, TitleChanged
from txradio.stream.station import Station
from txradio.testing import FakeFrameSource, connectInMemory


class RecordingAction:
    """
    A hook action whose attempts the test answers by hand.
    """

    def __init__(self) -> None:
        self.calls: list[tuple[dict, Deferred]] = []

    def __call__(self, payload, timeout) -> Deferred:
        d: Deferred = Deferred()
        self.calls.append((payload, d))
        return d

    def __str__(self) -> str:
        return "recording"


class HookTests(SynchronousTestCase):
    """
    L{Hook} picks its events and sends them one at a time.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.station = Station(FakeFrameSource(), clock=self.clock)
        self.action = RecordingAction()

    def hook(self, events=("title-changed",), **kwargs) -> Hook:
        hook = Hook(self.action, events, self.clock, **kwargs)
        self.station.events.subscribe(hook)
        return hook

    def test_picksEvents(self) -> None:
        """
        Only the named events, for the named mounts, are sent, as plain
        data.
        """
        self.hook(events=("source-connected",))
        self.station.events.emit(TitleChanged(self.station, 5.0, "x"))
        self.station.events.emit(SourceConnected(self.station, 6.0, "192.0.2.1:1", "butt 0.1"))
        [(payload, _)] = self.action.calls
        self.assertEqual(
            payload,
            {"event": "source-connected", "mount": "/stream", "time": 6.0, "peer": "192.0.2.1:1", "agent": "butt 0.1"},
        )
        other = Hook(self.action, ("title-changed",), self.clock, mounts=("/other",))
        other(TitleChanged(self.station, 7.0, "y"))
        self.assertEqual(len(self.action.calls), 1)

    def test_oneAtATime(self) -> None:
        """
        Events wait while an attempt runs, and go in order.
        """
        hook = self.hook()
        for title in "abc":
            self.station.events.emit(TitleChanged(self.station, 0.0, title))
        self.assertEqual(len(self.action.calls), 1)
        self.assertEqual(hook.queued, 2)
        self.action.calls[0][1].callback(None)
        self.action.calls[1][1].callback(None)
        self.action.calls[2][1].callback(None)
        self.assertEqual([p["title"] for p, _ in self.action.calls], ["a", "b", "c"])
        self.assertEqual((hook.runs, hook.queued), (3, 0))

    def test_boundedQueue(self) -> None:
        """
        A full queue drops its oldest events, counting them.
        """
        hook = self.hook(queueSize=2)
        for title in "abcde":
            self.station.events.emit(TitleChanged(self.station, 0.0, title))
        self.assertEqual((hook.queued, hook.dropped), (2, 2))
        for n in range(3):
            self.action.calls[n][1].callback(None)
        self.assertEqual([p["title"] for p, _ in self.action.calls], ["a", "d", "e"])

    def test_retries(self) -> None:
        """
        A failed attempt is retried after growing delays, then given up;
        the next event follows.
        """
        hook = self.hook(retries=2, retryDelays=(1.0, 5.0))
        self.station.events.emit(TitleChanged(self.station, 0.0, "a"))
        self.station.events.emit(TitleChanged(self.station, 0.0, "b"))
        self.action.calls[0][1].errback(HookFailed("503"))
        self.assertEqual(len(self.action.calls), 1)
        self.clock.advance(1)
        self.assertEqual(len(self.action.calls), 2)
        self.action.calls[1][1].errback(HookFailed("503"))
        self.clock.advance(4.9)
        self.assertEqual(len(self.action.calls), 2)
        self.clock.advance(0.1)
        self.action.calls[2][1].errback(HookFailed("503"))
        self.assertEqual([p["title"] for p, _ in self.action.calls], ["a", "a", "a", "b"])
        self.assertEqual((hook.failures, hook.dropped), (3, 1))
        self.assertEqual(len(self.flushLoggedErrors()), 0)

    def test_raisingAction(self) -> None:
        """
        An action that raises counts as a failed attempt.
        """

        def broken(payload, timeout):
            raise HookFailed("no such program")

        hook = Hook(broken, ("title-changed",), self.clock, retries=0)
        hook(TitleChanged(self.station, 0.0, "a"))
        self.assertEqual((hook.failures, hook.dropped, hook.queued), (1, 1, 0))

    def test_thresholds(self) -> None:
        """
        Crossing a threshold up or down makes one C{listener-threshold}
        event each way.
        """
        self.station.startService()
        self.addCleanup(self.station.stopService)
        self.hook(events=("listener-threshold",), thresholds=(2,))
        listeners = []
        for _n in range(3):
            listener, _ = connectInMemory(self.station)
            listeners.append(listener)
            self.station.events.emit(ListenerJoined(self.station, 0.0, listener, None, "p"))
        for listener in listeners:
            listener.stopProducing()
            self.station.events.emit(ListenerLeft(self.station, 0.0, listener, None, "p", "client left", 1, 0))
            for _, attempt in self.action.calls:
                if not attempt.called:
                    attempt.callback(None)
        payloads = [p for p, _ in self.action.calls]
        self.assertEqual(
            [(p["event"], p["threshold"], p["direction"], p["listeners"]) for p in payloads],
            [("listener-threshold", 2, "up", 2), ("listener-threshold", 2, "down", 1)],
        )

    def test_slowHookDoesNotDelayAudio(self) -> None:
        """
        A hook whose attempts never finish holds no tick back: the
        broadcaster keeps its pace and every event is queued at once.
        """
        self.station.startService()
        self.addCleanup(self.station.stopService)
        hook = self.hook(events=("title-changed", "metadata-updated"))
        for n in range(30):
            self.station.updateTitle(f"t{n}")
            self.clock.advance(1)
        self.assertEqual(self.station.broadcaster.lateness.largest, 0)
        # 30 s, and one tick's lead.
        self.assertLess(abs(self.station.broadcaster.audioSeconds - 31), 0.1)
        self.assertEqual(len(self.action.calls), 1)
        self.assertGreater(hook.queued + hook.dropped, 50)


class CommandActionTests(SynchronousTestCase):
    """
    L{CommandAction} runs a program with an argument list, the event on its
    standard input.
    """

    def test_spawn(self) -> None:
        """
        The program gets the configured arguments only; the event (title
        included) goes to its standard input and environment, never to a
        command line.
        """
        fake = FakeProcessReactor()
        action = CommandAction(["/usr/bin/notify", "--mount"], fake)
        payload = {"event": "title-changed", "mount": "/stream", "title": "$(rm -rf /); `x`"}
        done = action(payload, 10)
        [call] = fake.spawnCalls
        self.assertEqual(call["args"], ["/usr/bin/notify", "--mount"])
        self.assertEqual(call["env"]["TXRADIO_TITLE"], payload["title"])
        self.assertEqual(call["env"]["TXRADIO_EVENT"], "title-changed")
        [process] = fake.spawned
        self.assertEqual(json.loads(process.written), payload)
        self.assertTrue(process.stdinClosed)
        process.exit(0)
        self.successResultOf(done)

    def test_failureAndTimeout(self) -> None:
        """
        A non-zero exit fails the attempt; a program that runs past the
        timeout is killed and fails it.
        """
        fake = FakeProcessReactor()
        action = CommandAction(["/usr/bin/notify"], fake)
        first = action({"event": "x"}, 10)
        fake.spawned[0].exit(3)
        self.failureResultOf(first, HookFailed)
        second = action({"event": "x"}, 10)
        fake.advance(10)
        self.assertEqual(fake.spawned[1].signals, ["KILL"])
        self.assertTrue(self.failureResultOf(second))

    def test_missingProgram(self) -> None:
        """
        A program not on C{PATH} is a clear failure.
        """
        action = CommandAction(["no-such-program-here"], FakeProcessReactor())
        self.assertRaises(HookFailed, action, {"event": "x"}, 10)


class ConfigTests(SynchronousTestCase):
    """
    Hooks are configured with C{[[hook]]} tables.
    """

    def test_fromConfig(self) -> None:
        """
        A command hook and a URL hook are built from their tables.
        """
        config = parseConfig(
            """
[[mount]]
path = "/stream"
live = true
source_password = "pw"

[[hook]]
on = ["source-connected", "source-disconnected"]
command = ["/usr/local/bin/announce", "--live"]
mounts = ["/stream"]

[[hook]]
on = "listener-threshold"
url = "https://hooks.example/radio"
thresholds = [500, 100]
retries = 1
"""
        )
        first, second = (hookFromConfig(hook, FakeProcessReactor()) for hook in config.hooks)
        self.assertEqual(first.action.argv, ["/usr/local/bin/announce", "--live"])
        self.assertEqual(first.events, {"source-connected", "source-disconnected"})
        self.assertEqual(first.mounts, {"/stream"})
        self.assertEqual(second.action.url, "https://hooks.example/radio")
        self.assertEqual((second.thresholds, second.retries), ((100, 500), 1))

    def test_errors(self) -> None:
        """
        A hook without an action, with both, with an unknown event or with
        a shell string is refused with a clear message.
        """
        from txradio.config import ConfigError

        base = '[[mount]]\npath = "/s"\nlive = true\nsource_password = "pw"\n[[hook]]\n'
        cases = {
            'on = "title-changed"\n': "needs exactly one of command",
            'on = "title-changed"\ncommand = ["x"]\nurl = "http://x/"\n': "needs exactly one of command",
            'on = "song"\ncommand = ["x"]\n': "'song' is not one of",
            'on = "title-changed"\ncommand = "notify $TITLE"\n': "must be an array of strings",
            'on = "title-changed"\nurl = "ftp://x/"\n': "must be an http:// or https:// URL",
            'on = "listener-threshold"\ncommand = ["x"]\n': "thresholds",
        }
        for text, fragment in cases.items():
            with self.assertRaises(ConfigError) as raised:
                parseConfig(base + text)
            self.assertIn(fragment, str(raised.exception), text)

    def test_metadataEventName(self) -> None:
        """
        Every event type's name can be configured.
        """
        from txradio.config import HOOK_EVENTS

        for kind in (ListenerJoined, ListenerLeft, MetadataUpdated, SourceConnected, TitleChanged):
            self.assertIn(kind.name, HOOK_EVENTS)
        self.assertTrue(succeed(None))
