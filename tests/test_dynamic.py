"""
Tests for L{txradio.dynamic}: source clients making mounts that are not
configured (Icecast's dynamic mounts), and chunked source uploads, over
in-memory transports on a fake reactor.
"""

from __future__ import annotations

import base64
import os

from twisted.internet.address import IPv4Address
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.trial.unittest import SynchronousTestCase

from zope.interface.verify import verifyObject

from tests._web import SiteClient, basicAuth
from txradio.build import serviceFromConfig
from txradio.config import parseConfig
from txradio.dynamic import MAX_MOUNT_NAME, DynamicMounts
from txradio.interfaces import IMountMaker
from txradio.reload import Reloader
from txradio.stream.events import SOURCE_LEFT, ListenerLeft
from txradio.stream.switcher import MountFollower
from txradio.testing import syntheticFrame

DEMO = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "txradio", "demo")

PASSWORD = "global-pw"
"""The global source password of the test radios."""

LIVE = syntheticFrame(marker=7).data
"""One synthetic MP3 frame a source sends."""

BASE = f"""
[server]
listen = "tcp:0"
admin_password = "admin-pw"
source_password = "{PASSWORD}"
{{server}}
[[mount]]
path = "/stream"
playlist = "{DEMO}"
[[mount]]
path = "/live"
live = true
source_password = "own-pw"
{{rest}}
"""


def auth(user: str, password: str) -> bytes:
    """
    @return: a Basic C{Authorization} value.
    """
    return b"Basic " + base64.b64encode(f"{user}:{password}".encode())


def sourceHead(
    mount: bytes = b"/show",
    password: str = PASSWORD,
    user: str = "source",
    extra: bytes = b"",
    contentType: bytes = b"audio/mpeg",
) -> bytes:
    """
    @return: an Icecast C{PUT} request head, as ffmpeg sends it.
    """
    return (
        b"PUT " + mount + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: " + auth(user, password) + b"\r\n"
        b"Content-Type: " + contentType + b"\r\nExpect: 100-continue\r\n"
        b"ice-name: Night ';Show\r\nice-genre: Talk\r\nice-description: late\r\nice-url: http://example.org\r\n"
        b"ice-public: 1\r\nice-audio-info: ice-samplerate=44100;ice-bitrate=128;ice-channels=2\r\n" + extra + b"\r\n"
    )


class DynamicMountsTests(SynchronousTestCase):
    """
    A source with the global source password makes a mount that lives as
    long as it is connected.
    """

    def build(self, server: str = "", rest: str = "") -> None:
        """
        Build and start a radio from L{BASE}.

        @param server: more C{[server]} lines.
        @param rest: more tables.
        """
        self.text = BASE.format(server=server, rest=rest)
        self.config = parseConfig(self.text, os.path.join(os.getcwd(), "radio.toml"))
        self.reactor = MemoryReactorClock()
        self.radio = serviceFromConfig(self.config, self.reactor, encoder=None)
        self.radio.startService()
        # Cleanups run last first: this one after every connection closed.
        self.addCleanup(self.stopRadio, self.radio, self.reactor)
        self.web = SiteClient(self, self.radio.factory, clock=self.reactor)
        self.reactor.advance(0.5)

    def stopRadio(self, radio, reactor) -> None:
        """
        Stop a radio, and check that nothing is left scheduled.
        """
        if radio.running:
            self.successResultOf(radio.stopService())
        self.assertEqual(reactor.getDelayedCalls(), [])

    def setUp(self) -> None:
        self.build(rest='[mount_template]\nname = "Dynamic"\nmax_listeners = 3\n')

    def connect(self, data: bytes) -> tuple:
        """
        @return: a listener-port protocol that received C{data}, and its
            transport; the connection is closed when the test ends.
        """
        protocol = self.radio.factory.buildProtocol(None)
        transport = StringTransport(peerAddress=IPv4Address("TCP", "192.0.2.9", 4000))
        protocol.makeConnection(transport)
        protocol.dataReceived(data)
        self.addCleanup(lambda: None if protocol.phase.name == "CLOSED" else protocol.connectionLost(None))
        return protocol, transport

    def goLive(self, mount: bytes = b"/show", **kwargs) -> tuple:
        """
        Connect a source to a new mount and send some audio.

        @return: its protocol and transport.
        """
        protocol, transport = self.connect(sourceHead(mount, **kwargs))
        self.assertEqual(transport.value(), b"HTTP/1.1 100 Continue\r\n\r\n")
        protocol.dataReceived(LIVE * 60)
        self.reactor.pump([0.25] * 4)
        return protocol, transport

    def mounts(self) -> list[str]:
        """
        @return: the mounts /status-json.xsl lists.
        """
        sources = self.web.request("/status-json.xsl").json()["icestats"].get("source", [])
        if isinstance(sources, dict):
            sources = [sources]
        return [source["listenurl"].rsplit(":8000", 1)[-1] for source in sources]

    def test_interface(self) -> None:
        """
        L{DynamicMounts} provides L{IMountMaker}; the radio's factory has it.
        """
        maker = self.radio.factory.mountMaker
        self.assertIsInstance(maker, DynamicMounts)
        self.assertTrue(verifyObject(IMountMaker, maker))
        self.assertEqual(list(maker.accounts()), [("source", PASSWORD)])

    def test_sourceMakesMount(self) -> None:
        """
        A C{PUT} on a mount that is not configured makes it: listeners hear
        the source there, and the status, the API, Icecast's listmounts,
        the playlists and HLS show it; its info comes from the source's
        headers, cleaned, on the template's defaults.
        """
        protocol, _ = self.goLive()
        station = self.radio.factory.stations[b"/show"]
        self.assertEqual(self.radio.dynamicStations, [station])
        self.assertEqual(station.info.name, "Night \u2019;Show")
        self.assertEqual((station.info.genre, station.info.public, station.info.bitrate), ("Talk", True, 128))
        self.assertEqual(station.maxListeners, 3)
        _, listener = self.connect(b"GET /show HTTP/1.0\r\n\r\n")
        self.assertIn(b"200 OK", listener.value().split(b"\r\n")[0])
        self.reactor.pump([0.25] * 4)
        self.assertIn(LIVE, listener.value())
        self.assertIn("/show", self.mounts())
        api = self.web.request("/api/v1/mounts").text
        self.assertIn("/show", api)
        listmounts = self.web.request("/admin/listmounts", headers={"Authorization": basicAuth("admin", "admin-pw")})
        self.assertIn('mount="/show"', listmounts.text)
        self.assertIn("/show", self.web.request("/show.m3u").text)
        self.assertEqual(self.web.request("/show.m3u8").status, 200)
        self.assertIn("Night \u2019;Show", self.web.request("/").text)

    def test_sourceLeavesMountGoes(self) -> None:
        """
        When the source leaves, the mount goes from everywhere, and its
        listener (the template has no fallback) is disconnected, the reason
        being that the source left.
        """
        left: list[ListenerLeft] = []
        self.radio.observe(lambda event: left.append(event) if isinstance(event, ListenerLeft) else None)
        protocol, _ = self.goLive()
        station = self.radio.factory.stations[b"/show"]
        listenerProtocol, listener = self.connect(b"GET /show HTTP/1.0\r\n\r\n")
        protocol.connectionLost(None)
        self.assertTrue(listener.disconnecting)
        listenerProtocol.connectionLost(None)
        self.assertEqual([event.reason for event in left], [SOURCE_LEFT])
        self.assertNotIn(b"/show", self.radio.factory.stations)
        self.assertEqual(self.radio.dynamicStations, [])
        self.assertFalse(station.running)
        self.assertNotIn("/show", self.mounts())
        self.assertEqual(self.web.request("/show.m3u").status, 404)
        self.assertEqual(self.web.request("/show.m3u8").status, 404)
        self.assertNotIn(b"/show", self.radio.site.root.hls.mounts)
        _, late = self.connect(b"GET /show HTTP/1.0\r\n\r\n")
        self.assertIn(b"404", late.value().split(b"\r\n")[0])

    def test_listenersMoveToFallback(self) -> None:
        """
        With a template fallback, the mount's listeners move there when its
        source leaves, on the same connection, and the fallback keeps no
        trace of the dynamic mount.
        """
        self.stopRadio(self.radio, self.reactor)
        self.build(rest='[mount_template]\nfallback = "/stream"\n')
        protocol, _ = self.goLive()
        station = self.radio.factory.stations[b"/show"]
        fallback = self.radio.factory.stations[b"/stream"]
        _, listener = self.connect(b"GET /show HTTP/1.0\r\n\r\n")
        self.reactor.pump([0.25] * 2)
        protocol.connectionLost(None)
        self.assertFalse(listener.disconnecting)
        self.assertEqual(fallback.listenerCount, 1)
        followers = [o for o in [*fallback.broadcaster._observers, *fallback.broadcaster.listeners] if isinstance(o, MountFollower)]
        self.assertEqual(followers, [])
        self.assertFalse(station.running)
        before = len(listener.value())
        self.reactor.pump([0.5] * 4)
        self.assertGreater(len(listener.value()), before)

    def test_wrongPasswordNewName(self) -> None:
        """
        A wrong password on a new name gets the 401 a wrong password gets on
        a configured mount, before anything is said about the name, and no
        mount is made.
        """
        _, new = self.connect(sourceHead(b"/brandnew", password="guess"))
        _, known = self.connect(sourceHead(b"/live", password="guess"))
        self.assertEqual(new.value().split(b"\r\n")[0], b"HTTP/1.0 401 Unauthorized")
        self.assertEqual(new.value(), known.value())
        _, reserved = self.connect(sourceHead(b"/admin", password="guess"))
        self.assertEqual(reserved.value(), known.value())
        self.assertNotIn(b"/brandnew", self.radio.factory.stations)
        self.assertEqual(self.radio.logins.failures("192.0.2.9"), 3)

    def test_reservedNames(self) -> None:
        """
        Names the site owns (its pages, API, admin, status, static files,
        SHOUTcast widgets, another mount's playlists and HLS) are refused
        with a reason, and no mount is made.
        """
        for name in (
            b"/admin",
            b"/admin/stats",
            b"/api/v1",
            b"/status-json.xsl",
            b"/static/x",
            b"/library",
            b"/events",
            b"/metrics",
            b"/7.html",
            b"/admin.cgi",
            b"/stream/hls",
            b"/live/sub",
            b"/x" * MAX_MOUNT_NAME,
            b"/show.m3u",
            b"/a/../b",
        ):
            _, transport = self.connect(sourceHead(name))
            status = transport.value().split(b"\r\n")[0]
            self.assertIn(status.split(b" ")[1], (b"403", b"409"), (name, transport.value()))
            self.assertTrue(transport.disconnecting)
        self.assertEqual(self.radio.dynamicStations, [])
        self.assertEqual(list(self.radio.factory.stations), [b"/stream", b"/live"])

    def test_cap(self) -> None:
        """
        No more than C{max_dynamic_mounts} mounts are made; one more gets a
        403 saying so, and a slot frees when a source leaves.
        """
        self.stopRadio(self.radio, self.reactor)
        self.build(server="max_dynamic_mounts = 2")
        first, _ = self.goLive(b"/one")
        self.goLive(b"/two")
        _, third = self.connect(sourceHead(b"/three"))
        self.assertIn(b"403", third.value().split(b"\r\n")[0])
        self.assertIn(b"the most it allows", third.value())
        first.connectionLost(None)
        self.goLive(b"/three")
        self.assertEqual([s.mount for s in self.radio.dynamicStations], [b"/two", b"/three"])

    def test_busyDynamicMount(self) -> None:
        """
        A second source on a live dynamic mount gets the busy mount's 403.
        """
        self.goLive()
        _, second = self.connect(sourceHead())
        self.assertIn(b"403", second.value().split(b"\r\n")[0])
        self.assertIn(b"already has a live source", second.value())

    def test_configuredMountOwnPassword(self) -> None:
        """
        A configured mount takes only its own password: the global one gets
        401 there.
        """
        _, globalPw = self.connect(sourceHead(b"/live"))
        self.assertEqual(globalPw.value().split(b"\r\n")[0], b"HTTP/1.0 401 Unauthorized")
        _, own = self.connect(sourceHead(b"/live", password="own-pw"))
        self.assertEqual(own.value(), b"HTTP/1.1 100 Continue\r\n\r\n")
        self.assertEqual(self.radio.dynamicStations, [])

    def test_mountPasswordCannotMake(self) -> None:
        """
        A configured mount's password does not make mounts: it learns only
        that there is no such mount.
        """
        _, transport = self.connect(sourceHead(b"/other", password="own-pw"))
        self.assertIn(b"404", transport.value().split(b"\r\n")[0])

    def test_templatePassword(self) -> None:
        """
        The template's own password and user replace the global ones for
        dynamic mounts.
        """
        self.stopRadio(self.radio, self.reactor)
        self.build(rest='[mount_template]\nsource_password = "tpl"\nsource_user = "dj"\n')
        _, globalPw = self.connect(sourceHead(b"/show"))
        self.assertIn(b"401", globalPw.value().split(b"\r\n")[0])
        self.goLive(b"/show", password="tpl", user="dj")
        self.assertEqual(len(self.radio.dynamicStations), 1)

    def test_turnedOff(self) -> None:
        """
        With C{dynamic_mounts = false}, the global password makes nothing.
        """
        self.stopRadio(self.radio, self.reactor)
        self.build(server="dynamic_mounts = false")
        self.assertEqual(list(self.radio.factory.mountMaker.accounts()), [])
        _, transport = self.connect(sourceHead())
        self.assertIn(b"401", transport.value().split(b"\r\n")[0])

    def test_refusedSourceLeavesNoMount(self) -> None:
        """
        A source refused after its mount was made (a content type that is
        not MP3) leaves no mount behind.
        """
        _, transport = self.connect(sourceHead(contentType=b"audio/ogg"))
        self.assertIn(b"415", transport.value().split(b"\r\n")[0])
        self.assertEqual(self.radio.dynamicStations, [])
        self.assertNotIn(b"/show", self.radio.factory.stations)

    def test_reloadKeepsDynamicMounts(self) -> None:
        """
        A reload keeps the dynamic mounts alive and their listeners
        connected; one whose name the new file configures ends, and the
        configured mount takes its place.
        """
        path = os.path.abspath(self.mktemp())
        with open(path, "w") as f:
            f.write(self.text)
        reloader = Reloader(self.radio, path, self.config, self.reactor)
        source, _ = self.goLive(b"/show")
        other, otherTransport = self.goLive(b"/other")
        _, listener = self.connect(b"GET /show HTTP/1.0\r\n\r\n")
        with open(path, "w") as f:
            f.write(self.text + f'[[mount]]\npath = "/other"\nplaylist = "{DEMO}"\n')
        reloader.reload()
        self.assertEqual([s.mount for s in self.radio.dynamicStations], [b"/show"])
        self.assertFalse(listener.disconnecting)
        self.assertTrue(otherTransport.disconnecting)
        other.connectionLost(None)
        self.assertIn(b"/other", self.radio.factory.stations)
        self.assertNotIn(self.radio.factory.stations[b"/other"], self.radio.dynamicStations)
        self.assertIn("/show", self.mounts())
        source.connectionLost(None)
        self.assertNotIn(b"/show", self.radio.factory.stations)

    def test_stopWithDynamicMounts(self) -> None:
        """
        Stopping the radio with a dynamic mount alive stops it too and
        leaves no timer.
        """
        self.goLive()
        station = self.radio.dynamicStations[0]
        self.successResultOf(self.radio.stopService())
        self.assertFalse(station.running)


class ChunkedSourceTests(SynchronousTestCase):
    """
    A source may send its audio with C{Transfer-Encoding: chunked}.
    """

    def setUp(self) -> None:
        config = parseConfig(BASE.format(server="", rest=""), os.path.join(os.getcwd(), "radio.toml"))
        self.reactor = MemoryReactorClock()
        self.radio = serviceFromConfig(config, self.reactor, encoder=None)
        self.radio.startService()
        self.addCleanup(DynamicMountsTests.stopRadio, self, self.radio, self.reactor)

    connect = DynamicMountsTests.connect

    def test_chunkedAudio(self) -> None:
        """
        Chunked audio, split anywhere, reaches the mount's listeners
        unframed; the last chunk ends the source.
        """
        protocol, transport = self.connect(sourceHead(b"/live", password="own-pw", extra=b"Transfer-Encoding: chunked\r\n"))
        self.assertEqual(transport.value(), b"HTTP/1.1 100 Continue\r\n\r\n")
        audio = LIVE * 200
        body = b"".join(b"%x\r\n%s\r\n" % (len(audio[i : i + 333]), audio[i : i + 333]) for i in range(0, len(audio), 333))
        protocol.dataReceived(body[:2000])
        self.reactor.pump([0.25] * 2)
        _, listener = self.connect(b"GET /live HTTP/1.0\r\n\r\n")
        for i in range(2000, len(body), 50):
            protocol.dataReceived(body[i : i + 50])
        self.reactor.pump([0.25] * 12)
        heard = listener.value().partition(b"\r\n\r\n")[2]
        self.assertGreater(len(heard), 20 * len(LIVE))
        self.assertEqual(heard, LIVE * (len(heard) // len(LIVE)))
        self.assertFalse(transport.disconnecting)
        protocol.dataReceived(b"0\r\n\r\n")
        self.assertTrue(transport.disconnecting)
        protocol.connectionLost(None)

    def test_malformedChunkEndsSource(self) -> None:
        """
        Malformed chunked framing ends the source with a log line; the
        listener stays (the mount's queued audio plays out).
        """
        protocol, transport = self.connect(sourceHead(b"/live", password="own-pw", extra=b"Transfer-Encoding: chunked\r\n"))
        protocol.dataReceived(b"%x\r\n%s\r\n" % (len(LIVE * 20), LIVE * 20))
        self.reactor.pump([0.25] * 2)
        _, listener = self.connect(b"GET /live HTTP/1.0\r\n\r\n")
        protocol.dataReceived(b"zz\r\n")
        self.assertTrue(transport.disconnecting)
        self.assertFalse(listener.disconnecting)
        self.assertEqual(len(self.flushLoggedErrors()), 0)
        protocol.connectionLost(None)

    def test_otherCodingRefused(self) -> None:
        """
        A transfer coding other than chunked is refused with 501.
        """
        _, transport = self.connect(sourceHead(b"/live", password="own-pw", extra=b"Transfer-Encoding: gzip\r\n"))
        self.assertIn(b"501", transport.value().split(b"\r\n")[0])
