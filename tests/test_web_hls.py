"""
Tests for L{txradio.web.hls}: HLS playlists and segments on the web site,
their caching headers, variants, session counting and the status and page
that point at them.
"""

from __future__ import annotations

import csv
import io
import os

from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactorClock
from twisted.trial.unittest import SynchronousTestCase

from tests._web import SiteClient, basicAuth, runNow
from txradio.build import serviceFromConfig
from txradio.config import parseConfig
from txradio.operations.audience import AudienceRecorder
from txradio.operations.audiencedb import AudienceDatabase
from txradio.operations.logs import AddressPolicy
from txradio.sources.tracks import demoTracks
from txradio.stream.events import HLS_IDLE, STATION_STOPPED, HLSSessionEnded
from txradio.stream.station import Station
from txradio.testing import FakeFrameSource
from txradio.web.hls import HLSSettings, SessionCounter
from txradio.web.page import HLS_SCRIPT, assetURL
from txradio.web.site import buildSite
from txradio.wire.icy import StreamInfo


def uris(text: str) -> list[str]:
    """
    @return: the URI lines of a playlist.
    """
    return [line for line in text.splitlines() if line and not line.startswith("#")]


class HLSSiteTestMixin:
    """
    A started station with HLS on a fake clock, and a client for its site.
    """

    hls: HLSSettings | None = None
    adminPassword: str | None = None

    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1795000000)
        self.station = Station(
            FakeFrameSource(["Artist - Song"], framesPerTrack=100000),
            mount="/stream",
            info=StreamInfo(name="Main", bitrate=128),
            clock=self.clock,
        )
        self.stations = [self.station]
        self.extraStations()
        self.site = buildSite(self.stations, clock=self.clock, hls=self.hls, adminPassword=self.adminPassword)
        self.site.webService.startService()
        for station in self.stations:
            station.startService()
        self.client = SiteClient(self, self.site, self.clock)

    def extraStations(self) -> None:
        """
        Add stations before the site is built.
        """

    def tearDown(self) -> None:
        for station in self.stations:
            station.stopService()
        self.site.webService.stopService()

    def run_(self, seconds: int) -> None:
        """
        Let the stations play.
        """
        for _ in range(seconds):
            self.clock.advance(1)


class PlaylistTests(HLSSiteTestMixin, SynchronousTestCase):
    """
    C{/MOUNT.m3u8}.
    """

    def test_beforeFirstSegment(self) -> None:
        """
        Before the first segment, the playlist is a live playlist with no
        segment, which caches must not keep.
        """
        response = self.client.request("/stream.m3u8")
        self.assertEqual(response.status, 200)
        self.assertEqual(response.header("cache-control"), "no-cache")
        self.assertEqual(
            response.body,
            b"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:0\n",
        )

    def test_playlist(self) -> None:
        """
        The playlist is served with its media type, half a target duration
        of caching, CORS and an entity tag; its URIs are relative.
        """
        self.run_(60)
        response = self.client.request("/stream.m3u8")
        self.assertEqual(response.status, 200)
        self.assertEqual(response.header("content-type"), "application/vnd.apple.mpegurl")
        self.assertEqual(response.header("cache-control"), "public, max-age=3")
        self.assertEqual(response.header("access-control-allow-origin"), "*")
        self.assertTrue(response.header("etag").startswith('"'))
        text = response.body.decode("utf-8")
        self.assertTrue(text.startswith("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:6\n"))
        self.assertNotIn("#EXT-X-ENDLIST", text)
        self.assertEqual(len(uris(text)), 6)
        for uri in uris(text):
            self.assertRegex(uri, r"^stream/hls/\d+\.mp3$")

    def test_notModified(self) -> None:
        """
        A client holding the current playlist gets 304; once a segment is
        added, the tag changes.
        """
        self.run_(30)
        first = self.client.request("/stream.m3u8")
        again = self.client.request("/stream.m3u8", headers={"If-None-Match": first.header("etag")})
        self.assertEqual(again.status, 304)
        self.assertEqual(again.body, b"")
        self.run_(7)
        later = self.client.request("/stream.m3u8", headers={"If-None-Match": first.header("etag")})
        self.assertEqual(later.status, 200)
        self.assertNotEqual(later.header("etag"), first.header("etag"))

    def test_head(self) -> None:
        """
        HEAD gives the headers and no body.
        """
        self.run_(30)
        response = self.client.request("/stream.m3u8", method=b"HEAD")
        self.assertEqual(response.status, 200)
        self.assertEqual(response.header("content-type"), "application/vnd.apple.mpegurl")
        self.assertEqual(response.body, b"")

    def test_preflight(self) -> None:
        """
        A CORS preflight is answered.
        """
        response = self.client.request("/stream.m3u8", method=b"OPTIONS")
        self.assertEqual(response.header("access-control-allow-origin"), "*")

    def test_builtOncePerSegment(self) -> None:
        """
        The playlist is built once per new segment, whatever the number of
        clients.
        """
        self.run_(30)
        mount = self.site.resource.hls.mounts[b"/stream"]
        first = self.client.request("/stream.m3u8").body
        built = mount._playlist
        for _ in range(5):
            self.assertEqual(self.client.request("/stream.m3u8").body, first)
        self.assertIs(mount._playlist, built)


class SegmentTests(HLSSiteTestMixin, SynchronousTestCase):
    """
    C{/MOUNT/hls/N.mp3}.
    """

    def test_segment(self) -> None:
        """
        A listed segment is served from memory as immutable MP3 audio with
        a strong entity tag, starting with its ID3 timestamp tag.
        """
        self.run_(30)
        uri = uris(self.client.request("/stream.m3u8").body.decode())[-1]
        response = self.client.request("/" + uri)
        self.assertEqual(response.status, 200)
        self.assertEqual(response.header("content-type"), "audio/mpeg")
        self.assertEqual(response.header("cache-control"), "public, max-age=86400, immutable")
        self.assertEqual(response.header("access-control-allow-origin"), "*")
        self.assertRegex(response.header("etag"), r'^"[0-9a-f]{24}"$')
        self.assertTrue(response.body.startswith(b"ID3\x04"))
        self.assertIn(b"com.apple.streaming.transportStreamTimestamp", response.body[:80])
        sequence = int(uri.rsplit("/", 1)[1].split(".")[0])
        self.assertEqual(response.body, self.site.resource.hls.mounts[b"/stream"].segmenter.segment(sequence).data)

    def test_notModified(self) -> None:
        """
        A client or cache revalidating a segment gets 304, weak tags too.
        """
        self.run_(30)
        uri = "/" + uris(self.client.request("/stream.m3u8").body.decode())[0]
        etag = self.client.request(uri).header("etag")
        for header in (etag, "W/" + etag, '"other", ' + etag, "*"):
            self.assertEqual(self.client.request(uri, headers={"If-None-Match": header}).status, 304)
        self.assertEqual(self.client.request(uri, headers={"If-None-Match": '"other"'}).status, 200)

    def test_head(self) -> None:
        """
        HEAD on a segment gives its length and no body.
        """
        self.run_(30)
        uri = "/" + uris(self.client.request("/stream.m3u8").body.decode())[0]
        response = self.client.request(uri, method=b"HEAD")
        self.assertEqual(response.status, 200)
        self.assertEqual(int(response.header("content-length")), len(self.client.request(uri).body))

    def test_gone(self) -> None:
        """
        A segment long out of the window, one not made yet and a malformed
        name are 404s that caches must not keep.
        """
        self.run_(30)
        uri = "/" + uris(self.client.request("/stream.m3u8").body.decode())[0]
        self.run_(300)
        for path in (uri, "/stream/hls/9999999999.mp3", "/stream/hls/x.mp3", "/stream/hls/1.ts"):
            response = self.client.request(path)
            self.assertEqual(response.status, 404, path)
            self.assertEqual(response.header("cache-control"), "no-cache")

    def test_keptAfterLeavingPlaylist(self) -> None:
        """
        A segment that has just left the playlist is still served, for
        clients that read an older playlist.
        """
        self.run_(40)
        uri = "/" + uris(self.client.request("/stream.m3u8").body.decode())[0]
        self.run_(12)
        self.assertNotIn(uri[1:], uris(self.client.request("/stream.m3u8").body.decode()))
        self.assertEqual(self.client.request(uri).status, 200)

    def test_requestCount(self) -> None:
        """
        Requests are counted per segment.
        """
        self.run_(30)
        uri = "/" + uris(self.client.request("/stream.m3u8").body.decode())[0]
        for _ in range(3):
            self.client.request(uri)
        sequence = int(uri.rsplit("/", 1)[1].split(".")[0])
        self.assertEqual(self.site.resource.hls.mounts[b"/stream"].segmentRequests[sequence], 3)


class VariantTests(HLSSiteTestMixin, SynchronousTestCase):
    """
    C{/MOUNT/master.m3u8} lists a mount and its derived mounts.
    """

    def extraStations(self) -> None:
        low = Station(
            FakeFrameSource(["Artist - Song"], framesPerTrack=100000),
            mount="/stream-64",
            info=StreamInfo(name="Low", bitrate=64),
            clock=self.clock,
        )
        low.derivedFrom = self.station
        self.station.derived = [low]
        self.low = low
        self.stations.append(low)

    def test_master(self) -> None:
        """
        The master playlist lists the mount, then its derived mount, with
        their bandwidths and the MP3 codec; before any segment the nominal
        bitrate stands in.
        """
        text = self.client.request("/stream/master.m3u8").body.decode()
        self.assertEqual(
            text,
            "#EXTM3U\n"
            "#EXT-X-VERSION:3\n"
            '#EXT-X-STREAM-INF:BANDWIDTH=128000,CODECS="mp4a.40.34"\n'
            "../stream.m3u8\n"
            '#EXT-X-STREAM-INF:BANDWIDTH=64000,CODECS="mp4a.40.34"\n'
            "../stream-64.m3u8\n",
        )

    def test_measured(self) -> None:
        """
        Once segments exist, bandwidths are measured from them (tags
        included), and the derived mount's master lists its family too.
        """
        self.run_(30)
        response = self.client.request("/stream-64/master.m3u8")
        self.assertEqual(response.header("content-type"), "application/vnd.apple.mpegurl")
        lines = response.body.decode().splitlines()
        self.assertEqual(lines[3], "../stream-64.m3u8")
        self.assertEqual(lines[5], "../stream.m3u8")
        self.assertRegex(
            lines[2], r'^#EXT-X-STREAM-INF:BANDWIDTH=129000,AVERAGE-BANDWIDTH=12\d\d\d\d,CODECS="mp4a.40.34"$'
        )


class PlaylistFileTests(HLSSiteTestMixin, SynchronousTestCase):
    """
    The M3U, PLS and XSPF files of a mount list its ICY stream first, then
    its other bitrates, then (XSPF only) its HLS playlist.
    """

    base = "http://radio.example:8000"
    extraStations = VariantTests.extraStations

    def m3u(self, path: str) -> list[str]:
        """
        @return: the URLs an M3U file lists.
        """
        return [line for line in self.client.request(path).text.split("\r\n") if line and not line.startswith("#")]

    def test_m3u(self) -> None:
        """
        C{/stream.m3u} lists C{/stream}, then C{/stream-64}, titled after the
        stations, and not the HLS playlist: classic players play every entry
        of an M3U file as an MP3 stream.
        """
        text = self.client.request("/stream.m3u").text
        self.assertEqual(
            text,
            f"#EXTM3U\r\n#EXTINF:-1,Main\r\n{self.base}/stream\r\n#EXTINF:-1,Low\r\n{self.base}/stream-64\r\n",
        )
        self.assertEqual(self.m3u("/listen.m3u"), self.m3u("/stream.m3u"))

    def test_derivedMount(self) -> None:
        """
        A derived mount's M3U file lists itself first, then the mount it
        re-encodes; its XSPF file then lists its own master playlist.
        """
        self.assertEqual(self.m3u("/stream-64.m3u"), [f"{self.base}/stream-64", f"{self.base}/stream"])
        self.assertEqual(
            self.xspf("/stream-64.xspf"),
            [f"{self.base}/stream-64", f"{self.base}/stream", f"{self.base}/stream-64/master.m3u8"],
        )

    def test_pls(self) -> None:
        """
        A PLS file lists only the ICY streams: players that read PLS take
        every entry for an MP3 stream.
        """
        for path in ("/stream.pls", "/listen.pls"):
            text = self.client.request(path).text
            self.assertIn(f"File1={self.base}/stream\r\nTitle1=Main\r\n", text)
            self.assertIn(f"File2={self.base}/stream-64\r\nTitle2=Low\r\n", text)
            self.assertIn("NumberOfEntries=2\r\n", text)
            self.assertNotIn("m3u8", text)

    def xspf(self, path: str, client: SiteClient | None = None) -> list[str]:
        """
        @return: the URLs an XSPF file lists.
        """
        text = (client or self.client).request(path).text
        return [part.partition("</location>")[0] for part in text.split("<location>")[1:]]

    def test_xspf(self) -> None:
        """
        An XSPF file lists the M3U file's entries, in order, then the
        mount's master playlist (the mount has variants).
        """
        self.assertEqual(self.xspf("/stream.xspf"), [*self.m3u("/stream.m3u"), f"{self.base}/stream/master.m3u8"])
        self.assertIn("<title>Main (HLS)</title>", self.client.request("/stream.xspf").text)

    def test_mediaPlaylistWithoutVariants(self) -> None:
        """
        A mount without variants offers its media playlist in its XSPF file,
        and nothing but its stream in its M3U file.
        """
        site = buildSite([Station(FakeFrameSource(), mount="/solo", clock=self.clock)], clock=self.clock)
        client = SiteClient(self, site, self.clock)
        self.assertEqual(self.xspf("/solo.xspf", client), [f"{self.base}/solo", f"{self.base}/solo.m3u8"])
        self.assertEqual(client.request("/solo.m3u").text, f"#EXTM3U\r\n#EXTINF:-1,txradio\r\n{self.base}/solo\r\n")

    def test_noHLS(self) -> None:
        """
        Without HLS, or for a mount that opts out, the files list only ICY
        streams.
        """
        off = buildSite(self.stations, clock=self.clock, hls=HLSSettings(enabled=False))
        self.assertNotIn("m3u8", SiteClient(self, off, self.clock).request("/stream.xspf").text)
        self.low.hls = False
        quiet = buildSite(self.stations, clock=self.clock)
        client = SiteClient(self, quiet, self.clock)
        self.assertNotIn("m3u8", client.request("/stream-64.xspf").text)
        # /stream's only variant is gone: its media playlist, not a master.
        self.assertEqual(self.xspf("/stream.xspf", client)[-1], f"{self.base}/stream.m3u8")


class OptOutTests(SynchronousTestCase):
    """
    HLS can be turned off for a radio or one mount.
    """

    def test_off(self) -> None:
        """
        With HLS off, there are no HLS paths and no segmenter.
        """
        clock = Clock()
        station = Station(FakeFrameSource(), clock=clock)
        site = buildSite([station], clock=clock, hls=HLSSettings(enabled=False))
        client = SiteClient(self, site, clock)
        self.assertEqual(client.request("/stream.m3u8").status, 404)
        self.assertEqual(client.request("/stream/master.m3u8").status, 404)
        self.assertEqual(site.resource.hls.mounts, {})

    def test_mountOptsOut(self) -> None:
        """
        A station whose C{hls} attribute is false serves no HLS; others do.
        """
        clock = Clock()
        quiet = Station(FakeFrameSource(), mount="/quiet", clock=clock)
        quiet.hls = False
        loud = Station(FakeFrameSource(), mount="/loud", clock=clock)
        site = buildSite([quiet, loud], clock=clock)
        self.assertEqual(list(site.resource.hls.mounts), [b"/loud"])


class ConfigurationTests(SynchronousTestCase):
    """
    A radio built from a configuration file serves HLS as its C{[hls]}
    table and its mounts' C{hls} keys say.
    """

    def test_fromConfig(self) -> None:
        """
        C{[hls]} sets every segmenter's segment length and window, and a
        mount with C{hls = false} has no HLS.
        """
        demo = os.path.dirname(demoTracks().paths[0])
        config = parseConfig(
            "[hls]\nsegment = 4\nwindow = 8\n"
            f'[[mount]]\npath = "/a"\nplaylist = "{demo}"\n'
            f'[[mount]]\npath = "/b"\nplaylist = "{demo}"\nhls = false\n'
        )
        service = serviceFromConfig(config, MemoryReactorClock())
        hls = service.factory.site.resource.hls
        self.assertEqual(hls.settings, HLSSettings(targetDuration=4, windowSegments=8))
        self.assertEqual(list(hls.mounts), [b"/a"])
        segmenter = hls.mounts[b"/a"].segmenter
        self.assertEqual((segmenter.targetDuration, segmenter.windowSegments), (4, 8))

    def test_offInConfig(self) -> None:
        """
        C{enabled = false} in C{[hls]} turns HLS off for every mount.
        """
        demo = os.path.dirname(demoTracks().paths[0])
        config = parseConfig(f'[hls]\nenabled = false\n[[mount]]\npath = "/a"\nplaylist = "{demo}"\n')
        service = serviceFromConfig(config, MemoryReactorClock())
        self.assertEqual(service.factory.site.resource.hls.mounts, {})


class StatusAndPageTests(HLSSiteTestMixin, SynchronousTestCase):
    """
    The status API and the station page point at HLS.
    """

    def test_status(self) -> None:
        """
        The mount's status gives its HLS URLs and sessions.
        """
        self.run_(30)
        self.client.request("/stream.m3u8", headers={"User-Agent": "one"})
        self.client.request("/stream.m3u8", headers={"User-Agent": "two"})
        status = self.client.request("/api/v1/mounts/stream").json()
        self.assertEqual(status["hls"]["playlistURL"], "http://radio.example:8000/stream.m3u8")
        self.assertEqual(status["hls"]["masterURL"], "http://radio.example:8000/stream/master.m3u8")
        self.assertEqual(status["hls"]["sessions"], 2)
        self.assertEqual(status["hls"]["targetDuration"], 6)
        self.assertEqual(status["listeners"], 0)
        self.run_(19)
        self.assertEqual(self.client.request("/api/v1/status").json()["mounts"][0]["hls"]["sessions"], 0)

    def test_page(self) -> None:
        """
        The player knows the mount's HLS playlist, and the page links it.
        """
        page = self.client.request("/").body.decode()
        self.assertIn('data-hls="/stream.m3u8"', page)
        self.assertIn('href="/stream.m3u8"', page)

    def test_hlsScript(self) -> None:
        """
        The player is told where the shipped hls.js is, without the page
        loading it (the script loads it only when it needs it); it is
        served from C{/static/} for long caching, and the page's policy
        lets hls.js give the audio element a C{blob:} source.
        """
        response = self.client.request("/")
        page = response.body.decode()
        url = assetURL(HLS_SCRIPT)
        self.assertIn(f'data-hls-script="{url}"', page)
        self.assertNotIn(f'<script src="{url}"', page)
        self.assertIn("media-src 'self' blob:", response.header("content-security-policy"))
        script = self.client.request(url)
        self.assertEqual(script.status, 200)
        self.assertEqual(script.header("content-type"), "text/javascript; charset=utf-8")
        self.assertEqual(script.header("cache-control"), "public, max-age=31536000, immutable")
        self.assertTrue(script.body.startswith(b"!function"), script.body[:40])


class SessionCounterTests(SynchronousTestCase):
    """
    Tests for L{SessionCounter}.
    """

    def test_window(self) -> None:
        """
        A client counts for the window after its last request.
        """
        clock = Clock()
        counter = SessionCounter(clock, 18)
        counter.seen("a")
        clock.advance(10)
        counter.seen("b")
        counter.seen("a")
        self.assertEqual(counter.count(), 2)
        clock.advance(18.5)
        self.assertEqual(counter.count(), 0)

    def test_bounded(self) -> None:
        """
        At most C{limit} clients are remembered.
        """
        counter = SessionCounter(Clock(), 18, limit=3)
        for key in "abcde":
            counter.seen(key)
        self.assertEqual(counter.count(), 3)

    def test_ended(self) -> None:
        """
        A session ends, once, when its client fetched nothing for the
        window: with the times of its first and last requests.  A client
        back after that starts a new session.
        """
        clock = Clock()
        ended: list[tuple[object, float, float, bool]] = []
        counter = SessionCounter(clock, 18, ended=lambda *args: ended.append(args))
        counter.seen("a")
        clock.advance(6)
        counter.seen("a")
        clock.advance(18)
        counter.expire()
        self.assertEqual(ended, [])
        clock.advance(1)
        counter.seen("b")
        self.assertEqual(ended, [("a", 0.0, 6.0, True)])
        counter.expire()
        self.assertEqual(len(ended), 1)
        clock.advance(30)
        counter.seen("b")
        self.assertEqual(ended[1:], [("b", 25.0, 25.0, True)])
        counter.endAll()
        self.assertEqual(ended[2:], [("b", 55.0, 55.0, False)])
        self.assertEqual(counter.count(), 0)

    def test_pushedOut(self) -> None:
        """
        A session pushed out by the limit ends, not idle.
        """
        ended: list[tuple[object, float, float, bool]] = []
        counter = SessionCounter(Clock(), 18, limit=1, ended=lambda *args: ended.append(args))
        counter.seen("a")
        counter.seen("b")
        self.assertEqual(ended, [("a", 0.0, 0.0, False)])


class SessionEventTests(HLSSiteTestMixin, SynchronousTestCase):
    """
    Ended HLS sessions reach the station's observers, and the audience
    statistics keep them.
    """

    adminPassword = "secret"

    def setUp(self) -> None:
        super().setUp()
        self.events: list[HLSSessionEnded] = []
        self.station.events.subscribe(
            lambda event: self.events.append(event) if isinstance(event, HLSSessionEnded) else None
        )

    def test_idle(self) -> None:
        """
        A player fetching the playlist and segments for a minute, then
        nothing, ends its session three target durations after its last
        request, without any further request (the site sweeps every target
        duration); its length runs to the end of the last segment it could
        fetch.  Two players behind one address are two sessions.
        """
        self.run_(30)
        start = self.clock.seconds()
        for second in range(0, 61, 6):
            self.client.request("/stream.m3u8", headers={"User-Agent": "Player/1"})
            if second <= 30:
                self.client.request("/stream.m3u8", headers={"User-Agent": "Other/2"})
            self.run_(6)
        self.assertEqual([e.userAgent for e in self.events], ["Other/2"])
        self.run_(3 * 6 + 6)
        self.assertEqual(
            [(e.userAgent, e.when - start, e.seconds, e.reason) for e in self.events],
            [("Other/2", 36.0, 36.0, HLS_IDLE), ("Player/1", 66.0, 66.0, HLS_IDLE)],
        )
        self.assertEqual({e.peer for e in self.events}, {self.events[0].peer})

    def test_removed(self) -> None:
        """
        A mount that stops serving HLS ends its sessions.
        """
        self.run_(30)
        self.client.request("/stream.m3u8", headers={"User-Agent": "Player/1"})
        self.site.resource.hls.removeStation(self.station)
        self.assertEqual([(e.userAgent, e.reason) for e in self.events], [("Player/1", STATION_STOPPED)])

    def test_stopped(self) -> None:
        """
        Stopping the site ends the sessions still open.
        """
        self.run_(30)
        self.client.request("/stream.m3u8", headers={"User-Agent": "Player/1"})
        self.site.webService.stopService()
        self.assertEqual([(e.userAgent, e.reason) for e in self.events], [("Player/1", STATION_STOPPED)])

    def test_recorded(self) -> None:
        """
        The audience statistics keep an HLS session with the protocol
        C{hls}, the player and the address as the privacy setting shows
        it, in C{sessions.csv} as in the database.
        """
        database = AudienceDatabase(":memory:")
        recorder = AudienceRecorder(database, self.clock, runNow, hosts=AddressPolicy("truncate").host)
        self.station.events.subscribe(recorder)
        self.site.setAudience(recorder)
        self.run_(30)
        for _ in range(10):
            self.client.request("/stream.m3u8", headers={"User-Agent": "AppleCoreMedia/1.0"})
            self.run_(6)
        self.run_(30)
        rows = self.successResultOf(recorder.query(database.sessionPage, 0, 2e9, None, None))
        self.assertEqual(
            [row[3:8] for row in rows],
            [("/stream", 60.0, "hls", "AppleCoreMedia/1.0", "192.0.2.0")],
        )
        response = self.client.request(
            "/admin/reports/sessions.csv?from=0&to=2000000000", headers={"Authorization": basicAuth("admin", "secret")}
        )
        sessions = list(csv.DictReader(io.StringIO(response.body.decode())))
        self.assertEqual(
            [(row["protocol"], row["player"], float(row["seconds"])) for row in sessions],
            [("hls", "AppleCoreMedia/1.0", 60.0)],
        )
