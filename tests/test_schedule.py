"""
Tests for the programme clock: L{txradio.wire.schedule}'s decisions and
L{txradio.sources.schedule}'s scheduled track list and source.
"""

from __future__ import annotations

import os
import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from tests.test_crossfade import FakeSeams
from tests.test_loudness import FixedAnalyser
from txradio.library.entries import IndexEntry, TrackTags
from txradio.library.query import QueryTracks
from txradio.sources.loudness import Leveller, Measurement
from txradio.sources.requests import RequestQueue
from txradio.sources.schedule import CHOOSE_AHEAD, HISTORY, Block, HardStarts, ScheduledSource, ScheduledTracks
from txradio.sources.tracks import ListTracks
from txradio.testing import syntheticFrame
from txradio.wire.mp3 import Frame, silentFrame
from txradio.wire.programme import TitleChange
from txradio.wire.query import parseQuery
from txradio.wire.schedule import (
    JinglePolicy,
    Played,
    Rotation,
    Slot,
    activeBlock,
    breaches,
    chooseNext,
    jingleDue,
    nextChange,
    parseWhen,
)
from txradio.wire.shows import CueTrack, cueSheet

ZONE = ZoneInfo("Europe/Berlin")
MONDAY = datetime(2026, 1, 5, 0, 0, tzinfo=ZONE)
"""A Monday in a week without a daylight-saving change."""


class WhenTests(SynchronousTestCase):
    """
    Tests for L{parseWhen} and the slot arithmetic.
    """

    def test_parse(self) -> None:
        """
        Day ranges, lists and names, and times, are read.
        """
        self.assertEqual(parseWhen("Mon-Fri 06:00-10:00"), Slot(frozenset(range(5)), 360, 600))
        self.assertEqual(parseWhen("sat,Sun 22:00-02:00"), Slot(frozenset((5, 6)), 1320, 120))
        self.assertEqual(parseWhen("Fri-Mon 00:00-24:00").days, frozenset((4, 5, 6, 0)))
        self.assertEqual(parseWhen("daily 00:00-24:00").length, 1440)

    def test_refused(self) -> None:
        """
        Other texts raise L{ValueError}.
        """
        for text in ["Mon 6-10", "Funday 06:00-07:00", "Mon 25:00-26:00", "Mon 06:60-07:00", ""]:
            self.assertRaises(ValueError, parseWhen, text)

    def test_activeBlock(self) -> None:
        """
        The first block holding the moment is on; overnight blocks run
        into the next day; outside every block it is the default.
        """
        slots = [parseWhen("Mon-Fri 06:00-10:00"), parseWhen("Fri 22:00-02:00"), parseWhen("daily 08:00-12:00")]
        self.assertEqual(activeBlock(slots, MONDAY + timedelta(hours=7)), 0)
        self.assertEqual(activeBlock(slots, MONDAY + timedelta(hours=9, minutes=59)), 0)
        self.assertEqual(activeBlock(slots, MONDAY + timedelta(hours=10)), 2)
        self.assertIsNone(activeBlock(slots, MONDAY + timedelta(hours=12)))
        self.assertEqual(activeBlock(slots, MONDAY + timedelta(days=5, hours=1)), 1)
        self.assertIsNone(activeBlock(slots, MONDAY + timedelta(days=5, hours=2)))

    def test_nextChange(self) -> None:
        """
        The next start or end of any block.
        """
        slots = [parseWhen("Mon-Fri 06:00-10:00")]
        self.assertEqual(nextChange(slots, MONDAY), MONDAY + timedelta(hours=6))
        self.assertEqual(nextChange(slots, MONDAY + timedelta(hours=6)), MONDAY + timedelta(hours=10))
        self.assertEqual(nextChange(slots, MONDAY + timedelta(days=4, hours=11)), MONDAY + timedelta(days=7, hours=6))
        self.assertIsNone(nextChange([], MONDAY))


class RotationTests(SynchronousTestCase):
    """
    Tests for L{breaches} and L{chooseNext}.
    """

    def test_tracks(self) -> None:
        """
        An artist within the last N tracks is refused; the next allowed
        candidate is chosen.
        """
        history = [Played("a1", "a", "1", 0), Played("b1", "b", "2", 100)]
        rules = Rotation(artistTracks=2)
        candidates = [Played("a2", "a", "3", 200), Played("b2", "b", "4", 200), Played("c1", "c", "5", 200)]
        self.assertEqual(chooseNext(candidates, history, rules), 2)
        self.assertEqual(chooseNext(candidates, history, Rotation(artistTracks=1)), 0)

    def test_minutes(self) -> None:
        """
        A title within the last N minutes is refused.
        """
        history = [Played("x", "", "song", 0)]
        rules = Rotation(titleMinutes=10)
        self.assertEqual(breaches(Played("y", "", "song", 599), history, rules), 1)
        self.assertEqual(breaches(Played("y", "", "song", 600), history, rules), 0)

    def test_leastBad(self) -> None:
        """
        When every candidate breaks a rule, the one breaking fewest plays.
        """
        history = [Played("a1", "a", "t", 0)]
        rules = Rotation(artistTracks=5, titleTracks=5)
        candidates = [Played("a1", "a", "t", 1), Played("a2", "a", "u", 1)]
        self.assertEqual(chooseNext(candidates, history, rules), 1)


class JingleDueTests(SynchronousTestCase):
    """
    Tests for L{jingleDue}.
    """

    def test_everyTracks(self) -> None:
        """
        Due after N tracks.
        """
        policy = JinglePolicy(everyTracks=3)
        self.assertFalse(jingleDue(policy, 2, None, MONDAY, 0))
        self.assertTrue(jingleDue(policy, 3, None, MONDAY, 0))

    def test_topOfHour(self) -> None:
        """
        Due at the first change of each hour, not at the start.
        """
        policy = JinglePolicy(topOfHour=True)
        start = MONDAY.timestamp() + 1800
        self.assertFalse(jingleDue(policy, 0, None, MONDAY + timedelta(minutes=31), start))
        self.assertTrue(jingleDue(policy, 5, None, MONDAY + timedelta(minutes=61), start))
        self.assertFalse(jingleDue(policy, 5, start + 1830, MONDAY + timedelta(minutes=65), start))

    def test_everyMinutes(self) -> None:
        """
        Due N minutes after the last one.
        """
        policy = JinglePolicy(everyMinutes=15)
        at = MONDAY.timestamp()
        self.assertFalse(jingleDue(policy, 1, at, MONDAY + timedelta(minutes=14), at))
        self.assertTrue(jingleDue(policy, 1, at, MONDAY + timedelta(minutes=15), at))


ARTISTS = 6


class IndexOf:
    """
    A library whose index is built: what L{QueryTracks} uses of one.
    """

    root = b""

    def __init__(self, index: tuple[IndexEntry, ...]) -> None:
        self.index = index

    def currentIndex(self) -> tuple[IndexEntry, ...]:
        return self.index


def jazzIndex() -> tuple[IndexEntry, ...]:
    """
    @return: an index of 15 jazz songs (C{query/NN}) and 15 others.
    """
    return tuple(
        IndexEntry(path.encode(), TrackTags(genre=genre), 1, "")
        for genre, prefix in (("Rock", "rock"), ("Jazz", "query"))
        for path in library(prefix, 15)
    )


def library(prefix: str, count: int) -> list[str]:
    """
    @return: paths C{prefix/NN}; their artist is C{prefix-artistK}.
    """
    return [f"{prefix}/{index:02d}" for index in range(count)]


def tagsOf(path: str) -> tuple[str, str]:
    """
    Tags of the fake library: artists cycle within a folder.
    """
    if path.startswith("jingle"):
        return "", path
    prefix, number = path.split("/")
    return f"{prefix}-artist{int(number) % ARTISTS}", path


def duration(path: str) -> float:
    """
    A fake track's length: 10 s for jingles, 150 to 330 s for songs.
    """
    if path.startswith("jingle"):
        return 10.0
    return 150.0 + (sum(map(ord, path)) * 37) % 180


class Player:
    """
    Plays a L{ScheduledTracks} on a clock, each track for its L{duration},
    and records what started when.

    @ivar log: C{(start, path, block name, seconds played)} entries.
    """

    def __init__(self, tracks: ScheduledTracks, clock: Clock) -> None:
        self.tracks = tracks
        self.clock = clock
        self.log: list[list] = []
        self._end = None
        self.hardStarts = HardStarts(tracks, clock, self.cut)

    def start(self) -> None:
        self.hardStarts.start()
        self.next()

    def next(self) -> None:
        [path] = self.tracks.nextPass()
        block = "jingle" if path.startswith("jingle") else self.tracks.current.name  # type: ignore[union-attr]
        self.log.append([self.clock.seconds(), path, block, duration(path)])
        self._end = self.clock.callLater(duration(path), self.next)

    def cut(self, block: Block) -> None:
        assert self._end is not None
        self._end.cancel()
        self.log[-1][3] = self.clock.seconds() - self.log[-1][0]
        self.next()

    def stop(self) -> None:
        self.hardStarts.stop()
        if self._end is not None and self._end.active():
            self._end.cancel()


def runUntil(clock: Clock, end: float) -> None:
    """
    Advance the clock call by call, so each call sees its own time.
    """
    while True:
        calls = [call.getTime() for call in clock.getDelayedCalls()]
        if not calls or min(calls) > end:
            break
        clock.advance(max(0.0, min(calls) - clock.seconds()))
    clock.advance(end - clock.seconds())


_WEEK: dict = {}
"""The simulated week, run once for all its tests."""


class SimulatedWeekTests(SynchronousTestCase):
    """
    A week of programme on L{Clock}, in milliseconds of real time.
    """

    rules = Rotation(artistTracks=3, titleMinutes=30)

    def setUp(self) -> None:
        cached = _WEEK.get(type(self))
        if cached is None:
            self.simulate()
            _WEEK[type(self)] = (self.clock, self.blocks, self.tracks, self.player, self.end)
        else:
            self.clock, self.blocks, self.tracks, self.player, self.end = cached
        self.log = self.player.log

    def simulate(self) -> None:
        """
        Run the week once; the tests read its log.
        """
        self.clock = Clock()
        begin = MONDAY - timedelta(minutes=17)
        self.clock.advance(begin.timestamp())
        rng = random.Random(7)

        def block(name: str, when: str | None, hard: bool) -> Block:
            return Block(
                name,
                None if when is None else parseWhen(when),
                ListTracks(library(name, 15), shuffle=True, rng=rng),
                hard=hard,
                rotation=self.rules,
                when=when or "",
            )

        self.blocks = [
            block("morning", "Mon-Fri 06:00-10:00", True),
            block("jazz", "Mon-Fri 20:00-22:30", False),
            block("late", "Fri,Sat 23:00-03:00", True),
            block("sunday", "Sun 09:15-13:45", False),
            Block(
                "query",
                parseWhen("Sat 14:00-16:00"),
                QueryTracks(IndexOf(jazzIndex()), parseQuery({"genre": "jazz"}), shuffle=True, rng=rng),  # type: ignore[arg-type]
                rotation=self.rules,
            ),
        ]
        self.tracks = ScheduledTracks(
            self.blocks,
            block("default", None, False),
            self.clock,
            zone=ZONE,
            jingles=ListTracks(["jingle/1", "jingle/2", "jingle/3"]),
            jinglePolicy=JinglePolicy(everyTracks=4, topOfHour=True),
            tagsOf=tagsOf,
        )
        self.player = Player(self.tracks, self.clock)
        self.player.start()
        self.end = (MONDAY + timedelta(days=7)).timestamp()
        runUntil(self.clock, self.end)
        self.player.stop()

    def starts(self, slot: Slot) -> list[float]:
        """
        @return: the slot's start times within the week.
        """
        out = []
        for day in range(7):
            start = MONDAY + timedelta(days=day, minutes=slot.start)
            if start.weekday() in slot.days:
                out.append(start.timestamp())
        return out

    def test_noGaps(self) -> None:
        """
        Each entry starts when the one before ended (whole, or cut): the
        programme never falls silent, and nothing is left scheduled.
        """
        self.assertGreater(len(self.log), 1500)
        for before, after in zip(self.log, self.log[1:]):
            self.assertEqual(before[0] + before[3], after[0])
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_hardStartsOnTime(self) -> None:
        """
        A hard block's programme starts at its very start (with the station
        ID when one is due, then the block's first track), cutting the
        track playing.
        """
        for block in self.blocks:
            assert block.slot is not None
            if not block.hard:
                continue
            for start in self.starts(block.slot):
                [index] = [i for i, entry in enumerate(self.log) if entry[0] == start]
                following = [entry for entry in self.log[index:] if entry[2] != "jingle"]
                self.assertEqual(following[0][2], block.name)
                self.assertLess(self.log[index - 1][3], duration(self.log[index - 1][1]) + 1)
        self.assertEqual(self.player.hardStarts.cuts, 5 + 2)

    def test_softStartsAfterTrack(self) -> None:
        """
        A soft block starts at the first track change after its start: the
        track playing then plays whole, and the next track is the block's.
        """
        for block in self.blocks:
            assert block.slot is not None
            if block.hard:
                continue
            for start in self.starts(block.slot):
                before = [entry for entry in self.log if entry[0] < start][-1]
                self.assertNotEqual(before[2], block.name)
                self.assertEqual(before[3], duration(before[1]))
                self.assertGreater(before[0] + before[3], start - 1)
                after = [entry for entry in self.log if entry[0] >= start and entry[2] != "jingle"][0]
                self.assertEqual(after[2], block.name)

    def test_blocksAndDefault(self) -> None:
        """
        Every track is from the block on when it started; the default
        block fills every gap.
        """
        seen = set()
        for start, path, name, _ in self.log:
            if name == "jingle":
                continue
            when = datetime.fromtimestamp(start, ZONE)
            self.assertEqual(self.tracks.blockAt(when).name, name)
            self.assertTrue(path.startswith(name + "/"))
            seen.add(name)
        self.assertEqual(seen, {"morning", "jazz", "late", "sunday", "query", "default"})

    def test_rotation(self) -> None:
        """
        No artist is repeated within 3 tracks, and no title within 30
        minutes, anywhere in the week.
        """
        history = list(self.tracks.history)
        self.assertGreater(len(history), 400)
        for index, played in enumerate(history):
            self.assertEqual(breaches(played, history[:index], self.rules), 0, played)

    def test_rotationWholeWeek(self) -> None:
        """
        The rules hold over the whole week's log, not only the last
        L{HISTORY} tracks the track list remembers.
        """
        played = [
            Played(path, *(tag.casefold() for tag in tagsOf(path)), start)
            for start, path, name, _ in self.log
            if name != "jingle"
        ]
        self.assertGreater(len(played), HISTORY)
        for index, entry in enumerate(played):
            self.assertEqual(breaches(entry, played[:index], self.rules), 0, entry)

    def test_topOfHourJingles(self) -> None:
        """
        The first entry starting in each hour of the week is a jingle.
        """
        hour = MONDAY.timestamp()
        while hour < self.end:
            first = [entry for entry in self.log if entry[0] >= hour][0]
            self.assertEqual(first[2], "jingle", datetime.fromtimestamp(hour, ZONE))
            hour += 3600

    def test_everyTracksJingles(self) -> None:
        """
        Never more than 4 tracks between two jingles, and the jingles
        rotate.
        """
        run = 0
        jingles = []
        for _, path, name, _ in self.log:
            if name == "jingle":
                run = 0
                jingles.append(path)
            else:
                run += 1
                self.assertLessEqual(run, 4)
        self.assertEqual(jingles[:4], ["jingle/1", "jingle/2", "jingle/3", "jingle/1"])

    def test_upcoming(self) -> None:
        """
        The forecast is what the block on would choose next.
        """
        upcoming = self.tracks.upcoming(3)
        self.assertEqual(len(upcoming), 3)
        chosen = [self.tracks.nextPass()[0] for _ in range(5)]
        self.assertEqual([path for path in chosen if not path.startswith("jingle")][:3], upcoming)


class ScheduledSourceTests(SynchronousTestCase):
    """
    L{ScheduledSource} plays real frames and cuts at a hard start.
    """

    def setUp(self) -> None:
        folder = self.mktemp()
        os.makedirs(folder)
        frame = syntheticFrame().data
        self.paths = {}
        for name, seconds in [("a", 100), ("b", 100), ("news", 45)]:
            path = os.path.join(folder, name + ".mp3")
            with open(path, "wb") as f:
                f.write(frame * int(seconds / syntheticFrame().header.duration))
            self.paths[name] = path
        self.clock = Clock()
        self.clock.advance((MONDAY + timedelta(hours=5, minutes=59)).timestamp())
        news = Block("news", parseWhen("daily 06:00-06:01"), ListTracks([self.paths["news"]]), hard=True)
        default = Block("default", None, ListTracks([self.paths["a"], self.paths["b"]]))
        self.tracks = ScheduledTracks([news], default, self.clock, zone=ZONE, tagsOf=lambda p: ("", p))
        self.source = ScheduledSource(self.tracks, clock=self.clock, titleOf=os.path.basename, name="/stream")

    def play(self, seconds: int) -> list[tuple[float, str]]:
        """
        Pull a second of audio each second; return the title changes.
        """
        titles = []
        for _ in range(seconds):
            for item in self.source.pull(1.0):
                if isinstance(item, TitleChange):
                    titles.append((self.clock.seconds(), item.title))
                else:
                    self.assertIsInstance(item, Frame)
            self.clock.advance(1)
        return titles

    def test_hardCut(self) -> None:
        """
        At 06:00 the track playing is cut and the news starts within a
        second; it plays again while its block is on (a soft end), then the
        default block resumes with its next track.
        """
        titles = self.play(150)
        six = (MONDAY + timedelta(hours=6)).timestamp()
        self.assertEqual([title for _, title in titles], ["a.mp3", "news.mp3", "news.mp3", "b.mp3"])
        self.assertEqual(titles[1][0], six)
        self.assertEqual(self.source.hardStarts.cuts, 1)
        self.assertEqual(self.source.upcoming(), "a.mp3")
        self.source.close()
        self.assertEqual(self.clock.getDelayedCalls(), [])


FRAME_SECONDS = 1152 / 44100

SEAM_SECONDS = 40.0
"""How long each track of L{ScheduledCrossfadeTests} is."""


class ScheduledCrossfadeTests(SynchronousTestCase):
    """
    L{ScheduledSource} with a seam maker chooses the next track a few
    seconds before the cut, for the moment the cut is expected, and fades
    into it; a block starting hard before the cut still cuts cleanly on
    time.
    """

    def setUp(self) -> None:
        folder = self.mktemp()
        os.makedirs(folder)
        frame = silentFrame(44100, 2, 128)
        self.analyser = FixedAnalyser()
        self.paths = {}
        for name in ["a", "b", "morning", "news", "jingle", "request"]:
            path = os.path.join(folder, name + ".mp3")
            with open(path, "wb") as f:
                f.write(frame.data * round(SEAM_SECONDS / frame.header.duration))
            self.paths[name] = path
            self.analyser.known[path] = Measurement(-16.0, -10.0, 0.0, None, duration=SEAM_SECONDS)
        self.clock = Clock()
        self.seams = FakeSeams()
        self.ordered: list[float] = []

    def source(self, hard: bool, start: timedelta, jingles: bool = False) -> ScheduledSource:
        """
        Make a scheduled source whose default block plays a and b, with a
        block from 06:00 playing morning (or news when it starts hard),
        started at C{start} after midnight.
        """
        self.clock.advance((MONDAY + start).timestamp() - self.clock.seconds())
        name = "news" if hard else "morning"
        block = Block(name, parseWhen("daily 06:00-07:00"), ListTracks([self.paths[name]]), hard=hard)
        default = Block("default", None, ListTracks([self.paths["a"], self.paths["b"]]))
        self.tracks = ScheduledTracks(
            [block],
            default,
            self.clock,
            zone=ZONE,
            jingles=ListTracks([self.paths["jingle"]]) if jingles else None,
            jinglePolicy=JinglePolicy(everyTracks=1 if jingles else None),
            tagsOf=lambda p: ("", p),
        )
        source = ScheduledSource(
            self.tracks,
            clock=self.clock,
            titleOf=lambda p: os.path.basename(p)[:-4],
            name="/stream",
            leveller=Leveller(self.analyser, None, False),  # type: ignore[arg-type]
        )
        source.seams = self.seams  # type: ignore[assignment]
        self.addCleanup(source.close)
        return source

    def play(self, source: ScheduledSource, seconds: int) -> list[tuple[float, str]]:
        """
        Pull a second of audio each second, making each seam ready as soon
        as it is ordered; return the title changes, with their times.
        """
        titles = []
        for _ in range(seconds):
            for item in source.pull(1.0):
                if isinstance(item, TitleChange):
                    titles.append((self.clock.seconds(), item.title))
            for seam in self.seams.seams[len(self.ordered) :]:
                self.ordered.append(self.clock.seconds())
                self.seams.finish(seam)
            self.clock.advance(1)
        return titles

    def test_softStartCrossfaded(self) -> None:
        """
        A track starting 30 s before a soft block ends 10 s into it: the
        next one is chosen a few seconds before the cut, from the block on
        at the cut (not the block on when it was chosen), and the seam
        into it plays; the cut is on time.
        """
        source = self.source(hard=False, start=timedelta(hours=5, minutes=59, seconds=30))
        titles = self.play(source, 15)
        self.assertEqual(self.seams.seams, [], "chosen too early")
        titles += self.play(source, 30)
        six = (MONDAY + timedelta(hours=6)).timestamp()
        plan = self.seams.seams[0].plan
        self.assertEqual((plan.outgoing.path, plan.incoming.path), (self.paths["a"], self.paths["morning"]))
        self.assertLess(self.ordered[0], six, "chosen before the block began")
        cutAt = six - 30 + plan.cut
        self.assertGreater(cutAt - self.ordered[0], 1.0)
        # The choice is made at a read, and a read is 4 s at 128 kbps.
        self.assertLess(cutAt - self.ordered[0], CHOOSE_AHEAD + 5.0)
        self.assertEqual([title for _, title in titles], ["a", "morning"])
        # The title in the seam's middle goes out in the pull that covers
        # it (each pull is a frame over its second: 0.7 s ahead by then).
        titleAt = six - 30 + plan.cut + plan.titleAt * FRAME_SECONDS
        self.assertLess(abs(titles[1][0] - titleAt), 2.0)
        self.assertEqual(source.crossfades, 1)
        self.assertEqual(self.tracks.current.name, "morning")  # type: ignore[union-attr]

    def test_cueTitlesAfterSeam(self) -> None:
        """
        A re-aired recording faded into announces its cue sheet's first
        title in the seam, and its later titles at their offsets (counted
        from the seam's middle, where its first title goes out).
        """
        path = self.paths["morning"]
        tracks = [CueTrack(0, "Alice - Hello"), CueTrack(20 * 44100 // 1152 * 1152, "Bob - Song")]
        with open(path[:-4] + ".cue", "w", encoding="utf-8") as sheet:
            sheet.write(cueSheet("morning.mp3", "alice", tracks, 44100))
        source = self.source(hard=False, start=timedelta(hours=5, minutes=59, seconds=30))
        titles = self.play(source, 70)
        self.assertEqual([title for _, title in titles], ["a", "Alice - Hello", "Bob - Song"])
        self.assertLess(abs(titles[2][0] - titles[1][0] - 20), 2.0)
        self.assertEqual(source.crossfades, 1)

    def test_hardStartNotCrossed(self) -> None:
        """
        When a block starts hard before the expected cut, nothing is
        chosen ahead: the block's start cuts the track on time, cleanly.
        """
        source = self.source(hard=True, start=timedelta(hours=5, minutes=59, seconds=30))
        titles = self.play(source, 35)
        six = (MONDAY + timedelta(hours=6)).timestamp()
        self.assertEqual([title for _, title in titles], ["a", "news"])
        self.assertEqual(titles[1][0], six)
        self.assertEqual(self.seams.seams, [])
        self.assertEqual(source.hardStarts.cuts, 1)

    def test_hardStartAfterChoice(self) -> None:
        """
        A block starting hard after the next track was chosen ahead (the
        source was not pulled for a while, so the cut came later than
        expected) takes the choice back: the block's track plays at its
        start, and the track chosen is no longer in the rotation's history.
        """
        source = self.source(hard=True, start=timedelta(hours=5, minutes=59))
        self.play(source, 35)
        self.assertEqual(self.seams.seams[0].plan.incoming.path, self.paths["b"])
        self.assertEqual(self.tracks.history[-1].path, self.paths["b"])
        # The track chosen ahead is foreseen first, then the block's next.
        self.assertEqual(source.upcomingTitles(2), ["b", "a"])
        self.clock.advance(30)
        titles = self.play(source, 3)
        self.assertEqual([title for _, title in titles], ["news"])
        self.assertEqual(source.hardStarts.cuts, 1)
        self.assertEqual([played.path for played in self.tracks.history], [self.paths["a"], self.paths["news"]])

    def test_requestFirst(self) -> None:
        """
        A request waiting when the next track is chosen ahead comes first,
        and is faded into.
        """
        source = self.source(hard=False, start=timedelta(hours=4))
        self.tracks.requests = RequestQueue(self.clock)
        self.play(source, 1)
        self.tracks.requests.add(self.paths["request"], "request.mp3", "request", "", "192.0.2.1")
        self.play(source, 34)
        self.assertEqual(self.seams.seams[0].plan.incoming.path, self.paths["request"])
        self.assertEqual(self.tracks.history[-1].path, self.paths["request"])

    def test_withdraw(self) -> None:
        """
        L{ScheduledTracks.withdraw} takes back a choice: the same track
        (or jingle) is chosen again, the counts as they were.
        """
        self.source(hard=False, start=timedelta(hours=4), jingles=True)
        first = self.tracks.nextPass()
        jingle = self.tracks.chooseAt(self.clock.seconds() + 5)
        self.assertEqual((first, jingle, self.tracks.jinglesPlayed), ([self.paths["a"]], [self.paths["jingle"]], 1))
        self.tracks.withdraw()
        self.assertEqual(self.tracks.jinglesPlayed, 0)
        self.assertEqual(self.tracks.nextPass(), jingle)
        track = self.tracks.chooseAt(self.clock.seconds() + 5)
        self.assertEqual(track, [self.paths["b"]])
        history = list(self.tracks.history)
        self.tracks.withdraw()
        self.assertEqual(list(self.tracks.history), history[:-1])
        self.assertEqual(self.tracks.chooseAt(self.clock.seconds() + 5), track)


class ConfigurationTests(SynchronousTestCase):
    """
    The programme clock from the configuration to the mount's source.
    """

    def test_built(self) -> None:
        """
        A mount's blocks, jingles, time zone and rotation make a
        L{ScheduledSource}; a block without music is refused.
        """
        from txradio.build import playlistSource
        from txradio.config import ConfigError, parseConfig

        base = self.mktemp()
        for name in ("music", "morning", "jingles"):
            os.makedirs(os.path.join(base, name))
        text = f"""
[server]
timezone = "Europe/Berlin"
rotation = {{ artist_tracks = 3 }}
[[mount]]
path = "/stream"
playlist = "{base}/music"
[[mount.block]]
name = "morning"
when = "Mon-Fri 06:00-10:00"
folder = "{base}/morning"
start = "hard"
rotation = {{ title_minutes = 60 }}
[mount.jingles]
folder = "{base}/jingles"
every_tracks = 4
top_of_hour = true
"""
        config = parseConfig(text)
        clock = Clock()
        source = playlistSource(config.mounts[0], clock, "transcode", config.server)
        assert isinstance(source, ScheduledSource)
        tracks = source.tracks
        self.assertEqual(str(tracks.zone), "Europe/Berlin")
        self.assertEqual(tracks.blocks[0].rotation, Rotation(titleMinutes=60))
        self.assertTrue(tracks.blocks[0].hard)
        self.assertEqual(tracks.default.rotation, Rotation(artistTracks=3))
        self.assertEqual(tracks.jinglePolicy, JinglePolicy(everyTracks=4, topOfHour=True))
        source.close()
        self.assertEqual(clock.getDelayedCalls(), [])
        bad = text.replace(f'folder = "{base}/morning"\n', "")
        error = self.assertRaises(ConfigError, parseConfig, bad)
        self.assertIn("folder, playlist, query and recordings", str(error))
        bad = text.replace('"Mon-Fri 06:00-10:00"', '"Mon-Fri 6-10"')
        self.assertRaises(ConfigError, parseConfig, bad)
