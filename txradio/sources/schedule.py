# -*- test-case-name: tests.test_schedule -*-
"""
The programme clock on the reactor: a track list that follows a weekly
schedule of blocks, keeps the rotation rules and puts jingles between
tracks (L{ScheduledTracks}), and a playlist source that cuts the track
playing when a block with a hard start begins (L{ScheduledSource}).

The decisions are L{txradio.wire.schedule}'s pure functions; this module
only asks the clock what time it is, and lists and tags files.

L{ScheduledTracks} hands L{PlaylistSource} one track per pass, chosen at
the moment the track before it ends, so a block whose start is soft begins
at the first track change after its start.  With a crossfade the next track
is chosen a few seconds ahead instead, for the moment the cut is expected
(L{ScheduledTracks.chooseAt}); a block starting hard before then prevents
it, and one that cuts in anyway takes the choice back
(L{ScheduledTracks.withdraw}).
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, tzinfo

from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger

from txradio.sources.loudness import TrackPlan
from txradio.sources.playlist import PlaylistSource, Tracks
from txradio.sources.reair import CueMarks, readCueTitles
from txradio.sources.requests import RequestQueue
from txradio.sources.tracks import NoTracks
from txradio.wire.mp3 import Frame
from txradio.wire.programme import TitleChange
from txradio.wire.schedule import (
    JinglePolicy,
    Played,
    Rotation,
    Slot,
    activeBlock,
    blockChanges,
    breaches,
    chooseNext,
    jingleDue,
    nextChange,
)

HISTORY = 500
"""Tracks remembered for the rotation rules (and for L{ScheduledTracks.history})."""

LOOKAHEAD = 200
"""Tracks of a pass considered when choosing the next one."""

CHOOSE_AHEAD = 12.0
"""Seconds of audio before a track's crossfade cut when the next track is
chosen (a read is up to 4 s; the seam must be ordered 1 s ahead)."""

HARD_MARGIN = 2.0
"""Seconds past the expected end of the track playing (its cut plus the
crossfade: it plays on if its seam is late) within which a block starting
hard prevents choosing ahead."""


def readArtistTitle(path: str) -> tuple[str, str]:
    """
    Read a track's artist and title from its ID3 tags, for the rotation
    rules.

    @param path: the MP3 file.
    @return: C{(artist, title)}, each C{""} when unknown; the title falls
        back to the file's name.
    """
    from mutagen import MutagenError
    from mutagen.easyid3 import EasyID3
    from mutagen.id3 import ID3NoHeaderError

    from txradio.sources.tags import titleFromName

    try:
        tags = EasyID3(path)
    except (ID3NoHeaderError, MutagenError, OSError, ValueError):
        return "", titleFromName(path)
    artist = " / ".join(a.strip() for a in tags.get("artist", []) if a.strip())
    title = " / ".join(t.strip() for t in tags.get("title", []) if t.strip())
    return artist, title or titleFromName(path)


@dataclass
class Block:
    """
    One block of the programme clock (or the default block).

    @ivar name: its name, for logs and the status.
    @ivar slot: when it is on, or L{None} for the default block.
    @ivar tracks: its track list.
    @ivar hard: whether it cuts the track playing when it starts.
    @ivar rotation: its rotation rules.
    @ivar when: its C{when} as written, for the status.
    @ivar plays: what it plays, for the status: C{"folder"}, C{"playlist"}
        or C{"query: genre jazz"} (no file-system paths).
    """

    name: str
    slot: Slot | None
    tracks: Tracks
    hard: bool = False
    rotation: Rotation = field(default_factory=Rotation)
    when: str = ""
    plays: str = ""


@dataclass(frozen=True)
class _Undo:
    """
    What L{ScheduledTracks.withdraw} needs to take back a choice.

    @ivar current: the block that chose before it.
    @ivar tracksSinceJingle: the count before it.
    @ivar lastJingleAt: the last jingle's time before it.
    @ivar path: the track chosen, or L{None} before it is.
    @ivar back: the pass it was taken from (a block's, or the jingles'),
        or L{None} for a request.
    @ivar jingle: whether it is a jingle.
    """

    current: Block | None
    tracksSinceJingle: int
    lastJingleAt: float | None
    path: str | None = None
    back: deque[str] | None = None
    jingle: bool = False


class ScheduledTracks:
    """
    A track list (see L{Tracks}) that follows the programme clock.

    Each L{nextPass} is one track: a jingle when one is due, else the next
    track of the block on now that keeps the rotation rules.

    @ivar history: the tracks chosen, oldest first (jingles left out).
    @ivar current: the block that chose the last track.
    @ivar jinglesPlayed: jingles chosen so far.
    """

    _log = Logger()

    def __init__(
        self,
        blocks: Sequence[Block],
        default: Block,
        clock: IReactorTime,
        zone: tzinfo = UTC,
        jingles: Tracks | None = None,
        jinglePolicy: JinglePolicy | None = None,
        tagsOf: Callable[[str], tuple[str, str]] = readArtistTitle,
        name: str = "",
    ) -> None:
        """
        @param blocks: the timed blocks; where two overlap the earlier wins.
        @param default: what plays outside every block.
        @param clock: the time source.
        @param zone: the station's time zone.
        @param jingles: the jingles' track list, or L{None} for none.
        @param jinglePolicy: when jingles play (never by default).
        @param tagsOf: reads a file's C{(artist, title)} (tests replace it).
        @param name: a name for the log, e.g. the mount.
        """
        self.blocks = list(blocks)
        self.default = default
        self.zone = zone
        self.jingles = jingles
        self.jinglePolicy = jinglePolicy or JinglePolicy()
        self.name = name
        self.history: deque[Played] = deque(maxlen=HISTORY)
        self.current: Block | None = None
        self.jinglesPlayed = 0
        self._clock = clock
        self._tagsOf = tagsOf
        self._tags: dict[str, tuple[str, str]] = {}
        self._queues: dict[int, deque[str]] = {}
        self._jingleQueue: deque[str] = deque()
        self._unplayable: dict[int, str] = {}
        self._startedAt = clock.seconds()
        self._tracksSinceJingle = 0
        self._lastJingleAt: float | None = None
        self.requests: RequestQueue | None = None  # listener requests, played after a due jingle
        self._undo: _Undo | None = None
        self._returned: str | None = None

    def now(self) -> datetime:
        """
        @return: the clock's time in the station's time zone.
        """
        return datetime.fromtimestamp(self._clock.seconds(), self.zone)

    def blockAt(self, when: datetime) -> Block:
        """
        @param when: a moment, with a time zone.
        @return: the block on then (the default outside every block).
        """
        index = activeBlock([block.slot for block in self.blocks if block.slot is not None], when)
        return self.default if index is None else self.blocks[index]

    def changes(self, count: int) -> list[tuple[datetime, Block]]:
        """
        The coming changes of the block on, within a week.

        @param count: how many at most.
        @return: C{(moment, block starting)} pairs, the next first.
        """
        timed = [block for block in self.blocks if block.slot is not None]
        return [
            (at, self.default if index is None else timed[index])
            for at, index in blockChanges([block.slot for block in timed if block.slot is not None], self.now(), count)
        ]

    def nextChange(self) -> datetime | None:
        """
        @return: the next moment a block starts or ends, or L{None} when
            there are no blocks.
        """
        return nextChange([block.slot for block in self.blocks if block.slot is not None], self.now())

    def nextPass(self) -> list[str]:
        """
        Choose what plays next, now.

        @return: one path.
        @raise NoTracks: when the block on now has nothing to play.
        """
        return self.chooseAt(self._clock.seconds())

    def chooseAt(self, at: float) -> list[str]:
        """
        Choose what plays next, for a track that starts at C{at} (a little
        ahead of now, for a crossfade into it): a jingle when one is due
        then, else the next track of the block on then.  The choice is
        committed (rotation, jingle count) until L{withdraw}n.

        @param at: when the track starts, in seconds since the epoch.
        @return: one path.
        @raise NoTracks: when the block on then has nothing to play.
        """
        now = datetime.fromtimestamp(at, self.zone)
        self._undo = _Undo(self.current, self._tracksSinceJingle, self._lastJingleAt)
        if self.jingles is not None and jingleDue(
            self.jinglePolicy, self._tracksSinceJingle, self._lastJingleAt, now, self._startedAt
        ):
            path = self._nextJingle()
            if path is not None:
                self._tracksSinceJingle = 0
                self._lastJingleAt = now.timestamp()
                self.jinglesPlayed += 1
                self._undo = replace(self._undo, path=path, back=self._jingleQueue, jingle=True)
                return [path]
        block = self.blockAt(now)
        # A request waits for the first track of a block starting hard.
        hardStart = block.hard and block is not self.current
        requested = None
        if not hardStart:
            requested, self._returned = self._returned, None
            if requested is None and self.requests is not None:
                requested = self.requests.take()
        if requested is not None:
            self.history.append(self._played(requested, now.timestamp()))
            self._tracksSinceJingle += 1
            self._undo = replace(self._undo, path=requested)
            return [requested]
        if block is not self.current:
            self._log.info(
                "{name}: block {block} begins", name=self.name, block=block.name or "default", when=now.isoformat()
            )
            self.current = block
        block, queue = self._playable(block)
        at = now.timestamp()
        history = list(self.history)
        chosen = self._choose(queue, history, block.rotation, at)
        if breaches(self._played(queue[chosen], at), history, block.rotation) and len(queue) < LOOKAHEAD:
            # The end of a pass leaves few to choose from: the next pass's
            # tracks may keep the rules where these cannot.
            with suppress(NoTracks):
                queue.extend(block.tracks.nextPass())
            chosen = self._choose(queue, history, block.rotation, at)
        path = queue[chosen]
        del queue[chosen]
        self.history.append(self._played(path, at))
        self._tracksSinceJingle += 1
        self._undo = replace(self._undo, path=path, back=queue)
        return [path]

    def withdraw(self) -> None:
        """
        Take back the last choice, which will not play (a block starting
        hard cut in before it): the track goes back to the front of its
        block's pass (a jingle to its rotation, a request plays at the next
        choice that takes requests), and the rotation and jingle counts are
        as they were before it.
        """
        undo, self._undo = self._undo, None
        if undo is None or undo.path is None:
            return
        self.current = undo.current
        self._tracksSinceJingle = undo.tracksSinceJingle
        self._lastJingleAt = undo.lastJingleAt
        if not undo.jingle and self.history and self.history[-1].path == undo.path:
            self.history.pop()
        if undo.jingle:
            self.jinglesPlayed -= 1
        if undo.back is not None:
            undo.back.appendleft(undo.path)
        else:
            self._returned = undo.path

    def upcoming(self, count: int) -> list[str]:
        """
        Foresee the next tracks of the block on now, as the rules would
        choose them if nothing changed (no block boundary, no jingle, no
        folder change): a forecast, not a promise.

        @param count: how many.
        @return: up to C{count} paths.
        """
        try:
            block, pending = self._playable(self.blockAt(self.now()))
        except NoTracks:
            return []
        queue = list(pending)[:LOOKAHEAD]
        history = list(self.history)
        at = self._clock.seconds()
        out: list[str] = []
        while queue and len(out) < count:
            chosen = self._choose(queue, history, block.rotation, at)
            path = queue.pop(chosen)
            history.append(self._played(path, at))
            out.append(path)
        return out

    def _choose(self, queue: Sequence[str], history: Sequence[Played], rules: Rotation, at: float) -> int:
        """
        @param queue: the tracks that may play, in order.
        @param history: what played, oldest first.
        @param rules: the rotation rules.
        @param at: when the track would start.
        @return: the index in C{queue} of the track L{chooseNext} picks
            among the first L{LOOKAHEAD}.
        """
        candidates = [self._played(path, at) for path in list(queue)[:LOOKAHEAD]]
        return chooseNext(candidates, history, rules)

    def _queue(self, block: Block) -> deque[str]:
        """
        @param block: a block.
        @return: the rest of its current pass, a new pass when it is used
            up (so a block resumes where it left off).
        @raise NoTracks: when its list has nothing to play.
        """
        queue = self._queues.setdefault(id(block), deque())
        if not queue:
            queue.extend(block.tracks.nextPass())
        return queue

    def _playable(self, block: Block) -> tuple[Block, deque[str]]:
        """
        @param block: the block on now.
        @return: it and the rest of its pass, or the default block and its
            pass when it has nothing to play now (a library query before
            the index is built, or matching nothing; an empty folder).
        @raise NoTracks: when the default block has nothing either.
        """
        try:
            queue = self._queue(block)
        except NoTracks as error:
            if block is self.default:
                raise
            reason = str(error)
            if self._unplayable.get(id(block)) != reason:
                self._unplayable[id(block)] = reason
                self._log.warn(
                    "{name}: block {block} has nothing to play ({reason}); the default block plays",
                    name=self.name,
                    block=block.name,
                    reason=reason,
                )
            return self.default, self._queue(self.default)
        self._unplayable.pop(id(block), None)
        return block, queue

    def _nextJingle(self) -> str | None:
        """
        @return: the next jingle in rotation, or L{None} when the jingles
            cannot be listed now (the track plays instead).
        """
        assert self.jingles is not None
        if not self._jingleQueue:
            try:
                self._jingleQueue.extend(self.jingles.nextPass())
            except NoTracks as error:
                self._log.warn("{name}: no jingle: {reason}", name=self.name, reason=str(error))
                return None
        return self._jingleQueue.popleft()

    def _played(self, path: str, at: float) -> Played:
        """
        @param path: a track.
        @param at: when it would start.
        @return: it as the rotation rules see it, its tags read once.
        """
        tags = self._tags.get(path)
        if tags is None:
            try:
                tags = self._tagsOf(path)
            except Exception:
                tags = ("", os.path.basename(path))
            if len(self._tags) > 100000:
                self._tags.clear()
            self._tags[path] = tags
        return Played(path, tags[0].casefold(), tags[1].casefold(), at)


class HardStarts:
    """
    Wakes at each block boundary and, when the block now on starts hard,
    tells the player to cut the track playing.

    @ivar cuts: tracks cut so far.
    """

    def __init__(self, tracks: ScheduledTracks, clock: IReactorTime, cut: Callable[[Block], None]) -> None:
        """
        @param tracks: the scheduled track list.
        @param clock: the time source.
        @param cut: called with the block that starts hard, to end the
            track playing now and start the next one.
        """
        self.tracks = tracks
        self.cuts = 0
        self._clock = clock
        self._cut = cut
        self._timer: IDelayedCall | None = None

    def start(self) -> None:
        """
        Wake at the next boundary.
        """
        change = self.tracks.nextChange()
        if change is None:
            self._timer = None
            return
        delay = max(0.0, change.timestamp() - self._clock.seconds())
        self._timer = self._clock.callLater(delay, self._boundary)

    def stop(self) -> None:
        """
        Wake no more.
        """
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    def _boundary(self) -> None:
        """
        A block starts or ends: cut if the block now on starts hard and is
        not the one that chose the track playing.
        """
        self._timer = None
        block = self.tracks.blockAt(self.tracks.now())
        if block.hard and block is not self.tracks.current:
            self.cuts += 1
            self._cut(block)
        self.start()


class ScheduledSource(PlaylistSource):
    """
    A playlist source on the programme clock: it plays a
    L{ScheduledTracks}, and when a block with a hard start begins it cuts
    the track playing at the next frame it hands out.

    Audio already handed to the broadcaster (its lead, about one tick)
    still plays, so a hard start is heard within a tick of its time.

    A track with a cue sheet beside it (a recorded show, re-aired) has the
    sheet's titles announced at their offsets (L{CueMarks}).
    """

    tracks: ScheduledTracks

    def __init__(self, tracks: ScheduledTracks, clock: IReactorTime | None = None, **kwargs) -> None:
        """
        @param tracks: the scheduled track list.
        @param clock: the time source (the global reactor by default).
        @param kwargs: L{PlaylistSource}'s other arguments.
        """
        PlaylistSource.__init__(self, tracks, clock=clock, **kwargs)
        self.cueMarks = CueMarks()
        self.hardStarts = HardStarts(tracks, self._clock, self._cut)  # type: ignore[arg-type]
        self.hardStarts.start()

    def pull(self, duration: float) -> list[Frame | TitleChange]:
        """
        Return about C{duration} seconds of frames, with the cue titles of
        a re-aired show put in; see L{PlaylistSource.pull}.

        @param duration: seconds of audio wanted.
        @return: frames and title changes.
        """
        out = self.cueMarks.apply(PlaylistSource.pull(self, duration))
        for item in reversed(out):
            if isinstance(item, TitleChange):
                self.title = item.title
                break
        return out

    def _startTrack(self, first: Frame) -> None:
        """
        A track starts: its cue sheet, if it has one, gives its titles.

        @param first: the track's first frame.
        """
        PlaylistSource._startTrack(self, first)
        assert self.path is not None
        # Its title is the last one read ahead: just put in, or in the
        # middle of the crossfade seam that led into it.
        pending = self._pending
        index = len(pending) - 1
        while index >= 0 and type(pending[index]) is not TitleChange:
            index -= 1
        if index < 0:
            return  # the seam's title is already handed out
        mark = pending[index]
        assert isinstance(mark, TitleChange)
        announced = self.cueMarks.started(self.path, mark)
        if announced is not mark:
            pending[index] = announced
            self._trackTitle = announced.title

    def _cut(self, block: Block) -> None:
        """
        End the track playing now; the next L{pull} starts the block.

        @param block: the block starting hard.
        """
        if self._closed or self.path is None:
            return
        self._log.info(
            "{name}: block {block} starts hard: cutting {path}", name=self.name, block=block.name, path=self.path
        )
        self._closeFile()
        self._pending.clear()
        self._withdraw()
        self._afterTrack()

    def reload(self) -> None:
        """
        Read the blocks' lists again at the next choice; a track already
        chosen ahead for a crossfade is taken back.
        """
        self._withdraw()
        PlaylistSource.reload(self)

    def _withdraw(self) -> None:
        """
        Take back the track chosen ahead for a crossfade, if any: it will
        not play next.
        """
        if self._queue:
            self._queue.clear()
            self.tracks.withdraw()

    def _requested(self) -> str | None:
        return None  # the track list takes requests, after a due jingle

    def _peekRequest(self) -> str | None:
        return None  # likewise

    def _startPass(self, ahead: bool = False) -> bool:
        """
        Choose the next track: when its turn comes, or, for a crossfade,
        once the track playing is within L{CHOOSE_AHEAD} seconds of its
        cut, for the moment the cut is expected (the block on then, a
        jingle due then).  Never across a block starting hard before the
        track ends: that block's start cuts cleanly, on time.

        @param ahead: whether it is asked for a crossfade, while the track
            before still plays.
        @return: whether a track was chosen.
        """
        if not ahead:
            return PlaylistSource._startPass(self)
        at = self._cutExpected()
        # Without its seam ready in time the track plays on to its end.
        if at is None or self._hardStartBy(at + self.seams.seconds + HARD_MARGIN):  # type: ignore[union-attr]
            return False
        try:
            paths = self.tracks.chooseAt(at)
        except NoTracks:
            return False  # said when its turn comes
        self._queue.extend(paths)
        if self._leveller is not None:
            self._leveller.prepare(paths)
        return True

    def _cutExpected(self) -> float | None:
        """
        @return: when the track playing is expected to give way to the
            next (the source hands out its cut), once that is within
            L{CHOOSE_AHEAD} seconds of audio; else L{None}.
        """
        maker, leveller, path = self.seams, self._leveller, self.path
        if maker is None or leveller is None or path is None:
            return None
        plan = self._measured or leveller.planFor(path)
        end = None if plan is None else (plan.keepUntil if plan.keepUntil is not None else plan.duration)
        if end is None:
            return None
        ahead = end - maker.seconds - self._trackTime
        if ahead > CHOOSE_AHEAD:
            return None
        waiting = sum(item.header.duration for item in self._pending if type(item) is Frame)  # type: ignore[union-attr]
        return self._clock.seconds() + waiting + max(ahead, 0.0)  # type: ignore[union-attr]

    def _hardStartBy(self, at: float) -> bool:
        """
        @param at: a moment, in seconds since the epoch.
        @return: whether a block starts hard from now until then.
        """
        for moment, block in self.tracks.changes(4):
            if moment.timestamp() > at:
                return False
            if block.hard:
                return True
        return False

    def _startPlan(self, path: str, into: TrackPlan | None = None) -> None:
        """
        A track opens: beyond L{PlaylistSource._startPlan}, have the tracks
        the schedule foresees after it measured while it plays, so that a
        crossfade into the one chosen is ready in time.

        @param path: the track.
        @param into: its plan when a crossfade seam led into it.
        """
        PlaylistSource._startPlan(self, path, into)
        if self._leveller is not None and not self._queue:
            self._leveller.prepare([path, *self.tracks.upcoming(self._leveller.lookahead)])

    def upcoming(self) -> str | None:
        """
        The title that plays next: the track read ahead, else the first
        one L{ScheduledTracks.upcoming} foresees.

        @return: the title, or L{None} when not known.
        """
        known = PlaylistSource.upcoming(self)
        if known is not None:
            return known
        titles = self.upcomingTitles(1)
        return titles[0] if titles else None

    def readAhead(self) -> tuple[str, float] | None:
        """
        The next track when it is already read ahead (its first frames wait
        behind the end of the track on the air).

        @return: its title and the seconds of audio before it, or L{None}.
        """
        before = 0.0
        for item in self._pending:
            if type(item) is TitleChange:
                return item.title, before
            before += item.header.duration  # type: ignore[union-attr]
        return None

    def forecast(self, count: int) -> list[tuple[str, str]]:
        """
        @param count: how many.
        @return: C{(path, title)} of the tracks already chosen ahead for a
            crossfade (L{chosenAhead}), then of those
            L{ScheduledTracks.upcoming} foresees.
        """
        chosen = self.chosenAhead()[:count]
        return chosen + self._titled(self.tracks.upcoming(count - len(chosen)))

    def chosenAhead(self) -> list[tuple[str, str]]:
        """
        @return: C{(path, title)} of the track already chosen ahead for a
            crossfade, if any: it plays before any request waiting.
        """
        return self._titled(list(self._queue))

    def _titled(self, paths: list[str]) -> list[tuple[str, str]]:
        """
        @param paths: tracks.
        @return: each with the title it will show: a recorded show's first
            cue title, else its tags' title, else its file name.
        """
        out = []
        for path in paths:
            cues = readCueTitles(path)
            if cues and cues[0][0] == 0:
                out.append((path, cues[0][1]))  # a recorded show: its first title
                continue
            try:
                title = self._titleOf(path)
            except Exception:
                title = os.path.basename(path)
            out.append((path, title))
        return out

    def upcomingTitles(self, count: int) -> list[str]:
        """
        @param count: how many.
        @return: the titles foreseen by L{ScheduledTracks.upcoming}.
        """
        return [title for _, title in self.forecast(count)]

    def close(self) -> None:
        """
        Stop the clock's timer and close the source.
        """
        self.hardStarts.stop()
        PlaylistSource.close(self)


def scheduledTracksFor(
    blocks: Sequence[Block],
    default: Block,
    clock: IReactorTime,
    zoneName: str,
    jingles: Tracks | None,
    policy: JinglePolicy,
    name: str,
) -> ScheduledTracks:
    """
    Make a mount's scheduled track list from built blocks.

    @param blocks: the timed blocks.
    @param default: the mount's own playlist as the default block.
    @param clock: the clock.
    @param zoneName: the station's IANA time zone.
    @param jingles: the jingles' list, or L{None}.
    @param policy: when jingles play.
    @param name: the mount, for the log.
    @return: the track list.
    """
    from zoneinfo import ZoneInfo

    return ScheduledTracks(blocks, default, clock, ZoneInfo(zoneName), jingles, policy, name=name)
