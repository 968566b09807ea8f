# -*- test-case-name: tests.test_windows -*-
"""
Weekly broadcast windows, as DJ accounts give them: C{"Mon 20:00-22:00"},
C{"Mon-Fri 06:00-09:00"}, C{"Mon-Sun 00:00-24:00"}, C{"Fri 23:00-01:00"}.

A window is written in the station's local time (a L{zoneinfo.ZoneInfo});
its bounds are computed on the local calendar and only then turned into
POSIX seconds, so a window keeps its wall-clock times across a daylight
saving change (a C{Sun 01:00-04:00} window on the night the clocks go
forward lasts two hours, not three).

A window whose end is not after its start crosses midnight: C{"Fri
23:00-01:00"} runs from Friday 23:00 to Saturday 01:00; the day names say
on which days a window I{starts}.  Windows that touch or overlap are one
span: a DJ with C{"Mon-Sun 00:00-24:00"} is never cut at midnight.

Pure functions of their inputs: no clock, the standard library only.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
"""The day names a window is written with, Monday first (as
L{datetime.date.weekday} counts)."""

MAX_WINDOWS = 64
"""The most windows one account may have: a week of three shows a day is
21, so this only stops a configuration from making every login slow."""

_WINDOW = re.compile(
    r"^\s*(?P<first>[A-Za-z]{3})(?:\s*-\s*(?P<last>[A-Za-z]{3}))?\s+"
    r"(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})\s*$"
)


@dataclass(frozen=True, slots=True)
class Window:
    """
    One weekly window.

    @ivar days: the weekdays it starts on (0 is Monday), in order.
    @ivar start: minutes after local midnight it starts at.
    @ivar end: minutes after the start day's local midnight it ends at;
        more than 1440 when it crosses midnight.
    @ivar text: how it was written, for messages.
    """

    days: tuple[int, ...]
    start: int
    end: int
    text: str


def _minutes(text: str, allowMidnight: bool) -> int:
    """
    Read C{HH:MM}.

    @param text: the time.
    @param allowMidnight: whether C{24:00} is allowed (an end).
    @return: minutes after midnight.
    @raise ValueError: for a time that is not on a clock.
    """
    hours, minutes = (int(part) for part in text.split(":"))
    if minutes > 59 or hours > 24 or (hours == 24 and (minutes or not allowMidnight)):
        raise ValueError(f"{text} is not a time of day (00:00 to {'24:00' if allowMidnight else '23:59'})")
    return hours * 60 + minutes


def _day(text: str) -> int:
    """
    @param text: a day name, any case.
    @return: its index in L{DAYS}.
    @raise ValueError: for another word.
    """
    name = text.capitalize()
    if name not in DAYS:
        raise ValueError(f"{text!r} is not a day; write one of {', '.join(DAYS)}")
    return DAYS.index(name)


def parseWindow(text: str) -> Window:
    """
    Read one window.

    @param text: e.g. C{"Mon 20:00-22:00"}, C{"Mon-Fri 06:00-09:00"},
        C{"Sat-Mon 22:00-02:00"} (a day range may wrap past Sunday).
    @return: the window.
    @raise ValueError: with what is wrong, for anything else.
    """
    match = _WINDOW.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a window; write e.g. \"Mon 20:00-22:00\" or \"Mon-Fri 06:00-09:00\"")
    first = _day(match["first"])
    last = _day(match["last"]) if match["last"] else first
    days = tuple((first + offset) % 7 for offset in range((last - first) % 7 + 1))
    start = _minutes(match["start"], allowMidnight=False)
    end = _minutes(match["end"], allowMidnight=True)
    if end == start:
        raise ValueError(f"{text!r} is empty: it starts and ends at {match['start']}")
    if end < start:
        # It crosses midnight: it ends on the next day.
        end += 24 * 60
    return Window(days, start, end, text.strip())


def parseWindows(texts: Sequence[str]) -> tuple[Window, ...]:
    """
    Read an account's windows.

    @param texts: the windows as written.
    @return: them, in order.
    @raise ValueError: for a bad one (naming it), or more than
        L{MAX_WINDOWS}.
    """
    if len(texts) > MAX_WINDOWS:
        raise ValueError(f"{len(texts)} windows; the most allowed is {MAX_WINDOWS}")
    return tuple(parseWindow(text) for text in texts)


def describeWindows(windows: Sequence[Window]) -> str:
    """
    @param windows: an account's windows.
    @return: them as written, e.g. C{"Mon 20:00-22:00, Fri 18:00-19:30"}, or
        C{"no time"} for none.
    """
    return ", ".join(window.text for window in windows) or "no time"


def _at(day: date, minutes: int, zone: tzinfo) -> float:
    """
    The POSIX time of a local wall-clock time.

    @param day: the local date minutes are counted from.
    @param minutes: minutes after that day's midnight (may pass 24 h).
    @param zone: the station's time zone.
    @return: seconds since the epoch.  A wall-clock time skipped by a
        daylight saving change is read with the offset from before it (PEP
        495's C{fold=0}), so it falls just after the change.
    """
    when = datetime.combine(day, time(0)) + timedelta(minutes=minutes)
    return when.replace(tzinfo=zone).timestamp()


def _spans(windows: Sequence[Window], around: float, zone: tzinfo) -> list[tuple[float, float]]:
    """
    Every occurrence of the windows that starts from two days before to
    eight days after a moment, as POSIX C{(start, end)}, sorted.

    @param windows: the windows.
    @param around: the moment, POSIX seconds.
    @param zone: the station's time zone.
    @return: the occurrences.
    """
    today = datetime.fromtimestamp(around, zone).date()
    spans = []
    for offset in range(-2, 9):
        day = today + timedelta(days=offset)
        for window in windows:
            if day.weekday() in window.days:
                spans.append((_at(day, window.start, zone), _at(day, window.end, zone)))
    spans.sort()
    return spans


def windowEnd(windows: Sequence[Window], now: float, zone: tzinfo) -> float | None:
    """
    Tell whether a moment is inside a window, and when the span of windows
    it is in ends.

    @param windows: the account's windows.
    @param now: the moment, POSIX seconds.
    @param zone: the station's time zone.
    @return: the POSIX time the span ends (windows that touch or overlap
        count as one, up to a week ahead), or L{None} when C{now} is in
        none.
    """
    end: float | None = None
    for start, stop in _spans(windows, now, zone):
        if end is None:
            if start <= now < stop:
                end = stop
        elif start <= end:
            end = max(end, stop)
        else:
            break
    return end


def nextStart(windows: Sequence[Window], now: float, zone: tzinfo) -> float | None:
    """
    @param windows: the account's windows.
    @param now: the moment, POSIX seconds.
    @param zone: the station's time zone.
    @return: the POSIX time the next window starts after C{now}, or
        L{None} for an account without windows.
    """
    return next((start for start, _ in _spans(windows, now, zone) if start > now), None)
