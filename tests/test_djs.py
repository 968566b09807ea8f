"""
Tests for DJ accounts (L{txradio.net.djs}, L{txradio.config.djs}): logins
inside and outside windows, the end of a window on the injected clock, and
the hand-over from one DJ to the next without the programme between.
"""

from __future__ import annotations

import base64
import os
from collections import namedtuple
from datetime import datetime
from zoneinfo import ZoneInfo

from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase

from zope.interface import implementer

from txradio.config import ConfigError, parseConfig
from txradio.interfaces import IFrameSource
from txradio.net.djs import DJAccount, DJDesk
from txradio.net.listenerport import ListenerFactory
from txradio.stream.events import SourceConnected, SourceDisconnected
from txradio.stream.station import Station
from txradio.testing import syntheticFrame
from txradio.web.status import icecastSource, summary
from txradio.wire.passwordhash import hashPassword
from txradio.wire.windows import parseWindows

UTC = ZoneInfo("UTC")
_Usage = namedtuple("_Usage", "total used free")
MONDAY_2159 = datetime(2026, 11, 30, 21, 59, tzinfo=UTC).timestamp()
"""A Monday, one minute before the end of a C{Mon 20:00-22:00} window."""

PROGRAMME, ALICE, BOB = 7, 0xA1, 0xB2
"""The markers of the programme's, alice's and bob's frames."""


@implementer(IFrameSource)
class Programme:
    """
    An endless programme whose every frame carries the marker L{PROGRAMME}.
    """

    title: str | None = "Programme"
    onAir = True

    def pull(self, duration: float) -> list:
        frame = syntheticFrame(PROGRAMME)
        return [frame] * max(1, int(duration / frame.header.duration))

    def close(self) -> None:
        pass


def basic(user: str, password: str) -> bytes:
    return b"Basic " + base64.b64encode(f"{user}:{password}".encode())


def sourceRequest(user: str, password: str, mount: bytes = b"/stream", name: bytes = b"Show") -> bytes:
    """
    @return: an Icecast C{PUT} request head.
    """
    return (
        b"PUT " + mount + b" HTTP/1.1\r\nHost: radio\r\nAuthorization: " + basic(user, password)
        + b"\r\nContent-Type: audio/mpeg\r\nice-name: " + name + b"\r\n\r\n"
    )


class DJTestMixin:
    """
    A station with a programme, a source password and two DJs (alice with
    a plain password, bob with a hash), on a clock set to a Monday 21:59
    UTC.
    """

    queue = False

    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(MONDAY_2159)
        self.station = Station(Programme(), clock=self.clock, sourcePassword="hackme")
        self.station.startService()
        self.events: list = []
        self.station.events.subscribe(self.events.append)
        self.djAccounts = [
            DJAccount("alice", "wonder", frozenset([b"/stream"]), parseWindows(["Mon 20:00-22:00"]), grace=10.0),
            DJAccount(
                "bob",
                hashPassword("builder", n=1024),
                frozenset([b"/stream"]),
                parseWindows(["Mon 21:00-23:00", "Fri 18:00-19:30"]),
            ),
            DJAccount("carol", "singer", frozenset([b"/other"]), parseWindows(["Mon-Sun 00:00-24:00"])),
        ]
        self.desk = DJDesk(self.djAccounts, UTC, self.clock, queue=self.queue)
        self.factory = ListenerFactory({self.station.mount: self.station}, clock=self.clock)
        self.factory.djs = self.desk
        self.clock.pump([0.5] * 4)

    def tearDown(self) -> None:
        self.station.stopService()

    def connect(self, data: bytes, port: int = 4000) -> tuple:
        protocol = self.factory.buildProtocol(None)
        transport = StringTransport(peerAddress=IPv4Address("TCP", "192.0.2.9", port))
        protocol.makeConnection(transport)
        protocol.dataReceived(data)
        return protocol, transport

    def status(self, transport: StringTransport) -> bytes:
        return transport.value().split(b"\r\n", 1)[0]

    def markers(self, data: bytes) -> list[int]:
        size = len(syntheticFrame().data)
        return [data[i + size - 1] for i in range(0, len(data) - size + 1, size)]

    def play(self, seconds: float, *sources: tuple) -> None:
        """
        Feed each source's protocol its frames, half a second at a time,
        while the clock runs.
        """
        frame = syntheticFrame()
        perStep = int(0.5 / frame.header.duration) + 1
        for _ in range(int(seconds * 2)):
            for protocol, marker in sources:
                protocol.dataReceived(syntheticFrame(marker).data * perStep)
            self.clock.advance(0.5)


class LoginTests(DJTestMixin, SynchronousTestCase):
    """
    A DJ logs in with its own name and password, on its mounts, inside its
    windows.
    """

    def test_insideWindow(self) -> None:
        """
        A DJ with the right password inside its window goes on the air; the
        event, the station and the status say its name.
        """
        _, transport = self.connect(sourceRequest("alice", "wonder"))
        self.assertEqual(self.status(transport), b"HTTP/1.0 200 OK")
        self.assertEqual(self.station.liveDJ, "alice")
        connected = [e for e in self.events if isinstance(e, SourceConnected)]
        self.assertEqual(connected[0].describe()["dj"], "alice")
        self.assertEqual(summary(self.station)["dj"], "alice")
        self.assertEqual(icecastSource(self.station, "http://radio")["dj"], "alice")

    def test_hashedPassword(self) -> None:
        """
        A DJ whose password is configured as a hash logs in with the
        password.
        """
        _, transport = self.connect(sourceRequest("bob", "builder"))
        self.assertEqual(self.status(transport), b"HTTP/1.0 200 OK")
        self.assertEqual(self.station.liveDJ, "bob")

    def test_outsideWindow(self) -> None:
        """
        Outside its windows a DJ gets 403 saying when it may broadcast.
        """
        self.clock.advance(3600)
        _, transport = self.connect(sourceRequest("alice", "wonder"))
        self.assertEqual(self.status(transport), b"HTTP/1.0 403 Forbidden")
        self.assertIn(b"dj alice may broadcast on Mon 20:00-22:00 (UTC)", transport.value())
        self.assertIsNone(self.station.liveSource)

    def test_wrongPassword(self) -> None:
        """
        A DJ name with a wrong password is a failed login (401), counted by
        the throttle, whatever the window.
        """
        self.clock.advance(3600)
        _, transport = self.connect(sourceRequest("alice", "guess"))
        self.assertEqual(self.status(transport), b"HTTP/1.0 401 Unauthorized")

    def test_otherMount(self) -> None:
        """
        A DJ may not broadcast on a mount it is not given.
        """
        _, transport = self.connect(sourceRequest("carol", "singer"))
        self.assertEqual(self.status(transport), b"HTTP/1.0 403 Forbidden")
        self.assertIn(b"may not broadcast on /stream, only on /other", transport.value())

    def test_sourceAccountStill(self) -> None:
        """
        The mount's own source login keeps working, without a DJ.
        """
        _, transport = self.connect(sourceRequest("source", "hackme"))
        self.assertEqual(self.status(transport), b"HTTP/1.0 200 OK")
        self.assertIsNone(self.station.liveDJ)
        self.assertIsNone(summary(self.station)["dj"])

    def test_busyWithoutQueue(self) -> None:
        """
        Without hand-over, a second DJ on a busy mount gets 403.
        """
        self.connect(sourceRequest("alice", "wonder"))
        _, transport = self.connect(sourceRequest("bob", "builder"), port=4001)
        self.assertEqual(self.status(transport), b"HTTP/1.0 403 Forbidden")


class MountQueueTests(DJTestMixin, SynchronousTestCase):
    """
    A mount's own C{dj_queue} overrides the station's.
    """

    def test_mountTurnsQueueOn(self) -> None:
        """
        With hand-over off for the station but on for C{/stream}, a second
        DJ there waits (C{200}) rather than being refused.
        """
        self.desk.configure(self.djAccounts, UTC, False, {b"/stream": True})
        self.connect(sourceRequest("alice", "wonder"))
        _, transport = self.connect(sourceRequest("bob", "builder"), port=4001)
        self.assertEqual(self.status(transport), b"HTTP/1.0 200 OK")
        self.assertEqual(self.desk.waiting(b"/stream").peer, "192.0.2.9:4001")

    def test_mountTurnsQueueOff(self) -> None:
        """
        With hand-over on for the station but off for C{/stream}, a second
        DJ there gets 403; another mount follows the station.
        """
        self.desk.configure(self.djAccounts, UTC, True, {b"/stream": False})
        self.connect(sourceRequest("alice", "wonder"))
        _, transport = self.connect(sourceRequest("bob", "builder"), port=4001)
        self.assertEqual(self.status(transport), b"HTTP/1.0 403 Forbidden")
        self.assertFalse(self.desk.mayWait(b"/stream"))
        self.assertTrue(self.desk.mayWait(b"/other"))


class WindowEndTests(DJTestMixin, SynchronousTestCase):
    """
    At the end of its window and grace, a DJ's source is ended and the
    mount goes back to its programme.
    """

    def test_endsAtWindowPlusGrace(self) -> None:
        """
        alice's window ends at 22:00 and her grace is 10 s: she is on at
        22:00:09 and ended at 22:00:10, and the programme plays again.
        """
        protocol, transport = self.connect(sourceRequest("alice", "wonder"))
        # setUp ran the clock to 21:59:02.
        self.play(67, (protocol, ALICE))
        self.assertFalse(transport.disconnecting)
        self.play(1.5, (protocol, ALICE))
        self.assertTrue(transport.disconnecting)
        protocol.connectionLost(None)
        self.assertIsNone(self.station.liveDJ)
        self.assertTrue([e for e in self.events if isinstance(e, SourceDisconnected)])
        self.clock.advance(1)
        self.assertEqual(self.station.switcher.current, self.station.programme)

    def test_leavesFirst(self) -> None:
        """
        A DJ who leaves before the end of its window leaves no call behind.
        """
        protocol, _ = self.connect(sourceRequest("alice", "wonder"))
        before = len(self.clock.getDelayedCalls())
        protocol.connectionLost(None)
        self.assertEqual(len(self.clock.getDelayedCalls()), before - 2)  # the window's and the timeout


class HandOverTests(DJTestMixin, SynchronousTestCase):
    """
    With hand-over on, a second DJ waits and takes over with no programme
    between the two.
    """

    queue = True

    def listen(self) -> StringTransport:
        _, transport = self.connect(b"GET /stream HTTP/1.0\r\n\r\n", port=5000)
        return transport

    def assertNoProgrammeBetween(self, markers: list[int]) -> None:
        """
        After alice's first frame, the listener got alice's frames then
        bob's, and none of the programme's.
        """
        first = markers.index(ALICE)
        after = markers[first:]
        self.assertNotIn(PROGRAMME, after)
        self.assertIn(BOB, after)
        switch = after.index(BOB)
        self.assertEqual(set(after[:switch]), {ALICE})
        self.assertEqual(set(after[switch:]), {BOB})

    def test_whenFirstLeaves(self) -> None:
        """
        bob, waiting, takes over the moment alice leaves.
        """
        listener = self.listen()
        alice, _ = self.connect(sourceRequest("alice", "wonder"), port=4000)
        self.play(3, (alice, ALICE))
        bob, bobTransport = self.connect(sourceRequest("bob", "builder"), port=4001)
        self.assertEqual(self.status(bobTransport), b"HTTP/1.0 200 OK")
        self.assertEqual(self.desk.waiting(b"/stream").peer, "192.0.2.9:4001")
        self.play(3, (alice, ALICE), (bob, BOB))
        alice.connectionLost(None)
        self.play(5, (bob, BOB))
        self.assertEqual(self.station.liveDJ, "bob")
        self.assertNoProgrammeBetween(self.markers(listener.value().partition(b"\r\n\r\n")[2]))
        names = [(type(e).__name__, getattr(e, "dj", None)) for e in self.events if "Source" in type(e).__name__]
        self.assertEqual(
            names, [("SourceConnected", "alice"), ("SourceDisconnected", None), ("SourceConnected", "bob")]
        )

    def test_whenWindowEnds(self) -> None:
        """
        bob takes over at the end of alice's window and grace, on the
        clock.
        """
        listener = self.listen()
        alice, aliceTransport = self.connect(sourceRequest("alice", "wonder"), port=4000)
        self.play(3, (alice, ALICE))
        bob, _ = self.connect(sourceRequest("bob", "builder"), port=4001)
        self.play(64, (alice, ALICE), (bob, BOB))
        self.assertFalse(aliceTransport.disconnecting)
        self.play(2, (alice, ALICE), (bob, BOB))
        self.assertTrue(aliceTransport.disconnecting)
        alice.connectionLost(None)
        self.play(3, (bob, BOB))
        self.assertEqual(self.station.liveDJ, "bob")
        self.assertNoProgrammeBetween(self.markers(listener.value().partition(b"\r\n\r\n")[2]))

    def test_bufferBounded(self) -> None:
        """
        A waiting DJ's audio is kept up to a bound, the oldest dropped.
        """
        alice, _ = self.connect(sourceRequest("alice", "wonder"), port=4000)
        bob, _ = self.connect(sourceRequest("bob", "builder"), port=4001)
        self.play(20, (alice, ALICE), (bob, BOB))
        held = self.desk.waiting(b"/stream").live
        self.assertLessEqual(held.queuedSeconds, 4.0)
        self.assertGreater(held.framesDropped, 0)

    def test_oneWaits(self) -> None:
        """
        One DJ waits per mount: a third source gets 403.
        """
        self.connect(sourceRequest("alice", "wonder"), port=4000)
        self.connect(sourceRequest("bob", "builder"), port=4001)
        _, transport = self.connect(sourceRequest("alice", "wonder"), port=4002)
        self.assertEqual(self.status(transport), b"HTTP/1.0 403 Forbidden")

    def test_waiterLeaves(self) -> None:
        """
        A waiting DJ who leaves is forgotten; the DJ on the air stays.
        """
        self.connect(sourceRequest("alice", "wonder"), port=4000)
        bob, _ = self.connect(sourceRequest("bob", "builder"), port=4001)
        bob.connectionLost(None)
        self.assertIsNone(self.desk.waiting(b"/stream"))
        self.assertEqual(self.station.liveDJ, "alice")


class ConfigTests(SynchronousTestCase):
    """
    C{[[dj]]} tables and the station's time zone are checked.
    """

    base = '[server]\ntimezone = "Europe/Berlin"\n[[mount]]\npath = "/stream"\nplaylist = "."\n'

    def test_parsed(self) -> None:
        """
        A DJ table gives an account with normalized mounts.
        """
        config = parseConfig(
            self.base + '[[dj]]\nname = "alice"\npassword = "x"\nmounts = ["stream"]\nwindows = ["Mon 20:00-22:00"]\n'
        )
        self.assertEqual(config.djs[0].mounts, ("/stream",))
        self.assertEqual(config.server.timezone, "Europe/Berlin")

    def test_grace(self) -> None:
        """
        C{grace} may be 0 (its default: no overrun) but not negative.
        """
        dj = '[[dj]]\nname = "alice"\npassword = "x"\nmounts = ["/stream"]\nwindows = ["Mon 20:00-22:00"]\n'
        self.assertEqual(parseConfig(self.base + dj + "grace = 0\n").djs[0].grace, 0)
        self.assertEqual(parseConfig(self.base + dj + "grace = 2.5\n").djs[0].grace, 2.5)
        error = self.assertRaises(ConfigError, parseConfig, self.base + dj + "grace = -1\n")
        self.assertIn("at least 0", str(error))

    def test_badWindow(self) -> None:
        """
        A bad window is named in the error.
        """
        with self.assertRaises(ConfigError) as caught:
            parseConfig(self.base + '[[dj]]\nname = "a"\npassword = "x"\nmounts = ["/stream"]\nwindows = ["Mon 25:00-26:00"]\n')
        self.assertIn("dj[1].windows", str(caught.exception))

    def test_badZone(self) -> None:
        """
        An unknown time zone is refused.
        """
        self.assertRaises(ConfigError, parseConfig, self.base.replace("Europe/Berlin", "Mars/Olympus"))

    def test_twice(self) -> None:
        """
        A DJ name may be given once.
        """
        dj = '[[dj]]\nname = "a"\npassword = "x"\nmounts = ["/stream"]\nwindows = ["Mon 20:00-22:00"]\n'
        self.assertRaises(ConfigError, parseConfig, self.base + dj + dj)


class BuildTests(SynchronousTestCase):
    """
    The builder gives the radio its DJ desk from the configuration.
    """

    text = (
        '[server]\ntimezone = "Europe/Berlin"\ndj_queue = true\n[[mount]]\npath = "/stream"\n'
        'playlist = "{folder}"\n[[dj]]\nname = "alice"\npassword = "x"\nmounts = ["/stream"]\n'
        'windows = ["Mon 20:00-22:00"]\ngrace = 5\n'
    )

    def test_desk(self) -> None:
        """
        C{[[dj]]} tables, the time zone and C{dj_queue} reach the listener
        port's desk; without tables there is none, and a new one applies to
        the same desk.
        """
        from twisted.internet.testing import MemoryReactorClock

        import txradio
        from txradio.build import serviceFromConfig
        from txradio.wiring import configureDJs

        folder = os.path.join(os.path.dirname(os.path.abspath(txradio.__file__)), "demo")
        config = parseConfig(self.text.format(folder=folder))
        service = serviceFromConfig(config, MemoryReactorClock(), encoder=None)
        desk = service.factory.djs
        assert desk is not None
        self.assertEqual((str(desk.zone), desk.queue), ("Europe/Berlin", True))
        self.assertEqual(desk.accounts("alice")[0][0], "alice")
        configureDJs(service, parseConfig(self.text.format(folder=folder).replace("alice", "bob")), None)
        self.assertIs(service.factory.djs, desk)
        self.assertEqual(desk.accounts("alice"), [])

    def test_mountQueue(self) -> None:
        """
        A mount's C{dj_queue} reaches the desk and overrides the station's
        for that mount only, at start and on a reload.
        """
        from twisted.internet.testing import MemoryReactorClock

        import txradio
        from txradio.build import serviceFromConfig
        from txradio.wiring import configureDJs

        folder = os.path.join(os.path.dirname(os.path.abspath(txradio.__file__)), "demo")
        text = self.text.format(folder=folder).replace("[[dj]]", "dj_queue = false\n[[dj]]", 1)
        config = parseConfig(text)
        self.assertIs(config.mounts[0].djQueue, False)
        service = serviceFromConfig(config, MemoryReactorClock(), encoder=None)
        desk = service.factory.djs
        assert desk is not None
        self.assertEqual((desk.queue, desk.mountQueues), (True, {b"/stream": False}))
        self.assertFalse(desk.mayWait(b"/stream"))
        self.assertTrue(desk.mayWait(b"/elsewhere"))
        configureDJs(service, parseConfig(self.text.format(folder=folder)), None)
        self.assertEqual(desk.mountQueues, {})
        self.assertTrue(desk.mayWait(b"/stream"))


class ShowNameTests(DJTestMixin, SynchronousTestCase):
    """
    The DJ's name is the show's name on the page and in recordings.
    """

    def test_page(self) -> None:
        """
        The page's state badge names the DJ on the air.
        """
        from twisted.web.template import flattenString

        from txradio.web.page import stationSection

        self.connect(sourceRequest("alice", "wonder"))
        html = self.successResultOf(flattenString(None, stationSection(self.station)))
        self.assertIn(b"Live: alice", html)

    def test_recordingName(self) -> None:
        """
        A recording of a DJ's show is named after the DJ, not the
        encoder's C{ice-name}.
        """
        from txradio.operations.recordings import Recorder, RecordingLimits

        folder = os.path.abspath(self.mktemp())
        os.makedirs(folder)
        recorder = Recorder(
            self.station, folder, self.clock, RecordingLimits(minFree=1), diskUsage=lambda path: _Usage(0, 0, 10 << 30)
        )
        recorder.start()
        self.addCleanup(recorder.stop)
        protocol, _ = self.connect(sourceRequest("alice", "wonder", name=b"Encoder Name"))
        self.play(2, (protocol, ALICE))
        protocol.connectionLost(None)
        self.clock.pump([0.5] * 10)
        names = os.listdir(folder)
        self.assertTrue(names and all("_alice." in name for name in names), names)
