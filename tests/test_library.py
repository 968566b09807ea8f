"""
Tests for the on-demand library: L{txradio.library.index} (paths, listings,
tags, search, threads) and L{txradio.web.browse} (its pages, playlists and
files), through the whole site.
"""

from __future__ import annotations

import os
from email.utils import formatdate

from twisted.internet.error import ConnectionDone
from twisted.internet.task import Clock
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from tests._web import DEMO, HeldJobs, MusicFolder, SiteClient, requestBytes, runNow
from txradio.library.index import (
    Library,
    PathRefused,
    TrackTags,
    checkSegments,
    entryURL,
    formatDuration,
    formatSize,
    readTrackTags,
    searchTerms,
)
from txradio.stream.station import Station
from txradio.testing import FakeFrameSource
from txradio.web.site import buildSite

SECRET = b"outside the music folder"

TRAVERSALS = [
    "/library/../outside/secret.mp3",
    "/library/..%2foutside%2fsecret.mp3",
    "/library/..%2Foutside%2Fsecret.mp3",
    "/library/%2e%2e/outside/secret.mp3",
    "/library/%2E%2E/outside/secret.mp3",
    "/library/%2e%2e%2foutside%2fsecret.mp3",
    "/library/..%5coutside%5csecret.mp3",
    "/library/%252e%252e/outside/secret.mp3",
    "/library/%252e%252e%252foutside%252fsecret.mp3",
    "/library/.%2e/outside/secret.mp3",
    "/library/%2e./outside/secret.mp3",
    "/library//etc/passwd",
    "/library/%2fetc%2fpasswd",
    "/library/%2Fetc/passwd",
    "/library/etc/passwd",
    "/library/etc/",
    "/library/escape.mp3",
    "/library/outside-link/secret.mp3",
    "/library/outside-link/",
    "/library/.hidden/secret.mp3",
    "/library/.hidden/",
    "/library/%2ehidden/secret.mp3",
    "/library/.dotfile.mp3",
    "/library/hidden-link/secret.mp3",
    "/library/hidden-link/",
    "/library/Jazz/../../outside/secret.mp3",
    "/library/Jazz/%2e%2e/%2e%2e/outside/secret.mp3",
    "/library/Jazz-link/../../outside/secret.mp3",
    "/library/Jazz%2f..%2f..%2foutside/secret.mp3",
    "/library/./Jazz/02%20Morning.mp3",
    "/library/Jazz/./02%20Morning.mp3",
    "/library/Jazz//02%20Morning.mp3",
    "/library/notes.txt",
    "/library/top.mp3%00.txt",
    "/library/top.mp3%00",
    "/library/Jazz%00/",
    "/library/..%c0%af../outside/secret.mp3",
    "/library/%c0%ae%c0%ae/outside/secret.mp3",
    "/library/%u002e%u002e/outside/secret.mp3",
    "/library/..;/outside/secret.mp3",
    "/library/~/secret.mp3",
    "/library/%0d%0aSet-Cookie:%20x/",
    "/library/top.mp3/",
    "/library/top.mp3/..",
    "/library/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/library/%2e%2e%5c%2e%2e%5coutside%5csecret.mp3",
    "/library/" + "%2e%2e/" * 20 + "etc/passwd",
]
"""Request paths that try to leave the music folder or reach hidden files."""


class LibraryTestMixin:
    """
    A site with a library over a temporary music folder; "threads" run at
    once.
    """

    pageSize = 200

    def setUp(self) -> None:
        self.folder = MusicFolder()
        self.addCleanup(self.folder.remove)
        self.clock = Clock()
        self.library = Library(self.folder.root, runInThread=self.runner(), clock=self.clock, pageSize=self.pageSize)
        self.station = Station(FakeFrameSource(), clock=self.clock)
        self.site = buildSite([self.station], clock=self.clock, library=self.library)
        self.client = SiteClient(self, self.site)

    def runner(self):
        """
        @return: the C{runInThread} for the library: run jobs at once.
        """
        return runNow

    def get(self, path: str, **headers: str):
        """
        Send a C{GET}; keyword arguments are headers (C{If_Range} is
        C{If-Range}).

        @return: the L{tests._web.Response}.
        """
        return self.client.request(path, headers={k.replace("_", "-"): v for k, v in headers.items()})


class PathTests(LibraryTestMixin, SynchronousTestCase):
    """
    Nothing outside the music folder, nothing hidden and nothing but folders
    and audio files is ever served.
    """

    def test_traversals(self) -> None:
        """
        Every path in L{TRAVERSALS} is answered 404, without the secret
        file's content.
        """
        self.assertGreaterEqual(len(TRAVERSALS), 30)
        for path in TRAVERSALS:
            response = self.get(path)
            self.assertEqual(response.status, 404, path)
            self.assertNotIn(SECRET, response.raw, path)
            self.assertNotIn(b"root:", response.raw, path)

    def test_absoluteForm(self) -> None:
        """
        A request target in absolute form cannot leave the folder either.
        """
        response = self.get("http://radio.example:8000/library/../outside/secret.mp3")
        self.assertEqual(response.status, 404)
        self.assertNotIn(SECRET, response.raw)

    def test_sameAnswerAsMissing(self) -> None:
        """
        A refused path gets exactly the answer a missing one gets.
        """
        refused = self.get("/library/escape.mp3")
        missing = self.get("/library/no-such-song.mp3")
        self.assertEqual((refused.status, refused.body), (missing.status, missing.body))

    def test_symlinkInside(self) -> None:
        """
        A symbolic link to a folder inside the library is followed.
        """
        response = self.get("/library/Jazz-link/02%20Morning.mp3")
        self.assertEqual(response.status, 200)
        self.assertEqual(response.header("content-type"), "audio/mpeg")

    def test_unicodeName(self) -> None:
        """
        A song whose name is not ASCII is served from its percent-encoded
        UTF-8 name.
        """
        response = self.get("/library/Rock/%C3%9Cn%C3%AFcode%20%E2%98%83%20song.mp3")
        self.assertEqual(response.status, 200)

    def test_checkSegments(self) -> None:
        """
        L{checkSegments} refuses dot, hidden, empty and separator segments.
        """
        for segments in ([b".."], [b"."], [b""], [b".x"], [b"a/b"], [b"a\\b"], [b"a\x00"], [b"a\nb"], [b"x" * 256]):
            self.assertRaises(PathRefused, checkSegments, segments)
        checkSegments([b"Jazz", b"01 So What.mp3"])

    def test_resolve(self) -> None:
        """
        L{Library.resolve} returns real paths inside the folder only.
        """
        real, info = self.library.resolve([b"Jazz-link"])
        self.assertEqual(real, os.path.realpath(os.path.join(self.folder.root, "Jazz")).encode())
        self.assertRaises(PathRefused, self.library.resolve, [b"escape.mp3"])
        self.assertRaises(PathRefused, self.library.resolve, [b"notes.txt"])

    def test_redirects(self) -> None:
        """
        C{/library} and a folder without its slash redirect to the folder's
        address; a redirect never points elsewhere.
        """
        response = self.get("/library")
        self.assertEqual((response.status, response.header("location")), (301, "/library/"))
        response = self.get("/library/Jazz")
        self.assertEqual((response.status, response.header("location")), (301, "/library/Jazz/"))
        response = self.get("/library/Rock/..")
        self.assertEqual(response.status, 404)


class ListingTests(LibraryTestMixin, SynchronousTestCase):
    """
    Folders are shown as pages: folders first, songs in natural order with
    titles, durations and sizes from their tags.
    """

    def test_root(self) -> None:
        """
        The root lists its folders (visible ones and links inside the
        library) and songs, not hidden files, other files or links that
        leave it.
        """
        response = self.get("/library/")
        self.assertEqual(response.status, 200)
        self.assertEqual(response.header("content-type"), "text/html; charset=utf-8")
        page = response.text
        for shown in (
            'href="/library/Jazz/"',
            'href="/library/Rock/"',
            'href="/library/Jazz-link/"',
            'href="/library/top.mp3"',
        ):
            self.assertIn(shown, page)
        for hidden in (
            ".hidden",
            ".dotfile",
            "notes.txt",
            "escape.mp3",
            "outside-link",
            "hidden-link",
            'href="/library/etc/"',
        ):
            self.assertNotIn(hidden, page)
        self.assertIn("Content-Security-Policy".lower(), response.headers)

    def test_folder(self) -> None:
        """
        A folder's songs come in natural order (2 before 10) with tag
        titles, artists, albums, lengths and sizes.
        """
        page = self.get("/library/Jazz/").text
        self.assertLess(page.index("Morning Arpeggio"), page.index("Walking Bass"))
        self.assertIn('href="/library/Jazz/Bop/"', page)
        self.assertIn("txradio demo", page)
        self.assertIn("0:20", page)
        self.assertIn("321.1 kB", page)
        self.assertIn('data-src="/library/Jazz/02%20Morning.mp3"', page)
        self.assertIn('<a href="/">Radio</a>', page)

    def test_escaping(self) -> None:
        """
        Names and tags are escaped in pages.
        """
        self.folder.write('<script>alert(1)<\\script>"&.mp3', b"\xff\xfb" * 100)
        page = self.get("/library/").text
        self.assertNotIn("<script>alert", page)
        self.assertIn("&lt;script&gt;alert(1)&lt;\\script&gt;&quot;&amp;", page)

    def test_tagsCached(self) -> None:
        """
        Tags read for a page are cached, so a second visit reads none.
        """
        self.get("/library/Jazz/")
        read = []
        self.patch(
            __import__("txradio.library.index", fromlist=["readTrackTags"]),
            "readTrackTags",
            lambda path: read.append(path) or TrackTags(),
        )
        self.get("/library/Jazz/")
        self.assertEqual(read, [])

    def test_readTrackTags(self) -> None:
        """
        L{readTrackTags} reads title, artist, album, track and length; a file
        that is not audio gives empty tags.
        """
        name = sorted(os.listdir(DEMO))[0]
        tags = readTrackTags(os.path.join(DEMO, name).encode())
        self.assertEqual(
            (tags.title, tags.artist, tags.album, tags.track), ("Morning Arpeggio", "txradio", "txradio demo", "1/3")
        )
        self.assertAlmostEqual(tags.duration, 20.04, places=1)
        self.assertEqual(readTrackTags(os.path.join(self.folder.root, "notes.txt").encode()), TrackTags())
        self.assertEqual(readTrackTags(b"/no/such/file.mp3"), TrackTags())

    def test_formats(self) -> None:
        """
        Lengths and sizes are shown briefly.
        """
        self.assertEqual([formatDuration(s) for s in (None, 5, 65.4, 3725)], ["", "0:05", "1:05", "1:02:05"])
        self.assertEqual(
            [formatSize(n) for n in (12, 4200, 4_200_000, 4_200_000_000)], ["12 bytes", "4.2 kB", "4.2 MB", "4.2 GB"]
        )
        self.assertEqual(entryURL(b"a b/\xc3\x9c#?.mp3"), "/library/a%20b/%C3%9C%23%3F.mp3")


class PagingTests(LibraryTestMixin, SynchronousTestCase):
    """
    Large folders are listed a page at a time.
    """

    pageSize = 5

    def test_pages(self) -> None:
        """
        With more entries than a page holds, C{?page=N} shows the next ones
        and links lead between pages; a bad page number shows the first.
        """
        os.makedirs(os.path.join(self.folder.root, "Many"))
        for number in range(12):
            self.folder.write(f"Many/{number:02d}.mp3", b"")
        first = self.get("/library/Many/").text
        self.assertIn("00.mp3", first)
        self.assertNotIn("05.mp3", first)
        self.assertIn('href="/library/Many/?page=2"', first)
        third = self.get("/library/Many/?page=3").text
        self.assertIn("10.mp3", third)
        self.assertIn("11.mp3", third)
        self.assertNotIn("04.mp3", third)
        self.assertIn(">11</td>", third.replace('<td class="num">', ">"))
        self.assertIn("00.mp3", self.get("/library/Many/?page=x").text)
        self.assertIn("10.mp3", self.get("/library/Many/?page=99").text)


class PlaylistTests(LibraryTestMixin, SynchronousTestCase):
    """
    Folders and sub-trees are offered as extended M3U playlists with
    absolute URLs.
    """

    def test_folder(self) -> None:
        """
        C{?m3u} lists the folder's own songs with lengths and titles.
        """
        response = self.get("/library/Jazz/?m3u")
        self.assertEqual(response.status, 200)
        self.assertEqual(response.header("content-type"), "audio/x-mpegurl; charset=utf-8")
        self.assertEqual(response.header("access-control-allow-origin"), "*")
        self.assertEqual(
            response.text.split("\r\n"),
            [
                "#EXTM3U",
                "#EXTINF:20,txradio - Morning Arpeggio",
                "http://radio.example:8000/library/Jazz/02%20Morning.mp3",
                "#EXTINF:20,txradio - Walking Bass",
                "http://radio.example:8000/library/Jazz/10%20Bass.mp3",
                "",
            ],
        )

    def test_tree(self) -> None:
        """
        C{?m3u=tree} adds the songs of sub-folders, never hidden ones or
        links that leave the library.
        """
        text = self.get("/library/?m3u=tree").text
        self.assertIn("/library/Jazz/Bop/Chimes.mp3", text)
        self.assertIn("/library/Rock/%C3%9Cn%C3%AFcode%20%E2%98%83%20song.mp3", text)
        self.assertIn("/library/top.mp3", text)
        self.assertNotIn("secret", text)
        self.assertNotIn("dotfile", text)

    def test_publicURL(self) -> None:
        """
        A configured public URL is used in playlists.
        """
        site = buildSite([self.station], clock=self.clock, publicURL="https://radio.example.org/", library=self.library)
        text = SiteClient(self, site).request("/library/Jazz/?m3u").text
        self.assertIn("https://radio.example.org/library/Jazz/02%20Morning.mp3", text)


class SearchTests(LibraryTestMixin, SynchronousTestCase):
    """
    The library is searched by title, artist, album and file name, from an
    index built in a thread.
    """

    def test_search(self) -> None:
        """
        Every word must match; results link to the song and its folder.
        """
        page = self.get("/library/?q=walking+BASS").text
        self.assertIn("Walking Bass", page)
        self.assertNotIn("Morning Arpeggio", page)
        self.assertIn('href="/library/Jazz/"', page)
        self.assertIn("1 song matches", page)
        self.assertIn("No song matches", self.get("/library/?q=nothing+like+this").text)

    def test_withinFolder(self) -> None:
        """
        A search from a folder finds only songs below it.
        """
        page = self.get("/library/Jazz/?q=chimes").text
        self.assertIn("Jazz/Bop", page)
        self.assertNotIn("Rock/", page)

    def test_resultsPlaylist(self) -> None:
        """
        C{?q=…&m3u} gives the results as a playlist.
        """
        text = self.get("/library/?q=chimes&m3u").text
        self.assertIn("/library/Jazz/Bop/Chimes.mp3", text)
        self.assertIn("/library/Rock/", text)

    def test_api(self) -> None:
        """
        C{/api/v1/library/search} answers JSON with absolute URLs.
        """
        response = self.get("/api/v1/library/search?q=morning")
        self.assertEqual(response.header("access-control-allow-origin"), "*")
        result = response.json()["results"]
        self.assertEqual([r["url"] for r in result], ["http://radio.example:8000/library/Jazz/02%20Morning.mp3"])
        self.assertEqual(result[0]["album"], "txradio demo")
        self.assertEqual(self.get("/api/v1/library").json()["songs"], 5)

    def test_hiddenNotIndexed(self) -> None:
        """
        Hidden files and links that leave the library are not indexed.
        """
        self.get("/library/?q=x")
        paths = [entry.relative for entry in self.library.index]
        self.assertNotIn(b".hidden/secret.mp3", paths)
        self.assertNotIn(b"escape.mp3", paths)
        self.assertNotIn(b".dotfile.mp3", paths)

    def test_bounded(self) -> None:
        """
        The index holds at most C{maxIndex} songs.
        """
        self.library.maxIndex = 2
        self.library.buildIndex()
        self.assertEqual(len(self.library.index), 2)
        self.assertTrue(self.library.indexTruncated)

    def test_terms(self) -> None:
        """
        Queries are cut to ten case-folded words.
        """
        self.assertEqual(searchTerms("  Miles  DAVIS\n"), ["miles", "davis"])
        self.assertEqual(len(searchTerms("a " * 50)), 10)


class ThreadTests(LibraryTestMixin, SynchronousTestCase):
    """
    Blocking work runs in threads: the reactor thread answers nothing until
    the work is done, and the number of jobs is bounded.
    """

    def runner(self):
        """
        @return: a runner that holds jobs until released.
        """
        self.held = HeldJobs()
        return self.held

    def test_listingWaits(self) -> None:
        """
        A folder page is written only once its thread job finishes.
        """
        protocol, transport = self.client.connect()
        protocol.dataReceived(requestBytes("/library/Jazz/"))
        self.assertEqual(transport.value(), b"")
        self.assertEqual(len(self.held.jobs), 1)
        self.held.release()
        self.assertIn(b"Walking Bass", transport.value())

    def test_searchWhileIndexing(self) -> None:
        """
        Before the first index is built, a search says so.
        """
        self.library.startService()
        self.addCleanup(self.library.stopService)
        response = self.get("/library/?q=bass")
        self.assertEqual(response.status, 200)
        self.assertIn("still being built", response.text)
        self.held.release()
        self.assertEqual(len(self.library.index), 5)

    def test_queued(self) -> None:
        """
        With every job slot taken, requests wait their turn and are served
        when a slot frees.
        """
        self.library.maxJobs = 2
        for path in ("/library/Jazz/", "/library/Rock/"):
            protocol, transport = self.client.connect()
            protocol.dataReceived(requestBytes(path))
        protocol, transport = self.client.connect()
        protocol.dataReceived(requestBytes("/library/"))
        self.assertEqual(transport.value(), b"")
        self.assertEqual(self.library.queue.waiting, 1)
        self.held.release()
        self.held.release()
        self.assertIn(b"200 OK", transport.value())
        self.assertEqual(self.library.jobs, 0)

    def test_busy(self) -> None:
        """
        With every job slot taken and the wait queue full, requests get 503
        with C{Retry-After} at once.
        """
        self.library.maxJobs = 2
        self.library.queue.limits.maxWaiting = 1
        for path in ("/library/Jazz/", "/library/Rock/", "/library/Jazz/Bop/"):
            protocol, transport = self.client.connect()
            protocol.dataReceived(requestBytes(path))
        response = self.get("/library/")
        self.assertEqual(response.status, 503)
        self.assertEqual(response.header("retry-after"), "5")
        self.held.release()
        self.held.release()
        self.assertEqual(self.library.jobs, 0)
        protocol, transport = self.client.connect()
        protocol.dataReceived(requestBytes("/library/"))
        self.held.release()
        self.assertIn(b"200 OK", transport.value())

    def test_waitedTooLong(self) -> None:
        """
        A request that waited C{waitTimeout} seconds gets 503 with
        C{Retry-After}.
        """
        self.library.maxJobs = 1
        protocol, transport = self.client.connect()
        protocol.dataReceived(requestBytes("/library/Jazz/"))
        protocol, transport = self.client.connect()
        protocol.dataReceived(requestBytes("/library/Rock/"))
        self.clock.advance(self.library.queue.limits.timeout)
        self.assertIn(b"503 Service Unavailable", transport.value())
        self.assertIn(b"Retry-After: 5", transport.value())
        self.assertEqual(self.library.queue.waiting, 0)

    def test_leaveQueue(self) -> None:
        """
        A client that leaves while its request waits gives up its place.
        """
        self.library.maxJobs = 1
        protocol, transport = self.client.connect()
        protocol.dataReceived(requestBytes("/library/Jazz/"))
        protocol, transport = self.client.connect()
        protocol.dataReceived(requestBytes("/library/Rock/"))
        self.assertEqual(self.library.queue.waiting, 1)
        protocol.connectionLost(Failure(ConnectionDone()))
        self.assertEqual(self.library.queue.waiting, 0)
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.held.release()
        self.assertEqual(self.held.jobs, [])
        self.assertEqual(self.library.jobs, 0)

    def test_clientGone(self) -> None:
        """
        A client that left before its page was ready gets nothing written.
        """
        protocol, transport = self.client.connect()
        protocol.dataReceived(requestBytes("/library/Jazz/"))
        protocol.connectionLost(Failure(ConnectionDone()))
        self.held.release()
        self.assertEqual(transport.value(), b"")


class FileTests(LibraryTestMixin, SynchronousTestCase):
    """
    Songs are served with their content type, ranges, C{HEAD} and
    validators.  C{top.mp3} holds 10240 bytes: C{bytes(range(256)) * 40}.
    """

    content = bytes(range(256)) * 40

    def test_whole(self) -> None:
        """
        A song is served whole with its type, length, validators and CORS.
        """
        response = self.get("/library/top.mp3")
        self.assertEqual(response.status, 200)
        self.assertEqual(response.body, self.content)
        self.assertEqual(response.header("content-type"), "audio/mpeg")
        self.assertEqual(response.header("content-length"), "10240")
        self.assertEqual(response.header("accept-ranges"), "bytes")
        self.assertEqual(response.header("access-control-allow-origin"), "*")
        self.assertTrue(response.header("etag").startswith('"'))
        self.assertIsNotNone(response.header("last-modified"))

    def test_head(self) -> None:
        """
        C{HEAD} gives the headers of C{GET} and no body.
        """
        response = self.client.request("/library/top.mp3", method=b"HEAD")
        self.assertEqual(response.status, 200)
        self.assertEqual(response.header("content-length"), "10240")
        self.assertEqual(response.raw.partition(b"\r\n\r\n")[2], b"")

    def test_rangeFromStart(self) -> None:
        """
        C{bytes=0-} is a 206 with the whole file.
        """
        response = self.get("/library/top.mp3", Range="bytes=0-")
        self.assertEqual(response.status, 206)
        self.assertEqual(response.header("content-range"), "bytes 0-10239/10240")
        self.assertEqual(response.body, self.content)

    def test_rangeMiddle(self) -> None:
        """
        A closed range gives exactly those bytes.
        """
        response = self.get("/library/top.mp3", Range="bytes=100-199")
        self.assertEqual(response.status, 206)
        self.assertEqual(response.header("content-range"), "bytes 100-199/10240")
        self.assertEqual(response.body, self.content[100:200])

    def test_suffix(self) -> None:
        """
        C{bytes=-500} gives the last 500 bytes.
        """
        response = self.get("/library/top.mp3", Range="bytes=-500")
        self.assertEqual(response.status, 206)
        self.assertEqual(response.body, self.content[-500:])
        self.assertEqual(response.header("content-range"), "bytes 9740-10239/10240")

    def test_endBeyondSize(self) -> None:
        """
        A range whose end lies past the file is cut at its end.
        """
        response = self.get("/library/top.mp3", Range="bytes=10000-99999")
        self.assertEqual(response.status, 206)
        self.assertEqual(response.body, self.content[10000:])

    def test_beyondEnd(self) -> None:
        """
        A range that starts past the end is 416 with the file's size.
        """
        response = self.get("/library/top.mp3", Range="bytes=10240-")
        self.assertEqual(response.status, 416)
        self.assertEqual(response.header("content-range"), "bytes */10240")

    def test_multiple(self) -> None:
        """
        Several ranges come as C{multipart/byteranges}.
        """
        response = self.get("/library/top.mp3", Range="bytes=0-9,20-29")
        self.assertEqual(response.status, 206)
        self.assertTrue(response.header("content-type").startswith("multipart/byteranges; boundary="))
        self.assertIn(b"content-range: bytes 0-9/10240", response.body.lower())
        self.assertIn(b"content-range: bytes 20-29/10240", response.body.lower())
        self.assertIn(self.content[20:30], response.body)

    def test_tooManyRanges(self) -> None:
        """
        A request for many ranges gets the whole file instead.
        """
        response = self.get("/library/top.mp3", Range="bytes=" + ",".join(["0-0"] * 40))
        self.assertEqual(response.status, 200)
        self.assertEqual(response.body, self.content)

    def test_malformedRange(self) -> None:
        """
        A malformed C{Range} is ignored.
        """
        response = self.get("/library/top.mp3", Range="pages=1-2")
        self.assertEqual(response.status, 200)

    def test_etag(self) -> None:
        """
        C{If-None-Match} with the current tag (or C{*}, or in a list, or
        weak) is a 304 without body; an old tag gets the file.
        """
        etag = self.get("/library/top.mp3").header("etag")
        for value in (etag, "*", f'"old", {etag}', "W/" + etag):
            response = self.get("/library/top.mp3", If_None_Match=value)
            self.assertEqual(response.status, 304, value)
            self.assertEqual(response.body, b"")
        self.assertEqual(self.get("/library/top.mp3", If_None_Match='"old"').status, 200)

    def test_ifMatch(self) -> None:
        """
        A seek that names the tag it saw (as VLC does with C{If-Match}) gets
        its range while the file is unchanged, and 412 once it changed.
        """
        etag = self.get("/library/top.mp3").header("etag")
        response = self.get("/library/top.mp3", Range="bytes=5000-", If_Match=etag)
        self.assertEqual(response.status, 206)
        self.assertEqual(response.body, self.content[5000:])
        self.assertEqual(self.get("/library/top.mp3", If_Match="*").status, 200)
        self.assertEqual(self.get("/library/top.mp3", Range="bytes=5000-", If_Match='"changed"').status, 412)
        self.assertEqual(self.get("/library/top.mp3", If_Match="W/" + etag).status, 412)

    def test_etagChanges(self) -> None:
        """
        Changing the file changes its tag.
        """
        etag = self.get("/library/top.mp3").header("etag")
        path = self.folder.write("top.mp3", b"\x00" * 10)
        os.utime(path, (1, 1))
        self.assertNotEqual(self.get("/library/top.mp3").header("etag"), etag)

    def test_ifModifiedSince(self) -> None:
        """
        C{If-Modified-Since} at or after the file's time is a 304; but
        C{If-None-Match} wins when both are sent.
        """
        later = formatdate(os.stat(os.path.join(self.folder.root, "top.mp3")).st_mtime + 60, usegmt=True)
        self.assertEqual(self.get("/library/top.mp3", If_Modified_Since=later).status, 304)
        response = self.get("/library/top.mp3", If_Modified_Since=later, If_None_Match='"old"')
        self.assertEqual(response.status, 200)

    def test_ifRange(self) -> None:
        """
        C{If-Range} with the current tag keeps the range; with another tag
        or date the whole file is sent.
        """
        response = self.get("/library/top.mp3")
        etag, modified = response.header("etag"), response.header("last-modified")
        self.assertEqual(self.get("/library/top.mp3", Range="bytes=0-9", If_Range=etag).status, 206)
        self.assertEqual(self.get("/library/top.mp3", Range="bytes=0-9", If_Range=modified).status, 206)
        self.assertEqual(self.get("/library/top.mp3", Range="bytes=0-9", If_Range='"old"').status, 200)
        old = "Thu, 01 Jan 1970 00:00:00 GMT"
        self.assertEqual(self.get("/library/top.mp3", Range="bytes=0-9", If_Range=old).status, 200)

    def test_types(self) -> None:
        """
        Audio files are served with their type by extension.
        """
        for name, kind in (
            ("a.ogg", "audio/ogg"),
            ("b.FLAC", "audio/flac"),
            ("c.m4a", "audio/mp4"),
            ("d.opus", "audio/ogg"),
        ):
            self.folder.write(name, b"data")
            self.assertEqual(self.get("/library/" + name).header("content-type"), kind)

    def test_throughListenerPort(self) -> None:
        """
        Songs are served on the listener port too (the protocol hands the
        request to the site).
        """
        from txradio.net.listenerport import ListenerFactory

        factory = ListenerFactory({self.station.mount: self.station}, site=self.site, clock=self.clock)
        client = SiteClient(self, factory, self.client.clock)
        response = client.request("/library/top.mp3", headers={"Range": "bytes=10-19"})
        self.assertEqual(response.status, 206)
        self.assertEqual(response.body, self.content[10:20])


class LibraryOffTests(SynchronousTestCase):
    """
    Without a library, C{/library/} does not exist.
    """

    def test_off(self) -> None:
        """
        C{/library/} is a 404 and the page does not link to it.
        """
        station = Station(FakeFrameSource(), clock=Clock())
        client = SiteClient(self, buildSite([station], clock=Clock()))
        self.assertEqual(client.request("/library/").status, 404)
        self.assertNotIn("/library/", client.request("/").text)
        self.assertEqual(client.request("/api/v1/library/search?q=x").status, 404)
