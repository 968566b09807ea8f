"""
Audience statistics benchmark: a week of 2,000 listeners' sessions.

Synthetic station events (2,000 listeners at once, each session lasting an
exponentially distributed hour on average and followed at once by another,
a new title every 4 minutes) go through the real L{AudienceRecorder} on a
fast-forwarded clock, with a real SQLite file written by one real worker
thread.  It prints the CPU time spent on the reactor thread (the observer
and the flush ticks: what the audio could feel) and in the worker (the
writes), then times the reports over the week.

    python benchmarks/audience.py [--listeners 2000] [--days 7] [--seed 1]
"""

from __future__ import annotations

import argparse
import heapq
import os
import random
import sys
import tempfile
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from twisted.internet.defer import Deferred, fail, succeed  # noqa: E402
from twisted.internet.task import Clock  # noqa: E402

from txradio.operations.audience import FLUSH_INTERVAL, AudienceRecorder  # noqa: E402
from txradio.operations.audiencedb import AudienceDatabase  # noqa: E402
from txradio.stream.events import CLIENT_LEFT, ListenerJoined, ListenerLeft, TitleChanged  # noqa: E402

START = 1_796_083_200.0  # 2026-12-01T00:00:00Z


class Station:
    mount = b"/stream"
    listenerCount = 0


class Listener:
    bytesSent = 0

    def __init__(self, userAgent: str) -> None:
        self.userAgent = userAgent


class Worker:
    """
    A C{runInThread} that runs each job at once on this thread and times
    it apart, so the reactor's share and the worker's are measured without
    thread switches or GIL contention blurring them (in the radio the
    worker thread has a whole flush interval for a batch of a few dozen
    rows and waits idle the rest of the time).
    """

    def __init__(self) -> None:
        self.cpu = 0.0

    def __call__(self, function: Any, *args: Any) -> Deferred:
        before = time.thread_time()
        try:
            return succeed(function(*args))
        except Exception:
            return fail()
        finally:
            self.cpu += time.thread_time() - before


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
    noop: Any = lambda event: None  # noqa: E731
    events = sessions = titles = 0
    wall = time.perf_counter()
    nextTick = START + FLUSH_INTERVAL
    done = False
    while not done:
        # Make a day's events first, then replay them timed as a whole:
        # what is timed is the observer and the flush ticks on this thread,
        # not the making of the events (the radio makes them anyway).
        batch: list[tuple[float, Any]] = []
        dayEnd = min(end, clock.seconds() + 86400)
        while heap:
            when, kind, slot = heap[0]
            if when >= dayEnd:
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
        done = dayEnd >= end
        counts = [1 if type(e) is ListenerJoined else -1 if type(e) is ListenerLeft else 0 for _, e in batch]
        # The same loop without the recorder: the benchmark's own overhead.
        before = time.thread_time()
        for (when, event), change in zip(batch, counts):
            if when >= nextTick:
                pass
            station.listenerCount += change
            noop(event)
        loopCPU += time.thread_time() - before
        station.listenerCount -= sum(counts)
        before = time.thread_time()
        for (when, event), change in zip(batch, counts):
            if when >= nextTick:
                clock.advance(when - clock.seconds())
                nextTick = when - (when - START) % FLUSH_INTERVAL + FLUSH_INTERVAL
            station.listenerCount += change
            recorder(event)
        reactorCPU += time.thread_time() - before
        events += len(batch)
    reactorCPU -= worker.cpu  # Measured within the loop above, but the worker's.
    workerBefore = worker.cpu
    before = time.thread_time()
    recorder.flush()
    reactorCPU += time.thread_time() - before - (worker.cpu - workerBefore)
    elapsed = time.perf_counter() - wall

    def timed(function: Any, *args: Any) -> tuple[Any, float]:
        before = time.perf_counter()
        result = function(*args)
        return result, time.perf_counter() - before

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
    recorder.stop()

    peak = max(period["peak"] for period in listeners)
    print(f"simulated: {options.days:g} days, {options.listeners} listeners at once (peak seen {peak})")
    print(f"events through the observer: {events:,} ({sessions:,} sessions, {titles:,} titles)")
    print(f"rows written: {recorder.written:,}, dropped: {recorder.dropped:,}")
    print(f"reactor-thread CPU (observer and flush ticks): {reactorCPU:.3f} s "
          f"({reactorCPU / max(events, 1) * 1e6:.2f} µs an event), of which the replay loop's own "
          f"{loopCPU:.3f} s: the recorder's share {reactorCPU - loopCPU:.3f} s")
    print(f"worker-thread CPU (SQLite writes): {worker.cpu:.3f} s")
    print(f"wall time of the run: {elapsed:.1f} s; file: {os.path.getsize(path) / 1e6:.1f} MB")
    print(f"reports over the week: listeners by hour {byHour:.2f} s, by day {byDay:.2f} s, "
          f"performances {performances:.2f} s, sessions page walk ({rows:,} rows) {sessionsCSV:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
