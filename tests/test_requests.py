"""
Tests for L{txradio.sources.requests}: the request queue's bounds and
cool-downs, and requests played at the next track change by a playlist and
by the programme clock (after a due jingle).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from txradio.sources.playlist import PlaylistSource
from txradio.sources.requests import Limits, QueueFull, Refused, RequestQueue, attachRequests, waitText
from txradio.sources.schedule import Block, ScheduledSource, ScheduledTracks
from txradio.sources.tracks import ListTracks
from txradio.testing import syntheticFrame
from txradio.wire.programme import TitleChange
from txradio.wire.schedule import JinglePolicy, parseWhen


class QueueTests(SynchronousTestCase):
    """
    L{RequestQueue} keeps its bound and every cool-down, with exact waits.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1000)
        self.artists = {"/m/played.mp3": "Played Artist"}
        self.queue = RequestQueue(self.clock, Limits(3, 300, 3600, 1800), artistOf=self.artists.get)

    def add(self, name: str, artist: str = "", address: str = "192.0.2.1") -> int:
        return self.queue.add(f"/m/{name}.mp3", f"{name}.mp3", name.title(), artist, address)

    def test_order(self) -> None:
        """
        Requests are taken in order; an empty queue gives L{None}.
        """
        self.assertEqual(self.add("a", address="1"), 1)
        self.assertEqual(self.add("b", address="2"), 2)
        self.assertEqual(self.queue.peek().title, "A")
        self.assertEqual([r.relative for r in self.queue.waiting()], ["a.mp3", "b.mp3"])
        self.assertEqual(self.queue.take(), "/m/a.mp3")
        self.assertEqual(self.queue.take(), "/m/b.mp3")
        self.assertIsNone(self.queue.take())
        self.assertEqual(self.queue.taken, 2)

    def test_bounded(self) -> None:
        """
        A full queue refuses with L{QueueFull}, without a wait, and counts
        nothing against the listener.
        """
        for index in range(3):
            self.add(f"s{index}", address=str(index))
        with self.assertRaises(QueueFull) as caught:
            self.add("late", address="9")
        self.assertIsNone(caught.exception.retryAfter)
        self.assertIn("full (3 songs)", caught.exception.message)
        self.queue.take()
        self.assertEqual(self.add("late", address="9"), 3)

    def test_perAddress(self) -> None:
        """
        One request per address within 5 minutes; the wait is exact, and
        another address is not concerned.
        """
        self.add("a")
        self.clock.advance(100)
        with self.assertRaises(Refused) as caught:
            self.add("b")
        self.assertEqual(caught.exception.retryAfter, 200)
        self.assertIn("wait 3 min 20 s", caught.exception.message)
        self.add("b", address="192.0.2.2")
        self.clock.advance(199.5)
        with self.assertRaises(Refused) as caught:
            self.add("c")
        self.assertEqual(caught.exception.retryAfter, 1)
        self.clock.advance(0.5)
        self.assertEqual(self.add("c"), 3)

    def test_perSong(self) -> None:
        """
        A song requested is refused for an hour from its request, and again
        for an hour from when it played.
        """
        self.add("a", address="1")
        self.clock.advance(600)
        with self.assertRaises(Refused) as caught:
            self.add("a", address="2")
        self.assertEqual(caught.exception.retryAfter, 3000)
        self.assertIn("50 min", caught.exception.message)
        self.queue.take()
        self.clock.advance(10)
        with self.assertRaises(Refused) as caught:
            self.add("a", address="3")
        self.assertEqual(caught.exception.retryAfter, 3590)

    def test_playedSong(self) -> None:
        """
        A song the playlist played (not requested) is refused too, and its
        artist, as read by C{artistOf}.
        """
        self.queue.started("/m/played.mp3")
        self.clock.advance(60)
        with self.assertRaises(Refused) as caught:
            self.add("played", address="1")
        self.assertEqual(caught.exception.retryAfter, 3540)
        with self.assertRaises(Refused) as caught:
            self.add("other", artist="played artist", address="1")
        self.assertEqual(caught.exception.retryAfter, 1740)
        self.assertIn("played artist was requested or played recently", caught.exception.message)

    def test_perArtist(self) -> None:
        """
        An artist is refused for 30 minutes, case aside; songs without an
        artist never are.
        """
        self.add("a", artist="Miles", address="1")
        self.clock.advance(1799)
        with self.assertRaises(Refused) as caught:
            self.add("b", artist="MILES ", address="2")
        self.assertEqual(caught.exception.retryAfter, 1)
        self.add("c", address="3")
        self.queue.take()
        self.queue.take()
        self.add("d", address="4")
        self.clock.advance(1)
        with self.assertRaises(Refused) as caught:
            self.add("b", artist="Miles", address="5")
        # The artist's turn counts from when it was taken to play.
        self.assertEqual(caught.exception.retryAfter, 1799)

    def test_off(self) -> None:
        """
        Zero turns a cool-down off.
        """
        queue = RequestQueue(self.clock, Limits(5, 0, 0, 0))
        for _ in range(3):
            queue.add("/m/a.mp3", "a.mp3", "A", "X", "1")
        self.assertEqual(len(queue), 3)

    def test_waitText(self) -> None:
        self.assertEqual(waitText(45), "45 s")
        self.assertEqual(waitText(300), "5 min")
        self.assertEqual(waitText(3599), "59 min 59 s")


def writeTracks(testCase: SynchronousTestCase, names: list[str], seconds: float = 10) -> dict[str, str]:
    """
    Write synthetic MP3 files.

    @return: name to path.
    """
    folder = testCase.mktemp()
    os.makedirs(folder)
    frame = syntheticFrame()
    paths = {}
    for name in names:
        path = os.path.join(folder, name + ".mp3")
        with open(path, "wb") as f:
            f.write(frame.data * int(seconds / frame.header.duration))
        paths[name] = path
    return paths


def titlesPlayed(source: PlaylistSource, clock: Clock, seconds: int) -> list[tuple[float, str]]:
    """
    Pull a second of audio each second.

    @return: the title changes and when they came.
    """
    titles = []
    for _ in range(seconds):
        for item in source.pull(1.0):
            if isinstance(item, TitleChange):
                titles.append((clock.seconds(), item.title))
        clock.advance(1)
    return titles


class PlaylistRequestTests(SynchronousTestCase):
    """
    A playlist plays a request at its next track change.
    """

    def test_nextTrackChange(self) -> None:
        """
        Requested while track 1 plays, the song plays when track 1 ends,
        then the list goes on where it was; C{upcoming} names it first.
        """
        paths = writeTracks(self, ["one", "two", "three", "wish"])
        clock = Clock()
        source = PlaylistSource(
            ListTracks([paths["one"], paths["two"], paths["three"]]), clock=clock, titleOf=os.path.basename
        )
        queue = RequestQueue(clock, Limits(perArtist=0))
        attachRequests(source, queue)
        self.assertIs(source.requests, queue)
        titles = titlesPlayed(source, clock, 3)
        queue.add(paths["wish"], "wish.mp3", "wish.mp3", "", "1")
        self.assertEqual(source.upcoming(), "wish.mp3")
        titles += titlesPlayed(source, clock, 35)
        self.assertEqual([t for _, t in titles], ["one.mp3", "wish.mp3", "two.mp3", "three.mp3"])
        self.assertEqual(queue.taken, 1)
        # Every track played counts for the song cool-down.
        with self.assertRaises(Refused):
            queue.add(paths["two"], "two.mp3", "two.mp3", "", "2")
        source.close()


class ScheduledRequestTests(SynchronousTestCase):
    """
    On the programme clock a request plays at the next track change, after
    the jingle when one is due.
    """

    def test_afterJingle(self) -> None:
        paths = writeTracks(self, ["a", "b", "c", "id", "wish"])
        clock = Clock()
        clock.advance(datetime(2024, 1, 1, 10, 30, tzinfo=UTC).timestamp())
        default = Block("default", None, ListTracks([paths["a"], paths["b"], paths["c"]]))
        tracks = ScheduledTracks(
            [],
            default,
            clock,
            jingles=ListTracks([paths["id"]]),
            jinglePolicy=JinglePolicy(everyTracks=1),
            tagsOf=lambda p: ("", os.path.basename(p)),
        )
        source = ScheduledSource(tracks, clock=clock, titleOf=os.path.basename)
        queue = RequestQueue(clock, Limits(perArtist=0))
        attachRequests(source, queue)
        self.assertIs(tracks.requests, queue)
        titles = titlesPlayed(source, clock, 3)
        queue.add(paths["wish"], "wish.mp3", "wish.mp3", "", "1")
        titles += titlesPlayed(source, clock, 45)
        self.assertEqual([t for _, t in titles], ["a.mp3", "id.mp3", "wish.mp3", "id.mp3", "b.mp3"])
        self.assertEqual(titles[2][0] - titles[1][0], 10)
        self.assertEqual(tracks.history[-2].path, paths["wish"])
        source.close()


    def test_hardStartFirst(self) -> None:
        """
        A block starting hard plays its first track before a waiting
        request.
        """
        paths = writeTracks(self, ["a", "news", "wish"], seconds=100)
        clock = Clock()
        clock.advance(datetime(2024, 1, 1, 5, 59, tzinfo=UTC).timestamp())
        news = Block("news", parseWhen("daily 06:00-06:01"), ListTracks([paths["news"]]), hard=True)
        default = Block("default", None, ListTracks([paths["a"]]))
        tracks = ScheduledTracks([news], default, clock, tagsOf=lambda p: ("", os.path.basename(p)))
        source = ScheduledSource(tracks, clock=clock, titleOf=os.path.basename)
        queue = RequestQueue(clock, Limits(perArtist=0))
        attachRequests(source, queue)
        titles = titlesPlayed(source, clock, 30)
        queue.add(paths["wish"], "wish.mp3", "wish.mp3", "", "1")
        titles += titlesPlayed(source, clock, 150)
        self.assertEqual([t for _, t in titles], ["a.mp3", "news.mp3", "wish.mp3"])
        self.assertEqual(titles[1][0], datetime(2024, 1, 1, 6, 0, tzinfo=UTC).timestamp())
        source.close()


class ConfigurationTests(SynchronousTestCase):
    """
    C{[server.requests]} and a mount's C{requests} give its playlist a queue.
    """

    def test_built(self) -> None:
        from txradio.build import playlistSource
        from txradio.config import parseConfig

        folder = os.path.dirname(writeTracks(self, ["a"])["a"])
        config = parseConfig(
            f"""
[server.requests]
queue = 5
address_minutes = 2
song_minutes = 0

[[mount]]
path = "/stream"
playlist = "{folder}"
requests = true

[[mount]]
path = "/other"
playlist = "{folder}"
"""
        )
        clock = Clock()
        source = playlistSource(config.mounts[0], clock, "skip", config.server)
        self.assertEqual(source.requests.limits, Limits(5, 120.0, 0.0, 1800.0))
        other = playlistSource(config.mounts[1], clock, "skip", config.server)
        self.assertIsNone(other.requests)
