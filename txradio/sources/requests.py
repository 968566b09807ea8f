# -*- test-case-name: tests.test_requests -*-
"""
Listener requests: a bounded queue of songs asked for, with cool-downs per
address, per song and per artist, consulted by the playlist at each track
change.

L{RequestQueue} is pure logic on an injected clock: the web layer
(L{txradio.web.requests}) resolves and checks the path, then calls
L{RequestQueue.add}; the playlist (L{txradio.sources.playlist.PlaylistSource},
or L{txradio.sources.schedule.ScheduledTracks} after a due jingle) calls
L{RequestQueue.take} when a track ends, and L{RequestQueue.started} for
every track it opens, so songs and artists that just played are refused too.
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

from twisted.internet.interfaces import IReactorTime

from txradio.interfaces import IProgramme

MEMORY = 5000
"""Songs and artists remembered for the cool-downs (the oldest forgotten first)."""


@dataclass(frozen=True)
class Limits:
    """
    The rules a queue keeps.

    @ivar size: the most requests waiting at once.
    @ivar perAddress: seconds between two requests from one address.
    @ivar perSong: seconds before a song requested or played is taken again.
    @ivar perArtist: seconds before an artist requested or played is taken
        again.
    """

    size: int = 20
    perAddress: float = 300.0
    perSong: float = 3600.0
    perArtist: float = 1800.0


@dataclass(frozen=True)
class Request:
    """
    A song waiting to be played.

    @ivar path: its absolute path, as the playlist opens it.
    @ivar relative: its path relative to the library root, for the API.
    @ivar title: its title, for the page.
    @ivar artist: its artist, or C{""}.
    @ivar at: when it was asked for, in the clock's seconds.
    """

    path: str
    relative: str
    title: str
    artist: str
    at: float

    @property
    def display(self) -> str:
        """
        Its title as the stream shows it: C{"Artist - Title"}.
        """
        return f"{self.artist} - {self.title}" if self.artist else self.title


class Refused(Exception):
    """
    A request the queue does not take.

    @ivar message: why, for the listener.
    @ivar retryAfter: whole seconds to wait, or L{None} when waiting does
        not help (the queue is full: try later, no promise).
    """

    def __init__(self, message: str, retryAfter: int | None = None) -> None:
        Exception.__init__(self, message)
        self.message = message
        self.retryAfter = retryAfter


class QueueFull(Refused):
    """
    The queue holds L{Limits.size} requests already.
    """


def waitText(seconds: int) -> str:
    """
    @param seconds: a wait.
    @return: it in words, e.g. C{"4 min 10 s"}.
    """
    minutes, rest = divmod(seconds, 60)
    if not minutes:
        return f"{rest} s"
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"


class _Recent:
    """
    When each key was last seen, bounded by L{MEMORY}.
    """

    def __init__(self) -> None:
        self._seen: OrderedDict[str, float] = OrderedDict()

    def note(self, key: str, at: float) -> None:
        if not key:
            return
        self._seen.pop(key, None)
        self._seen[key] = at
        while len(self._seen) > MEMORY:
            self._seen.popitem(last=False)

    def wait(self, key: str, now: float, span: float) -> int:
        """
        @return: whole seconds before C{key} is allowed again (0: now).
        """
        at = self._seen.get(key)
        if not key or at is None or span <= 0:
            return 0
        return max(0, math.ceil(at + span - now))


class RequestQueue:
    """
    The requests waiting on one mount, in order.

    @ivar limits: the rules.
    @ivar taken: requests handed to the playlist so far.
    """

    def __init__(self, clock: IReactorTime, limits: Limits | None = None, artistOf: Callable[[str], str] | None = None) -> None:
        """
        @param clock: the time source.
        @param limits: the rules; L{Limits}' defaults when L{None}.
        @param artistOf: reads the artist of a path the playlist plays that
            was not requested (for the artist cool-down); L{None} leaves
            plain plays out of the artist rule.
        """
        self.limits = limits or Limits()
        self.taken = 0
        self._clock = clock
        self._artistOf = artistOf
        self._waiting: deque[Request] = deque()
        self._addresses = _Recent()
        self._songs = _Recent()
        self._artists = _Recent()

    def __len__(self) -> int:
        return len(self._waiting)

    def waiting(self) -> list[Request]:
        """
        @return: the requests waiting, the next first.
        """
        return list(self._waiting)

    def peek(self) -> Request | None:
        """
        @return: the request that plays next, or L{None}.
        """
        return self._waiting[0] if self._waiting else None

    def add(self, path: str, relative: str, title: str, artist: str, address: str) -> int:
        """
        Queue a song, if every rule allows it.

        @param path: its absolute path.
        @param relative: its path in the library.
        @param title: its title.
        @param artist: its artist, or C{""}.
        @param address: the listener's real address.
        @return: its position in the queue, from 1.
        @raise Refused: with the wait, when a cool-down applies.
        @raise QueueFull: when the queue is full.
        """
        now = self._clock.seconds()
        limits = self.limits
        wait = self._addresses.wait(address, now, limits.perAddress)
        if wait:
            raise Refused(f"one request every {waitText(int(limits.perAddress))} per listener: wait {waitText(wait)}", wait)
        wait = self._songs.wait(path, now, limits.perSong)
        if wait:
            raise Refused(f"this song was requested or played recently: it can be requested again in {waitText(wait)}", wait)
        artistKey = artist.casefold().strip()
        wait = self._artists.wait(artistKey, now, limits.perArtist)
        if wait:
            raise Refused(f"{artist} was requested or played recently: request them again in {waitText(wait)}", wait)
        if len(self._waiting) >= limits.size:
            raise QueueFull(f"the request queue is full ({limits.size} songs): try again after the next song")
        self._waiting.append(Request(path, relative, title, artist, now))
        self._addresses.note(address, now)
        self._songs.note(path, now)
        self._artists.note(artistKey, now)
        return len(self._waiting)

    def take(self) -> str | None:
        """
        The playlist changes track: hand it the next request.

        @return: the path to play, or L{None} when none waits.
        """
        if not self._waiting:
            return None
        request = self._waiting.popleft()
        self.taken += 1
        now = self._clock.seconds()
        self._songs.note(request.path, now)
        self._artists.note(request.artist.casefold().strip(), now)
        return request.path

    def started(self, path: str) -> None:
        """
        The playlist opened a track (requested or not): it counts as played
        for the cool-downs from now.

        @param path: the track's path.
        """
        now = self._clock.seconds()
        self._songs.note(path, now)
        if self._artistOf is not None:
            try:
                artist = self._artistOf(path)
            except Exception:
                return
            self._artists.note(artist.casefold().strip(), now)


def attachRequests(source: IProgramme, queue: RequestQueue) -> None:
    """
    Have a playlist take its next tracks from C{queue} first: a plain
    L{txradio.sources.playlist.PlaylistSource} at each track change, a
    L{txradio.sources.schedule.ScheduledSource}'s track list after a due
    jingle.

    @param source: the playlist.
    @param queue: the mount's requests.
    """
    from txradio.sources.schedule import ScheduledSource  # which imports this module

    source.requests = queue
    if isinstance(source, ScheduledSource):
        source.tracks.requests = queue


def artistOf(path: str) -> str:
    """
    @param path: an MP3 file.
    @return: its artist from its ID3 tags, or C{""}.
    """
    from txradio.sources.schedule import readArtistTitle

    return readArtistTitle(path)[0]


def takeRequests(source: IProgramme, clock: IReactorTime, limits: Limits) -> RequestQueue:
    """
    Give a playlist a request queue of its own (see L{attachRequests}).

    @param source: the playlist.
    @param clock: the time source.
    @param limits: the queue's rules.
    @return: the queue.
    """
    queue = RequestQueue(clock, limits, artistOf)
    attachRequests(source, queue)
    return queue
