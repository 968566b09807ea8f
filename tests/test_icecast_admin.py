"""
Tests for L{txradio.web.icecastadmin}: Icecast's admin commands, as
operators' scripts call them.
"""

from __future__ import annotations

import os
from xml.etree import ElementTree

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from tests._web import DEMO, SiteClient, basicAuth
from txradio.sources.live import LiveSource
from txradio.sources.playlist import PlaylistSource
from txradio.sources.tracks import ListTracks
from txradio.stream.station import Station
from txradio.testing import FakeFrameSource, connectInMemory, syntheticFrame
from txradio.web.admin import listenerId
from txradio.web.icecastadmin import iceResponse, xmlText
from txradio.web.site import buildSite
from txradio.wire.icy import MetadataDemuxer
from txradio.wire.mp3 import Framer

PASSWORD = "adm1n-pässword"
DEMO_FILES = [os.path.join(DEMO, name) for name in sorted(os.listdir(DEMO))]
COMMANDS = ("stats", "listmounts", "listclients", "killclient", "killsource", "moveclients", "fallbacks")


class IcecastAdminMixin:
    """
    A playlist mount C{/stream}, a synthetic mount C{/other} and a
    live-only mount C{/live}, with admin on.
    """

    password: str | None = PASSWORD

    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1_700_000_000)
        self.playlist = PlaylistSource(ListTracks(DEMO_FILES), clock=self.clock, titleOf=os.path.basename)
        self.station = Station(self.playlist, clock=self.clock, maxListeners=10)
        self.other = Station(FakeFrameSource(["Other & <Title>"]), mount="/other", clock=self.clock)
        self.live = Station(None, mount="/live", clock=self.clock, sourcePassword="src")
        self.stations = [self.station, self.other, self.live]
        for station in self.stations:
            station.startService()
            self.addCleanup(station.stopService)
        self.clock.advance(0)
        self.site = buildSite(self.stations, clock=self.clock, adminPassword=self.password)
        self.client = SiteClient(self, self.site)

    def get(self, path: str, auth: tuple[str, str] | None = ("admin", PASSWORD), headers=None):
        """
        Send a C{GET}, by default with the admin's credentials.

        @return: the response.
        """
        fields = dict(headers or {})
        if auth is not None:
            fields["Authorization"] = basicAuth(*auth)
        return self.client.request(path, headers=fields)

    def xml(self, path: str, status: int = 200) -> ElementTree.Element:
        """
        Send an admin command and parse its XML answer.

        @param status: the status expected.
        @return: the document element.
        """
        response = self.get(path)
        self.assertEqual(response.status, status, response.body)
        self.assertEqual(response.header("content-type"), "text/xml; charset=utf-8")
        self.assertTrue(response.body.startswith(b"<?xml"))
        return ElementTree.fromstring(response.body)

    def assertAction(self, path: str, message: str, success: bool = True) -> None:
        """
        Send an action and check its C{<iceresponse>}.
        """
        root = self.xml(path, 200 if success else 400)
        self.assertEqual(root.tag, "iceresponse")
        self.assertEqual(root.findtext("message"), message)
        self.assertEqual(root.findtext("return"), "1" if success else "0")


class AuthTests(IcecastAdminMixin, SynchronousTestCase):
    """
    Every command needs the admin's Basic credentials.
    """

    def test_noCredentials(self) -> None:
        """
        Without credentials, or with wrong ones: 401 with Icecast's realm
        and a failed C{<iceresponse>}, and nothing is done.
        """
        listener, _ = connectInMemory(self.station)
        for auth in (None, ("admin", "wrong"), ("source", PASSWORD)):
            for command in COMMANDS:
                response = self.get(f"/admin/{command}?mount=/stream&id={listener.id}&destination=/other", auth)
                self.assertEqual(response.status, 401)
                self.assertEqual(response.header("www-authenticate"), 'Basic realm="Icecast2 Server", charset="UTF-8"')
                root = ElementTree.fromstring(response.body)
                self.assertEqual(root.findtext("return"), "0")
        self.assertEqual(list(self.station.broadcaster.listeners), [listener])

    def test_crossSite(self) -> None:
        """
        A request a page on another site made a browser send is refused,
        even with the credentials.
        """
        listener, _ = connectInMemory(self.station)
        for headers in ({"Sec-Fetch-Site": "cross-site"}, {"Origin": "http://evil.example"}):
            response = self.get(f"/admin/killclient?mount=/stream&id={listener.id}", headers=headers)
            self.assertEqual(response.status, 403)
        self.assertEqual(list(self.station.broadcaster.listeners), [listener])
        same = self.get("/admin/stats", headers={"Sec-Fetch-Site": "same-origin", "Origin": "http://radio.example:8000"})
        self.assertEqual(same.status, 200)

    def test_noStore(self) -> None:
        """
        Answers are never cached nor readable from other origins.
        """
        response = self.get("/admin/stats")
        self.assertEqual(response.header("cache-control"), "no-store")
        self.assertIsNone(response.header("access-control-allow-origin"))


class AdminOffTests(IcecastAdminMixin, SynchronousTestCase):
    """
    Without an admin password the commands do not exist, as the JSON admin
    API does not.
    """

    password = None

    def test_off(self) -> None:
        """
        Every command is a 404, with or without credentials.
        """
        for command in COMMANDS:
            self.assertEqual(self.get(f"/admin/{command}").status, 404)
            self.assertEqual(self.get(f"/admin/{command}", auth=None).status, 404)

    def test_turnedOn(self) -> None:
        """
        Setting a password (a configuration reload) turns them on.
        """
        self.site.resource.setAdminPassword(PASSWORD)
        self.assertEqual(self.get("/admin/stats").status, 200)


class StatsTests(IcecastAdminMixin, SynchronousTestCase):
    """
    C{/admin/stats} and C{/admin/listmounts}.
    """

    def test_stats(self) -> None:
        """
        The server's counters, then a C{<source>} per mount on the air with
        Icecast's keys; the values agree with C{/status-json.xsl}.
        """
        connectInMemory(self.station)
        connectInMemory(self.station)
        connectInMemory(self.other)
        self.clock.advance(2)
        root = self.xml("/admin/stats")
        self.assertEqual(root.tag, "icestats")
        for key in ("admin", "host", "location", "server_id", "server_start", "sources", "clients", "connections"):
            self.assertIsNotNone(root.find(key), key)
        self.assertEqual(root.findtext("listeners"), "3")
        self.assertEqual(root.findtext("listener_connections"), "3")
        self.assertEqual(root.findtext("sources"), "2")
        self.assertEqual(root.findtext("host"), "radio.example")
        sources = root.findall("source")
        self.assertEqual([source.get("mount") for source in sources], ["/stream", "/other"])
        stream = sources[0]
        for key in (
            "listeners",
            "listener_peak",
            "max_listeners",
            "title",
            "server_name",
            "server_description",
            "genre",
            "bitrate",
            "audio_info",
            "listenurl",
            "public",
            "stream_start",
            "total_bytes_read",
            "total_bytes_sent",
            "content-type",
        ):
            self.assertIsNotNone(stream.find(key), key)
        self.assertEqual(stream.findtext("listeners"), "2")
        self.assertEqual(stream.findtext("max_listeners"), "10")
        self.assertEqual(sources[1].findtext("max_listeners"), "unlimited")
        self.assertEqual(stream.findtext("content-type"), "audio/mpeg")
        self.assertEqual(stream.findtext("listenurl"), "http://radio.example:8000/stream")
        self.assertEqual(sources[1].findtext("title"), "Other & <Title>")
        status = self.client.request("/status-json.xsl").json()["icestats"]["source"]
        self.assertEqual(stream.findtext("title"), status[0]["title"])
        self.assertEqual(int(stream.findtext("bitrate")), status[0]["bitrate"])
        self.assertEqual(int(stream.findtext("total_bytes_read")), self.station.broadcaster.bytesSent)
        sent = sum(listener.bytesSent for listener in self.station.broadcaster.listeners)
        self.assertEqual(int(stream.findtext("total_bytes_sent")), sent)

    def test_listMounts(self) -> None:
        """
        Each mount on the air with its listeners, time on the air and type.
        """
        connectInMemory(self.other)
        self.clock.advance(5)
        root = self.xml("/admin/listmounts")
        sources = root.findall("source")
        self.assertEqual([source.get("mount") for source in sources], ["/stream", "/other"])
        self.assertEqual(sources[1].findtext("listeners"), "1")
        self.assertEqual(sources[1].findtext("Connected"), "5")
        self.assertEqual(sources[1].findtext("content-type"), "audio/mpeg")


class ListClientsTests(IcecastAdminMixin, SynchronousTestCase):
    """
    C{/admin/listclients} and C{/admin/killclient}.
    """

    def test_listClients(self) -> None:
        """
        Each listener with its id, address, player and time connected; the
        id is the JSON admin API's too.
        """
        first, _ = connectInMemory(self.station, peer="192.0.2.7:4000")
        self.clock.advance(3)
        second, _ = connectInMemory(self.station, peer="198.51.100.1:5000")
        self.clock.advance(1)
        root = self.xml("/admin/listclients?mount=/stream")
        source = root.find("source")
        self.assertEqual(source.get("mount"), "/stream")
        self.assertEqual(source.findtext("Listeners"), "2")
        entries = source.findall("listener")
        self.assertEqual([entry.get("id") for entry in entries], [str(first.id), str(second.id)])
        self.assertEqual([entry.findtext("ID") for entry in entries], [str(first.id), str(second.id)])
        self.assertEqual([entry.findtext("IP") for entry in entries], ["192.0.2.7", "198.51.100.1"])
        self.assertEqual(entries[0].findtext("UserAgent"), "txradio.testing")
        self.assertEqual([entry.findtext("Connected") for entry in entries], ["4", "1"])
        mounts = self.client.request(
            "/admin/mounts", headers={"Authorization": basicAuth("admin", PASSWORD)}
        ).json()["mounts"]
        self.assertEqual([entry["id"] for entry in mounts[0]["listenerList"]], [str(first.id), str(second.id)])
        self.assertEqual(listenerId(first), str(first.id))

    def test_hiddenAddresses(self) -> None:
        """
        An address the address policy hid (here hashed) is shown hidden.
        """
        connectInMemory(self.station, peer="h-0123456789abcdef")
        root = self.xml("/admin/listclients?mount=/stream")
        self.assertEqual(root.find("source/listener").findtext("IP"), "h-0123456789abcdef")

    def test_unknownMount(self) -> None:
        """
        An unknown or missing mount is a 400 with Icecast's message.
        """
        self.assertAction("/admin/listclients?mount=/nothing", "Source does not exist", success=False)
        self.assertAction("/admin/listclients", "Missing parameter: mount", success=False)

    def test_killClient(self) -> None:
        """
        Exactly the listener named is disconnected, with the admin's reason.
        """
        first, firstTransport = connectInMemory(self.station)
        second, secondTransport = connectInMemory(self.station)
        self.assertAction(f"/admin/killclient?mount=/stream&id={first.id}", f"Client {first.id} removed")
        self.assertTrue(firstTransport.disconnecting or firstTransport.disconnected)
        self.assertEqual(first.endReason, "kicked by the admin")
        self.assertFalse(secondTransport.disconnecting)
        self.assertEqual(list(self.station.broadcaster.listeners), [second])

    def test_killUnknownClient(self) -> None:
        """
        An id not on that mount, or none, is a 400 and disconnects nobody.
        """
        listener, transport = connectInMemory(self.other)
        self.assertAction(f"/admin/killclient?mount=/stream&id={listener.id}", f"Client {listener.id} not found", False)
        self.assertAction("/admin/killclient?mount=/stream&id=x", "Client x not found", False)
        self.assertAction("/admin/killclient?mount=/stream", "Missing parameter: id", False)
        self.assertFalse(transport.disconnecting)


class KillSourceTests(IcecastAdminMixin, SynchronousTestCase):
    """
    C{/admin/killsource}.
    """

    def test_killSource(self) -> None:
        """
        The live source is hung up and the mount plays its programme again.
        """
        live = LiveSource(title="Live show")
        hangUps = []
        live.hangUp = lambda: hangUps.append(True)
        self.station.attachLive(live)
        live.feed(syntheticFrame().data * 100)
        self.clock.advance(1)
        self.assertEqual(self.station.broadcaster.title, "Live show")
        self.assertAction("/admin/killsource?mount=/stream", "Source Removed")
        self.assertEqual(hangUps, [True])
        self.clock.advance(1)
        self.assertEqual(self.station.broadcaster.title, os.path.basename(DEMO_FILES[0]))

    def test_noSource(self) -> None:
        """
        A mount without a live source answers 400.
        """
        self.assertAction("/admin/killsource?mount=/live", "/live has no live source", success=False)


class MoveClientsTests(IcecastAdminMixin, SynchronousTestCase):
    """
    C{/admin/moveclients}.
    """

    def test_move(self) -> None:
        """
        The listeners move to the destination and keep getting whole
        frames with a metadata block every C{metaint} bytes; the next block
        carries the destination's title.
        """
        self.clock.advance(1)
        listener, transport = connectInMemory(self.station, wantsMetadata=True)
        other, _ = connectInMemory(self.station)
        self.clock.pump([0.5] * 4)
        self.assertAction("/admin/moveclients?mount=/stream&destination=/other", "Clients moved from /stream to /other")
        self.assertEqual(list(self.other.broadcaster.listeners), [listener, other])
        self.assertEqual(self.station.listenerCount, 0)
        self.clock.pump([0.5] * 40)
        body = transport.value().partition(b"\r\n\r\n")[2]
        metaint = self.station.metaint
        demuxer = MetadataDemuxer(metaint)
        audio = b""
        titles = []
        for item in demuxer.feed(body):
            if isinstance(item, bytes):
                audio += item
            else:
                titles.append(item["StreamTitle"])
        self.assertEqual(demuxer.blocks, len(audio) // metaint)
        framer = Framer()
        frames = framer.feed(audio) + framer.flush()
        self.assertEqual(b"".join(frame.data for frame in frames), audio)
        self.assertEqual(framer.skippedBytes, 0)
        self.assertEqual(titles[0], os.path.basename(DEMO_FILES[0]))
        self.assertEqual(titles[-1], "Other & <Title>")

    def test_refused(self) -> None:
        """
        The same mount, an unknown destination or one not on the air are
        refused, and nobody moves.
        """
        listener, _ = connectInMemory(self.station)
        self.assertAction("/admin/moveclients?mount=/stream&destination=/stream", "supplied mountpoints are identical", False)
        self.assertAction("/admin/moveclients?mount=/stream&destination=/none", "No such destination", False)
        self.assertAction("/admin/moveclients?mount=/stream&destination=/live", "Destination not running", False)
        self.assertAction("/admin/moveclients?mount=/stream", "Missing parameter: destination", False)
        self.assertEqual(list(self.station.broadcaster.listeners), [listener])


class FallbacksTests(IcecastAdminMixin, SynchronousTestCase):
    """
    C{/admin/fallbacks}.
    """

    def test_setFallback(self) -> None:
        """
        The mount's fallback is set, and plays when it has nothing else;
        an empty C{fallback} clears it.
        """
        self.assertAction("/admin/fallbacks?mount=/live&fallback=/other", "Fallback configured")
        self.assertIs(self.live.fallback, self.other)
        self.clock.advance(1)
        self.assertTrue(self.live.onAir)
        self.assertEqual(self.live.broadcaster.title, "Other & <Title>")
        self.assertAction("/admin/fallbacks?mount=/live&fallback=", "Fallback configured")
        self.assertIsNone(self.live.fallback)

    def test_loopsRefused(self) -> None:
        """
        A mount cannot fall back to itself, directly or through others.
        """
        self.assertAction("/admin/fallbacks?mount=/live&fallback=/live", "a mount cannot fall back to itself, directly or through others", False)
        self.assertAction("/admin/fallbacks?mount=/live&fallback=/other", "Fallback configured")
        self.assertAction("/admin/fallbacks?mount=/other&fallback=/live", "a mount cannot fall back to itself, directly or through others", False)
        self.assertIsNone(self.other.fallback)

    def test_missing(self) -> None:
        """
        Without C{fallback}, or naming an unknown mount: 400.
        """
        self.assertAction("/admin/fallbacks?mount=/live", "Missing parameter: fallback", False)
        self.assertAction("/admin/fallbacks?mount=/live&fallback=/none", "No such fallback", False)


class XMLTests(SynchronousTestCase):
    """
    The documents are well-formed whatever the values hold.
    """

    def test_escaping(self) -> None:
        """
        Markup is escaped and characters XML cannot hold are dropped.
        """
        body = iceResponse("a <b> & \x00\x07c\ufffe", True)
        root = ElementTree.fromstring(body)
        self.assertEqual(root.findtext("message"), "a <b> & c")
        self.assertEqual(xmlText(None), "")
        self.assertEqual(xmlText(False), "0")
