# -*- test-case-name: tests.test_schedule -*-
"""
The programme clock's decisions, as plain functions of their inputs: which
block of a weekly schedule is on at a moment, when the next one starts,
which track plays next under the rotation rules, and whether a jingle is
due.  Nothing here reads a file or a clock; L{txradio.sources.schedule}
applies these decisions on the reactor's clock.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Weekday names as C{when} writes them, Monday first (C{datetime.weekday()})."""

MINUTES_PER_DAY = 24 * 60

_WHEN = re.compile(r"^\s*(?P<days>[A-Za-z, -]+?)\s+(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})\s*$")


def _minute(text: str) -> int:
    """
    @param text: C{"HH:MM"}, from C{00:00} to C{24:00}.
    @return: minutes after midnight.
    @raise ValueError: for another text.
    """
    hours, minutes = (int(part) for part in text.split(":"))
    if minutes > 59 or hours > 24 or (hours == 24 and minutes):
        raise ValueError(f"{text!r} is not a time of day (00:00 to 24:00)")
    return hours * 60 + minutes


def _days(text: str) -> frozenset[int]:
    """
    @param text: e.g. C{"Mon-Fri"}, C{"Sat,Sun"}, C{"daily"}, C{"Fri-Mon"}.
    @return: the weekdays, 0 for Monday.
    @raise ValueError: for an unknown day name.
    """
    text = text.strip().lower()
    if text in ("daily", "every day", "mon-sun"):
        return frozenset(range(7))
    if text == "weekdays":
        return frozenset(range(5))
    if text == "weekends":
        return frozenset((5, 6))
    days: set[int] = set()
    for part in text.split(","):
        names = [name.strip()[:3] for name in part.split("-")]
        if len(names) > 2 or any(name not in DAYS for name in names):
            raise ValueError(f"{part.strip()!r} is not a day or a range of days such as Mon-Fri")
        first = DAYS.index(names[0])
        last = DAYS.index(names[-1])
        day = first
        while True:
            days.add(day)
            if day == last:
                break
            day = (day + 1) % 7
    return frozenset(days)


@dataclass(frozen=True, slots=True)
class Slot:
    """
    When a block is on: on C{days}, from C{start} to C{end} minutes after
    midnight; an C{end} at or before C{start} runs past midnight into the
    next day (C{Fri 22:00-02:00} is on until Saturday 02:00).

    @ivar days: the weekdays it starts on, 0 for Monday.
    @ivar start: minutes after midnight it starts.
    @ivar end: minutes after midnight it ends.
    """

    days: frozenset[int]
    start: int
    end: int

    @property
    def length(self) -> int:
        """
        @return: its length in minutes (a whole day for C{00:00-24:00} or
            C{06:00-06:00}).
        """
        length = (self.end - self.start) % MINUTES_PER_DAY
        return length or MINUTES_PER_DAY


def parseWhen(text: str) -> Slot:
    """
    Read a block's C{when}: days, then a time range.

    @param text: e.g. C{"Mon-Fri 06:00-10:00"}, C{"Sat,Sun 22:00-02:00"},
        C{"daily 00:00-24:00"}.
    @return: the slot.
    @raise ValueError: with what is wrong, for any other text.
    """
    match = _WHEN.match(text)
    if match is None:
        raise ValueError(f'{text!r} is not days and a time range such as "Mon-Fri 06:00-10:00"')
    return Slot(_days(match["days"]), _minute(match["start"]), _minute(match["end"]))


def _starts(slot: Slot, around: datetime) -> list[datetime]:
    """
    @param slot: a slot.
    @param around: a moment, with its time zone.
    @return: the slot's starts from 8 days before C{around} to 8 after.
    """
    midnight = around.replace(hour=0, minute=0, second=0, microsecond=0)
    starts = []
    for offset in range(-8, 9):
        # Wall-clock arithmetic: a day is a calendar day even across a
        # daylight-saving change, so 06:00 stays 06:00.
        day = (midnight + timedelta(days=offset)).replace(tzinfo=around.tzinfo)
        if day.weekday() in slot.days:
            starts.append(day + timedelta(minutes=slot.start))
    return starts


def isOn(slot: Slot, when: datetime) -> bool:
    """
    @param slot: a slot.
    @param when: a moment, with the station's time zone.
    @return: whether the slot is on at C{when}.
    """
    return any(start <= when < start + timedelta(minutes=slot.length) for start in _starts(slot, when))


def activeBlock(slots: Sequence[Slot], when: datetime) -> int | None:
    """
    Which block is on: the first in order whose slot holds C{when}, so an
    earlier block wins where two overlap.

    @param slots: the blocks' slots, in the configuration's order.
    @param when: a moment, with the station's time zone.
    @return: the index of the block on, or L{None} for the default block.
    """
    for index, slot in enumerate(slots):
        if isOn(slot, when):
            return index
    return None


def nextChange(slots: Sequence[Slot], when: datetime) -> datetime | None:
    """
    The next moment after C{when} at which some block starts or ends (where
    L{activeBlock} may change).

    @param slots: the blocks' slots.
    @param when: a moment, with the station's time zone.
    @return: the moment, or L{None} when there are no blocks.
    """
    best: datetime | None = None
    for slot in slots:
        for start in _starts(slot, when):
            for edge in (start, start + timedelta(minutes=slot.length)):
                if edge > when and (best is None or edge < best):
                    best = edge
    return best


@dataclass(frozen=True, slots=True)
class Rotation:
    """
    Rotation rules: how far apart the same artist, or the same title, may
    play.  Zero turns a rule off.

    @ivar artistMinutes: no artist again within this many minutes.
    @ivar artistTracks: no artist again within this many tracks.
    @ivar titleMinutes: no title again within this many minutes.
    @ivar titleTracks: no title again within this many tracks.
    """

    artistMinutes: float = 0
    artistTracks: int = 0
    titleMinutes: float = 0
    titleTracks: int = 0


@dataclass(frozen=True, slots=True)
class Played:
    """
    A track that played (or was chosen to play).

    @ivar path: its file.
    @ivar artist: its artist, folded for comparison (C{""} when unknown).
    @ivar title: its title, folded for comparison (C{""} when unknown).
    @ivar at: when it started, in seconds since the epoch.
    """

    path: str
    artist: str
    title: str
    at: float


def breaches(candidate: Played, history: Sequence[Played], rules: Rotation) -> int:
    """
    Count the rules a candidate would break if it played at C{candidate.at}.

    An unknown artist or title breaks no rule about it.

    @param candidate: the track, with its start time.
    @param history: what played, oldest first.
    @param rules: the rules.
    @return: how many of the four rules it breaks (0 when it may play).
    """
    count = 0
    checks = (
        ("artist", rules.artistMinutes, rules.artistTracks),
        ("title", rules.titleMinutes, rules.titleTracks),
    )
    for field, minutes, tracks in checks:
        value = getattr(candidate, field)
        if not value:
            continue
        recentTracks = history[-tracks:] if tracks else ()
        if any(getattr(played, field) == value for played in recentTracks):
            count += 1
        if minutes and any(
            getattr(played, field) == value and candidate.at - played.at < minutes * 60 for played in history
        ):
            count += 1
    return count


def chooseNext(candidates: Sequence[Played], history: Sequence[Played], rules: Rotation) -> int:
    """
    Choose the next track: the first candidate, in the order given, that
    breaks no rotation rule; when every candidate breaks one (a small
    folder, strict rules), the one breaking fewest, the earliest of those,
    so the programme never stops.

    @param candidates: the tracks that may play, in the preferred order,
        each with the time it would start.
    @param history: what played, oldest first.
    @param rules: the rules.
    @return: the index of the chosen candidate.
    @raise ValueError: when there are no candidates.
    """
    if not candidates:
        raise ValueError("no candidates")
    best, bestCount = 0, None
    for index, candidate in enumerate(candidates):
        count = breaches(candidate, history, rules)
        if count == 0:
            return index
        if bestCount is None or count < bestCount:
            best, bestCount = index, count
    return best


@dataclass(frozen=True, slots=True)
class JinglePolicy:
    """
    When jingles play, between tracks.

    @ivar everyTracks: after this many tracks since the last jingle (0 for
        never).
    @ivar everyMinutes: once this many minutes have passed since the last
        jingle (0 for never).
    @ivar topOfHour: at the first track change in each hour.
    """

    everyTracks: int = 0
    everyMinutes: float = 0
    topOfHour: bool = False


def jingleDue(policy: JinglePolicy, tracksSince: int, lastAt: float | None, now: datetime, startedAt: float) -> bool:
    """
    Whether a jingle plays at this track change.

    @param policy: the policy.
    @param tracksSince: tracks played since the last jingle (or since the
        start).
    @param lastAt: when the last jingle started (seconds since the epoch),
        or L{None} when none has.
    @param now: the track change, with the station's time zone.
    @param startedAt: when the programme started (seconds since the
        epoch): the count of minutes starts there.
    @return: L{True} when one is due.
    """
    if policy.everyTracks and tracksSince >= policy.everyTracks:
        return True
    since = startedAt if lastAt is None else lastAt
    if policy.everyMinutes and now.timestamp() - since >= policy.everyMinutes * 60:
        return True
    if policy.topOfHour:
        hour = now.replace(minute=0, second=0, microsecond=0).timestamp()
        # Due when no jingle has played since this hour began, unless the
        # programme itself started within the hour's first track.
        if (lastAt is None and startedAt < hour) or (lastAt is not None and lastAt < hour):
            return True
    return False


def blockChanges(slots: Sequence[Slot], when: datetime, count: int, days: int = 7) -> list[tuple[datetime, int | None]]:
    """
    The coming changes of the block on: each moment at which
    L{activeBlock} becomes another block (or the default), the next first.

    @param slots: the blocks' slots, in the configuration's order.
    @param when: a moment, with the station's time zone.
    @param count: how many changes at most.
    @param days: how far ahead to look.
    @return: C{(moment, block index or None for the default)} pairs.
    """
    changes: list[tuple[datetime, int | None]] = []
    until = when + timedelta(days=days)
    current = activeBlock(slots, when)
    at: datetime | None = when
    while len(changes) < count:
        at = nextChange(slots, at) if at is not None else None
        if at is None or at > until:
            break
        block = activeBlock(slots, at)
        if block != current:
            changes.append((at, block))
            current = block
    return changes


def expectedStarts(first: float | None, durations: Sequence[float | None]) -> list[float | None]:
    """
    When each of a run of tracks should start, played one after another.

    @param first: when the first starts (seconds), or L{None} when not
        known.
    @param durations: each track's length in seconds, or L{None} when not
        known.
    @return: each track's start; L{None} from the first whose start cannot
        be known (after a track of unknown length).
    """
    starts: list[float | None] = []
    at = first
    for duration in durations:
        starts.append(at)
        at = None if at is None or duration is None else at + duration
    return starts
