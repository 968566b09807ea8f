"""
Tests for L{txradio.operations.logs}: access and playlist log lines read back by a
real combined-format parser, hidden addresses, reopening, and a full disk.
"""

from __future__ import annotations

import json
import os
from io import StringIO

import apachelogs
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.task import Clock
from twisted.internet.testing import EventLoggingObserver, StringTransport
from twisted.logger import Logger, globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from txradio.net.listenerport import ListenerFactory
from txradio.operations.logs import (
    AccessLog,
    AddressPolicy,
    LogFile,
    PlaylistLog,
    combinedLine,
    escapeField,
    formatTimestamp,
    hostOf,
    jsonToStdout,
    playlistLine,
)
from txradio.stream.station import Station
from txradio.testing import FakeFrameSource

COMBINED_WITH_SECONDS = apachelogs.COMBINED + " %T"
"""The combined log format with the seconds the client stayed, as Icecast writes it."""

NOV_24 = 1795518000.0
"""2026-11-24 11:00:00 UTC."""


class FormatTests(SynchronousTestCase):
    """
    The pure line formats.
    """

    def test_timestamp(self) -> None:
        """
        Times are written as the combined format does, in UTC.
        """
        self.assertEqual(formatTimestamp(NOV_24), "24/Nov/2026:11:00:00 +0000")

    def test_combinedParses(self) -> None:
        """
        A line is read back by a real combined-format parser, duration
        included.
        """
        line = combinedLine(
            "192.0.2.7", NOV_24, "GET /stream HTTP/1.1", 200, 123456, None, "mpg123/1.31.2", 42.9
        )
        entry = apachelogs.LogParser(COMBINED_WITH_SECONDS).parse(line)
        self.assertEqual(entry.remote_host, "192.0.2.7")
        self.assertEqual(entry.request_line, "GET /stream HTTP/1.1")
        self.assertEqual(entry.final_status, 200)
        self.assertEqual(entry.bytes_sent, 123456)
        self.assertEqual(entry.headers_in["User-Agent"], "mpg123/1.31.2")
        self.assertIsNone(entry.headers_in["Referer"])
        self.assertEqual(entry.request_duration_seconds, 42)
        self.assertEqual(entry.request_time.isoformat(), "2026-11-24T11:00:00+00:00")

    def test_hostileFields(self) -> None:
        """
        Quotes, backslashes and line breaks in a client's headers cannot
        forge a field or a line.
        """
        agent = 'evil" 200 1 "x\r\n1.2.3.4 - - [x] "GET / HTTP/1.0" 200 0 "-" "-" 0'
        line = combinedLine("192.0.2.7", NOV_24, "GET /stream HTTP/1.1", 200, 1, "a\\b", agent, 1)
        self.assertNotIn("\n", line)
        entry = apachelogs.LogParser(COMBINED_WITH_SECONDS).parse(line)
        self.assertEqual(entry.headers_in["User-Agent"], agent)
        self.assertEqual(entry.headers_in["Referer"], "a\\b")
        self.assertEqual(escapeField(b"\x00\x7f"), "\\x00\\x7f")

    def test_playlistLine(self) -> None:
        """
        A playlist line is time, mount, listeners and title; a line break in
        a title cannot start another line.
        """
        self.assertEqual(
            playlistLine(NOV_24, "/stream", 3, "Artist - Title\nfake"),
            "24/Nov/2026:11:00:00 +0000|/stream|3|Artist - Title fake",
        )


class AddressPolicyTests(SynchronousTestCase):
    """
    Listener addresses can be shown in full, truncated or hashed.
    """

    def test_full(self) -> None:
        """
        In full, with the port.
        """
        policy = AddressPolicy()
        self.assertEqual(policy.peer(IPv4Address("TCP", "192.0.2.7", 5555)), "192.0.2.7:5555")
        self.assertEqual(policy.peer(IPv6Address("TCP", "2001:db8::1", 80)), "[2001:db8::1]:80")

    def test_truncate(self) -> None:
        """
        Truncated: an IPv4 address's /24, an IPv6 one's /48, no port.
        """
        policy = AddressPolicy("truncate")
        self.assertEqual(policy.peer(IPv4Address("TCP", "192.0.2.77", 5555)), "192.0.2.0")
        self.assertEqual(policy.host("2001:db8:1:2:3::9"), "2001:db8:1::")
        self.assertEqual(policy.host("::ffff:198.51.100.9"), "198.51.100.0")
        self.assertEqual(policy.host("not an address"), "-")

    def test_hash(self) -> None:
        """
        Hashed: the same address gives the same token, another address
        another, and the address itself appears nowhere.
        """
        policy = AddressPolicy("hash", key=b"k" * 16)
        one = policy.host("192.0.2.7")
        self.assertEqual(one, policy.host("192.0.2.7"))
        self.assertNotEqual(one, policy.host("192.0.2.8"))
        self.assertNotIn("192", one)
        self.assertNotEqual(one, AddressPolicy("hash").host("192.0.2.7"))

    def test_unknown(self) -> None:
        """
        An unknown mode is refused.
        """
        self.assertRaises(ValueError, AddressPolicy, "blur")

    def test_hostOf(self) -> None:
        """
        The host part of a shown address.
        """
        self.assertEqual(hostOf("192.0.2.7:5555"), "192.0.2.7")
        self.assertEqual(hostOf("[::1]:80"), "::1")
        self.assertEqual(hostOf("h-0123"), "h-0123")
        self.assertEqual(hostOf("192.0.2.0"), "192.0.2.0")


class LogFileTests(SynchronousTestCase):
    """
    L{LogFile} appends, reopens, and survives a disk that is full.
    """

    def test_reopen(self) -> None:
        """
        After the file is moved away (as logrotate does), L{LogFile.reopen}
        creates a new one; lines before went to the moved file.
        """
        path = self.mktemp()
        log = LogFile(path)
        log.write("one")
        os.rename(path, path + ".1")
        log.write("two")
        log.reopen()
        log.write("three")
        log.close()
        with open(path + ".1") as f:
            self.assertEqual(f.read(), "one\ntwo\n")
        with open(path) as f:
            self.assertEqual(f.read(), "three\n")

    def test_diskFull(self) -> None:
        """
        Writing to a full disk (C{/dev/full}) loses the lines, logs the cause
        once, and never raises.
        """
        if not os.path.exists("/dev/full"):
            raise self.skipTest("no /dev/full here")
        logged = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        log = LogFile("/dev/full")
        for n in range(5):
            log.write(f"line {n}")
        log.close()
        self.assertEqual(log.lost, 5)
        errors = [e for e in logged if "lines are lost" in e.get("log_format", "")]
        self.assertEqual(len(errors), 1)
        self.assertIn("No space left", errors[0]["cause"])

    def test_folderGone(self) -> None:
        """
        A reopen into a folder that vanished is logged, later writes are
        counted as lost, and a reopen after it returns works again.
        """
        folder = self.mktemp()
        os.mkdir(folder)
        path = os.path.join(folder, "access.log")
        log = LogFile(path)
        os.remove(path)
        os.rmdir(folder)
        log.reopen()
        log.write("lost")
        self.assertEqual(log.lost, 1)
        os.mkdir(folder)
        log.reopen()
        log.write("kept")
        log.close()
        with open(path) as f:
            self.assertEqual(f.read(), "kept\n")


class ObserverTests(SynchronousTestCase):
    """
    The access and playlist logs follow a station's events.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(NOV_24)
        self.station = Station(FakeFrameSource(titles=["Song A", "Song B"], framesPerTrack=100), clock=self.clock)
        self.path = self.mktemp()
        self.station.events.subscribe(AccessLog(LogFile(self.path)))
        self.playlistPath = self.mktemp()
        self.station.events.subscribe(PlaylistLog(LogFile(self.playlistPath)))
        self.station.startService()
        self.addCleanup(self.station.stopService)
        self.factory = ListenerFactory({self.station.mount: self.station}, clock=self.clock)

    def test_listenerLine(self) -> None:
        """
        A listener that leaves makes one access line, with the time of its
        request, the bytes sent and the seconds it stayed.
        """
        address = IPv4Address("TCP", "192.0.2.7", 5555)
        protocol = self.factory.buildProtocol(address)
        protocol.makeConnection(StringTransport(peerAddress=address))
        protocol.dataReceived(
            b"GET /stream?x=1 HTTP/1.1\r\nHost: r\r\nUser-Agent: VLC/3.0.20 LibVLC/3.0.20\r\n"
            b"Referer: http://example.com/\r\n\r\n"
        )
        self.clock.pump([1] * 95)
        listener = protocol._listener
        protocol.connectionLost(None)
        with open(self.path) as f:
            [line] = f.read().splitlines()
        entry = apachelogs.LogParser(COMBINED_WITH_SECONDS).parse(line)
        self.assertEqual(entry.remote_host, "192.0.2.7")
        self.assertEqual(entry.request_line, "GET /stream?x=1 HTTP/1.1")
        self.assertEqual(entry.bytes_sent, listener.bytesSent)
        self.assertEqual(entry.headers_in["Referer"], "http://example.com/")
        self.assertEqual(entry.headers_in["User-Agent"], "VLC/3.0.20 LibVLC/3.0.20")
        self.assertEqual(entry.request_duration_seconds, 95)
        self.assertEqual(entry.request_time.isoformat(), "2026-11-24T11:00:00+00:00")

    def test_playlistLines(self) -> None:
        """
        Each title the stream carries makes one playlist line.
        """
        self.clock.pump([1] * 6)
        with open(self.playlistPath) as f:
            lines = f.read().splitlines()
        self.assertEqual(lines[0], "24/Nov/2026:11:00:00 +0000|/stream|0|Song A")
        self.assertTrue(lines[1].endswith("|/stream|0|Song B"), lines)


class JSONLogTests(SynchronousTestCase):
    """
    The server log can be written as JSON lines.
    """

    def test_jsonLines(self) -> None:
        """
        L{jsonToStdout} writes each event as one JSON object per line.
        """
        out = StringIO()
        self.patch(__import__("sys"), "stdout", out)
        observer = jsonToStdout()
        log = Logger(namespace="txradio.test", observer=observer)
        log.info("listener {peer} joined", peer="192.0.2.7:5555")
        records = [json.loads(line.strip("\x1e")) for line in out.getvalue().splitlines() if line.strip("\x1e")]
        self.assertEqual(records[0]["peer"], "192.0.2.7:5555")
        self.assertEqual(records[0]["log_namespace"], "txradio.test")


class WebRequestLineTests(SynchronousTestCase):
    """
    Web requests are logged with their status, size and seconds.
    """

    def test_webRequest(self) -> None:
        """
        A page request through the radio's site makes one access line.
        """
        from twisted.internet.testing import MemoryReactorClock

        from txradio.service import RadioService

        reactor = MemoryReactorClock()
        radio = RadioService([Station(FakeFrameSource(), clock=reactor)], listen=[], reactor=reactor)
        path = self.mktemp()
        radio.logAccess(path)
        address = IPv4Address("TCP", "192.0.2.7", 5555)
        protocol = radio.factory.buildProtocol(address)
        transport = StringTransport(peerAddress=address)
        protocol.makeConnection(transport)
        protocol.dataReceived(b"GET /status-json.xsl HTTP/1.1\r\nHost: x\r\nUser-Agent: curl/8\r\n\r\n")
        radio.logAccess(None)
        with open(path) as f:
            [line] = f.read().splitlines()
        entry = apachelogs.LogParser(COMBINED_WITH_SECONDS).parse(line)
        self.assertEqual((entry.remote_host, entry.request_line, entry.final_status), ("192.0.2.7", "GET /status-json.xsl HTTP/1.1", 200))
        self.assertGreater(entry.bytes_sent, 100)
        self.assertEqual(entry.headers_in["User-Agent"], "curl/8")
        self.assertEqual(entry.request_duration_seconds, 0)

    def test_timesFromTheRadioClock(self) -> None:
        """
        A web request's time in the access log is the radio's clock's, not
        the wall clock's: the line is dated by the fake reactor.
        """
        from twisted.internet.testing import MemoryReactorClock

        from txradio.service import RadioService

        reactor = MemoryReactorClock()
        reactor.advance(86400 * 365)  # 1971-01-01T00:00:00Z
        radio = RadioService([Station(FakeFrameSource(), clock=reactor)], listen=[], reactor=reactor)
        path = self.mktemp()
        radio.logAccess(path)
        address = IPv4Address("TCP", "192.0.2.7", 5555)
        protocol = radio.factory.buildProtocol(address)
        protocol.makeConnection(StringTransport(peerAddress=address))
        protocol.dataReceived(b"GET /status-json.xsl HTTP/1.1\r\nHost: x\r\n\r\n")
        radio.logAccess(None)
        with open(path) as f:
            [line] = f.read().splitlines()
        entry = apachelogs.LogParser(COMBINED_WITH_SECONDS).parse(line)
        self.assertEqual(entry.request_time.timestamp(), 86400 * 365)
