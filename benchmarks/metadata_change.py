"""
The cost of one title change with many listeners connected.

Attaches N listeners (with ICY metadata, at N different metadata phases) to a
station on a fake clock, with a transport that discards what it is given, and
times the broadcaster's ticks: ticks where the title is unchanged against
ticks where it changes.  The figure that matters is the extra time of a
change tick, per listener, and its ratio to a plain tick, measured in the
same process, interleaved, so the machine's noise affects both alike.

    python benchmarks/metadata_change.py [--listeners 9000] [--rounds 30]
"""

from __future__ import annotations

import argparse
import statistics
import time

from twisted.internet.interfaces import IConsumer
from twisted.internet.task import Clock

from zope.interface import implementer

from txradio.stream.station import Station
from txradio.testing import FakeFrameSource


@implementer(IConsumer)
class DiscardingTransport:
    """
    A transport that accepts writes and drops them (no socket cost), so the
    measure is txradio's own per-listener work.
    """

    def __init__(self) -> None:
        self.producer = None
        self.written = 0

    def write(self, data: bytes) -> None:
        self.written += len(data)

    def registerProducer(self, producer, streaming: bool) -> None:
        self.producer = producer

    def unregisterProducer(self) -> None:
        self.producer = None

    def abortConnection(self) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--listeners", type=int, default=9000)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()

    clock = Clock()
    source = FakeFrameSource(titles=["Artist - Title"], framesPerTrack=10**9)
    station = Station(source, clock=clock, metaint=16000)
    station.startService()
    tick = station.broadcaster.tickInterval
    listeners = []
    for index in range(args.listeners):
        # Join at different moments so metadata phases differ.
        if index % 500 == 0:
            clock.advance(tick)
        transport = DiscardingTransport()
        listeners.append(station.connectListener(transport, True, f"bench{index}", "bench"))
    for _ in range(20):
        clock.advance(tick)

    plain, change = [], []
    for round in range(args.rounds):
        started = time.perf_counter()
        clock.advance(tick)
        plain.append(time.perf_counter() - started)
        station.updateTitle(f"Another Artist - Song {round}")
        started = time.perf_counter()
        clock.advance(tick)
        change.append(time.perf_counter() - started)
        # A tick with no change after it, so the next plain tick is plain.
        clock.advance(tick)

    plainMedian, changeMedian = statistics.median(plain), statistics.median(change)
    n = args.listeners
    print(f"listeners: {n}, metaint 16000, tick {tick} s, rounds {args.rounds}")
    print(f"plain tick:  {plainMedian * 1e3:8.2f} ms  ({plainMedian / n * 1e6:.2f} µs per listener)")
    print(f"change tick: {changeMedian * 1e3:8.2f} ms  ({changeMedian / n * 1e6:.2f} µs per listener)")
    print(f"extra cost of one title change: {(changeMedian - plainMedian) * 1e3:.2f} ms in all, "
          f"ratio change/plain {changeMedian / plainMedian:.2f}")
    station.stopService()


if __name__ == "__main__":
    main()
