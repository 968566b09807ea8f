"""
CPU per derived mount: the ffmpeg child's and txradio's own, separately.

Runs the demo station for a bounded time on the real reactor, once without
derived mounts and once with C{--also-bitrate} mounts (each a real ffmpeg
child), and reads CPU time from C{/proc}: each ffmpeg child's
C{utime + stime} just before it is stopped, and txradio's own from
L{resource.getrusage} (children excluded).  Prints one line per run and the
difference per derived mount.

    python benchmarks/encoder.py [--seconds 20] [--bitrates 64,192]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys


def _processCPU(pid: int) -> float:
    """
    @param pid: a child process.
    @return: its user + system CPU seconds so far, from C{/proc}.
    """
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 of the whole line.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def child(seconds: float, bitrates: str) -> None:
    """
    Run the station and print a JSON line of measures.
    """
    from twisted.internet import reactor

    from txradio.tap import Options, makeService

    options = Options()
    args = ["--listen", "tcp:0:interface=127.0.0.1", "--no-library"]
    if bitrates:
        args += ["--also-bitrate", bitrates]
    options.parseOptions(args)
    service = makeService(options, reactor)
    result: dict = {}

    def measure() -> None:
        own = resource.getrusage(resource.RUSAGE_SELF)
        result["txradio"] = own.ru_utime + own.ru_stime
        encoders = []
        for station in service.stations:
            source = station.programme if station.derivedFrom is not None else None
            if source is None:
                continue
            for process in source.processes:
                encoders.append(
                    {"mount": station.mount.decode(), "cpu": _processCPU(process.transport.pid)}
                )
        result["encoders"] = encoders
        result["audio"] = {station.mount.decode(): round(station.broadcaster.audioSeconds, 1) for station in service.stations}
        service.stopService().addBoth(lambda _: reactor.stop())

    service.startService()
    reactor.callLater(seconds, measure)
    reactor.run()
    result["seconds"] = seconds
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--bitrates", default="64,192")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.seconds, args.bitrates)
        return
    runs = {}
    for label, bitrates in (("baseline", ""), ("derived", args.bitrates)):
        output = subprocess.run(
            [sys.executable, __file__, "--child", "--seconds", str(args.seconds), "--bitrates", bitrates],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        runs[label] = json.loads(output.strip().splitlines()[-1])
    base, derived = runs["baseline"], runs["derived"]
    seconds = args.seconds
    count = max(1, len(derived["encoders"]))
    print(f"{seconds:g} s of audio, demo playlist (44.1 kHz stereo 128 kbps), derived at {args.bitrates} kbps")
    print(f"  txradio alone, no derived mount: {100 * base['txradio'] / seconds:.2f}% of one core")
    for encoder in derived["encoders"]:
        print(f"  ffmpeg for {encoder['mount']}: {100 * encoder['cpu'] / seconds:.2f}% of one core")
    extra = derived["txradio"] - base["txradio"]
    print(
        f"  txradio with {len(derived['encoders'])} derived mounts: {100 * derived['txradio'] / seconds:.2f}% "
        f"of one core ({100 * extra / seconds / count:+.2f}% per derived mount)"
    )
    print(f"  audio sent per mount: {derived['audio']}")


if __name__ == "__main__":
    main()
