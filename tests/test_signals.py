"""
Tests for L{txradio.operations.signals} and the radio's graceful stop: signals only
schedule work on the reactor, the previous handlers come back, and
stopping sends the last title and ends within its bound.
"""

from __future__ import annotations

import os
import signal

from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.trial.unittest import SynchronousTestCase

from zope.interface.verify import verifyClass

from txradio.interfaces import IProgramme
from txradio.operations.signals import SignalService
from txradio.service import RadioService
from txradio.stream.station import Station
from txradio.testing import FakeFrameSource, FakeProgramme
from txradio.wire.icy import MetadataDemuxer


class ReloadCountingProgramme(FakeProgramme):
    """
    A programme that counts how often it was told to read its tracks again.
    """

    reloaded = 0

    def reload(self) -> None:
        """
        Count a reload.
        """
        self.reloaded += 1


verifyClass(IProgramme, ReloadCountingProgramme)


class RecordingReactor:
    """
    Records what signal handlers schedule.
    """

    def __init__(self) -> None:
        self.scheduled: list = []

    def callFromThread(self, function, *args) -> None:
        self.scheduled.append((function, args))


class FakeRadio:
    """
    Records what the signal service asks of the radio.
    """

    def __init__(self) -> None:
        self.reopened = 0
        self.certificatesRead = 0
        self.stations: list = []

    def reopenLogs(self) -> None:
        self.reopened += 1

    def reloadCertificates(self) -> None:
        self.certificatesRead += 1


class FakeReloader:
    """
    Records reloads.
    """

    path = "/etc/txradio/radio.toml"

    def __init__(self) -> None:
        self.reloads = 0

    def reload(self) -> None:
        self.reloads += 1


class SignalServiceTests(SynchronousTestCase):
    """
    L{SignalService} handles C{SIGHUP} and C{SIGUSR1} while it runs.
    """

    def setUp(self) -> None:
        self.before = {number: signal.getsignal(number) for number in (signal.SIGHUP, signal.SIGUSR1)}
        self.addCleanup(lambda: [signal.signal(n, h) for n, h in self.before.items()])

    def test_signalsScheduleWork(self) -> None:
        """
        A signal schedules the work on the reactor; running it reloads the
        configuration or reopens the logs.
        """
        reactor, radio, reloader = RecordingReactor(), FakeRadio(), FakeReloader()
        service = SignalService(radio, reloader, reactor)
        service.startService()
        os.kill(os.getpid(), signal.SIGUSR1)
        os.kill(os.getpid(), signal.SIGHUP)
        self.assertEqual((radio.reopened, reloader.reloads), (0, 0))
        for function, args in reactor.scheduled:
            function(*args)
        self.assertEqual((radio.reopened, reloader.reloads), (1, 1))
        service.stopService()
        self.assertEqual({n: signal.getsignal(n) for n in self.before}, self.before)

    def test_chainsPreviousHandler(self) -> None:
        """
        The handler installed before (twistd's log rotation on C{SIGUSR1})
        still runs.
        """
        seen = []
        signal.signal(signal.SIGUSR1, lambda signum, frame: seen.append(signum))
        service = SignalService(FakeRadio(), None, RecordingReactor())
        service.startService()
        os.kill(os.getpid(), signal.SIGUSR1)
        service.stopService()
        self.assertEqual(seen, [signal.SIGUSR1])

    def test_withoutConfiguration(self) -> None:
        """
        Without a configuration file, C{SIGHUP} re-reads the certificates
        and the playlists.
        """
        radio = FakeRadio()

        programme = ReloadCountingProgramme()

        class FakeStation:
            pass

        FakeStation.programme = programme
        radio.stations = [FakeStation()]
        SignalService(radio, None, RecordingReactor()).reload()
        self.assertEqual((radio.certificatesRead, programme.reloaded), (1, 1))


class GracefulStopTests(SynchronousTestCase):
    """
    Stopping a radio closes its ports, sends the last title, and ends
    within its bound.
    """

    def setUp(self) -> None:
        self.reactor = MemoryReactorClock()
        self.station = Station(FakeFrameSource(titles=["Song"], framesPerTrack=100_000), clock=self.reactor)
        self.radio = RadioService([self.station], listen=["tcp:8000"], reactor=self.reactor)
        self.radio.startService()
        self.reactor.pump([1] * 3)

    def listen(self) -> StringTransport:
        address = IPv4Address("TCP", "192.0.2.7", 5555)
        protocol = self.radio.factory.buildProtocol(address)
        transport = StringTransport(peerAddress=address)
        protocol.makeConnection(transport)
        protocol.dataReceived(b"GET /stream HTTP/1.0\r\nIcy-MetaData: 1\r\n\r\n")
        return transport

    def test_lastTitle(self) -> None:
        """
        With a last title, the ports close at once, listeners hear the
        title for a moment, then are disconnected.
        """
        self.radio.lastTitle = "Off the air"
        transport = self.listen()
        stopping = self.radio.stopService()
        [port] = self.reactor.tcpServers
        self.assertNoResult(stopping)
        self.reactor.pump([0.5] * 5)
        self.successResultOf(stopping)
        self.assertTrue(transport.disconnecting)
        body = transport.value().partition(b"\r\n\r\n")[2]
        titles = [item["StreamTitle"] for item in MetadataDemuxer(16000).feed(body) if isinstance(item, dict)]
        self.assertEqual(titles[-1], "Off the air")
        self.assertFalse(self.radio.running)

    def test_withoutLastTitle(self) -> None:
        """
        Without one, stopping is immediate.
        """
        transport = self.listen()
        self.successResultOf(self.radio.stopService())
        self.assertTrue(transport.disconnecting)

    def test_bounded(self) -> None:
        """
        Something that will not stop (an encoder that does not exit) is
        abandoned after L{RadioService.stopTimeout}, with a log line.
        """
        never: Deferred = Deferred()
        self.station.whenIdle = lambda: never
        self.station.conformer = None

        class Stuck:
            running = 1
            parent = None
            name = "stuck"

            def stopService(self):
                return never

            def disownServiceParent(self):
                return None

            def setServiceParent(self, parent):
                pass

            def privilegedStartService(self):
                pass

            def startService(self):
                pass

        self.radio.addService(Stuck())
        self.radio.stopTimeout = 10
        stopping = self.radio.stopService()
        self.reactor.advance(9)
        self.assertNoResult(stopping)
        self.reactor.advance(1)
        self.successResultOf(stopping)
