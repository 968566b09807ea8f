"""
Tests for L{txradio.library.art} and L{txradio.web.art}: covers read from
tags, the bounded cache, C{/art/…}, the status's C{art} field and the
C{StreamUrl} of ICY metadata blocks.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from html.parser import HTMLParser

from mutagen.id3 import APIC, ID3
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from tests._web import DEMO, MusicFolder, SiteClient, runNow
from txradio.library.art import MAX_PICTURE_BYTES, ArtCache, pictureOf
from txradio.stream.broadcast import Broadcaster
from txradio.testing import FakeFrameSource, FakeProgramme
from txradio.web.art import artName, installStreamURLs, withArt
from txradio.wire.icy import encodeMetadata, parseMetadata

JPEG = b"\xff\xd8\xff\xe0" + b"jpeg-bytes" * 10
PNG = b"\x89PNG\r\n\x1a\n" + b"png-bytes" * 10


def taggedCopy(testCase: SynchronousTestCase, picture: bytes | None, name: str = "song.mp3") -> str:
    """
    @return: a copy of a demo MP3 with C{picture} as its ID3 front cover.
    """
    folder = tempfile.mkdtemp(prefix="txradio-art-")
    testCase.addCleanup(shutil.rmtree, folder)
    path = os.path.join(folder, name)
    shutil.copy(os.path.join(DEMO, sorted(os.listdir(DEMO))[0]), path)
    if picture is not None:
        tags = ID3()
        tags.add(APIC(encoding=3, mime="image/jpeg", type=3, desc="Cover", data=picture))
        tags.save(path)
    return path


class PictureTests(SynchronousTestCase):
    """
    L{pictureOf} and L{ArtCache}.
    """

    def test_apic(self) -> None:
        """
        The APIC frame's picture is read, its type sniffed from its bytes.
        """
        self.assertEqual(pictureOf(taggedCopy(self, JPEG)), (JPEG, "image/jpeg"))
        self.assertEqual(pictureOf(taggedCopy(self, PNG)), (PNG, "image/png"))

    def test_none(self) -> None:
        """
        No tags, a missing file, a non-image or too big a picture: nothing.
        """
        self.assertIsNone(pictureOf(taggedCopy(self, None)))
        self.assertIsNone(pictureOf("/nonexistent/file.mp3"))
        self.assertIsNone(pictureOf(taggedCopy(self, b"<svg onload=alert(1)>")))
        self.assertIsNone(pictureOf(taggedCopy(self, JPEG[:4] + b"x" * MAX_PICTURE_BYTES)))

    def test_cacheByContent(self) -> None:
        """
        Names are content hashes: two files with one cover share a picture.
        """
        cache = ArtCache()
        first = cache.nameFor(taggedCopy(self, JPEG, "a.mp3"))
        second = cache.nameFor(taggedCopy(self, JPEG, "b.mp3"))
        assert first is not None
        self.assertEqual(first, second)
        self.assertTrue(first.endswith(".jpg"))
        self.assertEqual(cache.get(first), (JPEG, "image/jpeg"))
        self.assertIsNone(cache.get("nope.jpg"))

    def test_mtime(self) -> None:
        """
        A file is read again when its modification time changes.
        """
        cache = ArtCache()
        path = taggedCopy(self, JPEG)
        before = cache.nameFor(path)
        tags = ID3(path)
        tags.delall("APIC")
        tags.add(APIC(encoding=3, mime="image/png", type=3, desc="", data=PNG))
        tags.save(path)
        os.utime(path, (1, 1))
        after = cache.nameFor(path)
        self.assertNotEqual(before, after)
        assert after is not None
        self.assertTrue(after.endswith(".png"))

    def test_bounds(self) -> None:
        """
        The cache keeps at most its count and bytes, least recent first out.
        """
        cache = ArtCache(maxPictures=2, maxBytes=250)
        names = [cache.nameFor(taggedCopy(self, JPEG + bytes([i]) * 10, f"{i}.mp3")) for i in range(3)]
        self.assertIsNone(cache.get(names[0] or ""))
        self.assertIsNotNone(cache.get(names[2] or ""))
        self.assertLessEqual(len(cache._pictures), 2)
        self.assertLessEqual(cache.size, 250)
        big = ArtCache(maxBytes=50)
        self.assertIsNone(big.nameFor(taggedCopy(self, JPEG)))
        self.assertEqual(big.size, 0)


class _Station:
    """
    Just enough of a station for L{artName}.
    """

    mount = b"/stream"
    live = None

    def __init__(self, path: str | None) -> None:
        self.programme = FakeProgramme()
        self.programme.trackPath = path
        self.broadcaster = Broadcaster(FakeFrameSource(["T"]), clock=Clock())


class WebTests(SynchronousTestCase):
    """
    L{txradio.web.art}.
    """

    def setUp(self) -> None:
        self.cache = ArtCache()
        self.path = taggedCopy(self, JPEG)
        self.name = self.cache.nameFor(self.path)
        self.patch(__import__("txradio.web.art", fromlist=["isLive"]), "isLive", lambda station: False)

    def test_status(self) -> None:
        """
        The status's C{art} is the absolute URL of the current track's
        picture, or L{None}.
        """
        station = _Station(self.path)
        self.assertEqual(withArt({}, station, "http://r:8000", self.cache), {"art": f"http://r:8000/art/{self.name}"})  # type: ignore[arg-type]
        self.assertEqual(withArt({}, _Station(None), "http://r", self.cache), {"art": None})  # type: ignore[arg-type]
        self.assertEqual(withArt({}, station, "http://r", None), {"art": None})  # type: ignore[arg-type]
        self.assertEqual(artName(station, self.cache), self.name)  # type: ignore[arg-type]

    def test_undeclaredProgramme(self) -> None:
        """
        A programme that does not provide L{IProgramme} (a relay, an
        encoder) has no picture, even with a C{trackPath} of its own.
        """
        station = _Station(self.path)
        station.programme = FakeFrameSource(["T"])
        station.programme.trackPath = self.path  # type: ignore[attr-defined]
        self.assertIsNone(artName(station, self.cache))  # type: ignore[arg-type]

    def test_streamURL(self) -> None:
        """
        With a public URL the metadata block where the title changes carries
        C{StreamUrl='<art URL>'}; without one, none.
        """
        station = _Station(self.path)
        installStreamURLs([station], self.cache, "https://radio.example/")  # type: ignore[list-item]
        station.broadcaster._changeTitle("Artist - Song")
        expected = encodeMetadata("Artist - Song", f"https://radio.example/art/{self.name}")
        self.assertEqual(station.broadcaster._block, expected)
        self.assertEqual(
            parseMetadata(expected[1:].rstrip(b"\0")),
            {"StreamTitle": "Artist - Song", "StreamUrl": f"https://radio.example/art/{self.name}"},
        )
        bare = _Station(self.path)
        installStreamURLs([bare], self.cache, None)  # type: ignore[list-item]
        bare.broadcaster._changeTitle("Artist - Song")
        self.assertEqual(bare.broadcaster._block, encodeMetadata("Artist - Song"))

    def test_served(self) -> None:
        """
        C{/art/<name>} serves a cached picture with its type; other names 404.
        """
        from txradio.stream.station import Station
        from txradio.web.site import buildSite

        clock = Clock()
        site = buildSite([Station(FakeFrameSource(["F"]), clock=clock)], clock=clock)
        cache = site.root.context.art  # type: ignore[attr-defined]
        name = cache.nameFor(self.path)
        client = SiteClient(self, site, clock)
        response = client.request(f"/art/{name}")
        self.assertEqual(response.status, 200)
        self.assertEqual(response.body, JPEG)
        self.assertEqual(response.headers["content-type"], ["image/jpeg"])
        self.assertEqual(client.request("/art/" + "0" * 32 + ".jpg").status, 404)
        self.assertEqual(client.request("/art/../etc/passwd").status, 404)
        status = client.request("/api/v1/status").json()
        self.assertIn("art", status["mounts"][0])


class PagesTests(SynchronousTestCase):
    """
    The station page, its live events and the library's folder pages show
    the album art.
    """

    def setUp(self) -> None:
        from txradio.library.index import Library
        from txradio.stream.station import Station
        from txradio.web.site import buildSite

        self.clock = Clock()
        self.folder = MusicFolder()
        self.addCleanup(self.folder.remove)
        self.path = os.path.join(self.folder.root, "Jazz", "02 Morning.mp3")
        tags = ID3()
        tags.add(APIC(encoding=3, mime="image/jpeg", type=3, desc="Cover", data=JPEG))
        tags.save(self.path)
        self.source = FakeProgramme(["Artist - Song"])
        self.station = Station(self.source, clock=self.clock)
        self.library = Library(self.folder.root, runInThread=runNow, clock=self.clock)
        self.site = buildSite([self.station], clock=self.clock, library=self.library)
        self.context = self.site.root.context  # type: ignore[attr-defined]
        self.client = SiteClient(self, self.site, self.clock)
        self.patch(__import__("txradio.web.art", fromlist=["isLive"]), "isLive", lambda station: False)

    def art(self, document: str) -> list[dict[str, str]]:
        """
        @return: the attributes of the document's C{<img>} elements.
        """
        found: list[dict[str, str]] = []

        class Images(HTMLParser):
            def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
                if tag == "img":
                    found.append({name: value or "" for name, value in attrs})

        Images().feed(document)
        return found

    def test_stationPage(self) -> None:
        """
        The station page shows the picture of the track playing; without
        one the picture is there, hidden, for the page's script to fill.
        """
        images = self.art(self.client.request("/").text)
        self.assertEqual([(i["data-field"], i["src"], "hidden" in i) for i in images], [("art", "", True)])
        self.source.trackPath = self.path
        name = self.context.art.nameFor(self.path)
        images = self.art(self.client.request("/").text)
        self.assertEqual([(i["data-field"], i["src"], "hidden" in i) for i in images], [("art", f"/art/{name}", False)])
        self.assertEqual(self.client.request(images[0]["src"]).body, JPEG)

    def test_events(self) -> None:
        """
        The live events carry the picture's path, so the open page changes
        it with the track.
        """
        from txradio.web.events import EventHub

        hub = EventHub(self.context, self.clock)
        self.assertIsNone(hub.snapshot()["/stream"]["art"])
        self.source.trackPath = self.path
        self.assertEqual(hub.snapshot()["/stream"]["art"], "/art/" + str(self.context.art.nameFor(self.path)))

    def test_folderPage(self) -> None:
        """
        A folder page shows the cover of its first songs; a folder whose
        songs have none shows no picture.
        """
        images = self.art(self.client.request("/library/Jazz/").text)
        name = self.context.art.nameFor(self.path)
        self.assertEqual([(i["src"], i["alt"]) for i in images], [(f"/art/{name}", "Cover of Jazz")])
        self.assertEqual(self.art(self.client.request("/library/Rock/").text), [])
