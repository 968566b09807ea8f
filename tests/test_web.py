"""
Tests for L{txradio.web.site} and L{txradio.web.page}: the station page,
the playlists, the static files, and how the site is put together and
runs with the radio.
"""

from __future__ import annotations

import os
import re

from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactorClock
from twisted.trial.unittest import SynchronousTestCase

from zope.interface.verify import verifyObject

from tests._web import DEMO, SiteClient, runNow
from txradio.interfaces import IRadioSite
from txradio.library.index import Library
from txradio.service import RadioService
from txradio.stream.station import Station
from txradio.testing import FakeFrameSource, connectInMemory
from txradio.web.page import STATIC_DIR, assetURL
from txradio.web.site import RadioSite, buildSite
from txradio.wire.icy import StreamInfo


class PageTestMixin:
    """
    Two started stations on a fake clock.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.main = Station(
            FakeFrameSource(["Artist - First Song"], framesPerTrack=100000),
            mount="/stream",
            info=StreamInfo(name="Radio One", description="Songs all day", genre="Pop"),
            clock=self.clock,
        )
        self.second = Station(
            FakeFrameSource(["Other"]), mount="/live/hi", info=StreamInfo(name="Two"), clock=self.clock
        )
        for station in (self.main, self.second):
            station.startService()
            self.addCleanup(station.stopService)
        self.clock.advance(0)
        self.site = buildSite([self.main, self.second], clock=self.clock)
        self.client = SiteClient(self, self.site)

    def get(self, path: str, **headers: str):
        """
        @return: the response to a C{GET} of C{path}.
        """
        return self.client.request(path, headers=headers)


class StationsPageTests(PageTestMixin, SynchronousTestCase):
    """
    The page at C{/} shows every station with what it plays and how to
    listen.
    """

    def test_content(self) -> None:
        """
        Each mount has its name, description, title, listeners and peak,
        format, a player on its stream and links to its playlists.
        """
        connectInMemory(self.main)
        response = self.get("/")
        self.assertEqual(response.status, 200)
        self.assertEqual(response.header("content-type"), "text/html; charset=utf-8")
        page = response.text
        self.assertTrue(page.startswith("<!DOCTYPE html>"))
        for text in ("Radio One", "Songs all day", "Artist - First Song", "MP3, 128 kbps", "Pop", "Two"):
            self.assertIn(text, page)
        self.assertIn('<dd data-field="listeners">1</dd>', page)
        self.assertIn('<dd data-field="peak">1</dd>', page)
        self.assertIn('<audio controls="" preload="none" src="/stream"></audio>', page)
        self.assertIn('<audio controls="" preload="none" src="/live/hi"></audio>', page)
        for extension in ("m3u", "pls", "xspf"):
            self.assertIn(f'href="/stream.{extension}"', page)
            self.assertIn(f'href="/live/hi.{extension}"', page)
        self.assertIn('data-mount="/live/hi"', page)
        self.assertNotIn('href="/library/"', page)

    def test_accessible(self) -> None:
        """
        The page has a language, a title, a viewport, a main landmark, one
        C{h1}, labelled station sections and a live "now playing".
        """
        page = self.get("/").text
        self.assertIn('<html lang="en">', page)
        self.assertIn("<title>Radio One</title>", page)
        self.assertIn('name="viewport"', page)
        self.assertIn('<main id="main">', page)
        self.assertEqual(page.count("<h1>"), 1)
        self.assertIn('aria-labelledby="mount-stream-name"', page)
        self.assertIn('id="mount-stream-name"', page)
        self.assertIn('role="status"', page)

    def test_noInlineCode(self) -> None:
        """
        The page loads its style and script from C{/static/} and a strict
        content security policy forbids anything else.
        """
        response = self.get("/")
        page = response.text
        self.assertNotIn("<style", page)
        self.assertNotRegex(page, r"<script>|<script [^>]*>[^<]")
        self.assertIn(f'src="{assetURL("radio.js")}"', page)
        policy = response.header("content-security-policy")
        self.assertIn("default-src 'none'", policy)
        self.assertIn("script-src 'self'", policy)
        self.assertEqual(response.header("x-content-type-options"), "nosniff")

    def test_escaping(self) -> None:
        """
        Names, descriptions and titles cannot add markup.
        """
        self.main.info = StreamInfo(name="<b>Bold</b>", description='"quoted" & <i>')
        self.main.updateTitle("<script>alert(1)</script>")
        self.clock.advance(1)
        page = self.get("/").text
        self.assertNotIn("<script>alert", page)
        self.assertNotIn("<b>Bold", page)
        self.assertIn("&lt;script&gt;alert(1)&lt;/script&gt;", page)
        self.assertIn("&amp; &lt;i&gt;", page)
        self.assertIn("&lt;b&gt;Bold&lt;/b&gt;", page)

    def test_history(self) -> None:
        """
        Titles played before are listed under the station, newest first.
        """
        for title in ("Second", "Third"):
            self.main.updateTitle(title)
            self.clock.advance(1)
        page = self.get("/").text
        history = re.search(r'<ol class="history" data-field="history">(.*?)</ol>', page).group(1)
        self.assertEqual(re.findall(r"<li>(.*?)</li>", history), ["Second", "Artist - First Song"])

    def test_offAir(self) -> None:
        """
        A mount with nothing on the air says so.
        """
        site = buildSite([Station(None, mount="/live", clock=self.clock)], clock=self.clock)
        page = SiteClient(self, site).request("/").text
        self.assertIn(">Off air<", page)
        self.assertIn("Nothing yet", page)

    def test_noStations(self) -> None:
        """
        A radio without stations still has a page.
        """
        page = SiteClient(self, buildSite([], clock=self.clock)).request("/").text
        self.assertIn("No station is configured.", page)

    def test_head(self) -> None:
        """
        C{HEAD /} answers the headers.
        """
        response = self.client.request("/", method=b"HEAD")
        self.assertEqual(response.status, 200)
        self.assertEqual(response.header("content-type"), "text/html; charset=utf-8")

    def test_libraryLink(self) -> None:
        """
        With a library, the page links to it.
        """
        site = buildSite([self.main], clock=self.clock, library=Library(DEMO, runInThread=runNow, clock=self.clock))
        self.assertIn('href="/library/"', SiteClient(self, site).request("/").text)


class PlaylistTests(PageTestMixin, SynchronousTestCase):
    """
    Every mount has M3U, PLS and XSPF playlists with absolute URLs, readable
    from any origin.
    """

    def test_types(self) -> None:
        """
        Each format has its MIME type and CORS.
        """
        for path, kind, text in (
            (
                "/stream.m3u",
                "audio/x-mpegurl",
                "#EXTM3U\r\n#EXTINF:-1,Radio One\r\nhttp://radio.example:8000/stream\r\n",
            ),
            ("/stream.pls", "audio/x-scpls", "File1=http://radio.example:8000/stream\r\n"),
            ("/stream.xspf", "application/xspf+xml", "<location>http://radio.example:8000/stream</location>"),
            ("/live/hi.m3u", "audio/x-mpegurl", "http://radio.example:8000/live/hi\r\n"),
            ("/listen.pls", "audio/x-scpls", "File1=http://radio.example:8000/stream\r\n"),
            ("/listen.m3u", "audio/x-mpegurl", "http://radio.example:8000/stream\r\n"),
        ):
            response = self.get(path)
            self.assertEqual(response.status, 200, path)
            self.assertEqual(response.header("content-type"), kind + "; charset=utf-8", path)
            self.assertEqual(response.header("access-control-allow-origin"), "*", path)
            self.assertIn(text, response.text, path)

    def test_publicURL(self) -> None:
        """
        A configured public URL replaces the C{Host} header.
        """
        site = buildSite([self.main], clock=self.clock, publicURL="https://radio.example.org/")
        self.assertIn("https://radio.example.org/stream\r\n", SiteClient(self, site).request("/stream.m3u").text)

    def test_noHost(self) -> None:
        """
        Without a C{Host} header, the server's address is used.
        """
        response = self.client.request("/stream.m3u", version=b"HTTP/1.0", headers={"Host": ""})
        self.assertIn("http://127.0.0.1:8000/stream\r\n", response.text)

    def test_preflight(self) -> None:
        """
        A CORS preflight for a playlist is answered.
        """
        response = self.client.request("/stream.pls", method=b"OPTIONS")
        self.assertEqual(response.status, 204)
        self.assertEqual(response.header("access-control-allow-origin"), "*")


class StaticTests(PageTestMixin, SynchronousTestCase):
    """
    The style sheet, script and icon are served from C{/static/}, and
    nothing else is.
    """

    def test_files(self) -> None:
        """
        Each file has its type, and a long cache life when asked for by its
        versioned URL.
        """
        for name, kind in (("radio.css", "text/css"), ("radio.js", "text/javascript"), ("icon.svg", "image/svg+xml")):
            response = self.get(assetURL(name))
            self.assertEqual(response.status, 200, name)
            self.assertTrue(response.header("content-type").startswith(kind), name)
            self.assertIn("immutable", response.header("cache-control"))
            with open(os.path.join(STATIC_DIR, name), "rb") as f:
                self.assertEqual(response.body, f.read())
        self.assertEqual(self.get("/static/radio.css").header("cache-control"), "no-cache")

    def test_nothingElse(self) -> None:
        """
        The folder is not listed and other paths are 404.
        """
        for path in (
            "/static/",
            "/static",
            "/static/nope.js",
            "/static/../site.py",
            "/static/radio.css/x",
            "/static/%2e%2e/page.py",
        ):
            self.assertEqual(self.get(path).status, 404, path)

    def test_versioned(self) -> None:
        """
        The versioned URL changes with the file's content.
        """
        self.assertRegex(assetURL("radio.js"), r"^/static/radio\.js\?v=[0-9a-f]{10}$")


class SiteTests(PageTestMixin, SynchronousTestCase):
    """
    The site routes every path, and runs its services with the radio.
    """

    def test_interface(self) -> None:
        """
        L{buildSite} makes a L{RadioSite}, which provides L{IRadioSite}.
        """
        self.assertIsInstance(self.site, RadioSite)
        self.assertTrue(verifyObject(IRadioSite, self.site))

    def test_configured(self) -> None:
        """
        What a reload changes is set through L{IRadioSite}: the live
        updates' limit, the HLS access policy, and which mounts are HLS.
        """
        root = self.site.root  # type: ignore[attr-defined]
        self.site.limitEventClients(7)
        self.assertEqual(root.events.limits.maxClients, 7)
        policy = object()
        self.site.setAccess(policy)
        self.assertIs(root.access, policy)
        self.site.setHLS(self.main, False)
        self.assertNotIn(self.main.mount, root.hls.mounts)
        self.site.setHLS(self.main, True)
        self.assertIn(self.main.mount, root.hls.mounts)

    def test_serviceSite(self) -> None:
        """
        A radio keeps the built-in site as its C{radioSite}, and has none
        for a site of its own.
        """
        from twisted.web.resource import Resource
        from twisted.web.server import Site

        reactor = MemoryReactorClock()
        station = Station(FakeFrameSource(), clock=reactor)
        radio = RadioService([station], listen=["tcp:8000"], reactor=reactor)
        self.assertIs(radio.radioSite, radio.site)
        own = RadioService([station], listen=["tcp:8000"], reactor=reactor, site=Site(Resource()))
        self.assertIsNone(own.radioSite)

    def test_notFound(self) -> None:
        """
        Unknown paths are 404.
        """
        for path in ("/nope", "/stream.mp3", "/index.html", "/api/v1/nope"):
            self.assertEqual(self.get(path).status, 404, path)

    def test_webService(self) -> None:
        """
        The site's services (the live updates, the library) are children of
        C{webService}.
        """
        library = Library(DEMO, runInThread=runNow, clock=self.clock)
        site = buildSite([self.main], clock=self.clock, library=library)
        names = [service.name for service in site.webService]
        self.assertEqual(names, ["events", "hls", "library"])

    def test_radioService(self) -> None:
        """
        L{RadioService} runs the site's services: the library's index is
        built when it starts, and nothing is left on the clock when it
        stops.
        """
        reactor = MemoryReactorClock()
        library = Library(DEMO, runInThread=runNow, clock=reactor)
        station = Station(FakeFrameSource(), clock=reactor)
        radio = RadioService([station], listen=["tcp:8000"], reactor=reactor, library=library)
        radio.startService()
        self.assertEqual(len(library.index), 3)
        radio.stopService()
        self.assertEqual(reactor.getDelayedCalls(), [])


class LibraryOptionTests(SynchronousTestCase):
    """
    The C{twistd txradio} options for the library: on by default for the
    music folder, C{--library-dir} to name another, C{--no-library} to turn
    it off.
    """

    def parse(self, *arguments: str):
        """
        @return: the parsed L{txradio.tap.Options}.
        """
        from txradio.tap import Options

        options = Options()
        options.parseOptions(list(arguments))
        return options

    def test_default(self) -> None:
        """
        The music folder is the library; without one, the demo folder.
        """
        self.assertEqual(self.parse("--music-dir", DEMO)["library"], DEMO)
        self.assertEqual(os.path.realpath(self.parse()["library"]), os.path.realpath(DEMO))

    def test_libraryDir(self) -> None:
        """
        C{--library-dir} names another folder, which must exist.
        """
        from twisted.python.usage import UsageError

        other = self.mktemp()
        os.makedirs(other)
        self.assertEqual(self.parse("--library-dir", other)["library"], os.path.abspath(other))
        self.assertRaises(UsageError, self.parse, "--library-dir", other + "-missing")

    def test_off(self) -> None:
        """
        C{--no-library} turns it off.
        """
        self.assertIsNone(self.parse("--music-dir", DEMO, "--no-library")["library"])

    def test_service(self) -> None:
        """
        The service serves the library when it is on, and not when off.
        """
        from txradio.tap import makeService

        on = makeService(self.parse("--music-dir", DEMO), MemoryReactorClock())
        self.assertIn(b"library", on.factory.site.resource.children)
        off = makeService(self.parse("--no-library"), MemoryReactorClock())
        self.assertNotIn(b"library", off.factory.site.resource.children)
