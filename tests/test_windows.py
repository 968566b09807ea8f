"""
Tests for L{txradio.wire.windows}: DJs' weekly windows, over a simulated
week that includes a daylight saving change.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from twisted.trial.unittest import SynchronousTestCase

from txradio.wire.windows import describeWindows, nextStart, parseWindow, parseWindows, windowEnd

BERLIN = ZoneInfo("Europe/Berlin")
UTC = ZoneInfo("UTC")


def local(text: str, zone=BERLIN) -> float:
    """
    @param text: a local time, C{"2026-03-27 20:00"}.
    @param zone: its zone.
    @return: its POSIX time.
    """
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=zone).timestamp()


class ParseWindowTests(SynchronousTestCase):
    """
    Windows are read from their text, or refused with a reason.
    """

    def test_oneDay(self) -> None:
        """
        C{"Mon 20:00-22:00"} starts on Monday at 20:00 and lasts 2 h.
        """
        window = parseWindow("Mon 20:00-22:00")
        self.assertEqual((window.days, window.start, window.end), ((0,), 1200, 1320))

    def test_dayRange(self) -> None:
        """
        A day range names every day from the first to the last, wrapping
        past Sunday.
        """
        self.assertEqual(parseWindow("Mon-Fri 06:00-09:00").days, (0, 1, 2, 3, 4))
        self.assertEqual(parseWindow("sat-mon 10:00-11:00").days, (5, 6, 0))
        self.assertEqual(parseWindow("Mon-Sun 00:00-24:00").end, 1440)

    def test_crossesMidnight(self) -> None:
        """
        An end before the start is on the next day.
        """
        self.assertEqual(parseWindow("Fri 23:00-01:00").end, 25 * 60)

    def test_bad(self) -> None:
        """
        Bad days, times, empty windows and other shapes are refused.
        """
        for text in ("Mon", "Mox 20:00-21:00", "Mon 25:00-26:00", "Mon 20:61-21:00", "Mon 20:00-20:00",
                     "Mon 24:00-01:00", "20:00-21:00", "Mon 20:00 21:00"):
            self.assertRaises(ValueError, parseWindow, text)

    def test_describe(self) -> None:
        """
        Windows are described as written.
        """
        windows = parseWindows(["Mon 20:00-22:00", "Fri 18:00-19:30"])
        self.assertEqual(describeWindows(windows), "Mon 20:00-22:00, Fri 18:00-19:30")
        self.assertEqual(describeWindows(()), "no time")

    def test_tooMany(self) -> None:
        """
        An account may not have an unbounded number of windows.
        """
        self.assertRaises(ValueError, parseWindows, ["Mon 20:00-21:00"] * 65)


class WindowEndTests(SynchronousTestCase):
    """
    L{windowEnd} says whether a moment is in a window and when it ends.
    """

    def test_simulatedWeek(self) -> None:
        """
        Every minute of a week across the spring-forward change (Berlin,
        Sunday 29 March 2026, 02:00 becomes 03:00) is inside exactly when
        its local wall-clock time is in a window, and the end is the
        window's local end.
        """
        windows = parseWindows(["Mon 20:00-22:00", "Fri 18:00-19:30", "Sat-Sun 01:00-04:00"])
        start = local("2026-03-23 00:00")
        inside = 0
        for minute in range(7 * 24 * 60):
            now = start + minute * 60
            at = datetime.fromtimestamp(now, BERLIN)
            hm = at.hour * 60 + at.minute
            expected = (
                (at.weekday() == 0 and 1200 <= hm < 1320)
                or (at.weekday() == 4 and 1080 <= hm < 1170)
                or (at.weekday() in (5, 6) and 60 <= hm < 240)
            )
            end = windowEnd(windows, now, BERLIN)
            self.assertEqual(end is not None, expected, at)
            if end is not None:
                inside += 1
                ending = datetime.fromtimestamp(end, BERLIN)
                self.assertIn((ending.hour, ending.minute), [(22, 0), (19, 30), (4, 0)])
                self.assertEqual(ending.date(), at.date())
        # 120 + 90 + 180 (Saturday) + 120 (Sunday: an hour is skipped).
        self.assertEqual(inside, 510)

    def test_fallBack(self) -> None:
        """
        On the night the clocks go back, a window across the change lasts
        an hour longer in real time.
        """
        windows = parseWindows(["Sun 01:00-04:00"])
        now = local("2026-10-25 01:30")
        end = windowEnd(windows, now, BERLIN)
        assert end is not None
        self.assertEqual(end - local("2026-10-25 01:00"), 4 * 3600)

    def test_crossesMidnight(self) -> None:
        """
        A window that crosses midnight covers the early hours of the next
        day, and ends then.
        """
        windows = parseWindows(["Fri 23:00-01:00"])
        self.assertEqual(windowEnd(windows, local("2026-03-28 00:30"), BERLIN), local("2026-03-28 01:00"))
        self.assertIsNone(windowEnd(windows, local("2026-03-28 01:00"), BERLIN))

    def test_allWeek(self) -> None:
        """
        Windows that touch are one span: C{Mon-Sun 00:00-24:00} never ends
        within the next week.
        """
        windows = parseWindows(["Mon-Sun 00:00-24:00"])
        now = local("2026-03-25 12:00", UTC)
        end = windowEnd(windows, now, UTC)
        assert end is not None
        self.assertGreater(end - now, 6 * 86400)

    def test_adjacent(self) -> None:
        """
        Two windows back to back make one span.
        """
        windows = parseWindows(["Mon 20:00-21:00", "Mon 21:00-22:00"])
        self.assertEqual(windowEnd(windows, local("2026-03-23 20:30", UTC), UTC), local("2026-03-23 22:00", UTC))

    def test_nextStart(self) -> None:
        """
        L{nextStart} is the next window's start, or L{None} without
        windows.
        """
        windows = parseWindows(["Fri 18:00-19:30"])
        self.assertEqual(nextStart(windows, local("2026-03-23 12:00"), BERLIN), local("2026-03-27 18:00"))
        self.assertIsNone(nextStart((), 0.0, BERLIN))
