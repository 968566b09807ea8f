"""
Startup time and memory with a large music library.

Generates a library of tiny MP3 files (each a few real frames with its own
ID3 title), starts txradio on it as a child process on 127.0.0.1, and
measures the time from launch to the first audio byte a listener receives,
and the server's resident memory once it plays; the same for a library of
three files, in the same run, as the reference.

    python benchmarks/library_scale.py [--files 10000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from txradio.sources.tracks import demoTracks  # noqa: E402
from txradio.wire.mp3 import Framer  # noqa: E402


def id3Title(title: str) -> bytes:
    """
    A minimal ID3v2.3 tag with a title frame.
    """
    text = b"\x03" + title.encode("utf-8")
    frame = b"TIT2" + len(text).to_bytes(4, "big") + b"\x00\x00" + text
    size = len(frame)
    syncsafe = bytes([(size >> 21) & 0x7F, (size >> 14) & 0x7F, (size >> 7) & 0x7F, size & 0x7F])
    return b"ID3\x03\x00\x00" + syncsafe + frame


def makeLibrary(folder: str, count: int) -> None:
    """
    Write C{count} files of a few frames each into C{folder}, 100 a folder.
    """
    framer = Framer()
    with open(demoTracks().paths[0], "rb") as f:
        frames = framer.feed(f.read())
    audio = b"".join(frame.data for frame in frames[:40])
    for index in range(count):
        album = os.path.join(folder, f"album {index // 100:03d}")
        os.makedirs(album, exist_ok=True)
        with open(os.path.join(album, f"{index % 100:02d} track.mp3"), "wb") as f:
            f.write(id3Title(f"Track {index}") + audio)


def freePort() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rssKiB(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def measure(folder: str, extra: list[str]) -> tuple[float, int]:
    """
    Start txradio on C{folder}; return seconds to first audio byte and RSS
    in KiB after 3 s of playing.
    """
    port = freePort()
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "twisted", "--log-format=text", "txradio", "--music-dir", folder,
         "--listen", f"tcp:{port}:interface=127.0.0.1", *extra],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = started + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                    s.sendall(b"GET /stream HTTP/1.0\r\n\r\n")
                    data = b""
                    while b"\r\n\r\n" not in data or len(data.partition(b"\r\n\r\n")[2]) == 0:
                        chunk = s.recv(65536)
                        if not chunk:
                            break
                        data += chunk
                    if data.partition(b"\r\n\r\n")[2]:
                        firstAudio = time.monotonic() - started
                        break
            except OSError:
                time.sleep(0.02)
        else:
            raise RuntimeError("txradio did not play within 60 s")
        time.sleep(3)
        return firstAudio, rssKiB(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--files", type=int, default=10000)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="txradio-library-")
    try:
        big, small = os.path.join(work, "big"), os.path.join(work, "small")
        started = time.monotonic()
        makeLibrary(big, args.files)
        print(f"generated {args.files} files in {time.monotonic() - started:.1f} s")
        makeLibrary(small, 3)
        print(f"{'library':>22} {'first audio s':>14} {'RSS MiB':>8}")
        results = {}
        for label, folder, extra in (
            ("3 files", small, []),
            (f"{args.files} files", big, []),
            ("3 files, no library", small, ["--no-library"]),
            (f"{args.files} files, no library", big, ["--no-library"]),
        ):
            first, rss = measure(folder, extra)
            results[label] = (first, rss)
            print(f"{label:>22} {first:14.3f} {rss / 1024:8.1f}")
        reference = results["3 files"]
        big = results[f"{args.files} files"]
        print(f"ratio {args.files} files / 3 files: first audio {big[0] / reference[0]:.2f}, "
              f"RSS {big[1] / reference[1]:.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
