#!/usr/bin/env python3
"""
The studio's cost: CPU per hour of programme on one mount, txradio against
Liquidsoap 2, and the cost of loudness analysis for a large library.

    python benchmarks/studio.py              # 60 s side by side, 1,500 analyses (< 3 minutes)
    python benchmarks/studio.py --quick      # 20 s side by side, 300 analyses (< 1 minute)
    python benchmarks/studio.py --crossfade 3
    python benchmarks/studio.py --files 10000 --sample 10000   # every file of the library (~10 minutes)

Part 1, the programme.  A folder of tracks (sine tones whose levels are
18 dB apart, 2.5 s of silence at both ends, 128 kbps MP3) is played for the
same window, at the same time (side by side, so both see the same noise
from the other users of the machine), by

- txradio (C{twistd txradio --loudness -16 --trim-silence}, plus
  C{--crossfade SECONDS} when asked and when the txradio tree accepts it,
  which this script finds out from C{--help}), with one listener on
  127.0.0.1 reading the stream, and a plain txradio (no options) likewise;
- Liquidsoap (Debian's C{liquidsoap}, 2.x), with a generated script doing
  the same: C{playlist} of the folder, C{blank.strip} (silence trimming),
  C{normalize(target=-16.)}, C{crossfade(duration=…)} and
  C{output.file(%mp3(bitrate=128))}.

A window holds few track changes, and the first tracks are measured
before it starts, so the studio's steady state is also printed: the plain
playout plus one analysis (measured here, on one of the tracks) per track
played, and with C{--crossfade} one seam (made here by the command txradio
runs, between two of the tracks).

Both run in real time (txradio paces by the reactor's clock and cannot run
faster; Liquidsoap is run the same way for the same window).  The CPU is
C{utime+stime} of each process tree from /proc, plus the children each
reaped (ffmpeg's loudness analyses for txradio), between the first audio
and the end of the window, and is printed as CPU seconds per hour of
programme and as a ratio.

Part 2, the analysis.  A library of C{--files} short MP3 files (1.5 s each,
20 distinct ones made by one ffmpeg run, linked under distinct paths in 100
folders) is measured by L{LoudnessAnalyser} (one ffmpeg child at a time, as
a mount runs it) for C{--sample} files or the time budget, whichever comes
first: files per second, CPU per file (this process and its children), and
the reactor's lateness meanwhile (a 10 ms timer; 99th percentile and worst)
against the same reactor idle just before, which shows that the analysis
never blocks the reactor.  One full-length track (180 s) is
measured three times to extrapolate to a library of full-length tracks.
Then txradio is started on the whole library with and without
C{--loudness -16 --trim-silence}, alternately, and the time from its start
to a listener's first audio byte is compared: the first track plays
unmeasured while its analysis and the next ones' run in the background.

Figures are noisy: the machine's two cores are shared.  Every socket is on
127.0.0.1.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

TICK = os.sysconf("SC_CLK_TCK")

TONE = 25.0
"""Seconds of tone in each programme track (2.5 s of silence at both ends)."""

LEVELS = (0, -18, -6, -12, -3, -15)
"""The tracks' levels in dB, about 18 dB apart at most."""


def freePort() -> int:
    """
    @return: a TCP port free on 127.0.0.1 now.
    """
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ffmpeg(*args: str) -> None:
    """
    Run ffmpeg quietly, failing loudly.
    """
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True, timeout=120)


def makeProgramme(folder: str, count: int) -> None:
    """
    Write C{count} tagged tracks: tones at L{LEVELS}, silent at both ends.
    """
    os.makedirs(folder, exist_ok=True)

    def one(index: int) -> None:
        level = LEVELS[index % len(LEVELS)]
        ffmpeg(
            "-f", "lavfi", "-i", f"sine=frequency={220 + 110 * index}:duration={TONE}:sample_rate=44100",
            "-af", f"volume={level}dB,adelay=2500|2500,apad=pad_dur=2.5",
            "-ac", "2", "-c:a", "libmp3lame", "-b:a", "128k",
            "-metadata", f"title=Tone {index + 1}", "-metadata", f"artist=Artist {index + 1}",
            os.path.join(folder, f"{index + 1:02d}.mp3"),
        )  # fmt: skip

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(one, range(count)))


def treeCPU(pid: int) -> float:
    """
    @param pid: a process.
    @return: CPU seconds of it and its live descendants (C{utime+stime}),
        plus what each reaped children used (C{cutime+cstime}).
    """
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(name)] = int(fields[1])
        times[int(name)] = sum(int(value) for value in fields[11:15]) / TICK
    tree = {pid}
    grown = True
    while grown:
        grown = False
        for child, parent in parents.items():
            if parent in tree and child not in tree:
                tree.add(child)
                grown = True
    return sum(times.get(member, 0.0) for member in tree)


def accepts(option: str) -> bool:
    """
    @param option: e.g. C{"--crossfade"}.
    @return: whether this txradio tree's command line has it.
    """
    result = subprocess.run(
        [sys.executable, "-m", "twisted", "txradio", "--help"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, env=dict(os.environ, PYTHONPATH=ROOT),
    )  # fmt: skip
    return option in result.stdout


class Listener(threading.Thread):
    """
    Reads a stream on 127.0.0.1 and throws it away, noting when the first
    audio byte came.

    @ivar firstAudio: C{time.monotonic()} of the first audio byte, or
        L{None}.
    @ivar received: audio bytes received.
    """

    def __init__(self, port: int, deadline: float) -> None:
        threading.Thread.__init__(self, daemon=True)
        self.port = port
        self.deadline = deadline
        self.firstAudio: float | None = None
        self.received = 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set() and time.monotonic() < self.deadline:
            try:
                connection = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            except OSError:
                time.sleep(0.02)
                continue
            with connection:
                connection.sendall(b"GET /stream HTTP/1.0\r\n\r\n")
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = connection.recv(65536)
                    if not chunk:
                        return
                    head += chunk
                body = head.partition(b"\r\n\r\n")[2]
                while not self._halt.is_set():
                    if body:
                        if self.firstAudio is None:
                            self.firstAudio = time.monotonic()
                        self.received += len(body)
                    try:
                        body = connection.recv(65536)
                    except OSError:
                        return
                    if not body:
                        return
            return

    def stop(self) -> None:
        self._halt.set()


def startTxradio(folder: str, options: list[str]) -> tuple[subprocess.Popen, int]:
    """
    @return: the twistd process playing C{folder}, and its port.
    """
    port = freePort()
    process = subprocess.Popen(
        [sys.executable, "-m", "twisted", "--log-format=text", "txradio", "--music-dir", folder,
         "--listen", f"tcp:{port}:interface=127.0.0.1", "--no-library", *options],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ, PYTHONPATH=ROOT),
    )  # fmt: skip
    return process, port


LIQUIDSOAP = """\
settings.init.allow_root.set(true)
settings.log.stdout.set(false)
settings.log.file.set(false)
s = playlist(mode="normal", reload_mode="watch", {folder!r})
s = blank.strip(max_blank=0.3, threshold=-50., s)
s = normalize(target=-16., s)
{crossfade}
output.file(%mp3(bitrate=128), {out!r}, fallible=true, s)
"""


def startLiquidsoap(folder: str, work: str, crossfade: float) -> tuple[subprocess.Popen, str]:
    """
    @return: the liquidsoap process playing C{folder} into a file, and the
        file.
    """
    out = os.path.join(work, "liquidsoap.mp3")
    script = os.path.join(work, "studio.liq")
    fade = f"s = crossfade(duration={crossfade:.1f}, s)" if crossfade else ""
    with open(script, "w") as f:
        f.write(LIQUIDSOAP.format(folder=folder, out=out, crossfade=fade).replace("'", '"'))
    process = subprocess.Popen(["liquidsoap", script], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return process, out


def waitFor(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} within {seconds} s")
        time.sleep(0.05)


def stopProcess(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def programme(work: str, seconds: float, crossfade: float, tracks: int) -> None:
    """
    Part 1: txradio (plain, and with the studio's options) and Liquidsoap
    side by side for C{seconds}.
    """
    folder = os.path.join(work, "programme")
    makeProgramme(folder, tracks)
    options = ["--loudness", "-16", "--trim-silence"]
    note = ""
    if crossfade:
        if accepts("--crossfade"):
            options += ["--crossfade", f"{crossfade:g}"]
        else:
            note = (
                f"this txradio tree has no --crossfade: txradio ran without crossfades, Liquidsoap with {crossfade:g} s"
            )
    processes: dict[str, subprocess.Popen] = {}
    listeners: list[Listener] = []
    out = None
    for name, extra in (("txradio plain", []), ("txradio studio", options)):
        processes[name], port = startTxradio(folder, extra)
        listeners.append(Listener(port, time.monotonic() + 60))
        listeners[-1].start()
    if shutil.which("liquidsoap") is not None:
        processes["liquidsoap"], out = startLiquidsoap(folder, work, crossfade)
    try:
        for listener in listeners:
            waitFor(lambda one=listener: one.firstAudio is not None, 60, "txradio played nothing")
        if out is not None:
            waitFor(lambda: os.path.exists(out) and os.path.getsize(out) > 0, 60, "liquidsoap wrote nothing")
        start = time.monotonic()
        before = {name: treeCPU(process.pid) for name, process in processes.items()}
        time.sleep(seconds)
        elapsed = time.monotonic() - start
        after = {name: treeCPU(process.pid) for name, process in processes.items()}
        for name, process in processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"{name} stopped during the window")
    finally:
        for listener in listeners:
            listener.stop()
        for process in processes.values():
            stopProcess(process)
    print(f"\n== Programme: {tracks} tracks of {TONE + 5:g} s, {elapsed:.1f} s side by side in real time ==")
    print(
        f"txradio studio: {' '.join(options)}; each txradio had one listener ({listeners[1].received / 1024:.0f} KiB)"
    )
    if out is not None:
        fade = f"crossfade({crossfade:g} s)" if crossfade else "no crossfade"
        print(f"liquidsoap: playlist, blank.strip, normalize(target=-16.), {fade}, MP3 128 kbps")
    if note:
        print(note)
    print(f"{'':32} {'CPU s':>8} {'CPU s per hour':>15} {'% of a core':>12}")
    perHour = {}
    for name in before:
        used = after[name] - before[name]
        perHour[name] = used / elapsed * 3600
        print(f"{name:32} {used:8.2f} {perHour[name]:15.1f} {used / elapsed * 100:12.2f}")
    # The window holds few track changes (and the first tracks were
    # measured before it): the steady state is the plain playout plus one
    # analysis per track played.
    analysis = analysisCost(os.path.join(folder, "01.mp3"))
    perTrack = TONE + 5
    seam = seamCost(folder, crossfade) if "--crossfade" in options else 0.0
    steady = perHour["txradio plain"] + 3600 / perTrack * (analysis + seam)
    name = "txradio studio, steady state (*)"
    print(f"{name:32} {'':8} {steady:15.1f} {steady / 36:12.2f}")
    seams = f" and one {crossfade:g} s seam ({seam:.2f} CPU s)" if seam else ""
    print(
        f"(*) plain playout + one analysis{seams} per track played: {analysis:.2f} CPU s of analysis per {perTrack:g} s "
        f"track, {3600 / perTrack:.0f} tracks an hour"
    )
    if "liquidsoap" in perHour:
        print(
            f"ratio liquidsoap / txradio studio: {perHour['liquidsoap'] / max(perHour['txradio studio'], 1e-9):.1f} "
            f"measured, {perHour['liquidsoap'] / steady:.1f} steady state"
        )
    else:
        print("liquidsoap is not installed: no reference")


def makeLibrary(folder: str, files: int) -> list[str]:
    """
    Write 20 distinct 1.5 s MP3 files with one ffmpeg run, and link them
    under C{files} distinct paths in 100 folders.

    @return: the paths.
    """
    base = os.path.join(folder, ".base")
    os.makedirs(base)
    ffmpeg(
        "-f", "lavfi", "-i", "sine=frequency=440:duration=31:sample_rate=44100", "-af", "volume=-9dB",
        "-ac", "2", "-c:a", "libmp3lame", "-b:a", "128k",
        "-f", "segment", "-segment_time", "1.5", os.path.join(base, "%02d.mp3"),
    )  # fmt: skip
    # The last segment may be a few milliseconds long: leave it out.
    sources = sorted(os.path.join(base, name) for name in os.listdir(base))[:20]
    paths = []
    for index in range(files):
        sub = os.path.join(folder, f"{index % 100:02d}")
        os.makedirs(sub, exist_ok=True)
        path = os.path.join(sub, f"{index:05d}.mp3")
        os.link(sources[index % len(sources)], path)
        paths.append(path)
    return paths


def analyse(paths: list[str], budget: float, quiet: float) -> dict[str, float]:
    """
    Measure files with L{LoudnessAnalyser} on the real reactor, keeping its
    queue topped up, for at most C{budget} seconds, after C{quiet} seconds
    of the same reactor doing nothing (the reference for its lateness).

    @return: files measured, seconds, CPU seconds (this process and its
        children), and the reactor's lateness (99th percentile and worst)
        with and without the analyses.
    """
    from twisted.internet import reactor, task

    from txradio.sources.loudness import LoudnessAnalyser

    analyser = LoudnessAnalyser(reactor, needSilence=True)
    todo = list(paths)
    late: dict[str, list[float]] = {"quiet": [], "analysing": []}
    last = [time.monotonic()]
    result: dict[str, float] = {}
    began = time.monotonic()
    usage: dict[str, float] = {}

    def tick() -> None:
        now = time.monotonic()
        late["quiet" if started is None else "analysing"].append(max(0.0, now - last[0] - 0.01))
        last[0] = now

    started: float | None = None

    def feed() -> None:
        nonlocal started
        if started is None:
            if time.monotonic() - began < quiet:
                return
            started = time.monotonic()
            usage["self"] = cpu(resource.RUSAGE_SELF)
            usage["children"] = cpu(resource.RUSAGE_CHILDREN)
        if analyser.pending < analyser.limits.queueSize // 2 and todo:
            batch, todo[:] = todo[:32], todo[32:]
            analyser.request(batch)
        done = analyser.analysed + analyser.failed
        if done >= len(paths) or time.monotonic() - started > budget:
            result.update(files=done, failed=analyser.failed, seconds=time.monotonic() - started)
            result["selfCPU"] = cpu(resource.RUSAGE_SELF) - usage["self"]
            result["childCPU"] = cpu(resource.RUSAGE_CHILDREN) - usage["children"]
            analyser.stop()
            reactor.stop()

    timer = task.LoopingCall(tick)
    feeder = task.LoopingCall(feed)
    reactor.callWhenRunning(timer.start, 0.01)
    reactor.callWhenRunning(feeder.start, 0.005)
    # The signal handlers reap the ffmpeg children (SIGCHLD).
    reactor.run()
    for phase, samples in late.items():
        samples.sort()
        result[phase + "P99"] = samples[int(len(samples) * 0.99)] if samples else 0.0
        result[phase + "Max"] = samples[-1] if samples else 0.0
    return result


def cpu(who: int) -> float:
    """
    @param who: C{RUSAGE_SELF} or C{RUSAGE_CHILDREN}.
    @return: its user and system CPU seconds.
    """
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def fullTrackCost(work: str) -> float:
    """
    @return: ffmpeg's CPU seconds to measure one 180 s track, the median
        of three runs.
    """
    path = os.path.join(work, "full.mp3")
    ffmpeg(
        "-f", "lavfi", "-i", "sine=frequency=330:duration=180:sample_rate=44100",
        "-ac", "2", "-c:a", "libmp3lame", "-b:a", "128k", path,
    )  # fmt: skip
    return analysisCost(path)


def analysisCost(path: str) -> float:
    """
    @return: ffmpeg's CPU seconds to measure a track as txradio does, the
        median of three runs.
    """
    from txradio.sources.loudness import FILTERS

    costs = []
    for _ in range(3):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(
            ["ffmpeg", "-hide_banner", "-nostdin", "-nostats", "-i", "file:" + path, "-vn", "-af", FILTERS,
             "-f", "null", "-"],
            capture_output=True, check=True, timeout=120,
        )  # fmt: skip
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        costs.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return statistics.median(costs)


def seamCost(folder: str, crossfade: float) -> float:
    """
    @return: ffmpeg's CPU seconds to make one crossfade seam between two
        of the programme's tracks as txradio does (the same command), the
        median of three runs.
    """
    from txradio.wire.crossfade import SeamFormat, TrackSpan, planSeam, seamArguments

    spans = [TrackSpan(os.path.join(folder, name), 2.5, 2.5 + TONE) for name in ("01.mp3", "02.mp3")]
    plan = planSeam(spans[0], spans[1], crossfade, SeamFormat(44100, 2, 128))
    if plan is None:
        return 0.0
    costs = []
    for _ in range(3):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(seamArguments(plan), capture_output=True, check=True, timeout=120)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        costs.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return statistics.median(costs)


def firstAudio(folder: str, options: list[str]) -> float:
    """
    @return: seconds from txradio's start to a listener's first audio byte.
    """
    started = time.monotonic()
    radio, port = startTxradio(folder, options)
    listener = Listener(port, started + 90)
    listener.start()
    try:
        waitFor(lambda: listener.firstAudio is not None, 90, "txradio played nothing")
        assert listener.firstAudio is not None
        return listener.firstAudio - started
    finally:
        listener.stop()
        stopProcess(radio)


def library(work: str, files: int, sample: int, budget: float, rounds: int) -> None:
    """
    Part 2: the analysis of a library of C{files} files.
    """
    folder = os.path.join(work, "library")
    began = time.monotonic()
    paths = makeLibrary(folder, files)
    print(f"\n== Loudness analysis: a library of {files} files (made in {time.monotonic() - began:.1f} s) ==")
    result = analyse(paths[:sample], budget, quiet=min(10.0, budget / 4))
    done = max(result["files"], 1)
    rate = done / result["seconds"]
    perFile = (result["selfCPU"] + result["childCPU"]) / done
    print(
        f"measured {done:.0f} files ({result['failed']:.0f} failed) in {result['seconds']:.1f} s: "
        f"{rate:.1f} files/s, CPU {perFile * 1000:.1f} ms per file "
        f"(ffmpeg {result['childCPU'] / done * 1000:.1f} ms, txradio {result['selfCPU'] / done * 1000:.2f} ms)"
    )
    print(
        "the reactor's lateness (a 10 ms timer), 99th percentile / worst: "
        f"{result['analysingP99'] * 1000:.1f} / {result['analysingMax'] * 1000:.1f} ms while analysing, "
        f"{result['quietP99'] * 1000:.1f} / {result['quietMax'] * 1000:.1f} ms idle just before"
    )
    print(
        f"{files} files of 1.5 s: {files / rate / 60:.1f} min at one analysis at a time, {files * perFile / 60:.1f} CPU min"
    )
    full = fullTrackCost(work)
    print(
        f"a 180 s track: {full:.2f} CPU s to measure; {files} such tracks: {files * full / 3600:.1f} CPU hours "
        f"(one at a time, in the background, as they come up for play)"
    )
    plain, levelled = [], []
    for _ in range(rounds):
        plain.append(firstAudio(folder, []))
        levelled.append(firstAudio(folder, ["--loudness", "-16", "--trim-silence"]))
    print(f"first audio byte after start, {files} files, {rounds} alternate run(s) each (median):")
    print(f"  without loudness: {statistics.median(plain):.3f} s  {[round(x, 3) for x in plain]}")
    print(f"  --loudness -16 --trim-silence: {statistics.median(levelled):.3f} s  {[round(x, 3) for x in levelled]}")
    print(f"  ratio: {statistics.median(levelled) / statistics.median(plain):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--quick", action="store_true", help="a shorter window and fewer analyses")
    parser.add_argument("--seconds", type=float, help="the side-by-side window (60; 20 with --quick)")
    parser.add_argument("--crossfade", type=float, default=0.0, metavar="SECONDS", help="crossfade both (0: none)")
    parser.add_argument("--files", type=int, default=10000, help="files in the generated library")
    parser.add_argument("--sample", type=int, help="files analysed at most (1500; 300 with --quick)")
    parser.add_argument("--skip-programme", action="store_true")
    parser.add_argument("--skip-library", action="store_true")
    args = parser.parse_args()
    seconds = args.seconds or (20.0 if args.quick else 60.0)
    sample = min(args.files, args.sample or (300 if args.quick else 1500))
    budget = 20.0 if args.quick else (60.0 if args.sample is None else 3600.0)
    if shutil.which("ffmpeg") is None:
        sys.exit("ffmpeg is needed")
    work = tempfile.mkdtemp(prefix="txradio-studio-")
    try:
        if not args.skip_programme:
            programme(work, seconds, args.crossfade, 4 if args.quick else 6)
        if not args.skip_library:
            library(work, args.files, sample, budget, 1 if args.quick else 3)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
