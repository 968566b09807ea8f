# -*- test-case-name: tests.test_library_cache -*-
"""
Bounded caches for the library: answers kept by key and revalidated by a
version (a folder's modification time and size), and the wait queue that
lets library jobs take their turn instead of being refused at once.

Only the reactor thread touches these objects.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime

T = TypeVar("T")


@dataclass(slots=True)
class CachedValue(Generic[T]):
    """
    One kept answer.

    @ivar version: what it was computed from (e.g. C{(mtime_ns, size)}).
    @ivar value: the answer.
    @ivar weight: what it counts against the cache's weight bound.
    @ivar checkedAt: when it was last computed or confirmed, in the clock's
        seconds.
    """

    version: Hashable
    value: T
    weight: int
    checkedAt: float


class VersionedCache(Generic[T]):
    """
    A least-recently-used cache whose entries are valid for one version of
    their source, bounded both in entries and in total weight (entries of a
    listing, or bytes of a body).

    @ivar maxEntries: entries kept at most.
    @ivar maxWeight: total weight kept at most; a single value heavier than
        this is not kept at all.
    @ivar weight: the total weight kept now.
    @ivar hits: lookups answered.
    @ivar misses: lookups not answered (absent or another version).
    """

    def __init__(self, maxEntries: int, maxWeight: int) -> None:
        """
        @param maxEntries: entries kept at most.
        @param maxWeight: total weight kept at most.
        """
        self.maxEntries = maxEntries
        self.maxWeight = maxWeight
        self.weight = 0
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[Hashable, CachedValue[T]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable, version: Hashable) -> CachedValue[T] | None:
        """
        Look an answer up.

        @param key: what was asked.
        @param version: the source's current version.
        @return: the kept answer when it was computed from this version
            (it becomes the most recently used), else L{None} (a kept answer
            of another version is dropped).
        """
        found = self._entries.get(key)
        if found is None:
            self.misses += 1
            return None
        if found.version != version:
            self.misses += 1
            self.remove(key)
            return None
        self.hits += 1
        self._entries.move_to_end(key)
        return found

    def peek(self, key: Hashable) -> CachedValue[T] | None:
        """
        Look at a kept answer of any version without counting or reordering.

        @param key: what was asked.
        @return: the kept answer, or L{None}.
        """
        return self._entries.get(key)

    def put(self, key: Hashable, version: Hashable, value: T, weight: int, now: float) -> None:
        """
        Keep an answer, evicting the least recently used ones beyond the
        bounds.

        @param key: what was asked.
        @param version: the source's version the answer was computed from.
        @param value: the answer.
        @param weight: its weight (at least 1 is counted).
        @param now: the clock's seconds.
        """
        self.remove(key)
        weight = max(1, weight)
        if weight > self.maxWeight or self.maxEntries <= 0:
            return
        self._entries[key] = CachedValue(version, value, weight, now)
        self.weight += weight
        while len(self._entries) > self.maxEntries or self.weight > self.maxWeight:
            _, evicted = self._entries.popitem(last=False)
            self.weight -= evicted.weight

    def remove(self, key: Hashable) -> None:
        """
        Forget an answer, if kept.

        @param key: what was asked.
        """
        found = self._entries.pop(key, None)
        if found is not None:
            self.weight -= found.weight

    def clear(self) -> None:
        """
        Forget every answer.
        """
        self._entries.clear()
        self.weight = 0


class QueueFull(Exception):
    """
    The wait queue is full, or a job waited longer than allowed.
    """


@dataclass(slots=True)
class QueueLimits:
    """
    The bounds of a L{JobQueue}; its owner may change them while it runs.

    @ivar maxRunning: jobs running at once at most.
    @ivar maxWaiting: jobs waiting at most.
    @ivar timeout: seconds a job waits at most.
    """

    maxRunning: int
    maxWaiting: int
    timeout: float


class JobQueue:
    """
    At most C{maxRunning} jobs at once; up to C{maxWaiting} more wait their
    turn in order, each for at most C{timeout} seconds, and are then refused
    with L{QueueFull}.  A waiting job whose L{Deferred} is cancelled (its
    client left) gives up its place at once.

    @ivar running: jobs running now.
    @ivar limits: its L{QueueLimits}.
    """

    def __init__(
        self,
        start: Callable[..., Deferred],
        clock: IReactorTime,
        maxRunning: int,
        maxWaiting: int,
        timeout: float,
    ) -> None:
        """
        @param start: runs a job (C{start(function, *args)}) and returns a
            L{Deferred} of its result.
        @param clock: the time for the waits.
        @param maxRunning: jobs running at once at most.
        @param maxWaiting: jobs waiting at most.
        @param timeout: seconds a job waits at most.
        """
        self._start = start
        self._clock = clock
        self.limits = QueueLimits(maxRunning, maxWaiting, timeout)
        self.running = 0
        self._waiting: OrderedDict[Deferred, tuple[Callable[..., Any], tuple, IDelayedCall]] = OrderedDict()

    @property
    def waiting(self) -> int:
        """
        Jobs waiting now.
        """
        return len(self._waiting)

    def idle(self) -> bool:
        """
        @return: whether a job would start at once (nobody waits and a slot
            is free).
        """
        return self.running < self.limits.maxRunning and not self._waiting

    def submit(self, function: Callable[..., Any], *args: Any) -> Deferred:
        """
        Run a job now, or when its turn comes.

        @param function: the job.
        @param args: its arguments.
        @return: a L{Deferred} of its result; it fails with L{QueueFull}
            when the job waited C{timeout} seconds.
        @raise QueueFull: when C{maxWaiting} jobs already wait.
        """
        if self.idle():
            return self._run(function, args)
        if len(self._waiting) >= self.limits.maxWaiting:
            raise QueueFull()
        waiter: Deferred = Deferred(self._cancel)
        expiry = self._clock.callLater(self.limits.timeout, self._expire, waiter)
        self._waiting[waiter] = (function, args, expiry)
        return waiter

    def leave(self, waiter: Deferred) -> bool:
        """
        Give up a waiting job's place (its client left).  A running job is
        not stopped: its thread cannot be, and its slot stays taken until it
        ends.

        @param waiter: the L{Deferred} L{submit} returned.
        @return: whether it was waiting.
        """
        if waiter not in self._waiting:
            return False
        waiter.cancel()
        return True

    def _cancel(self, waiter: Deferred) -> None:
        """
        The canceller of waiting jobs: drop the job from the queue.

        @param waiter: its L{Deferred} (which then fails with
            L{CancelledError}).
        """
        found = self._waiting.pop(waiter, None)
        if found is not None and found[2].active():
            found[2].cancel()

    def _expire(self, waiter: Deferred) -> None:
        """
        A job waited too long: refuse it.

        @param waiter: its L{Deferred}.
        """
        if self._waiting.pop(waiter, None) is not None:
            waiter.errback(QueueFull())

    def _run(self, function: Callable[..., Any], args: tuple) -> Deferred:
        """
        Start a job in a free slot.

        @param function: the job.
        @param args: its arguments.
        @return: a L{Deferred} of its result.
        """
        self.running += 1

        def done(result: Any) -> Any:
            self.running -= 1
            self._next()
            return result

        try:
            started = self._start(function, *args)
        except BaseException:
            self.running -= 1
            raise
        return started.addBoth(done)

    def _next(self) -> None:
        """
        Start waiting jobs while slots are free, oldest first.
        """
        while self.running < self.limits.maxRunning and self._waiting:
            waiter, (function, args, expiry) = self._waiting.popitem(last=False)
            if expiry.active():
                expiry.cancel()
            self._run(function, args).chainDeferred(waiter)


__all__ = ["CachedValue", "JobQueue", "QueueFull", "QueueLimits", "VersionedCache"]
