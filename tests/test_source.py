"""
Tests for L{txradio.net.sourceport}: Icecast and SHOUTcast v1 source clients, and the
switch between live audio and a mount's programme.
"""

from __future__ import annotations

import base64

from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase

from txradio.net.listenerport import ListenerFactory
from txradio.net.sourceport import ShoutcastSourceFactory
from txradio.stream.station import Station
from txradio.testing import FakeFrameSource, syntheticFrame
from txradio.wire.icy import MetadataDemuxer

LIVE_FRAME = syntheticFrame(marker=0)



def basic(user: str, password: str) -> bytes:
    return b"Basic " + base64.b64encode(f"{user}:{password}".encode())


def sourceRequest(method: bytes = b"PUT", password: str = "hackme", contentType: bytes | None = b"audio/mpeg", extra: bytes = b"") -> bytes:
    lines = [method + b" /stream HTTP/1.1" if method == b"PUT" else method + b" /stream HTTP/1.0", b"Host: 127.0.0.1:8000"]
    lines.append(b"Authorization: " + basic("source", password))
    if contentType is not None:
        lines.append(b"Content-Type: " + contentType)
    if method == b"PUT":
        lines.append(b"Expect: 100-continue")
    lines.append(b"ice-name: Live Show")
    lines.append(b"ice-genre: Talk")
    lines.append(b"ice-audio-info: ice-samplerate=44100;ice-bitrate=128;ice-channels=2")
    return b"\r\n".join(lines) + b"\r\n" + extra + b"\r\n"


class SourceTestMixin:
    """
    A station with a playlist and a source password, on a fake clock.
    """

    password = "hackme"

    def setUp(self) -> None:
        self.clock = Clock()
        self.station = Station(
            FakeFrameSource(titles=["Playlist Song"], framesPerTrack=100000),
            clock=self.clock,
            sourcePassword=self.password,
        )
        self.station.startService()
        self.factory = ListenerFactory({self.station.mount: self.station}, clock=self.clock)
        self.clock.pump([0.5] * 4)

    def connect(self, data: bytes) -> tuple:
        protocol = self.factory.buildProtocol(None)
        transport = StringTransport(peerAddress=IPv4Address("TCP", "192.0.2.9", 4000))
        protocol.makeConnection(transport)
        protocol.dataReceived(data)
        return protocol, transport

    def listen(self) -> StringTransport:
        _, transport = self.connect(b"GET /stream HTTP/1.0\r\nIcy-MetaData: 1\r\n\r\n")
        return transport

    def received(self, transport: StringTransport) -> list:
        """
        Demultiplex what a listener received after its response head.
        """
        return MetadataDemuxer(16000).feed(transport.value().partition(b"\r\n\r\n")[2])

    def markers(self, data: bytes) -> list[int]:
        """
        The markers of the synthetic frames in a stream without metadata.
        """
        size = len(LIVE_FRAME.data)
        return [data[i + size - 1] for i in range(0, len(data) - size + 1, size)]


class IcecastSourceTests(SourceTestMixin, SynchronousTestCase):
    """
    Icecast-style sources are checked and answered as Icecast does.
    """

    def status(self, transport: StringTransport) -> bytes:
        return transport.value().split(b"\r\n", 1)[0]

    def test_putWithContinue(self) -> None:
        """
        A C{PUT} with C{Expect: 100-continue} gets C{100 Continue} and goes
        live.
        """
        _, transport = self.connect(sourceRequest())
        self.assertEqual(transport.value(), b"HTTP/1.1 100 Continue\r\n\r\n")
        self.assertIsNotNone(self.station.liveSource)
        self.assertEqual(self.station.currentInfo.name, "Live Show")
        self.assertEqual(self.station.currentInfo.bitrate, 128)

    def test_legacySource(self) -> None:
        """
        The legacy C{SOURCE} method gets C{200 OK} at once.
        """
        _, transport = self.connect(sourceRequest(b"SOURCE"))
        self.assertEqual(transport.value(), b"HTTP/1.0 200 OK\r\n\r\n")

    def test_wrongPassword(self) -> None:
        """
        A wrong password gets a 401 asking for Basic credentials.
        """
        _, transport = self.connect(sourceRequest(password="guess"))
        self.assertEqual(self.status(transport), b"HTTP/1.0 401 Unauthorized")
        self.assertIn(b'WWW-Authenticate: Basic realm="txradio"', transport.value())
        self.assertTrue(transport.disconnecting)
        self.assertIsNone(self.station.liveSource)

    def test_wrongUser(self) -> None:
        """
        The right password with another user name is refused.
        """
        request = sourceRequest().replace(basic("source", "hackme"), basic("admin", "hackme"))
        _, transport = self.connect(request)
        self.assertEqual(self.status(transport), b"HTTP/1.0 401 Unauthorized")

    def test_missingContentType(self) -> None:
        """
        A source without a content type gets a 400.
        """
        _, transport = self.connect(sourceRequest(contentType=None))
        self.assertEqual(self.status(transport), b"HTTP/1.0 400 Bad Request")

    def test_unsupportedContentType(self) -> None:
        """
        A source sending Ogg gets a 415.
        """
        _, transport = self.connect(sourceRequest(contentType=b"application/ogg"))
        self.assertEqual(self.status(transport), b"HTTP/1.0 415 Unsupported Media Type")

    def test_mountInUse(self) -> None:
        """
        A second source on a live mount gets a 403.
        """
        self.connect(sourceRequest())
        _, transport = self.connect(sourceRequest())
        self.assertEqual(self.status(transport), b"HTTP/1.0 403 Forbidden")

    def test_noPasswordConfigured(self) -> None:
        """
        A mount without a source password takes no sources at all: a 401
        when no mount takes any, a 403 for another mount's source.
        """
        self.station.sourcePassword = None
        for password in ("", "hackme"):
            _, transport = self.connect(sourceRequest(password=password))
            self.assertEqual(self.status(transport), b"HTTP/1.0 401 Unauthorized")
        live = Station(FakeFrameSource(), mount="/live", clock=self.clock, sourcePassword="livepw")
        self.factory.stations[live.mount] = live
        _, transport = self.connect(sourceRequest(password="livepw"))
        self.assertEqual(self.status(transport), b"HTTP/1.0 403 Forbidden")
        self.assertIsNone(self.station.liveSource)

    def test_unknownMount(self) -> None:
        """
        A source with good credentials for a mount that does not exist gets
        a 404.
        """
        _, transport = self.connect(sourceRequest().replace(b"/stream", b"/nothing"))
        self.assertEqual(self.status(transport), b"HTTP/1.0 404 Not Found")

    def test_badContentLength(self) -> None:
        """
        A negative or non-numeric C{Content-Length} is refused with a 400.
        """
        for value in (b"-1", b"abc", b"99999999999999999999999"):
            _, transport = self.connect(sourceRequest(extra=b"Content-Length: " + value + b"\r\n"))
            self.assertEqual(self.status(transport), b"HTTP/1.0 400 Bad Request")
            self.assertIsNone(self.station.liveSource)


class MountEnumerationTests(SourceTestMixin, SynchronousTestCase):
    """
    A source logs in before it learns anything about its mount, so that
    mounts cannot be found by guessing names.
    """

    def setUp(self) -> None:
        SourceTestMixin.setUp(self)
        # The factory's own throttle, on the test's clock.
        self.throttle = self.factory.logins

    def attempt(self, mount: bytes, password: str | None) -> bytes:
        """
        @return: the reply to a source C{PUT} on C{mount} with C{password}
            (no C{Authorization} at all for L{None}).
        """
        request = sourceRequest(password=password or "").replace(b"/stream", mount)
        if password is None:
            request = request.replace(b"Authorization: " + basic("source", "") + b"\r\n", b"")
        _, transport = self.connect(request)
        self.assertTrue(transport.disconnecting)
        return transport.value()

    def test_wrongPasswordUnknownMount(self) -> None:
        """
        A wrong password on a mount that does not exist gets a 401 asking
        for Basic credentials, not a 404.
        """
        reply = self.attempt(b"/nosuchmount", "guess")
        self.assertEqual(reply.split(b"\r\n")[0], b"HTTP/1.0 401 Unauthorized")
        self.assertIn(b'WWW-Authenticate: Basic realm="txradio"', reply)

    def test_wrongPasswordKnownMount(self) -> None:
        """
        A wrong password on a mount that exists gets exactly the reply it
        gets on one that does not, and counts as one failed login on
        either.
        """
        known = self.attempt(b"/stream", "guess")
        self.assertEqual(self.throttle.failures("192.0.2.9"), 1)
        unknown = self.attempt(b"/nosuchmount", "guess")
        self.assertEqual(self.throttle.failures("192.0.2.9"), 2)
        self.assertEqual(known, unknown)
        self.assertEqual(known.split(b"\r\n")[0], b"HTTP/1.0 401 Unauthorized")
        self.assertIsNone(self.station.liveSource)

    def test_rightPasswordUnknownMount(self) -> None:
        """
        Only a source with good credentials learns that a mount does not
        exist, and its failed logins are forgotten.
        """
        self.attempt(b"/nosuchmount", "guess")
        reply = self.attempt(b"/nosuchmount", self.password)
        self.assertEqual(reply.split(b"\r\n")[0], b"HTTP/1.0 404 Not Found")
        self.assertNotIn(b"WWW-Authenticate", reply)
        self.assertEqual(self.throttle.failures("192.0.2.9"), 0)

    def test_noCredentials(self) -> None:
        """
        A source without credentials gets the same 401 on a mount that exists
        and on one that does not, and it is not counted as a failed login.
        """
        known = self.attempt(b"/stream", None)
        unknown = self.attempt(b"/nosuchmount", None)
        self.assertEqual(known, unknown)
        self.assertEqual(known.split(b"\r\n")[0], b"HTTP/1.0 401 Unauthorized")
        self.assertIn(b'WWW-Authenticate: Basic realm="txradio"', known)
        self.assertEqual(self.throttle.failures("192.0.2.9"), 0)

    def test_throttledUnknownMount(self) -> None:
        """
        Once an address has used up its free failures, guessing on a mount
        that does not exist gets the same 429 as on one that does, even with
        the right password.
        """
        for n in range(self.throttle.freeFailures + 1):
            self.attempt(b"/nosuchmount" if n % 2 else b"/stream", "guess")
        for mount in (b"/nosuchmount", b"/stream"):
            reply = self.attempt(mount, self.password)
            self.assertEqual(reply.split(b"\r\n")[0], b"HTTP/1.0 429 Too Many Requests")

    def test_noLiveMounts(self) -> None:
        """
        When no mount takes sources, no credentials get past the 401 on a
        mount that does not exist.
        """
        self.station.sourcePassword = None
        reply = self.attempt(b"/nosuchmount", self.password)
        self.assertEqual(reply.split(b"\r\n")[0], b"HTTP/1.0 401 Unauthorized")


class SwitchTests(SourceTestMixin, SynchronousTestCase):
    """
    Listeners switch to live audio and back at frame boundaries without
    being disconnected, and their titles follow.
    """

    def test_liveAndBack(self) -> None:
        """
        While a source sends, listeners get its frames; when it leaves, they
        get the playlist again, on the same connection, with titles to match.
        """
        listener = self.listen()
        protocol, _ = self.connect(sourceRequest(extra=b""))
        for _ in range(8):
            protocol.dataReceived(LIVE_FRAME.data * 10)
            self.clock.advance(0.25)
        protocol.connectionLost(None)
        self.clock.pump([0.5] * 6)
        items = self.received(listener)
        audio = b"".join(i for i in items if isinstance(i, bytes))
        titles = [i["StreamTitle"] for i in items if isinstance(i, dict)]
        markers = self.markers(audio)
        # playlist, then live, then playlist again; every frame whole
        runs = [markers[0] == 0]
        for marker in markers[1:]:
            if (marker == 0) != runs[-1]:
                runs.append(marker == 0)
        self.assertEqual(runs, [False, True, False])
        self.assertEqual(markers.count(0), 80)
        self.assertEqual(len(audio) % len(LIVE_FRAME.data), 0)
        self.assertIn("Live Show", titles)
        self.assertEqual(titles[-1], "Playlist Song")
        self.assertFalse(listener.disconnecting)

    def test_partialFrameDiscarded(self) -> None:
        """
        A source that dies mid-frame leaves no partial frame in the stream.
        """
        listener = self.listen()
        protocol, _ = self.connect(sourceRequest())
        protocol.dataReceived(LIVE_FRAME.data * 20 + LIVE_FRAME.data[:200])
        self.clock.advance(0.5)
        protocol.connectionLost(None)
        self.clock.pump([0.5] * 4)
        audio = b"".join(i for i in self.received(listener) if isinstance(i, bytes))
        self.assertEqual(len(audio) % len(LIVE_FRAME.data), 0)
        self.assertEqual(self.markers(audio).count(0), 20)

    def test_metadataUpdate(self) -> None:
        """
        A title update during a live show reaches listeners.
        """
        listener = self.listen()
        protocol, _ = self.connect(sourceRequest())
        protocol.dataReceived(LIVE_FRAME.data * 10)
        self.clock.advance(0.5)
        self.station.updateTitle("Guest - Interview")
        for _ in range(10):
            protocol.dataReceived(LIVE_FRAME.data * 20)
            self.clock.advance(0.5)
        titles = [i["StreamTitle"] for i in self.received(listener) if isinstance(i, dict)]
        self.assertEqual(titles[-1], "Guest - Interview")

    def test_silentSourceDropped(self) -> None:
        """
        A source that sends nothing for the source timeout is dropped, and
        its listeners go back to the playlist.
        """
        protocol, transport = self.connect(sourceRequest())
        protocol.dataReceived(LIVE_FRAME.data * 5)
        self.clock.advance(9)
        self.assertFalse(transport.disconnecting)
        protocol.dataReceived(LIVE_FRAME.data)
        self.clock.advance(9)
        self.assertFalse(transport.disconnecting)
        self.clock.advance(2)
        self.assertTrue(transport.disconnecting or transport.disconnected)

    def test_liveOnlyMountEnds(self) -> None:
        """
        On a mount with no programme and no fallback, listeners are told the
        stream ended when the source leaves, and new listeners get a 404.
        """
        station = Station(None, mount="/live", clock=self.clock, sourcePassword="pw")
        station.startService()
        factory = ListenerFactory({station.mount: station}, clock=self.clock)
        self.factory = factory
        _, early = self.connect(b"GET /live HTTP/1.0\r\n\r\n")
        self.assertIn(b"404", early.value().split(b"\r\n")[0])
        protocol, _ = self.connect(sourceRequest(password="pw").replace(b"/stream", b"/live"))
        protocol.dataReceived(LIVE_FRAME.data * 40)
        self.clock.advance(0.5)
        _, listener = self.connect(b"GET /live HTTP/1.0\r\n\r\n")
        self.assertIn(b"200 OK", listener.value().split(b"\r\n")[0])
        protocol.connectionLost(None)
        self.assertTrue(listener.disconnecting or listener.disconnected)

    def test_liveOnlyMountBurstAfterGap(self) -> None:
        """
        On a live-only mount, a listener who tunes in when a new source goes
        live four seconds after the previous one left gets only the new
        source's audio, none of the previous show's.
        """
        oldShow = syntheticFrame(marker=60)
        station = Station(None, mount="/live", clock=self.clock, sourcePassword="pw")
        station.startService()
        self.addCleanup(station.stopService)
        self.factory = ListenerFactory({station.mount: station}, clock=self.clock)
        request = sourceRequest(password="pw").replace(b"/stream", b"/live")
        first, _ = self.connect(request)
        for _ in range(12):
            first.dataReceived(oldShow.data * 20)
            self.clock.advance(0.5)
        first.connectionLost(None)
        self.clock.pump([0.5] * 8)
        second, _ = self.connect(request)
        second.dataReceived(LIVE_FRAME.data * 40)
        self.clock.pump([0.5] * 2)
        _, listener = self.connect(b"GET /live HTTP/1.0\r\n\r\n")
        self.assertIn(b"200 OK", listener.value().split(b"\r\n")[0])
        audio = listener.value().partition(b"\r\n\r\n")[2]
        self.assertEqual(set(self.markers(audio)), {0})
        self.assertEqual(len(audio), 40 * len(LIVE_FRAME.data))

    def test_liveToPlaylistKeepsBurst(self) -> None:
        """
        When a live source leaves a mount with a playlist there is no gap: a
        listener who tunes in just after gets the end of the live show in
        its burst, then the playlist.
        """
        protocol, _ = self.connect(sourceRequest())
        for _ in range(8):
            protocol.dataReceived(LIVE_FRAME.data * 10)
            self.clock.advance(0.25)
        protocol.connectionLost(None)
        self.clock.pump([0.5] * 2)
        listener = self.listen()
        markers = self.markers(b"".join(i for i in self.received(listener) if isinstance(i, bytes)))
        self.assertIn(0, markers)
        self.assertNotEqual(markers[-1], 0)

    def test_fallbackMount(self) -> None:
        """
        A live-only mount with a fallback mount plays the fallback's stream
        while no source is connected.
        """
        live = Station(None, mount="/live", clock=self.clock, sourcePassword="pw")
        live.setFallback(self.station)
        live.startService()
        self.factory = ListenerFactory({live.mount: live, self.station.mount: self.station}, clock=self.clock)
        _, transport = self.connect(b"GET /live HTTP/1.0\r\nIcy-MetaData: 1\r\n\r\n")
        self.clock.pump([0.5] * 6)
        items = MetadataDemuxer(16000).feed(transport.value().partition(b"\r\n\r\n")[2])
        self.assertIn({"StreamTitle": "Playlist Song"}, items)
        audio = b"".join(i for i in items if isinstance(i, bytes))
        self.assertGreater(len(audio), 16000)
        self.assertEqual(audio[:2], b"\xff\xfb")


class ShoutcastSourceTests(SourceTestMixin, SynchronousTestCase):
    """
    SHOUTcast v1 sources log in with a password line.
    """

    def shoutcast(self, data: bytes) -> tuple:
        factory = ShoutcastSourceFactory(self.station, clock=self.clock)
        protocol = factory.buildProtocol(None)
        transport = StringTransport(peerAddress=IPv4Address("TCP", "192.0.2.9", 4001))
        protocol.makeConnection(transport)
        protocol.dataReceived(data)
        return protocol, transport

    def test_handshake(self) -> None:
        """
        The right password gets C{OK2}; the icy lines set the stream info;
        the audio after the blank line goes live.
        """
        listener = self.listen()
        protocol, transport = self.shoutcast(
            b"hackme\r\nicy-name:Old Encoder\r\nicy-genre:Rock\r\nicy-br:128\r\n\r\n" + LIVE_FRAME.data * 30
        )
        self.assertEqual(transport.value(), b"OK2\r\nicy-caps:11\r\n\r\n")
        self.assertEqual(self.station.currentInfo.name, "Old Encoder")
        self.clock.advance(self.station.broadcaster.tickInterval)
        audio = b"".join(i for i in self.received(listener) if isinstance(i, bytes))
        self.assertIn(0, self.markers(audio))

    def test_wrongPassword(self) -> None:
        """
        A wrong password gets C{invalid password} and the connection closes.
        """
        _, transport = self.shoutcast(b"guess\r\n")
        self.assertEqual(transport.value(), b"invalid password\r\n")
        self.assertTrue(transport.disconnecting)

    def test_handshakeTimeout(self) -> None:
        """
        An encoder that never finishes its handshake is closed.
        """
        _, transport = self.shoutcast(b"hac")
        self.clock.advance(11)
        self.assertTrue(transport.disconnecting)


class MountFollowerTests(SynchronousTestCase):
    """
    A mount following another plays it from the moment it switches.
    """

    def test_firstPullHasAudio(self) -> None:
        """
        The first pull after attaching returns the followed mount's latest
        chunk, title first, instead of nothing until its next tick.
        """
        from twisted.internet.task import Clock

        from txradio.stream.switcher import MountFollower
        from txradio.testing import FakeFrameSource
        from txradio.wire.programme import TitleChange

        clock = Clock()
        followed = Station(FakeFrameSource(titles=["Fallback Song"], framesPerTrack=10_000), mount="/f", clock=clock)
        followed.startService()
        self.addCleanup(followed.stopService)
        clock.pump([1] * 3)
        follower = MountFollower(followed, name="/live")
        items = follower.pull(0.5)
        self.assertEqual(items[0], TitleChange("Fallback Song"))
        self.assertGreater(sum(item.header.duration for item in items[1:]), 0.45)
        latest = followed.broadcaster.recent.burst()[-1]
        self.assertEqual(items[1].data, latest.data[: len(items[1].data)])


class SourceInterfaceTests(SynchronousTestCase):
    """
    The live source, the switcher and the mount follower provide their
    interfaces.
    """

    def test_interface(self) -> None:
        """
        L{LiveSource} provides L{ILiveSource}, L{Switcher} L{IFrameSource},
        and L{MountFollower} L{IStandby} and L{IListener}.
        """
        from zope.interface.verify import verifyObject

        from txradio.interfaces import IFrameSource, IListener, ILiveSource, IStandby
        from txradio.sources.live import LiveSource
        from txradio.stream.switcher import MountFollower, Switcher

        self.assertTrue(verifyObject(ILiveSource, LiveSource("live")))
        self.assertTrue(verifyObject(IFrameSource, Switcher([None, FakeFrameSource(), None])))
        follower = MountFollower(Station(FakeFrameSource(), mount="/followed", clock=Clock()))
        self.assertTrue(verifyObject(IStandby, follower))
        self.assertTrue(verifyObject(IListener, follower))
