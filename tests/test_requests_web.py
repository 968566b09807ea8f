"""
Tests for C{/api/v1/requests} (L{txradio.web.requests}) and what comes next
in the status (L{txradio.web.upcoming}).
"""

from __future__ import annotations

import json
import os

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from tests._web import HeldJobs, MusicFolder, SiteClient, runNow
from txradio.library.index import Library
from txradio.sources.playlist import PlaylistSource
from txradio.sources.requests import Limits, RequestQueue, attachRequests
from txradio.sources.tracks import ListTracks
from txradio.stream.station import Station
from txradio.testing import FakeFrameSource
from txradio.web.site import buildSite

JSON = {"Content-Type": "application/json"}


class SiteMixin:
    """
    A site with a library, a mount taking requests (C{/stream}) and one
    that takes none (C{/other}).
    """

    runner = staticmethod(runNow)

    def setUp(self) -> None:
        self.folder = MusicFolder()
        self.addCleanup(self.folder.remove)
        self.clock = Clock()
        self.clock.advance(1_700_000_000)
        self.library = Library(self.folder.root, runInThread=self.runner, clock=self.clock)
        jazz = os.path.join(self.folder.root, "Jazz")
        self.source = PlaylistSource(
            ListTracks([os.path.join(jazz, "02 Morning.mp3"), os.path.join(jazz, "10 Bass.mp3")]), clock=self.clock
        )
        self.queue = RequestQueue(self.clock, Limits(size=2, perArtist=0))
        attachRequests(self.source, self.queue)
        stations = [Station(self.source, mount="/stream", clock=self.clock)]
        stations.append(Station(FakeFrameSource(), mount="/other", clock=self.clock))
        self.station = stations[0]
        for station in stations:
            station.startService()
        self.addCleanup(lambda: [station.stopService() for station in stations])
        self.clock.advance(0)
        self.site = buildSite(stations, clock=self.clock, library=self.library)
        self.client = SiteClient(self, self.site)

    def post(self, body: object, headers: dict[str, str] | None = None, raw: bytes | None = None):
        """
        @return: the response to a C{POST} of C{body} as JSON.
        """
        data = raw if raw is not None else json.dumps(body).encode()
        return self.client.request("/api/v1/requests", b"POST", JSON if headers is None else headers, data)



class RequestsAPITests(SiteMixin, SynchronousTestCase):
    """
    C{/api/v1/requests} and the status.
    """

    def test_created(self) -> None:
        """
        A song of the library is queued: 201 with its position and title,
        no CORS header; the queue and the status show it.
        """
        response = self.post({"path": "Jazz/Bop/Chimes.mp3"})
        self.assertEqual(response.status, 201, response.body)
        self.assertEqual(
            response.json(),
            {
                "mount": "/stream",
                "position": 1,
                "path": "Jazz/Bop/Chimes.mp3",
                "title": "Night Chimes",
                "artist": "txradio",
                # The track on the air, 20.04 s long, started at 22:13:20.
                "expected": "2023-11-14T22:13:40Z",
            },
        )
        self.assertIsNone(response.header("access-control-allow-origin"))
        self.assertEqual(self.queue.peek().path, os.path.realpath(os.path.join(self.folder.root, "Jazz/Bop/Chimes.mp3")))
        listed = self.client.request("/api/v1/requests").json()
        self.assertEqual(listed["mounts"][0]["mount"], "/stream")
        self.assertEqual(listed["mounts"][0]["requests"][0]["title"], "Night Chimes")
        self.assertEqual(listed["mounts"][0]["requests"][0]["requestedAt"], "2023-11-14T22:13:20Z")
        self.assertEqual(len(listed["mounts"]), 1)
        status = self.client.request("/api/v1/status").json()
        stream, other = status["mounts"]
        self.assertEqual(stream["requests"][0]["path"], "Jazz/Bop/Chimes.mp3")
        self.assertEqual(stream["upcoming"], ["txradio - Night Chimes"])
        self.assertIsNone(other["requests"])
        self.assertEqual(other["upcoming"], [])

    def test_upcoming(self) -> None:
        """
        Without requests the status names the next track of the playlist.
        """
        status = self.client.request("/api/v1/status").json()
        self.assertEqual(status["mounts"][0]["upcoming"], ["txradio - Walking Bass"])
        self.assertEqual(status["mounts"][0]["requests"], [])

    def test_mount(self) -> None:
        """
        A named mount is used; an unknown one is 404, one without requests 409.
        """
        self.assertEqual(self.post({"path": "Jazz/10 Bass.mp3", "mount": "stream"}).status, 201)
        response = self.post({"path": "Jazz/10 Bass.mp3", "mount": "/nowhere"})
        self.assertEqual((response.status, response.json()), (404, {"error": "no such mount"}))
        response = self.post({"path": "Jazz/10 Bass.mp3", "mount": "/other"})
        self.assertEqual((response.status, response.json()), (409, {"error": "/other takes no requests"}))

    def test_badBody(self) -> None:
        """
        A body that is not a JSON object with a path is 400.
        """
        for raw in [b"", b"{", b"[]", b'{"path": 3}', b'{"path": ""}', b'{"path": "a.mp3", "mount": 1}', b"\xff"]:
            response = self.post(None, raw=raw)
            self.assertEqual(response.status, 400, raw)
            self.assertIn("error", response.json())
        self.assertEqual(self.post(None, raw=b'{"path": "' + b"a" * 5000 + b'"}').status, 413)

    def test_pathSafety(self) -> None:
        """
        Only MP3 songs inside the library may be requested: traversal,
        hidden files, symbolic links out, folders and other files are 404.
        """
        for path in [
            "../outside/secret.mp3",
            "Jazz/../../outside/secret.mp3",
            "/etc/passwd",
            ".hidden/secret.mp3",
            ".dotfile.mp3",
            "escape.mp3",
            "outside-link/secret.mp3",
            "hidden-link/secret.mp3",
            "Jazz",
            "notes.txt",
            "Jazz/missing.mp3",
            "Jazz\\..\\top.mp3",
            "Jazz/\x00.mp3",
        ]:
            response = self.post({"path": path})
            self.assertEqual(response.status, 404, path)
            self.assertIn("no such song", response.json()["error"])
        self.assertEqual(len(self.queue), 0)
        self.assertEqual(self.post({"path": "Rock/Ünïcode ☃ song.mp3"}).status, 201)

    def test_forgery(self) -> None:
        """
        A form post (no JSON content type) is 415; a JSON post from another
        origin is 403; the preflight allows no POST.
        """
        response = self.post(None, {"Content-Type": "application/x-www-form-urlencoded"}, b"path=Jazz/10+Bass.mp3")
        self.assertEqual(response.status, 415)
        self.assertEqual(self.post(None, {"Content-Type": "text/plain"}, b'{"path": "Jazz/10 Bass.mp3"}').status, 415)
        response = self.post({"path": "Jazz/10 Bass.mp3"}, {**JSON, "Origin": "http://evil.example"})
        self.assertEqual(response.status, 403)
        response = self.post({"path": "Jazz/10 Bass.mp3"}, {**JSON, "Origin": "http://radio.example:8000"})
        self.assertEqual(response.status, 201)
        preflight = self.client.request("/api/v1/requests", b"OPTIONS")
        self.assertNotIn("POST", preflight.header("access-control-allow-methods"))
        self.assertEqual(len(self.queue), 1)

    def test_coolDowns(self) -> None:
        """
        A second request from the address is 429 with the exact wait in
        C{Retry-After} and the message; a song queued is refused for an hour.
        """
        self.assertEqual(self.post({"path": "Jazz/10 Bass.mp3"}).status, 201)
        self.clock.advance(20)
        response = self.post({"path": "Jazz/Bop/Chimes.mp3"})
        self.assertEqual(response.status, 429)
        self.assertEqual(response.header("retry-after"), "280")
        self.assertEqual(
            response.json(),
            {"error": "one request every 5 min per listener: wait 4 min 40 s", "retryAfter": 280},
        )
        self.queue.limits = Limits(size=2, perAddress=0, perArtist=0)
        response = self.post({"path": "Jazz/10 Bass.mp3"})
        self.assertEqual((response.status, response.header("retry-after")), (429, "3580"))
        self.assertIn("59 min 40 s", response.json()["error"])

    def test_artist(self) -> None:
        """
        The artist cool-down answers 429 with its own wait.
        """
        self.queue.limits = Limits(size=2, perAddress=0)
        self.assertEqual(self.post({"path": "Jazz/10 Bass.mp3"}).status, 201)
        self.clock.advance(60)
        response = self.post({"path": "Jazz/Bop/Chimes.mp3"})
        self.assertEqual((response.status, response.header("retry-after")), (429, "1740"))
        self.assertIn("txradio was requested or played recently", response.json()["error"])

    def test_full(self) -> None:
        """
        A full queue is 503.
        """
        self.queue.limits = Limits(size=1, perAddress=0, perArtist=0)
        self.assertEqual(self.post({"path": "Jazz/10 Bass.mp3"}).status, 201)
        response = self.post({"path": "Jazz/Bop/Chimes.mp3"})
        self.assertEqual(response.status, 503)
        self.assertIn("queue is full", response.json()["error"])

    def test_noLibrary(self) -> None:
        """
        Without a library every request is 409; the queue still lists.
        """
        site = buildSite([self.station], clock=self.clock)
        client = SiteClient(self, site)
        response = client.request("/api/v1/requests", b"POST", JSON, b'{"path": "Jazz/10 Bass.mp3"}')
        self.assertEqual(response.status, 409)
        self.assertEqual(client.request("/api/v1/requests").status, 200)


class BusyLibraryTests(SynchronousTestCase):
    """
    Tags are read in the library's threads, within its job limit.
    """

    def test_busy(self) -> None:
        """
        While the library's threads are all taken and no job may wait, a
        request is answered 503 with C{Retry-After}; the one that got the
        thread is answered 201 when its tags are read.
        """
        folder = MusicFolder()
        self.addCleanup(folder.remove)
        clock = Clock()
        held = HeldJobs()
        library = Library(folder.root, runInThread=held, clock=clock, maxJobs=1, maxWaiting=0)
        source = PlaylistSource(ListTracks([]), clock=clock)
        attachRequests(source, RequestQueue(clock, Limits(perAddress=0, perArtist=0)))
        station = Station(source, mount="/stream", clock=clock)
        client = SiteClient(self, buildSite([station], clock=clock, library=library))
        protocol, transport = client.connect()
        from tests._web import parseResponse, requestBytes

        protocol.dataReceived(requestBytes("/api/v1/requests", b"POST", JSON, b'{"path": "Jazz/10 Bass.mp3"}'))
        self.assertEqual(transport.value(), b"")
        response = client.request("/api/v1/requests", b"POST", JSON, b'{"path": "Jazz/Bop/Chimes.mp3"}')
        self.assertEqual((response.status, response.header("retry-after")), (503, "5"))
        held.release()
        self.assertEqual(parseResponse(transport.value()).status, 201)


class PageTests(SiteMixin, SynchronousTestCase):
    """
    The station page shows what comes next and the queue; every page loads
    C{requests.js}, which adds the library's Request buttons.
    """

    def test_upNext(self) -> None:
        from txradio.web.page import assetURL

        self.post({"path": "Jazz/Bop/Chimes.mp3"})
        page = self.client.request("/", headers={"Accept": "text/html"}).text
        self.assertIn("<h3>Up next</h3>", page)
        # The track on the air (20 s long) started now: the request plays at
        # 22:13:40 UTC.
        entry = "<li>txradio - Night Chimes <small>about 22:13</small></li>"
        self.assertIn(f'<ol class="upcoming" data-field="upcoming">{entry}</ol>', page)
        self.assertIn(f'<ol class="requests" data-field="requests">{entry}</ol>', page)
        self.assertIn(f'src="{assetURL("requests.js")}"', page)
        script = self.client.request(assetURL("requests.js"))
        self.assertEqual(script.status, 200)
        self.assertIn(b'"Content-Type": "application/json"', script.body)

    def test_noRequests(self) -> None:
        """
        A mount that takes no requests shows no queue.
        """
        page = self.client.request("/", headers={"Accept": "text/html"}).text
        self.assertEqual(page.count('data-field="requests"'), 1)
