"""
Audience statistics benchmark: a week of 2,000 listeners' sessions.

Synthetic station events (2,000 listeners at once, each session lasting an
exponentially distributed hour on average and followed at once by another,
a new title every 4 minutes) go through the real L{AudienceRecorder} on a
fast-forwarded clock, with a real SQLite file written by one real worker
thread.  It prints the CPU time spent on the reactor thread (the observer,
the flush ticks and the answers coming back from the worker: what the audio
could feel), beside a reference measured on the same events in the same
run (the replay loop with an observer that only keeps each event), and the
worker's CPU time (the writes); then it times the reports over the week.

The worker is a real thread, so the reactor's figure includes the thread
handoffs each batch costs and none of the worker's work; the simulation
waits for each write before the next flush tick (in the radio a batch has
the whole interval), which costs no CPU time.  The machine is shared:
run it a few times and compare the figures of one run with each other.

    python benchmarks/audience.py [--listeners 2000] [--days 7] [--seed 1]
"""

from __future__ import annotations

import argparse
import heapq
import os
import queue
import random
import sys
import tempfile
import threading
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from twisted.internet.defer import Deferred  # noqa: E402
from twisted.internet.task import Clock  # noqa: E402
from twisted.python.failure import Failure  # noqa: E402

from txradio.operations.audience import FLUSH_INTERVAL, AudienceRecorder  # noqa: E402
from txradio.operations.audiencedb import AudienceDatabase  # noqa: E402
from txradio.stream.events import CLIENT_LEFT, ListenerJoined, ListenerLeft, TitleChanged  # noqa: E402

START = 1_796_083_200.0  # 2026-12-01T00:00:00Z


class Station:
    """
    What the recorder reads of a station; its listener count is a property,
    as the real one's is.
    """

    mount = b"/stream"
    count = 0

    @property
    def listenerCount(self) -> int:
        return self.count


class Listener:
    bytesSent = 0

    def __init__(self, userAgent: str) -> None:
        self.userAgent = userAgent


class Worker:
    """
    A C{runInThread} with one real thread, as in the radio: each job goes
    to the thread, which times its own CPU; its result comes back through
    L{deliver}, which fires the job's L{Deferred} on the calling thread (the
    radio's C{callFromThread}).  The calling thread's CPU time then counts
    what the reactor does, and none of what the worker does.
    """

    def __init__(self) -> None:
        self.cpu = 0.0
        self.pending = 0
        self._jobs: queue.SimpleQueue[tuple[Any, tuple[Any, ...], Deferred] | None] = queue.SimpleQueue()
        self._done: queue.SimpleQueue[tuple[Deferred, bool, Any]] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._work, name="audience-worker", daemon=True)
        self._thread.start()

    def __call__(self, function: Any, *args: Any) -> Deferred:
        result: Deferred = Deferred()
        self.pending += 1
        self._jobs.put((function, args, result))
        return result

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            function, args, result = job
            before = time.thread_time()
            try:
                self._done.put((result, True, function(*args)))
            except Exception:
                self._done.put((result, False, Failure()))
            self.cpu += time.thread_time() - before

    def deliver(self, wait: bool = False) -> None:
        """
        Fire the Deferreds of the jobs done.

        @param wait: wait for every job sent (waiting costs no CPU time:
            in the radio the worker has a whole flush interval).
        """
        while True:
            try:
                result, ok, value = self._done.get(block=wait and self.pending > 0)
            except queue.Empty:
                return
            self.pending -= 1
            if ok:
                result.callback(value)
            else:
                result.errback(value)

    def stop(self) -> None:
        self._jobs.put(None)
        self._thread.join()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--listeners", type=int, default=2000)
    parser.add_argument("--days", type=float, default=7)
    parser.add_argument("--seed", type=int, default=1)
    options = parser.parse_args()
    rng = random.Random(options.seed)
    folder = tempfile.mkdtemp()
    path = os.path.join(folder, "audience.sqlite")
    clock = Clock()
    clock.advance(START)
    worker = Worker()
    recorder = AudienceRecorder(AudienceDatabase(path), clock, worker)
    recorder.start()
    station = Station()
    end = START + options.days * 86400
    players = ["mpg123/1.32", "VLC/3.0.20 LibVLC/3.0.20", "Lavf/60.16.100", "Mozilla/5.0 (X11; Linux x86_64)"]

    # (time, kind, slot): sessions end and restart; titles every 240 s.
    heap: list[tuple[float, int, int]] = []
    active: dict[int, tuple[float, Listener, str]] = {}
    for slot in range(options.listeners):
        heapq.heappush(heap, (START + rng.uniform(0, 60), 1, slot))
    heapq.heappush(heap, (START, 0, 0))
    reactorCPU = loopCPU = 0.0
    events = sessions = titles = 0
    wall = time.perf_counter()
    nextTick = START + FLUSH_INTERVAL
    while heap and heap[0][0] < end:
        # Make one flush interval's events, then replay them timed: what is
        # timed is the observer and the flush tick on this thread, not the
        # making of the events.  A short batch keeps the events as fresh in
        # the CPU's caches as in the radio, where the station makes each
        # event just before the observers get it (replaying a whole day's,
        # made long before, timed mostly cache misses).
        batch: list[tuple[float, Any]] = []
        chunkEnd = min(end, nextTick)
        while heap:
            when, kind, slot = heap[0]
            if when >= chunkEnd:
                break
            heapq.heappop(heap)
            if kind == 0:
                event: Any = TitleChanged(station, when, f"Artist {titles % 300} - Song {titles % 1200}")
                titles += 1
                heapq.heappush(heap, (when + 240, 0, 0))
            elif slot in active:
                started, listener, peer = active.pop(slot)
                event = ListenerLeft(station, when, listener, None, peer, CLIENT_LEFT, when - started, started)
                sessions += 1
                heapq.heappush(heap, (when + rng.uniform(0.5, 30), 1, slot))
            else:
                listener = Listener(rng.choice(players))
                peer = f"10.{slot // 250}.{slot % 250}.{rng.randrange(1, 250)}:{rng.randrange(1024, 65535)}"
                active[slot] = (when, listener, peer)
                event = ListenerJoined(station, when, listener, None, peer)
                heapq.heappush(heap, (when + rng.expovariate(1 / 3600), 1, slot))
            batch.append((when, event))
        counts = [1 if type(e) is ListenerJoined else -1 if type(e) is ListenerLeft else 0 for _, e in batch]
        # The reference, on the same events just before: the same loop
        # with the least an observer can do (keep a reference to each
        # event), so the figure below is the recorder's own share.
        kept: list[Any] = []
        keep = kept.append
        before = time.thread_time()
        for (_when, event), change in zip(batch, counts):
            station.count += change
            keep(event)
        loopCPU += time.thread_time() - before
        station.count -= sum(counts)
        before = time.thread_time()
        for (_when, event), change in zip(batch, counts):
            station.count += change
            recorder(event)
        if chunkEnd == nextTick:
            worker.deliver(wait=True)  # The last write ended within the interval.
            clock.advance(nextTick - clock.seconds())
            nextTick += FLUSH_INTERVAL
        worker.deliver()
        reactorCPU += time.thread_time() - before
        events += len(batch)
    before = time.thread_time()
    flushed = recorder.flush()
    while not flushed.called:
        worker.deliver(wait=True)
    reactorCPU += time.thread_time() - before
    elapsed = time.perf_counter() - wall

    def timed(function: Any, *args: Any) -> tuple[Any, float]:
        # The reports run in the worker, which owns the connection.
        results: list[Any] = []
        before = time.perf_counter()
        recorder.query(function, *args).addCallback(results.append)
        while not results:
            worker.deliver(wait=True)
        return results[0], time.perf_counter() - before

    database = recorder.database
    listeners, byHour = timed(database.listeners, "hour", START, end, "/stream")
    _, byDay = timed(database.listeners, "day", START, end, "/stream")
    _, performances = timed(database.performances, START, end, None, 10_000)

    def walk() -> int:
        rows, after = 0, None
        while True:
            page = database.sessionPage(START, end, None, after)
            if not page:
                return rows
            rows += len(page)
            after = (page[-1][1], page[-1][0])

    rows, sessionsCSV = timed(walk)
    stopped = recorder.stop()
    while not stopped.called:
        worker.deliver(wait=True)
    worker.stop()

    peak = max(period["peak"] for period in listeners)
    print(f"simulated: {options.days:g} days, {options.listeners} listeners at once (peak seen {peak})")
    print(f"events through the observer: {events:,} ({sessions:,} sessions, {titles:,} titles)")
    print(f"rows written: {recorder.written:,}, dropped: {recorder.dropped:,}")
    print(
        f"reactor-thread CPU (observer and flush ticks): {reactorCPU:.3f} s "
        f"({reactorCPU / max(events, 1) * 1e6:.2f} µs an event)"
    )
    print(
        f"reference, the same replay with an observer keeping each event: {loopCPU:.3f} s; "
        f"ratio {reactorCPU / max(loopCPU, 1e-9):.1f}; the recorder's own share {reactorCPU - loopCPU:.3f} s"
    )
    print(f"worker-thread CPU (SQLite writes): {worker.cpu:.3f} s")
    print(f"wall time of the run: {elapsed:.1f} s; file: {os.path.getsize(path) / 1e6:.1f} MB")
    print(
        f"reports over the week: listeners by hour {byHour:.2f} s, by day {byDay:.2f} s, "
        f"performances {performances:.2f} s, sessions page walk ({rows:,} rows) {sessionsCSV:.2f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
