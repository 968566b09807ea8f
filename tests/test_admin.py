"""
Tests for L{txradio.web.admin}, the admin API, and for the playlist
controls it uses (L{txradio.sources.playlist.PlaylistSource.skip} and
C{reload}).
"""

from __future__ import annotations

import json
import os

from twisted.internet.task import Clock
from twisted.internet.testing import EventLoggingObserver
from twisted.logger import globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from tests._web import DEMO, SiteClient, basicAuth
from txradio.interfaces import ILiveSource
from txradio.sources.live import LiveSource
from txradio.sources.playlist import PlaylistSource
from txradio.sources.tracks import ListTracks
from txradio.stream.station import Station
from txradio.testing import FakeFrameSource, connectInMemory, syntheticFrame
from txradio.web.admin import listenerId, sourceInfo
from txradio.web.site import buildSite

PASSWORD = "s3cret-pässword"
DEMO_FILES = [os.path.join(DEMO, name) for name in sorted(os.listdir(DEMO))]


class AdminTestMixin:
    """
    A playlist station (the demo files) and a station without a playlist,
    with admin on.
    """

    password: str | None = PASSWORD

    def setUp(self) -> None:
        self.clock = Clock()
        self.playlist = PlaylistSource(ListTracks(DEMO_FILES), clock=self.clock, titleOf=os.path.basename)
        self.station = Station(self.playlist, clock=self.clock)
        self.other = Station(FakeFrameSource(["Fake"]), mount="/other", clock=self.clock)
        for station in (self.station, self.other):
            station.startService()
            self.addCleanup(station.stopService)
        self.clock.advance(0)
        self.site = buildSite([self.station, self.other], clock=self.clock, adminPassword=self.password)
        self.client = SiteClient(self, self.site)

    def admin(
        self,
        path: str,
        value=None,
        method: bytes = b"POST",
        auth: tuple[str, str] | None = ("admin", PASSWORD),
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
    ):
        """
        Send an admin request, by default a JSON C{POST} with the admin's
        credentials.

        @return: the response.
        """
        fields = dict(headers or {})
        if auth is not None:
            fields["Authorization"] = basicAuth(*auth)
        if value is not None:
            body = json.dumps(value).encode()
            fields.setdefault("Content-Type", "application/json")
        return self.client.request(path, method=method, headers=fields, body=body or b"")


class AdminOffTests(AdminTestMixin, SynchronousTestCase):
    """
    Without an admin password there is no admin.
    """

    password = None

    def test_off(self) -> None:
        """
        Every admin path is a 404, whatever the credentials.
        """
        for path, method in (("/admin/mounts", b"GET"), ("/admin/skip", b"POST"), ("/admin/", b"GET")):
            self.assertEqual(self.admin(path, {}, method=method).status, 404)
            self.assertEqual(self.admin(path, {}, method=method, auth=("admin", "")).status, 404)


class AuthTests(AdminTestMixin, SynchronousTestCase):
    """
    Admin needs the admin's Basic credentials.
    """

    def test_noCredentials(self) -> None:
        """
        Without credentials: 401 with a Basic challenge.
        """
        response = self.admin("/admin/mounts", method=b"GET", auth=None)
        self.assertEqual(response.status, 401)
        self.assertEqual(response.header("www-authenticate"), 'Basic realm="txradio admin", charset="UTF-8"')

    def test_wrongCredentials(self) -> None:
        """
        A wrong password or user is refused and logged, without the
        password.
        """
        events = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        for auth in (("admin", "wrong"), ("root", PASSWORD), ("admin", PASSWORD + "x"), ("admin", "")):
            self.assertEqual(self.admin("/admin/mounts", method=b"GET", auth=auth).status, 401)
        failed = [e for e in events if e.get("log_format", "").startswith("failed admin login")]
        self.assertEqual(len(failed), 4)
        self.assertEqual(failed[0]["peer"], "192.0.2.9")
        self.assertEqual(failed[1]["user"], "root")
        self.assertNotIn(PASSWORD, repr(list(events)))

    def test_unicodePassword(self) -> None:
        """
        A password with non-ASCII characters works.
        """
        self.assertEqual(self.admin("/admin/mounts", method=b"GET").status, 200)


class MountsTests(AdminTestMixin, SynchronousTestCase):
    """
    C{GET /admin/mounts} lists the mounts and their listeners.
    """

    def test_list(self) -> None:
        """
        Each mount comes with its listeners: id, address, player, time and
        bytes; the reply is not cached nor readable from other origins.
        """
        listener, _ = connectInMemory(self.station, peer="198.51.100.7:5000")
        self.clock.pump([0.5] * 4)
        response = self.admin("/admin/mounts", method=b"GET")
        self.assertEqual(response.status, 200)
        self.assertEqual(response.header("cache-control"), "no-store")
        self.assertIsNone(response.header("access-control-allow-origin"))
        mounts = {m["mount"]: m for m in response.json()["mounts"]}
        self.assertEqual(set(mounts), {"/stream", "/other"})
        (entry,) = mounts["/stream"]["listenerList"]
        self.assertEqual(entry["id"], listenerId(listener))
        self.assertEqual(entry["peer"], "198.51.100.7:5000")
        self.assertEqual(entry["userAgent"], "txradio.testing")
        self.assertEqual(entry["seconds"], 2.0)
        self.assertEqual(entry["bytesSent"], listener.bytesSent)
        self.assertTrue(mounts["/stream"]["canSkip"])
        self.assertFalse(mounts["/other"]["canSkip"])
        self.assertEqual(self.admin("/admin/", method=b"GET").json(), response.json())

    def test_postNotAllowed(self) -> None:
        """
        The list is read with C{GET} only.
        """
        response = self.admin("/admin/mounts", {})
        self.assertEqual(response.status, 405)
        self.assertEqual(response.header("allow"), "GET, HEAD")


class ActionTests(AdminTestMixin, SynchronousTestCase):
    """
    Kick, skip, reload and title changes, as C{POST}s that cannot be forged
    from another site.
    """

    def test_kick(self) -> None:
        """
        A listener is disconnected by its id.
        """
        listener, transport = connectInMemory(self.station)
        connectInMemory(self.station)
        response = self.admin("/admin/kick", {"mount": "/stream", "listener": listenerId(listener)})
        self.assertEqual(response.status, 200)
        self.assertEqual(response.json()["kicked"], listenerId(listener))
        self.assertTrue(transport.disconnecting)
        self.assertEqual(self.station.listenerCount, 1)

    def test_kickUnknown(self) -> None:
        """
        An unknown listener or one of another mount is a 404.
        """
        listener, _ = connectInMemory(self.station)
        self.assertEqual(self.admin("/admin/kick", {"mount": "/stream", "listener": "nope"}).status, 404)
        self.assertEqual(self.admin("/admin/kick", {"mount": "/other", "listener": listenerId(listener)}).status, 404)
        self.assertEqual(self.station.listenerCount, 1)

    def test_skip(self) -> None:
        """
        Skip plays the next track of the playlist.
        """
        first = self.station.broadcaster.title
        response = self.admin("/admin/skip", {"mount": "/stream"})
        self.assertEqual(response.status, 200)
        self.assertEqual(response.json()["skipped"], first)
        self.clock.pump([0.5] * 4)
        self.assertEqual(self.station.broadcaster.title, os.path.basename(DEMO_FILES[1]))

    def test_skipWithoutPlaylist(self) -> None:
        """
        A mount without a playlist cannot skip or reload: 409.
        """
        self.assertEqual(self.admin("/admin/skip", {"mount": "/other"}).status, 409)
        self.assertEqual(self.admin("/admin/reload", {"mount": "/other"}).status, 409)

    def test_reload(self) -> None:
        """
        Reload reads the track list again after the current track.
        """
        self.assertEqual(self.admin("/admin/reload", {"mount": "/stream"}).status, 200)
        self.playlist.tracks.paths = [DEMO_FILES[2]]
        self.playlist.skip()
        self.clock.pump([0.5] * 4)
        self.assertEqual(self.station.broadcaster.title, os.path.basename(DEMO_FILES[2]))

    def test_title(self) -> None:
        """
        The title listeners see changes, cleaned of control characters.
        """
        response = self.admin("/admin/title", {"mount": "/other", "title": "News\r\nat ten"})
        self.assertEqual(response.json(), {"title": "News at ten", "mount": "/other"})
        self.clock.advance(1)
        self.assertEqual(self.other.broadcaster.title, "News at ten")
        self.assertEqual(self.admin("/admin/title", {"mount": "/other", "title": " "}).status, 400)
        self.assertEqual(self.admin("/admin/title", {"mount": "/other", "title": 5}).status, 400)

    def test_defaultMount(self) -> None:
        """
        Without a mount, an action applies to the default one.
        """
        self.admin("/admin/title", {"title": "Default"})
        self.clock.advance(1)
        self.assertEqual(self.station.broadcaster.title, "Default")

    def test_formWithHeader(self) -> None:
        """
        A form body is accepted with an C{X-Requested-With} header.
        """
        response = self.admin(
            "/admin/title",
            headers={"Content-Type": "application/x-www-form-urlencoded", "X-Requested-With": "fetch"},
            body=b"mount=%2Fother&title=From+a+form",
        )
        self.assertEqual(response.status, 200)
        self.assertEqual(response.json()["title"], "From a form")

    def test_forgery(self) -> None:
        """
        What a page on another site can make a browser send is refused: a
        plain form C{POST}, a C{GET}, a C{POST} from another origin.
        """
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        response = self.admin("/admin/title", headers=form, body=b"title=Forged")
        self.assertEqual(response.status, 403)
        self.assertEqual(self.admin("/admin/title?title=Forged", method=b"GET").status, 405)
        text = {"Content-Type": "text/plain"}
        self.assertEqual(self.admin("/admin/title", headers=text, body=b'{"title": "Forged"}').status, 403)
        evil = {"Origin": "https://evil.example", "X-Requested-With": "x"}
        self.assertEqual(self.admin("/admin/title", {"title": "Forged"}, headers=evil).status, 403)
        same = {"Origin": "http://radio.example:8000"}
        self.assertEqual(self.admin("/admin/title", {"title": "Allowed"}, headers=same).status, 200)
        self.clock.advance(1)
        self.assertEqual(self.station.broadcaster.title, "Allowed")

    def test_badRequests(self) -> None:
        """
        Malformed, oversized and misdirected requests get clear errors.
        """
        json_ = {"Content-Type": "application/json"}
        self.assertEqual(self.admin("/admin/title", headers=json_, body=b"{not json").status, 400)
        self.assertEqual(self.admin("/admin/title", headers=json_, body=b"[1, 2]").status, 400)
        self.assertEqual(self.admin("/admin/title", {"title": "x" * 20000}).status, 413)
        self.assertEqual(self.admin("/admin/title", {"mount": "/nope", "title": "x"}).status, 404)
        self.assertEqual(self.admin("/admin/explode", {}).status, 404)
        response = self.admin("/admin/skip", {}, method=b"GET")
        self.assertEqual(response.status, 405)
        self.assertEqual(response.header("allow"), "POST")
        self.assertIn("error", response.json())

    def test_icecastMetadataStillWorks(self) -> None:
        """
        Icecast's C{/admin/metadata} (used by encoders) is not shadowed.
        """
        response = self.admin("/admin/metadata?mount=/stream&mode=updinfo&song=Enc", method=b"GET")
        self.assertEqual(response.status, 200)
        self.assertIn(b"Metadata update successful", response.body)


class PlaylistControlTests(SynchronousTestCase):
    """
    L{PlaylistSource.skip} and L{PlaylistSource.reload}.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.source = PlaylistSource(ListTracks(DEMO_FILES), clock=self.clock, titleOf=os.path.basename)

    def titles(self, seconds: float) -> list[str]:
        """
        @return: the titles announced in the next C{seconds} of audio.
        """
        return [item.title for item in self.source.pull(seconds) if hasattr(item, "title")]

    def test_skip(self) -> None:
        """
        After C{skip}, the next pull starts the next track; after the last
        one, the list starts again.
        """
        self.assertEqual(self.titles(1), [os.path.basename(DEMO_FILES[0])])
        self.source.skip()
        self.assertEqual(self.titles(1), [os.path.basename(DEMO_FILES[1])])
        self.source.skip()
        self.assertEqual(self.titles(1), [os.path.basename(DEMO_FILES[2])])
        self.source.skip()
        self.assertEqual(self.titles(1), [os.path.basename(DEMO_FILES[0])])

    def test_reload(self) -> None:
        """
        After C{reload}, the current track ends and a new pass begins.
        """
        self.titles(1)
        self.source.tracks.paths = [DEMO_FILES[2], DEMO_FILES[1]]
        self.source.reload()
        self.assertEqual(self.titles(25), [os.path.basename(DEMO_FILES[2])])

    def test_closed(self) -> None:
        """
        A closed source ignores both.
        """
        self.source.close()
        self.source.skip()
        self.source.reload()
        self.assertEqual(self.source.pull(1), [])


class SourceInfoTests(SynchronousTestCase):
    """
    L{sourceInfo} names a live source by its declared L{ILiveSource.name}.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.station = Station(FakeFrameSource(["Programme"]), clock=self.clock)
        self.station.startService()
        self.addCleanup(self.station.stopService)

    def test_liveSourceName(self) -> None:
        """
        An L{ILiveSource} on the air is shown with its C{name}.
        """
        live = LiveSource("live 192.0.2.1")
        live.feed(syntheticFrame().data * 4)
        self.assertTrue(self.station.attachLive(live))
        self.assertEqual(sourceInfo(self.station), {"kind": "live", "name": "live 192.0.2.1"})

    def test_otherLiveSource(self) -> None:
        """
        A live source that is not an L{ILiveSource} (no declared name) is
        shown as C{"live"}.
        """
        live = FakeFrameSource(["Live"])
        self.assertTrue(self.station.attachLive(live))
        self.assertFalse(ILiveSource.providedBy(live))
        self.assertEqual(sourceInfo(self.station), {"kind": "live", "name": "live"})


class ListenerIdTests(SynchronousTestCase):
    """
    L{listenerId} names a listener by its declared L{IListener.id}.
    """

    def test_numberedAndFollowers(self) -> None:
        """
        A listener of the listener port is named by its number; a mount
        following another (whose C{id} is L{None}) by 16 hex digits.
        """
        from txradio.stream.switcher import MountFollower

        clock = Clock()
        station = Station(FakeFrameSource(["Programme"]), clock=clock)
        listener, _ = connectInMemory(station)
        self.assertEqual(listenerId(listener), str(listener.id))
        follower = MountFollower(station)
        self.assertIsNone(follower.id)
        self.assertRegex(listenerId(follower), "^[0-9a-f]{16}$")
