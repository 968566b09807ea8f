"""
Tests for L{txradio.reload}: what a configuration reload decides, and how
it is applied to a running radio without dropping the listeners of
unchanged mounts.
"""

from __future__ import annotations

import base64
import json
import os

from twisted.internet.address import IPv4Address
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.trial.unittest import SynchronousTestCase

from zope.interface.verify import verifyObject

import txradio
from txradio.build import serviceFromConfig
from txradio.config import ConfigError, parseConfig
from txradio.interfaces import IReloader
from txradio.reload import Reloader, planReload

DEMO = os.path.join(os.path.dirname(os.path.abspath(txradio.__file__)), "demo")

BASE = f"""
[server]
admin_password = "adminpw"

[[mount]]
path = "/a"
name = "Station A"
playlist = "{DEMO}"

[[mount]]
path = "/b"
live = true
source_password = "pw"
fallback = "/a"
"""


def config(text: str = BASE):
    return parseConfig(text, os.path.join(DEMO, "radio.toml"))


class PlanTests(SynchronousTestCase):
    """
    L{planReload} sorts every mount into unchanged, updated in place,
    rebuilt, added or removed.
    """

    def test_nothingChanged(self) -> None:
        """
        The same file changes nothing.
        """
        plan = planReload(config(), config())
        self.assertEqual(plan.unchanged, ("/a", "/b"))
        self.assertEqual((plan.added, plan.removed, plan.rebuilt, plan.updated), ((), (), (), ()))
        self.assertIn("unchanged /a, /b", plan.describe())

    def test_inPlace(self) -> None:
        """
        Stream info, limits, passwords and fallbacks change in place.
        """
        new = BASE.replace('name = "Station A"', 'name = "Station A+"\nmax_listeners = 5').replace(
            'source_password = "pw"', 'source_password = "new"'
        )
        plan = planReload(config(), config(new))
        self.assertEqual(plan.updated, (("/a", frozenset({"name", "maxListeners"})), ("/b", frozenset({"sourcePassword"}))))
        self.assertEqual(plan.rebuilt, ())

    def test_icyStatusInPlace(self) -> None:
        """
        C{icy_status} changes in place.
        """
        new = BASE.replace('name = "Station A"', 'name = "Station A"\nicy_status = true')
        self.assertEqual(planReload(config(), config(new)).updated, (("/a", frozenset({"icyStatus"})),))

    def test_rebuilt(self) -> None:
        """
        A changed metadata interval or a relay in place of a playlist
        rebuilds the mount.
        """
        new = BASE.replace('name = "Station A"', 'name = "Station A"\nmetaint = 8192')
        self.assertEqual(planReload(config(), config(new)).rebuilt, ("/a",))
        new = BASE.replace(f'playlist = "{DEMO}"', 'relay = "http://192.0.2.1:8000/x"')
        self.assertEqual(planReload(config(), config(new)).rebuilt, ("/a",))

    def test_addedRemoved(self) -> None:
        """
        New mounts are added and missing ones removed.
        """
        new = BASE.replace("[[mount]]\npath = \"/b\"", "[[mount]]\npath = \"/c\"")
        plan = planReload(config(), config(new))
        self.assertEqual((plan.added, plan.removed, plan.unchanged), (("/c",), ("/b",), ("/a",)))

    def test_derivedFollowsParent(self) -> None:
        """
        A mount re-encoding a rebuilt mount is rebuilt too, even unchanged.
        """
        derived = BASE + '\n[[mount]]\npath = "/a-64"\nderive_from = "/a"\nbitrate = 64\n'
        changed = derived.replace('name = "Station A"', 'name = "Station A"\nmetaint = 8192')
        plan = planReload(config(derived), config(changed))
        self.assertEqual(plan.rebuilt, ("/a", "/a-64"))

    def test_restartNeeded(self) -> None:
        """
        Changed ports or public URL need a restart, and the plan says so.
        """
        new = BASE.replace("[server]\n", '[server]\nlisten = "tcp:9999"\npublic_url = "https://radio.example"\n')
        plan = planReload(config(), config(new))
        self.assertEqual(plan.restartNeeded, ("listen", "publicURL"))
        self.assertIn("restart needed for listen, publicURL", plan.describe())


class ApplyTests(SynchronousTestCase):
    """
    L{Reloader} applies a plan to a running radio.
    """

    def setUp(self) -> None:
        self.reactor = MemoryReactorClock()
        self.path = os.path.abspath(self.mktemp())
        self.write(BASE)
        self.config = config(BASE)
        self.radio = serviceFromConfig(self.config, self.reactor)
        self.radio.startService()
        self.addCleanup(self.radio.stopService)
        self.reloader = Reloader(self.radio, self.path, self.config, self.reactor)
        self.radio.useReloader(self.reloader)
        self.reactor.pump([1] * 3)

    def write(self, text: str) -> None:
        with open(self.path, "w") as f:
            f.write(text)

    def request(self, data: bytes) -> StringTransport:
        address = IPv4Address("TCP", "192.0.2.7", 5555)
        protocol = self.radio.factory.buildProtocol(address)
        transport = StringTransport(peerAddress=address)
        protocol.makeConnection(transport)
        protocol.dataReceived(data)
        return transport

    def station(self, path: str):
        return self.radio.factory.stations.get(path.encode())

    def test_interface(self) -> None:
        """
        L{Reloader} provides L{IReloader}, which the admin API and the
        signal handler use.
        """
        self.assertTrue(verifyObject(IReloader, self.reloader))

    def test_listenersOfUnchangedMountsStay(self) -> None:
        """
        Adding a mount, removing one and renaming another keeps the
        listeners of the renamed one connected, on the same station.
        """
        listener = self.request(b"GET /a HTTP/1.0\r\n\r\n")
        stationA = self.station("/a")
        self.write(
            BASE.replace('name = "Station A"', 'name = "Renamed"').replace('path = "/b"', 'path = "/c"')
        )
        plan = self.reloader.reload()
        self.assertEqual((plan.added, plan.removed), (("/c",), ("/b",)))
        self.assertIs(self.station("/a"), stationA)
        self.assertEqual(stationA.info.name, "Renamed")
        self.assertIsNone(self.station("/b"))
        self.assertIsNotNone(self.station("/c"))
        self.assertTrue(self.station("/c").running)
        self.assertFalse(listener.disconnecting)
        before = len(listener.value())
        self.reactor.pump([1] * 3)
        self.assertGreater(len(listener.value()), before)
        self.assertIn(self.radio.factory.stations[b"/a"], [stationA])
        self.assertEqual(len([each for each in stationA.broadcaster.listeners if each.peer == "192.0.2.7:5555"]), 1)
        # The site serves the new mount's playlist and no more the old one's.
        self.assertIn(b"200 OK", self.request(b"GET /c.m3u HTTP/1.1\r\nHost: x\r\n\r\n").value())
        self.assertIn(b"404", self.request(b"GET /b.m3u HTTP/1.1\r\nHost: x\r\n\r\n").value().split(b"\r\n")[0])

    def test_badFileRejectedWhole(self) -> None:
        """
        A file with an error changes nothing, and says what is wrong.
        """
        stations = list(self.radio.stations)
        self.write(BASE.replace('path = "/b"', 'path = "/b"\nmax_listeners = -1'))
        with self.assertRaises(ConfigError) as raised:
            self.reloader.reload()
        self.assertIn("max_listeners", str(raised.exception))
        self.assertEqual(self.radio.stations, stations)
        self.assertIs(self.reloader.config, self.config)
        self.flushLoggedErrors()

    def test_rebuiltMount(self) -> None:
        """
        A rebuilt mount is a new station; its old listeners are
        disconnected, and the live mount falling back to it follows the new
        one.
        """
        listener = self.request(b"GET /a HTTP/1.0\r\n\r\n")
        old = self.station("/a")
        self.write(BASE.replace('name = "Station A"', 'name = "Station A"\nmetaint = 8192'))
        plan = self.reloader.reload()
        self.assertEqual(plan.rebuilt, ("/a",))
        new = self.station("/a")
        self.assertIsNot(new, old)
        self.assertEqual(new.metaint, 8192)
        self.assertTrue(listener.disconnecting)
        self.assertIs(self.station("/b").switcher.sourceAt(2).station, new)

    def test_passwords(self) -> None:
        """
        A new source password and admin password apply at once.
        """
        self.write(BASE.replace('source_password = "pw"', 'source_password = "new"').replace("adminpw", "admin2"))
        self.reloader.reload()
        self.assertEqual(self.station("/b").sourcePassword, "new")

        def admin(password: str) -> bytes:
            auth = base64.b64encode(b"admin:" + password.encode())
            return self.request(b"GET /admin/mounts HTTP/1.1\r\nHost: x\r\nAuthorization: Basic " + auth + b"\r\n\r\n").value()

        self.assertTrue(admin("admin2").startswith(b"HTTP/1.1 200"))
        self.assertTrue(admin("adminpw").startswith(b"HTTP/1.1 401"))

    def test_playlistSwapped(self) -> None:
        """
        A new playlist plays from the next frame on, for the same listeners.
        """
        folder = os.path.abspath(self.mktemp())
        os.mkdir(folder)
        with open(os.path.join(DEMO, "03-night-chimes.mp3"), "rb") as f, open(os.path.join(folder, "only.mp3"), "wb") as g:
            g.write(f.read())
        listener = self.request(b"GET /a HTTP/1.0\r\n\r\n")
        station = self.station("/a")
        old = station.programme
        self.write(BASE.replace(f'playlist = "{DEMO}"', f'playlist = "{folder}"'))
        plan = self.reloader.reload()
        self.assertEqual(plan.updated, (("/a", frozenset({"playlist"})),))
        self.assertIsNot(station.programme, old)
        self.reactor.pump([1] * 3)
        self.assertFalse(listener.disconnecting)
        self.assertEqual(station.broadcaster.title, "txradio - Night Chimes")

    def test_adminEndpoint(self) -> None:
        """
        C{POST /admin/reload-config} reloads and answers what changed; a bad
        file is answered 422.
        """
        auth = base64.b64encode(b"admin:adminpw")
        post = (
            b"POST /admin/reload-config HTTP/1.1\r\nHost: x\r\nAuthorization: Basic " + auth + b"\r\n"
            b"Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
        )
        self.write(BASE.replace('path = "/b"', 'path = "/c"'))
        answer = self.request(post).value()
        self.assertTrue(answer.startswith(b"HTTP/1.1 200"), answer[:200])
        body = json.loads(answer.partition(b"\r\n\r\n")[2])
        self.assertEqual((body["added"], body["removed"]), (["/c"], ["/b"]))
        self.write("not toml [")
        answer = self.request(post).value()
        self.assertTrue(answer.startswith(b"HTTP/1.1 422"), answer[:200])
        self.flushLoggedErrors()

    def test_queryBlockAdded(self) -> None:
        """
        A reload that adds a block querying the library rebuilds the mount
        with a track list over the running radio's library.
        """
        from txradio.library.query import QueryTracks

        block = '\n[[mount.block]]\nname = "Jazz"\nwhen = "daily 00:00-24:00"\nquery = { genre = "jazz" }\n'
        self.write(BASE.replace(f'playlist = "{DEMO}"\n', f'playlist = "{DEMO}"\n{block}'))
        plan = self.reloader.reload()
        self.assertEqual(plan.rebuilt, ("/a",))
        tracks = self.station("/a").programme.tracks.blocks[0].tracks
        assert isinstance(tracks, QueryTracks)
        self.assertIsNotNone(self.radio.library)
        self.assertIs(tracks.library, self.radio.library)
