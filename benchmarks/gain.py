"""
The cost of lossless gain: frames per second of L{applyGain} against
frames per second of reading them with the L{Framer}, on the demo tracks.

    python benchmarks/gain.py [--repeat 20]

Prints one JSON line: both rates, and applyGain's cost as a fraction of an
audio second (a 128 kbps stream is 38.3 frames a second).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from txradio.sources.tracks import demoTracks  # noqa: E402
from txradio.wire.gain import applyGain  # noqa: E402
from txradio.wire.mp3 import Framer  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    data = []
    for path in demoTracks().paths:
        with open(path, "rb") as f:
            data.append(f.read())
    frames = []
    start = time.perf_counter()
    for _ in range(args.repeat):
        frames = []
        for blob in data:
            framer = Framer()
            frames += framer.feed(blob) + framer.flush()
    read = time.perf_counter() - start
    count = len(frames) * args.repeat
    start = time.perf_counter()
    for _ in range(args.repeat):
        for frame in frames:
            applyGain(frame, -3)
    gain = time.perf_counter() - start
    audio = sum(frame.duration for frame in frames) * args.repeat
    print(
        json.dumps(
            {
                "frames": count,
                "readFramesPerSecond": round(count / read),
                "applyGainFramesPerSecond": round(count / gain),
                "applyGainMicrosecondsPerFrame": round(gain / count * 1e6, 2),
                "applyGainCpuPerAudioSecond": round(gain / audio, 6),
            }
        )
    )


if __name__ == "__main__":
    main()
