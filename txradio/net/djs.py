# -*- test-case-name: tests.test_djs -*-
"""
DJ accounts at the source door: who may broadcast where and when, the end
of each DJ's window, and the hand-over from one DJ to the next.

A DJ logs in as a source client with its own name and password, through
the same login check and throttle as the mount's C{source} account.
Inside one of its weekly windows, on a mount it is given, it goes on the
air, and a delayed call on the radio's clock ends it (at a frame boundary,
as C{killsource} does) when the window ends, after the account's grace.

With hand-over on, a DJ logging in while another source is on the air is
held: its connection is answered and kept, its audio buffered (at most
L{HOLD_SECONDS}, the oldest dropped), and the moment the first leaves or
its window ends, the switcher plays the second's frames right after the
first's, with no programme between.  One DJ waits per mount at most.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any, Protocol

from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger

from txradio.stream.events import SourceDisconnected
from txradio.wire.auth import passwordMatches
from txradio.wire.passwordhash import PasswordHash
from txradio.wire.request import RequestError
from txradio.wire.windows import Window, describeWindows, parseWindows, windowEnd

HOLD_SECONDS = 4.0
"""Seconds of a waiting DJ's audio kept until it goes on the air; older
frames are dropped, so a waiting DJ costs at most this much memory (about
64 kB at 128 kbps) and starts at most this far behind its encoder."""

MAX_WAITING = 1
"""DJs that may wait per mount: the next one, no queue to build up."""


@dataclass(frozen=True, slots=True)
class DJAccount:
    """
    A DJ account, as the source door sees it.

    @ivar name: the user name; the show's name while on the air.
    @ivar password: the password or its L{PasswordHash}.
    @ivar mounts: the mount paths it may broadcast to, e.g. C{b"/stream"}.
    @ivar windows: its weekly windows.
    @ivar grace: seconds it may stay after a window ends.
    """

    name: str
    password: str | PasswordHash
    mounts: frozenset[bytes]
    windows: tuple[Window, ...]
    grace: float = 0.0


class DJSession(Protocol):
    """
    What the desk needs of a source session (L{txradio.net.sourceport.SourceSession}).

    @ivar dj: the DJ account it logged in with, or L{None} for the mount's
        own password.
    @ivar live: its live source once it has one, or L{None}.
    """

    station: Any
    peer: str
    dj: DJAccount | None
    live: Any

    def takeOver(self) -> bool:
        """
        Go on the air now, after waiting.

        @return: L{False} when the mount would not take it.
        """

    def hangUp(self) -> None:
        """
        Close the connection.
        """


@dataclass
class _Show:
    """
    A DJ on the air on one mount.
    """

    dj: DJAccount
    session: DJSession
    timer: IDelayedCall | None


class DJDesk:
    """
    The radio's DJ accounts and, per mount, the DJ on the air and the one
    waiting.

    @ivar zone: the station's time zone.
    @ivar queue: whether a DJ may wait for a busy mount (hand-over), for
        the mounts not in L{mountQueues}.
    @ivar mountQueues: the mounts whose own setting overrides L{queue}.
    """

    _log = Logger()

    def __init__(
        self,
        accounts: Iterable[DJAccount],
        zone: tzinfo,
        clock: IReactorTime,
        queue: bool = False,
        mountQueues: Mapping[bytes, bool] | None = None,
    ) -> None:
        """
        @param accounts: the DJ accounts.
        @param zone: the station's time zone, for the windows.
        @param clock: the radio's clock; its C{seconds()} are POSIX time.
        @param queue: whether a DJ may wait for a busy mount.
        @param mountQueues: the mounts that decide otherwise, by path.
        """
        self._clock = clock
        self._onAir: dict[bytes, _Show] = {}
        self._waiting: dict[bytes, DJSession] = {}
        self.configure(accounts, zone, queue, mountQueues)

    def configure(
        self,
        accounts: Iterable[DJAccount],
        zone: tzinfo,
        queue: bool,
        mountQueues: Mapping[bytes, bool] | None = None,
    ) -> None:
        """
        Take new accounts and settings (a reload).  DJs on the air keep
        their current window's end; a DJ already waiting keeps waiting.

        @param accounts: the DJ accounts.
        @param zone: the station's time zone.
        @param queue: whether a DJ may wait for a busy mount.
        @param mountQueues: the mounts that decide otherwise, by path.
        """
        self._accounts = {account.name: account for account in accounts}
        self.zone = zone
        self.queue = queue
        self.mountQueues = dict(mountQueues or {})

    def accounts(self, user: str | None = None) -> list[tuple[str, str | PasswordHash]]:
        """
        The credentials to compare a login with.

        @param user: the user name given: only that account's, so that a
            login costs one password check (a hash is slow on purpose)
            whatever the number of DJs.
        @return: C{(name, password)} pairs.
        """
        if user is None:
            return [(a.name, a.password) for a in self._accounts.values()]
        account = self._accounts.get(user)
        return [(account.name, account.password)] if account is not None else []

    def find(self, credentials: tuple[str, str] | None) -> DJAccount | None:
        """
        @param credentials: C{(user, password)} from a login.
        @return: the DJ account they log in to, or L{None}.
        """
        if credentials is None:
            return None
        account = self._accounts.get(credentials[0])
        if account is None or not passwordMatches(credentials[1], account.password):
            return None
        return account

    def windowEnd(self, dj: DJAccount) -> float | None:
        """
        @param dj: an account.
        @return: when its current span of windows ends (POSIX seconds), or
            L{None} when it is outside its windows now.
        """
        return windowEnd(dj.windows, self._clock.seconds(), self.zone)

    def describe(self, dj: DJAccount) -> str:
        """
        @param dj: an account.
        @return: e.g. C{"dj alice may broadcast on Mon 20:00-22:00
            (Europe/Berlin)"}.
        """
        return f"dj {dj.name} may broadcast on {describeWindows(dj.windows)} ({self.zone})"

    def refusal(self, dj: DJAccount, mount: bytes) -> RequestError | None:
        """
        Decide whether a DJ who logged in may broadcast on a mount now.

        @param dj: the account.
        @param mount: the mount path.
        @return: a 403 with the reason, or L{None}.
        """
        if mount not in dj.mounts:
            allowed = ", ".join(sorted(m.decode("ascii") for m in dj.mounts))
            return RequestError(403, f"dj {dj.name} may not broadcast on {mount.decode('ascii')}, only on {allowed}")
        if self.windowEnd(dj) is None:
            return RequestError(403, self.describe(dj))
        return None

    def mayWait(self, mount: bytes) -> bool:
        """
        @param mount: a busy mount.
        @return: whether a DJ may wait for it (hand-over is on and nobody
            waits yet).
        """
        # MAX_WAITING is 1: the waiting room is one seat per mount.
        return self.mountQueues.get(mount, self.queue) and mount not in self._waiting

    def hold(self, mount: bytes, session: DJSession) -> None:
        """
        A DJ waits for a busy mount.

        @param mount: the mount.
        @param session: its source session, answered and buffering.
        """
        self._waiting[mount] = session
        self._log.info("{peer} waits to take over {mount}", peer=session.peer, mount=mount.decode("ascii"))

    def onAir(self, mount: bytes, dj: DJAccount, session: DJSession) -> None:
        """
        A DJ went on the air: end it when its window (and grace) ends.

        @param mount: the mount.
        @param dj: the account.
        @param session: its source session.
        """
        show = _Show(dj, session, None)
        self._onAir[mount] = show
        self._schedule(mount, show)

    def _schedule(self, mount: bytes, show: _Show) -> None:
        """
        Set the call that ends a show.

        @param mount: the mount.
        @param show: the show.
        """
        end = self.windowEnd(show.dj)
        now = self._clock.seconds()
        delay = max(0.0, (end if end is not None else now) + show.dj.grace - now)
        show.timer = self._clock.callLater(delay, self._windowEnded, mount, show)

    def _windowEnded(self, mount: bytes, show: _Show) -> None:
        """
        A DJ's window and grace are over: end its source at the next frame,
        handing the mount over to the DJ waiting if there is one.

        @param mount: the mount.
        @param show: the show ending.
        """
        show.timer = None
        if self._onAir.get(mount) is not show:
            return
        if self.windowEnd(show.dj) is not None:
            # Another window began during the grace, or the span goes on
            # beyond a week: carry on.
            self._schedule(mount, show)
            return
        del self._onAir[mount]
        station = show.session.station
        self._log.info(
            "the window of dj {dj} on {mount} is over: ending its source", dj=show.dj.name, mount=mount.decode("ascii")
        )
        waiter = self._nextOnAir(mount)
        if waiter is None:
            station.killSource()
            return
        station.events.emit(SourceDisconnected(station, self._clock.seconds(), show.session.peer))
        station.killSource()
        waiter.takeOver()

    def _nextOnAir(self, mount: bytes) -> DJSession | None:
        """
        Take the DJ waiting for a mount off the queue, if it may still go on
        (one whose window ended while it waited is hung up).

        @param mount: the mount.
        @return: the waiting session, or L{None}.
        """
        waiter = self._waiting.pop(mount, None)
        if waiter is None:
            return None
        dj = waiter.dj
        if dj is not None and self.windowEnd(dj) is None:
            self._log.info("{peer}'s window ended while it waited for {mount}", peer=waiter.peer, mount=mount.decode())
            waiter.hangUp()
            return None
        return waiter

    def left(self, mount: bytes, session: DJSession) -> bool:
        """
        A source session ended (its live source has ended already).

        @param mount: its mount.
        @param session: the session.
        @return: L{True} when the desk dealt with it (it was waiting, or
            the mount was handed over to the DJ waiting, with the
            C{source-disconnected} event sent): the station must not detach
            it, which on a mount without a programme would disconnect the
            listeners.
        """
        if self._waiting.get(mount) is session:
            del self._waiting[mount]
            return True
        show = self._onAir.get(mount)
        if show is not None and show.session is session:
            del self._onAir[mount]
            if show.timer is not None and show.timer.active():
                show.timer.cancel()
            show.timer = None
        elif not _wasOnAir(session):
            return False
        waiter = self._nextOnAir(mount)
        if waiter is None:
            return False
        station = session.station
        station.events.emit(SourceDisconnected(station, self._clock.seconds(), session.peer))
        if not waiter.takeOver():
            return False
        return True

    def waiting(self, mount: bytes) -> DJSession | None:
        """
        @param mount: a mount.
        @return: the session waiting for it, or L{None}.
        """
        return self._waiting.get(mount)

    def onAirDJ(self, mount: bytes) -> str | None:
        """
        @param mount: a mount.
        @return: the name of the DJ on the air there, or L{None}.
        """
        show = self._onAir.get(mount)
        return show.dj.name if show is not None else None


def _wasOnAir(session: DJSession) -> bool:
    """
    Tell whether a session that is not a DJ's was the mount's live source
    (a source with the mount's own password), which a waiting DJ follows
    too.

    @param session: the session that ended.
    @return: L{True} when it was on the air.
    """
    live = session.live
    return live is not None and session.station.liveSource is live


def accountsFrom(djs: Sequence[Any]) -> list[DJAccount]:
    """
    Turn C{[[dj]]} tables into accounts.

    @param djs: L{txradio.config.djs.DJConfig}s (checked: their windows
        parse).
    @return: the accounts.
    """
    return [
        DJAccount(
            name=dj.name,
            password=dj.password,
            mounts=frozenset(mount.encode("ascii") for mount in dj.mounts),
            windows=parseWindows(dj.windows),
            grace=dj.grace,
        )
        for dj in djs
    ]
