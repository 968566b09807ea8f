"""
Tests for programme blocks that query the library index: the pure matching
(L{txradio.wire.query}), the track list over the index
(L{txradio.library.query}), the fallback to the default block, and the
configuration.
"""

from __future__ import annotations

import os
import random
import shutil
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from txradio.library.entries import IndexEntry, TrackTags, readTrackTags
from txradio.library.index import Library, LibraryBusy
from txradio.library.query import QueryTracks, selectSongs
from txradio.sources.schedule import Block, ScheduledTracks
from txradio.sources.tracks import ListTracks, NoTracks
from txradio.wire.query import TrackQuery, matches, parseQuery, parseYears, words, yearOf
from txradio.wire.schedule import parseWhen

DEMO = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "txradio", "demo")


def entry(relative: str, artist: str = "", album: str = "", genre: str = "", year: int | None = None) -> IndexEntry:
    """
    @return: an index entry with these tags.
    """
    tags = TrackTags(title=relative, artist=artist, album=album, genre=genre, year=year)
    return IndexEntry(relative.encode(), tags, 1000, relative.casefold())


INDEX = (
    entry("a.mp3", "Miles Davis", "Kind of Blue", "Jazz", 1959),
    entry("b.mp3", "Jazzanova", "In Between", "Nu Jazz; Electronic", 2002),
    entry("c.mp3", "Portishead", "Dummy", "Trip-Hop", 1994),
    entry("d.mp3", "Bill Evans", "Waltz for Debby", "jazz", None),
    entry("e.mp3", "Erykah Badu", "Baduizm", "Neo Soul", 1997),
)


class ParseTests(SynchronousTestCase):
    """
    Tests for L{parseQuery} and its parts.
    """

    def test_parse(self) -> None:
        """
        Text keys take a string or a list of strings, as words; C{year}
        takes a year or a range.
        """
        query = parseQuery({"genre": ["Jazz", "neo-soul"], "artist": "Miles DAVIS", "year": "1990 - 1999"})
        self.assertEqual(query.genres, (("jazz",), ("neo", "soul")))
        self.assertEqual(query.artists, (("miles", "davis"),))
        self.assertEqual(query.years, (1990, 1999))
        self.assertEqual(parseQuery({"year": 1994}).years, (1994, 1994))
        self.assertEqual(query.describe(), "artist miles davis, genre jazz or neo soul, year 1990-1999")
        self.assertEqual(parseQuery({"year": "1994"}).describe(), "year 1994")

    def test_refused(self) -> None:
        """
        Unknown keys, empty tables, values of the wrong type, texts without
        words, too many values and impossible years raise L{ValueError}
        saying what is wrong.
        """
        cases = [
            ({"genr": "jazz"}, "unknown key 'genr'"),
            ({}, "needs at least one of artist, album, genre, year"),
            ({"genre": 5}, "must be a string or a list of strings"),
            ({"genre": []}, "at least one genre"),
            ({"genre": "--"}, "holds no letters or digits"),
            ({"artist": ["x"] * 51}, "at most 50"),
            ({"album": "x" * 201}, "longer than 200"),
            ({"year": "1999-1990"}, "ends before it starts"),
            ({"year": "199x"}, "a range of years"),
            ({"year": 99}, "not between"),
            ({"year": True}, "a range of years"),
        ]
        for table, message in cases:
            error = self.assertRaises(ValueError, parseQuery, table)
            self.assertIn(message, str(error), table)

    def test_years(self) -> None:
        """
        L{yearOf} reads the first plausible four-digit year of a date tag.
        """
        self.assertEqual(yearOf("1994-03-01"), 1994)
        self.assertEqual(yearOf("03/1994"), 1994)
        self.assertIsNone(yearOf(""))
        self.assertIsNone(yearOf("12345"))
        self.assertIsNone(yearOf("0999"))
        self.assertEqual(parseYears("2000-2009"), (2000, 2009))


class MatchTests(SynchronousTestCase):
    """
    Tests for L{matches}.
    """

    def select(self, **table: object) -> list[str]:
        query = parseQuery(table)
        return [
            e.relative.decode() for e in INDEX if matches(query, e.tags.artist, e.tags.album, e.tags.genre, e.tags.year)
        ]

    def test_wholeWords(self) -> None:
        """
        A text matches a tag holding its words, whatever the case, not a
        part of a word.
        """
        self.assertEqual(self.select(genre="jazz"), ["a.mp3", "b.mp3", "d.mp3"])
        self.assertEqual(self.select(artist="jazz"), [])
        self.assertEqual(self.select(genre="trip hop"), ["c.mp3"])
        self.assertEqual(self.select(album="blue kind"), [])

    def test_allKeysAnyValue(self) -> None:
        """
        Every key must match; any value of a key's list does.
        """
        self.assertEqual(self.select(genre=["jazz", "soul"], year="1950-1999"), ["a.mp3", "e.mp3"])
        self.assertEqual(self.select(genre="jazz", artist="bill evans"), ["d.mp3"])

    def test_unknownYear(self) -> None:
        """
        A song whose year is unknown never matches a year.
        """
        self.assertEqual(self.select(year="1900-2100"), ["a.mp3", "b.mp3", "c.mp3", "e.mp3"])

    def test_words(self) -> None:
        """
        L{words} folds case and drops punctuation.
        """
        self.assertEqual(words("Trip-Hop, ÉTÉ!"), ("trip", "hop", "été"))


class FakeLibrary:
    """
    What L{QueryTracks} uses of a L{Library}: its index, root and jobs.

    @ivar jobs: the thread jobs started, as C{(Deferred, function, args)}.
    """

    def __init__(self, index: tuple[IndexEntry, ...] | None) -> None:
        self.index = index
        self.root = b"/music"
        self.jobs: list[tuple[Deferred, object, tuple]] = []
        self.busy = False

    def currentIndex(self) -> tuple[IndexEntry, ...] | None:
        return self.index

    def run(self, function, *args) -> Deferred:
        if self.busy:
            raise LibraryBusy()
        work: Deferred = Deferred()
        self.jobs.append((work, function, args))
        return work


class QueryTracksTests(SynchronousTestCase):
    """
    Tests for L{QueryTracks}.
    """

    def tracks(self, index, **table: object) -> tuple[QueryTracks, FakeLibrary]:
        library = FakeLibrary(index)
        return QueryTracks(library, parseQuery(table), rng=random.Random(1)), library  # type: ignore[arg-type]

    def test_select(self) -> None:
        """
        L{selectSongs} gives the matching songs' absolute paths in the
        index's order.
        """
        self.assertEqual(selectSongs(INDEX, parseQuery({"genre": "jazz"}), b"/m"), ["/m/a.mp3", "/m/b.mp3", "/m/d.mp3"])

    def test_passes(self) -> None:
        """
        Each pass lists the matching songs, filtered once per index; a
        new index is filtered again.
        """
        tracks, library = self.tracks(INDEX, genre="jazz")
        self.assertEqual(tracks.nextPass(), ["/music/a.mp3", "/music/b.mp3", "/music/d.mp3"])
        self.assertEqual(tracks.nextPass(), ["/music/a.mp3", "/music/b.mp3", "/music/d.mp3"])
        library.index = INDEX[:2]
        self.assertEqual(tracks.nextPass(), ["/music/a.mp3", "/music/b.mp3"])
        self.assertEqual(library.jobs, [])

    def test_shuffle(self) -> None:
        """
        A shuffled query gives the same songs in a random order.
        """
        tracks, _ = self.tracks(INDEX, year="1900-2100")
        tracks.shuffle = True
        paths = tracks.nextPass()
        self.assertEqual(sorted(paths), ["/music/a.mp3", "/music/b.mp3", "/music/c.mp3", "/music/e.mp3"])

    def test_noIndexNoMatch(self) -> None:
        """
        Before the index is built, and when nothing matches, a pass raises
        L{NoTracks} saying why.
        """
        tracks, library = self.tracks(None, genre="polka")
        self.assertIn("not built yet", str(self.assertRaises(NoTracks, tracks.nextPass)))
        library.index = INDEX
        self.assertIn(
            "no song of the library matches the query (genre polka)", str(self.assertRaises(NoTracks, tracks.nextPass))
        )

    def test_largeIndexInThread(self) -> None:
        """
        An index larger than the reactor's share is filtered in the
        library's threads, once; the previous list plays meanwhile, and a
        busy library is asked again at the next pass.
        """
        large = INDEX * 5000
        tracks, library = self.tracks(INDEX, genre="trip hop")
        self.assertEqual(tracks.nextPass(), ["/music/c.mp3"])
        library.index = large
        library.busy = True
        self.assertEqual(tracks.nextPass(), ["/music/c.mp3"])
        library.busy = False
        self.assertEqual(tracks.nextPass(), ["/music/c.mp3"])
        self.assertEqual(tracks.nextPass(), ["/music/c.mp3"])
        [(work, function, args)] = library.jobs
        work.callback(function(*args))  # type: ignore[operator]
        self.assertEqual(len(tracks.nextPass()), 5000)
        self.assertEqual(len(library.jobs), 1)

    def test_firstLargeIndex(self) -> None:
        """
        While the first filtering of a large index runs, a pass says so; a
        failed filtering is logged and tried again.
        """
        tracks, library = self.tracks(INDEX * 5000, genre="trip hop")
        self.assertIn("being searched", str(self.assertRaises(NoTracks, tracks.nextPass)))
        [(work, _, _)] = library.jobs
        work.errback(RuntimeError("boom"))
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)
        self.assertRaises(NoTracks, tracks.nextPass)
        self.assertEqual(len(library.jobs), 2)

    def test_realLibrary(self) -> None:
        """
        Over a real L{Library}, whose index is built from the files' tags
        (genre and year included), a query chooses by their tags.
        """
        from mutagen.easyid3 import EasyID3

        root = self.mktemp()
        os.makedirs(root)
        for index, name in enumerate(sorted(n for n in os.listdir(DEMO) if n.endswith(".mp3"))):
            path = os.path.join(root, name)
            shutil.copy(os.path.join(DEMO, name), path)
            tags = EasyID3(path)
            tags["genre"] = "Jazz" if index % 2 == 0 else "Rock"
            tags["date"] = f"{1990 + index}-05-01"
            tags.save()
        library = Library(root, runInThread=maybeDeferred, clock=Clock())
        tracks = QueryTracks(library, parseQuery({"genre": "jazz", "year": "1990-1999"}))
        paths = tracks.nextPass()
        self.assertEqual([os.path.basename(p) for p in paths], sorted(os.listdir(root))[::2])
        for path in paths:
            tags = readTrackTags(path.encode())
            self.assertEqual(tags.genre, "Jazz")
            self.assertGreaterEqual(tags.year, 1990)
        self.assertIn("QueryTracks genre jazz, year 1990-1999", repr(tracks))


class FallbackTests(SynchronousTestCase):
    """
    A block with nothing to play gives way to the default block.
    """

    def test_defaultPlays(self) -> None:
        """
        While a query block has nothing to play, the default block plays
        (logged once per reason); once the index is built, the block's
        songs play.
        """
        zone = ZoneInfo("UTC")
        clock = Clock()
        clock.advance(datetime(2026, 1, 5, 12, 0, tzinfo=zone).timestamp())
        library = FakeLibrary(None)
        query = Block("jazz", parseWhen("daily 00:00-24:00"), QueryTracks(library, parseQuery({"genre": "jazz"})))  # type: ignore[arg-type]
        tracks = ScheduledTracks(
            [query], Block("default", None, ListTracks(["x.mp3"])), clock, zone, tagsOf=lambda p: ("", p)
        )
        self.assertEqual(tracks.nextPass(), ["x.mp3"])
        self.assertEqual(tracks.upcoming(2), ["x.mp3", "x.mp3"][:1])
        self.assertEqual(tracks.nextPass(), ["x.mp3"])
        self.assertIs(tracks.current, query)
        library.index = INDEX
        clock.advance(timedelta(minutes=5).total_seconds())
        self.assertEqual(tracks.nextPass(), ["/music/a.mp3"])
        self.assertEqual(tracks.upcoming(2), ["/music/b.mp3", "/music/d.mp3"])

    def test_defaultEmptyToo(self) -> None:
        """
        When the default block has nothing either, L{NoTracks} reaches the
        player (which pauses and tries again).
        """
        clock = Clock()
        query = Block(
            "jazz", parseWhen("daily 00:00-24:00"), QueryTracks(FakeLibrary(None), TrackQuery(genres=(("jazz",),)))
        )  # type: ignore[arg-type]
        tracks = ScheduledTracks([query], Block("default", None, ListTracks([])), clock)
        self.assertRaises(NoTracks, tracks.nextPass)


class ConfigurationTests(SynchronousTestCase):
    """
    A block's C{query} in the configuration.
    """

    def config(self, query: str, server: str = "") -> str:
        base = self.mktemp()
        os.makedirs(os.path.join(base, "music"))
        return f"""
[server]
{server}
[[mount]]
path = "/stream"
playlist = "{base}/music"
[[mount.block]]
name = "Nineties jazz"
when = "Sat 20:00-23:00"
{query}
"""

    def test_built(self) -> None:
        """
        A block with a query plays a L{QueryTracks} over the radio's
        library.
        """
        from txradio.build import buildStations, libraryFor
        from txradio.config import parseConfig
        from txradio.sources.schedule import ScheduledSource

        config = parseConfig(self.config('query = { genre = "jazz", year = "1990-1999" }\nshuffle = true'))
        [block] = config.mounts[0].blocks
        self.assertEqual(block.query, TrackQuery(genres=(("jazz",),), years=(1990, 1999)))
        clock = Clock()
        library = libraryFor(config, clock)
        [station] = buildStations(config, clock, encoder=None, library=library)
        source = station.programme
        assert isinstance(source, ScheduledSource)
        tracks = source.tracks.blocks[0].tracks
        assert isinstance(tracks, QueryTracks)
        self.assertIs(tracks.library, library)
        self.assertTrue(tracks.shuffle)
        self.assertEqual(source.tracks.blocks[0].plays, "query: genre jazz, year 1990-1999")
        self.assertEqual(source.tracks.default.plays, "playlist")
        source.close()
        self.assertRaises(ValueError, buildStations, config, clock, None)

    def test_refused(self) -> None:
        """
        A query that is not a table, a bad query, a block with both a
        folder and a query, and a query without a library are refused with
        the key at fault.
        """
        from txradio.config import ConfigError, parseConfig

        cases = [
            ('query = "jazz"', '.query: must be a table such as { genre = "jazz"'),
            ('query = { genre = "jazz", decade = 1990 }', "unknown key 'decade'"),
            ('query = { year = "1999-1990" }', "ends before it starts"),
            ('query = { genre = "jazz" }\nfolder = "/"', "exactly one of folder, playlist, query and recordings"),
        ]
        for text, message in cases:
            error = self.assertRaises(ConfigError, parseConfig, self.config(text))
            self.assertIn(message, str(error))
        error = self.assertRaises(
            ConfigError, parseConfig, self.config('query = { genre = "jazz" }', "library = false")
        )
        self.assertIn("block[1].query", str(error))
        self.assertIn("there is no library", str(error))
