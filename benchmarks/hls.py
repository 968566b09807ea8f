"""
HLS benchmark: what a mount's segmenter costs per segment, and how many
segment requests a second txradio serves from memory.

    python benchmarks/hls.py [--seconds 600] [--requests 20000] [--clients 32]

1. Segment build cost: a broadcaster of synthetic 128 kbps frames on a fake
   clock feeds a segmenter for C{--seconds} of audio; the time spent in the
   segmenter (chunk splitting, ID3 tag, joining, hashing for the ETag),
   divided by the segments built, is the cost per segment.  The broadcaster's
   own work is measured apart and not counted.
2. Segments from memory: the site listens on 127.0.0.1; C{--clients}
   keep-alive connections (a bounded, in-process Twisted client) fetch the
   newest segment C{--requests} times in all.  The client runs in the same
   process, so the figure is a floor for one core: server and client share
   it.  C{--server-only} instead times the server's side alone, feeding
   requests to the site over in-memory transports.

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from twisted.internet.task import Clock

from txradio.stream.broadcast import Broadcaster
from txradio.stream.segmenter import Segmenter
from txradio.stream.station import Station
from txradio.testing import FakeFrameSource


class TimedSegmenter(Segmenter):
    """
    A segmenter that adds up the time spent in it.
    """

    spent = 0.0

    def deliver(self, chunk) -> None:
        started = time.perf_counter()
        Segmenter.deliver(self, chunk)
        self.spent += time.perf_counter() - started


def segmentCost(seconds: int) -> dict:
    """
    Measure the segmenter's cost per segment.

    @param seconds: seconds of audio to segment.
    @return: the figures.
    """
    clock = Clock()
    broadcaster = Broadcaster(FakeFrameSource(["Artist - Title"], framesPerTrack=10**9), clock=clock)
    segmenter = TimedSegmenter(broadcaster, clock=clock, maxRetained=10**6, windowSegments=10**5)
    segmenter.startService()
    broadcaster.startService()
    started = time.perf_counter()
    for _ in range(seconds):
        clock.advance(1)
    total = time.perf_counter() - started
    count = len(segmenter.segments)
    return {
        "audioSeconds": seconds,
        "segments": count,
        "segmentBytes": len(segmenter.segments[-1].data),
        "microsecondsPerSegment": round(segmenter.spent / count * 1e6, 1),
        "microsecondsPerAudioSecond": round(segmenter.spent / seconds * 1e6, 2),
        "broadcasterAndSegmenterSeconds": round(total, 3),
    }


def serverOnly(requests: int) -> dict:
    """
    Time the site answering segment requests over in-memory transports.

    @param requests: how many.
    @return: the figures.
    """
    from twisted.internet.address import IPv4Address
    from twisted.internet.testing import StringTransport

    from txradio.web.site import buildSite

    clock = Clock()
    station = Station(FakeFrameSource(), clock=clock)
    site = buildSite([station], clock=clock)
    site.webService.startService()
    station.startService()
    for _ in range(30):
        clock.advance(1)
    mount = site.resource.hls.mounts[b"/stream"]
    segment = mount.segmenter.segments[-1]
    request = f"GET /stream/hls/{segment.sequence}.mp3 HTTP/1.1\r\nHost: x\r\nUser-Agent: bench\r\n\r\n".encode()
    protocol = site.buildProtocol(IPv4Address("TCP", "127.0.0.1", 5000))
    transport = StringTransport()
    protocol.makeConnection(transport)
    started = time.perf_counter()
    for _ in range(requests):
        protocol.dataReceived(request)
        transport.clear()
    elapsed = time.perf_counter() - started
    return {
        "requests": requests,
        "segmentBytes": len(segment.data),
        "requestsPerSecond": round(requests / elapsed),
        "microsecondsPerRequest": round(elapsed / requests * 1e6, 1),
    }


def overTCP(requests: int, clients: int) -> dict:
    """
    Serve segments over 127.0.0.1 to a bounded in-process client.

    @param requests: how many in all.
    @param clients: keep-alive connections.
    @return: the figures.
    """
    from twisted.internet import reactor
    from twisted.internet.defer import gatherResults, inlineCallbacks
    from twisted.web.client import Agent, HTTPConnectionPool, readBody

    from txradio.service import RadioService

    clock = Clock()
    station = Station(FakeFrameSource(), clock=clock)
    from txradio.web.site import buildSite

    site = buildSite([station], clock=clock)
    radio = RadioService([station], listen=["tcp:0:interface=127.0.0.1"], reactor=reactor, site=site)
    radio.startService()
    for _ in range(30):
        clock.advance(1)
    mount = site.resource.hls.mounts[b"/stream"]
    segment = mount.segmenter.segments[-1]
    result: dict = {}

    @inlineCallbacks
    def main():
        ports = yield radio.whenListening()
        url = f"http://127.0.0.1:{ports[0].getHost().port}/stream/hls/{segment.sequence}.mp3".encode()
        pool = HTTPConnectionPool(reactor, persistent=True)
        pool.maxPersistentPerHost = clients
        agent = Agent(reactor, pool=pool)
        remaining = [requests]
        received = [0]

        @inlineCallbacks
        def worker():
            while remaining[0] > 0:
                remaining[0] -= 1
                response = yield agent.request(b"GET", url)
                body = yield readBody(response)
                received[0] += len(body)

        started = time.perf_counter()
        cpuStarted = time.process_time()
        yield gatherResults([worker() for _ in range(clients)])
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpuStarted
        result.update(
            requests=requests,
            clients=clients,
            segmentBytes=len(segment.data),
            requestsPerSecond=round(requests / elapsed),
            megabytesPerSecond=round(received[0] / elapsed / 1e6, 1),
            processCPUSeconds=round(cpu, 2),
            originRequestsCounted=mount.segmentRequests.get(segment.sequence),
        )
        yield pool.closeCachedConnections()
        yield radio.stopService()

    def done(_):
        reactor.stop()

    reactor.callWhenRunning(lambda: main().addBoth(done))
    reactor.run()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--seconds", type=int, default=600, help="seconds of audio to segment")
    parser.add_argument("--requests", type=int, default=20000, help="segment requests to serve")
    parser.add_argument("--clients", type=int, default=32, help="keep-alive connections")
    parser.add_argument("--server-only", action="store_true", help="time the server side in memory only")
    options = parser.parse_args()
    report = {"segmentBuild": segmentCost(options.seconds), "serveFromMemory": serverOnly(options.requests)}
    if not options.server_only:
        report["serveOverTCP"] = overTCP(options.requests, options.clients)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
