#!/usr/bin/env python3
"""
Listener soak: txradio in a child process on 127.0.0.1 holds many listeners
for a long time while its tracks change and its title is updated, and this
driver checks that nobody stalls or is disconnected and that the server's
memory and descriptors stay flat.

    python benchmarks/soak.py --duration 3600 --listeners 2000   # the one-hour run
    python benchmarks/soak.py --smoke                             # 100 listeners, 40 s
    python benchmarks/soak.py --cycles 100000                     # connect/disconnect cycles

The server plays three synthetic tracks of C{--track-seconds} (20 s: a track
change every 20 s), made with ffmpeg (sine tones, 128 kbps, tagged), with
C{--admin-password}; every C{--metadata-every} seconds (5 s) the driver sets
the title with Icecast's C{/admin/metadata?mount=/stream&mode=updinfo&song=…}
as the admin.  The listeners are an asyncio client in this process: each
sends C{GET /stream} with C{Icy-MetaData: 1}, checks that the first audio
byte is an MP3 sync byte, walks the ICY metadata interleave and records:

 - stalls: the longest time between two reads, and every gap longer than
   C{--stall} seconds (3 s; txradio writes once a second) counts as a stall;
 - underruns of a simulated player (it starts once it holds 1 s of audio and
   then plays at the stream's bitrate; an underrun is its buffer running
   dry);
 - disconnects: the server closing a connection before the driver does;
 - titles: how many title changes each listener saw, and how long after each
   metadata update was posted it reached each listener.

The server's resident memory (VmRSS), open descriptors (/proc/PID/fd) and
CPU time are printed at the start (before any listener), after the ramp,
after warm-up, every C{--report-every} seconds (60 s), at the end (listeners
still connected) and after the listeners have left.  The driver's own event
loop lag is measured too, so that a stall caused by the driver being starved
of CPU can be told apart from one caused by the server.

With C{--cycles N} it runs the connect/disconnect soak instead: N
connections, C{--concurrency} (20) at a time, each one of: a full listener
(head, burst and its first metadata block), C{HEAD}, a client that drops
mid-headers, one that drops mid-burst, one that drops inside its first
metadata block, and a source client (C{SOURCE} with the right password and
a second of audio, then gone; at most one a batch).  It prints the server's
RSS and descriptors at the start, after warm-up (the first fifth), every
tenth and at the end, and checks from the server's status JSON that no
listener and no source is left.  (C{python -m integration.test_soak N} runs the
same mix in one process, where it can also count timers and Python
objects.)

Exit status 0 when every listener got a clean stream with no stall and no
disconnect, and every metadata update was accepted (with C{--cycles}: every
cycle went as expected, nothing was left, descriptors returned to their
start and RSS grew by less than 5% after warm-up); 1 otherwise; 2 when the
run could not start (no ffmpeg, too few file descriptors).  Every loop is
bounded by a count or a deadline.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from urllib.parse import quote

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CLK_TCK = os.sysconf("SC_CLK_TCK")

ADMIN_PASSWORD = "soak-admin-" + str(os.getpid())
"""The admin password of the soaked server (made up per run)."""

SOURCE_PASSWORD = "soak-source-" + str(os.getpid())
"""The source password of the soaked server (made up per run)."""

UPDATE_PREFIX = "Soak update "
"""Titles set through the admin endpoint: this prefix and a number."""

TONES = (440, 550, 660)
"""The tracks' tones, in Hz."""

PREBUFFER_SECONDS = 1.0
"""Audio the simulated player holds before it starts (and after an underrun)."""


def log(message: str) -> None:
    """
    Print a progress line with the time, at once.

    @param message: the line.
    """
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def raiseFileLimit() -> int:
    """
    Raise the soft C{RLIMIT_NOFILE} to the hard limit (children inherit it).

    @return: the new soft limit.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def freePort() -> int:
    """
    @return: a TCP port on 127.0.0.1 that is free just now.
    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- the server ---------------------------------------------------------------


def makeTracks(folder: str, seconds: float) -> list[str]:
    """
    Encode the test tracks with ffmpeg: one sine tone each, 128 kbps CBR,
    44.1 kHz stereo, tagged C{Soak - Track N}.

    @param folder: where to write them.
    @param seconds: the length of each.
    @return: their titles as listeners see them, in playing order.
    """
    titles = []
    for number, frequency in enumerate(TONES, 1):
        path = os.path.join(folder, f"{number:02d}.mp3")
        subprocess.run(
            [
                "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
                "-f", "lavfi", "-i", f"sine=frequency={frequency}:duration={seconds}:sample_rate=44100",
                "-ac", "2", "-ar", "44100", "-c:a", "libmp3lame", "-b:a", "128k",
                "-metadata", f"title=Track {number}", "-metadata", "artist=Soak",
                path,
            ],
            check=True,
            timeout=120,
        )  # fmt: skip
        titles.append(f"Soak - Track {number}")
    return titles


class ServerProcess:
    """
    txradio (this checkout, C{python -m twisted txradio}) in a child process.

    @ivar port: its listening port.
    @ivar proc: the L{subprocess.Popen}.
    @ivar logPath: where its output goes.
    """

    def __init__(self, music: str, folder: str, root: str = ROOT) -> None:
        """
        @param music: the music folder it plays.
        @param folder: where its log is written.
        @param root: the txradio tree to run.
        """
        self.port = freePort()
        self.logPath = os.path.join(folder, "txradio.log")
        self._logFile = open(self.logPath, "wb")
        args = [
            sys.executable, "-m", "twisted", "txradio",
            "--music-dir", music,
            "--listen", f"tcp:{self.port}:interface=127.0.0.1",
            "--admin-password", ADMIN_PASSWORD,
            "--source-password", SOURCE_PASSWORD,
            "--no-library",
        ]  # fmt: skip
        env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
        self.proc = subprocess.Popen(
            args, cwd=root, env=env, stdin=subprocess.DEVNULL, stdout=self._logFile, stderr=subprocess.STDOUT,
            preexec_fn=raiseFileLimit,
        )  # fmt: skip

    def sample(self) -> dict:
        """
        @return: the server's resident memory (KiB), open descriptors and
            CPU time (seconds) now.
        """
        pid = self.proc.pid
        rss = 0
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return {
            "rss_kib": rss,
            "fds": len(os.listdir(f"/proc/{pid}/fd")),
            "cpu_s": (int(fields[11]) + int(fields[12])) / CLK_TCK,
        }

    def logLines(self, *words: str) -> list[str]:
        """
        @param words: words a line must contain (any of them).
        @return: the server's log lines holding one of them.
        """
        with open(self.logPath, encoding="utf-8", errors="replace") as f:
            return [line.rstrip("\n") for line in f if any(word in line for word in words)]

    def stop(self) -> int | None:
        """
        Stop the server (SIGTERM, then SIGKILL after 15 s).

        @return: its exit status.
        """
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        self._logFile.close()
        return self.proc.returncode


async def waitForStream(port: int, seconds: float) -> None:
    """
    Wait until the server answers C{GET /stream} with audio.

    @param port: its port.
    @param seconds: the time allowed.
    @raise RuntimeError: if it does not in time.
    """
    deadline = time.monotonic() + seconds
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 2)
            writer.write(b"GET /stream HTTP/1.0\r\nUser-Agent: soak-probe\r\n\r\n")
            data = await asyncio.wait_for(reader.read(4096), 5)
            writer.close()
            if data.startswith(b"HTTP/1.0 200"):
                return
        except (TimeoutError, OSError) as error:
            last = error
        await asyncio.sleep(0.25)
    raise RuntimeError(f"txradio did not start streaming on port {port} within {seconds} s ({last})")


# --- the listeners --------------------------------------------------------------


class Totals:
    """
    What every listener adds to, and the settings they share.

    @ivar stallSeconds: a gap between reads longer than this is a stall.
    @ivar stalls: gaps longer than L{stallSeconds} so far.
    @ivar underruns: simulated players that ran dry.
    @ivar disconnects: connections the server closed.
    @ivar updates: C{{number: time posted}} of the metadata updates.
    @ivar latencies: seconds from posting an update to a listener seeing it.
    """

    def __init__(self, stallSeconds: float) -> None:
        """
        @param stallSeconds: the longest gap between reads that is no stall.
        """
        self.stallSeconds = stallSeconds
        self.stalls = 0
        self.stallEvents: list[tuple[float, int, float]] = []
        self.underruns = 0
        self.disconnects = 0
        self.disconnectEvents: list[tuple[float, int, str]] = []
        self.headFailures = 0
        self.syncBad = 0
        self.metaBad = 0
        self.updates: dict[int, float] = {}
        self.latencies: list[float] = []
        self.start = time.monotonic()


class SoakListener(asyncio.Protocol):
    """
    One listener: reads the stream, walks its ICY metadata, and records
    gaps, underruns, titles and how its connection ended.
    """

    def __init__(self, totals: Totals, index: int) -> None:
        """
        @param totals: what it reports to.
        @param index: its number, for messages.
        """
        self.totals = totals
        self.index = index
        self.transport: asyncio.Transport | None = None
        self.head = bytearray()
        self.inBody = False
        self.metaint = 0
        self.byteRate = 16000.0
        self.audioLeft = 0
        self.metaLeft = -1  # -1: the next byte is a length byte
        self.metaBuffer = bytearray()
        self.audio = 0
        self.last: float | None = None
        self.maxGap = 0.0
        self.titleChanges = 0
        self.title: str | None = None
        self.closing = False
        self.lost = False
        # The simulated player.
        self.playing = False
        self.anchorTime = 0.0
        self.anchorBytes = 0.0

    def connection_made(self, transport) -> None:
        """
        Send the request.
        """
        self.transport = transport
        transport.write(b"GET /stream HTTP/1.0\r\nHost: 127.0.0.1\r\nUser-Agent: soak\r\nIcy-MetaData: 1\r\n\r\n")

    def data_received(self, data: bytes) -> None:
        """
        Time the read, then read the head or walk the body.
        """
        now = time.monotonic()
        if self.last is not None and self.inBody:
            gap = now - self.last
            if gap > self.maxGap:
                self.maxGap = gap
            if gap > self.totals.stallSeconds:
                self.totals.stalls += 1
                self.totals.stallEvents.append((now - self.totals.start, self.index, gap))
        self.last = now
        if not self.inBody:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                if len(self.head) > 8192:
                    self._badHead()
                return
            head = bytes(self.head[:end]).decode("latin-1")
            body = bytes(self.head[end + 4 :])
            self.head = bytearray()
            lines = head.split("\r\n")
            if not lines[0].startswith("HTTP/1.0 200"):
                self._badHead()
                return
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "icy-metaint":
                    self.metaint = int(value.strip())
                elif name.strip().lower() == "icy-br":
                    self.byteRate = int(value.strip().split(",")[0]) * 125.0
            if self.metaint <= 0:
                self._badHead()
                return
            self.inBody = True
            self.audioLeft = self.metaint
            data = body
            if not data:
                return
        self._body(data, now)

    def _badHead(self) -> None:
        self.totals.headFailures += 1
        self.closing = True
        if self.transport is not None:
            self.transport.abort()

    def _body(self, data: bytes, now: float) -> None:
        """
        Count audio bytes, take the metadata blocks out, and run the player.
        """
        before = self.audio
        position = 0
        size = len(data)
        while position < size:
            if self.audioLeft:
                take = min(self.audioLeft, size - position)
                if self.audio == 0 and data[position] != 0xFF:
                    self.totals.syncBad += 1
                self.audio += take
                self.audioLeft -= take
                position += take
            elif self.metaLeft < 0:
                self.metaLeft = data[position] * 16
                position += 1
                if self.metaLeft == 0:
                    self.metaLeft = -1
                    self.audioLeft = self.metaint
            else:
                take = min(self.metaLeft, size - position)
                self.metaBuffer += data[position : position + take]
                self.metaLeft -= take
                position += take
                if self.metaLeft == 0:
                    self._block(bytes(self.metaBuffer), now)
                    self.metaBuffer = bytearray()
                    self.metaLeft = -1
                    self.audioLeft = self.metaint
        self._play(before, now)

    def _block(self, payload: bytes, now: float) -> None:
        """
        A metadata block: note a title change, and when an update arrives.
        """
        text = payload.rstrip(b"\x00")
        if not text.startswith(b"StreamTitle='"):
            self.totals.metaBad += 1
            return
        title = text[13:].split(b"';", 1)[0].decode("utf-8", "replace")
        if title != self.title:
            if self.title is not None:
                self.titleChanges += 1
            self.title = title
            number = title[len(UPDATE_PREFIX) :]
            if title.startswith(UPDATE_PREFIX) and number.isdigit():
                posted = self.totals.updates.get(int(number))
                if posted is not None:
                    self.totals.latencies.append(now - posted)

    def _play(self, before: int, now: float) -> None:
        """
        The simulated player, as in C{benchmarks/loadgen.c}: it starts once
        it holds L{PREBUFFER_SECONDS} of audio, plays at the stream's byte
        rate, and underruns when its position passes what had arrived
        before this read.
        """
        prebuffer = PREBUFFER_SECONDS * self.byteRate
        if self.playing:
            position = self.anchorBytes + (now - self.anchorTime) * self.byteRate
            if position > before:
                self.totals.underruns += 1
                self.playing = False
                self.anchorBytes = before
        if not self.playing and self.audio - self.anchorBytes >= prebuffer:
            self.playing = True
            self.anchorTime = now

    def connection_lost(self, exc) -> None:
        """
        Count a disconnect unless the driver closed it.
        """
        self.lost = True
        if not self.closing:
            self.totals.disconnects += 1
            self.totals.disconnectEvents.append((time.monotonic() - self.totals.start, self.index, repr(exc)))

    def close(self) -> None:
        """
        Close the connection (an intended disconnect).
        """
        self.closing = True
        if self.transport is not None and not self.lost:
            self.transport.close()


# --- the run --------------------------------------------------------------------


async def postUpdate(port: int, number: int, totals: Totals) -> bool:
    """
    Set the title through Icecast's metadata endpoint as the admin.

    @param port: the server's port.
    @param number: the update's number (in the title).
    @param totals: where the posting time is recorded.
    @return: whether the server accepted it.
    """
    song = quote(f"{UPDATE_PREFIX}{number}")
    credentials = base64.b64encode(f"admin:{ADMIN_PASSWORD}".encode()).decode()
    request = (
        f"GET /admin/metadata?mount=/stream&mode=updinfo&song={song} HTTP/1.0\r\n"
        f"Host: 127.0.0.1\r\nAuthorization: Basic {credentials}\r\n\r\n"
    ).encode()
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)
        totals.updates[number] = time.monotonic()
        writer.write(request)
        reply = await asyncio.wait_for(reader.read(4096), 5)
        writer.close()
    except (TimeoutError, OSError):
        return False
    return reply.startswith((b"HTTP/1.0 200", b"HTTP/1.1 200")) and b"<return>1</return>" in reply


async def loopLag(stop: asyncio.Event, lags: list[float]) -> None:
    """
    Measure how late this process's event loop runs a 0.1 s timer.

    @param stop: set when the run ends.
    @param lags: where the lateness of each wake-up goes (only the largest
        few hundred are kept).
    """
    while not stop.is_set():
        expected = time.monotonic() + 0.1
        await asyncio.sleep(0.1)
        lags.append(time.monotonic() - expected)
        if len(lags) > 2000:
            lags.sort()
            del lags[:-200]


def mib(kib: int) -> str:
    """
    @param kib: a size in KiB.
    @return: it in MiB, for the report.
    """
    return f"{kib / 1024:.1f} MiB"


async def soak(opts) -> dict:
    """
    Run the soak and return its figures.

    @param opts: the parsed command line.
    @return: every figure, for the summary and C{--json}.
    """
    loop = asyncio.get_running_loop()
    folder = tempfile.mkdtemp(prefix="txradio-soak-")
    music = os.path.join(folder, "music")
    os.makedirs(music)
    trackTitles = makeTracks(music, opts.track_seconds)
    server = ServerProcess(music, folder, opts.txradio_root)
    figures: dict = {"samples": [], "tracks": trackTitles, "settings": vars(opts).copy()}
    totals = Totals(opts.stall)
    listeners: list[SoakListener] = []
    stop = asyncio.Event()
    lags: list[float] = []
    updatesOK = updatesFailed = 0

    def sample(label: str) -> dict:
        now = time.monotonic() - totals.start
        values = dict(server.sample(), label=label, t=round(now, 1))
        values["connected"] = sum(1 for listener in listeners if listener.inBody and not listener.lost)
        values["stalls"] = totals.stalls
        values["disconnects"] = totals.disconnects
        figures["samples"].append(values)
        log(
            f"{label:>14}: t {now:7.1f} s  rss {mib(values['rss_kib'])}  fds {values['fds']}  "
            f"cpu {values['cpu_s']:.1f} s  listening {values['connected']}  stalls {totals.stalls}  "
            f"underruns {totals.underruns}  disconnects {totals.disconnects}"
        )
        return values

    try:
        await waitForStream(server.port, 60)
        # The burst buffer fills in its first seconds: sample after it.
        await asyncio.sleep(5)
        totals.start = time.monotonic()
        figures["start"] = sample("start")
        lagTask = loop.create_task(loopLag(stop, lags))

        # Ramp: --rate connections a second, bounded by the count.
        for index in range(opts.listeners):
            due = totals.start + index / opts.rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            try:
                _, listener = await asyncio.wait_for(
                    loop.create_connection(lambda i=index: SoakListener(totals, i), "127.0.0.1", server.port), 10
                )
            except (TimeoutError, OSError) as error:
                totals.headFailures += 1
                log(f"listener {index} could not connect: {error!r}")
                continue
            listeners.append(listener)
        rampDone = time.monotonic()
        figures["ramp"] = sample("ramp done")

        # The steady run: updates every --metadata-every seconds, a report
        # every --report-every seconds, until the deadline.
        deadline = totals.start + opts.duration
        warmAt = rampDone + opts.warmup
        nextUpdate = time.monotonic()
        nextReport = time.monotonic() + opts.report_every
        number = 0
        maxUpdates = int(opts.duration / opts.metadata_every) + 2
        while time.monotonic() < deadline and number < maxUpdates:
            now = time.monotonic()
            if "warm" not in figures and now >= warmAt:
                figures["warm"] = sample("after warm-up")
            if now >= nextReport:
                sample("running")
                nextReport += opts.report_every
            if now >= nextUpdate:
                number += 1
                if await postUpdate(server.port, number, totals):
                    updatesOK += 1
                else:
                    updatesFailed += 1
                    log(f"metadata update {number} was refused or failed")
                nextUpdate += opts.metadata_every
            await asyncio.sleep(max(0.0, min(nextUpdate, nextReport, deadline) - time.monotonic()))
        if "warm" not in figures:
            figures["warm"] = sample("after warm-up")
        # Open gaps count too: a listener silent for longer than the stall
        # limit at the end has stalled.
        end = time.monotonic()
        for listener in listeners:
            if listener.inBody and not listener.lost and listener.last is not None:
                if end - listener.last > opts.stall:
                    totals.stalls += 1
                    totals.stallEvents.append((end - totals.start, listener.index, end - listener.last))
        figures["end"] = sample("end")
        for listener in listeners:
            listener.close()
        # Let the server notice every close and forget the listeners.
        await asyncio.sleep(3)
        figures["after"] = sample("listeners left")
        stop.set()
        await asyncio.wait_for(lagTask, 5)
    finally:
        for listener in listeners:
            listener.close()
        status = server.stop()
        figures["server_exit"] = status
        figures["server_dropped_lines"] = server.logLines("dropped", "Traceback", "Unhandled")[:50]
        if opts.keep:
            log(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)

    changes = sorted(listener.titleChanges for listener in listeners) or [0]
    gaps = sorted(listener.maxGap for listener in listeners) or [0.0]
    latencies = sorted(totals.latencies) or [0.0]
    lags.sort()
    figures.update(
        listeners=opts.listeners,
        connected=len(listeners),
        stalls=totals.stalls,
        stall_events=totals.stallEvents[:50],
        underruns=totals.underruns,
        disconnects=totals.disconnects,
        disconnect_events=totals.disconnectEvents[:50],
        head_failures=totals.headFailures,
        sync_bad=totals.syncBad,
        meta_bad=totals.metaBad,
        updates_ok=updatesOK,
        updates_failed=updatesFailed,
        title_changes_min=changes[0],
        title_changes_median=statistics.median(changes),
        max_gap_s=gaps[-1],
        max_gap_p50_s=statistics.median(gaps),
        update_latency_p50_s=statistics.median(latencies),
        update_latency_max_s=latencies[-1],
        updates_seen=len(totals.latencies),
        driver_loop_lag_max_s=lags[-1] if lags else 0.0,
    )
    return figures


def summary(figures: dict) -> str:
    """
    @param figures: what L{soak} returned.
    @return: the closing report, as text.
    """
    lines = ["", "| when | server RSS | open fds | server CPU s | listening |", "|---|---:|---:|---:|---:|"]
    for key, label in (("start", "start (no listener)"), ("ramp", "ramp done"), ("warm", "after warm-up"),
                       ("end", "end"), ("after", "listeners left")):  # fmt: skip
        s = figures.get(key)
        if s:
            lines.append(f"| {label} | {mib(s['rss_kib'])} | {s['fds']} | {s['cpu_s']:.1f} | {s['connected']} |")
    warm, end = figures.get("warm"), figures.get("end")
    if warm and end:
        lines.append("")
        lines.append(f"RSS growth from warm-up to end: {100 * (end['rss_kib'] - warm['rss_kib']) / warm['rss_kib']:+.2f}%")
    lines += [
        f"listeners {figures['connected']}/{figures['listeners']}, stalls (> {figures['settings']['stall']:g} s "
        f"without a byte) {figures['stalls']}, player underruns {figures['underruns']}, "
        f"disconnects {figures['disconnects']}, bad heads {figures['head_failures']}, "
        f"bad first byte {figures['sync_bad']}, bad metadata blocks {figures['meta_bad']}",
        f"longest gap between reads: {figures['max_gap_s']:.2f} s (median over listeners "
        f"{figures['max_gap_p50_s']:.2f} s); driver event-loop lag max {figures['driver_loop_lag_max_s']:.3f} s",
        f"metadata updates accepted {figures['updates_ok']}, failed {figures['updates_failed']}; seen by "
        f"listeners {figures['updates_seen']} times, {figures['update_latency_p50_s']:.2f} s after posting "
        f"(median), at most {figures['update_latency_max_s']:.2f} s",
        f"title changes per listener: min {figures['title_changes_min']}, median {figures['title_changes_median']}",
        f"server exit status {figures['server_exit']}; log lines about drops or errors: "
        f"{len(figures['server_dropped_lines'])}",
    ]
    for line in figures["server_dropped_lines"][:10]:
        lines.append("  " + line)
    for when, index, what in figures["disconnect_events"][:10]:
        lines.append(f"  disconnect: listener {index} at {when:.1f} s: {what}")
    for when, index, gap in figures["stall_events"][:10]:
        lines.append(f"  stall: listener {index} at {when:.1f} s: {gap:.2f} s without a byte")
    return "\n".join(lines)


# --- the connect/disconnect cycles -------------------------------------------------


CYCLE_KINDS = ("listener", "head", "midHeaders", "midBurst", "midMetadata", "listener", "midBurst", "source")
"""The kinds of cycle, drawn at random; a source at most once a batch."""


async def cycle(port: int, kind: str, audio: bytes) -> str | None:
    """
    One connection of the given kind, from connect to close.

    @param port: the server's port.
    @param kind: one of L{CYCLE_KINDS}.
    @param audio: a second of MP3 for a source client to send.
    @return: L{None} when it went as expected, else what went wrong.
    """
    credentials = base64.b64encode(f"source:{SOURCE_PASSWORD}".encode()).decode()
    requests = {
        "head": b"HEAD /stream HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n",
        "midHeaders": b"GET /stream HTTP/1.0\r\nIcy-Meta",
        "source": (
            f"SOURCE /stream HTTP/1.0\r\nContent-Type: audio/mpeg\r\nAuthorization: Basic {credentials}\r\n\r\n"
        ).encode() + audio,
    }
    request = requests.get(kind, b"GET /stream HTTP/1.0\r\nHost: 127.0.0.1\r\nIcy-MetaData: 1\r\n\r\n")
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        if kind == "midHeaders":
            return None
        if kind == "head":
            reply = await reader.read()
            return None if reply.startswith(b"HTTP/1.0 200") else f"HEAD: {reply[:40]!r}"
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.0 200"):
            return f"{kind}: {head[:40]!r}"
        if kind in ("midBurst", "source"):
            if kind == "midBurst":
                await reader.readexactly(1000)
            return None
        metaint = int(head.lower().split(b"icy-metaint:", 1)[1].split(b"\r\n", 1)[0])
        if kind == "midMetadata":
            await reader.readexactly(metaint + 2)
            return None
        await reader.readexactly(metaint + 1)
        return None
    finally:
        # A reset, as a player that goes away does: no TIME_WAIT piles up.
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        writer.close()


async def serverStatus(port: int) -> dict:
    """
    @param port: the server's port.
    @return: C{/status-json.xsl}'s mount entry.
    """
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /status-json.xsl HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
    reply = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    source = json.loads(reply.split(b"\r\n\r\n", 1)[1])["icestats"]["source"]
    return source[0] if isinstance(source, list) else source


async def cycles(opts) -> dict:
    """
    Run the connect/disconnect soak and return its figures.

    @param opts: the parsed command line.
    @return: every figure.
    """
    import random

    folder = tempfile.mkdtemp(prefix="txradio-soak-")
    music = os.path.join(folder, "music")
    os.makedirs(music)
    makeTracks(music, opts.track_seconds)
    with open(os.path.join(music, "01.mp3"), "rb") as f:
        track = f.read()
    # A second of audio from the middle of a track, for the sources.
    audio = track[len(track) // 2 : len(track) // 2 + 16000]
    server = ServerProcess(music, folder, opts.txradio_root)
    figures: dict = {"samples": [], "settings": vars(opts).copy()}
    failures: dict[str, int] = {}
    examples: list[str] = []
    rng = random.Random(8)
    start = time.monotonic()
    deadline = start + opts.max_time

    def sample(label: str, done: int) -> dict:
        values = dict(server.sample(), label=label, cycles=done, t=round(time.monotonic() - start, 1))
        figures["samples"].append(values)
        log(f"{label:>10}: {done:>8} cycles  rss {mib(values['rss_kib'])}  fds {values['fds']}  cpu {values['cpu_s']:.1f} s"
            f"  failed {sum(failures.values())}")
        return values

    try:
        await waitForStream(server.port, 60)
        await asyncio.sleep(3)
        figures["start"] = sample("start", 0)
        done = 0
        nextReport = opts.cycles // 10
        while done < opts.cycles and time.monotonic() < deadline:
            batch = min(opts.concurrency, opts.cycles - done)
            kinds = [rng.choice(CYCLE_KINDS[:-1]) for _ in range(batch - 1)] + [rng.choice(CYCLE_KINDS)]
            results = await asyncio.gather(
                *[asyncio.wait_for(cycle(server.port, kind, audio), 15) for kind in kinds], return_exceptions=True
            )
            for kind, result in zip(kinds, results):
                if result is None:
                    continue
                failures[kind] = failures.get(kind, 0) + 1
                if len(examples) < 20:
                    examples.append(f"{kind}: {result!r}")
            done += batch
            if "warm" not in figures and done >= opts.cycles // 5:
                await asyncio.sleep(0.5)
                figures["warm"] = sample("warm", done)
            if done >= nextReport:
                sample("running", done)
                nextReport += max(1, opts.cycles // 10)
        # Let the server notice the last closes.
        await asyncio.sleep(3)
        figures["end"] = sample("end", done)
        status = await serverStatus(server.port)
        figures.update(
            cycles_done=done,
            failures=failures,
            failure_examples=examples,
            listeners_left=status.get("listeners"),
            seconds=round(time.monotonic() - start, 1),
        )
    finally:
        figures["server_exit"] = server.stop()
        figures["server_error_lines"] = server.logLines("Traceback", "Unhandled")[:20]
        if opts.keep:
            log(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    return figures


def cyclesSummary(figures: dict) -> tuple[str, bool]:
    """
    @param figures: what L{cycles} returned.
    @return: the closing report, and whether the run passed.
    """
    lines = ["", "| when | cycles | server RSS | open fds | server CPU s |", "|---|---:|---:|---:|---:|"]
    for key in ("start", "warm", "end"):
        s = figures.get(key)
        if s:
            lines.append(f"| {key} | {s['cycles']:,} | {mib(s['rss_kib'])} | {s['fds']} | {s['cpu_s']:.1f} |")
    warm, end, start = figures.get("warm"), figures.get("end"), figures.get("start")
    growth = 100 * (end["rss_kib"] - warm["rss_kib"]) / warm["rss_kib"] if warm and end else float("nan")
    lines += [
        "",
        f"{figures.get('cycles_done', 0):,} cycles in {figures.get('seconds', 0):.0f} s; RSS growth from warm-up to "
        f"end {growth:+.2f}%; fds at the end {end['fds'] if end else '-'} (start {start['fds'] if start else '-'})",
        f"failed cycles: {figures.get('failures')}; listeners left {figures.get('listeners_left')}; "
        f"server errors logged: {len(figures['server_error_lines'])}",
    ]
    lines += ["  " + example for example in figures.get("failure_examples", [])[:10]]
    lines += ["  " + line for line in figures["server_error_lines"][:10]]
    passed = bool(
        warm and end and start
        and figures.get("cycles_done") == figures["settings"]["cycles"]
        and not figures.get("failures")
        and figures.get("listeners_left") == 0
        and end["fds"] <= start["fds"]
        and growth < 5.0
        and not figures["server_error_lines"]
    )  # fmt: skip
    return "\n".join(lines), passed


def main(argv: list[str] | None = None) -> int:
    """
    Parse the command line, run the soak, print the figures.

    @param argv: the arguments; C{sys.argv[1:]} by default.
    @return: the exit status.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=3600.0, help="seconds from the first listener to the end")
    parser.add_argument("--listeners", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=200.0, help="new listeners a second during the ramp")
    parser.add_argument("--track-seconds", type=float, default=20.0, help="length of each track: a change this often")
    parser.add_argument("--metadata-every", type=float, default=5.0, help="seconds between metadata updates")
    parser.add_argument("--warmup", type=float, default=120.0, help="seconds after the ramp before the warm sample")
    parser.add_argument("--report-every", type=float, default=60.0, help="seconds between progress lines")
    parser.add_argument("--stall", type=float, default=3.0, help="a gap between reads longer than this is a stall")
    parser.add_argument("--smoke", action="store_true", help="100 listeners for 40 s (CI); with --cycles, 1,000 cycles")
    parser.add_argument("--cycles", type=int, help="run N connect/disconnect cycles instead of the listener soak")
    parser.add_argument("--concurrency", type=int, default=20, help="cycles at a time")
    parser.add_argument("--max-time", type=float, default=3 * 3600.0, help="stop the cycles after this many seconds")
    parser.add_argument("--txradio-root", default=ROOT, help="the txradio tree to run (default: this checkout)")
    parser.add_argument("--json", help="write every figure to this file")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (tracks, server log)")
    opts = parser.parse_args(argv)
    if opts.cycles is not None:
        if opts.smoke:
            opts.cycles = 1000
        if not shutil.which("ffmpeg"):
            print("the soak needs ffmpeg to make its tracks (Debian: apt-get install ffmpeg)", file=sys.stderr)
            return 2
        raiseFileLimit()
        log(f"soak: {opts.cycles:,} connect/disconnect cycles, {opts.concurrency} at a time")
        figures = asyncio.run(cycles(opts))
        report, passed = cyclesSummary(figures)
        print(report, flush=True)
        if opts.json:
            with open(opts.json, "w") as f:
                json.dump(figures, f, indent=1)
        return 0 if passed else 1
    if opts.smoke:
        opts.duration, opts.listeners, opts.warmup, opts.report_every = 40.0, 100, 10.0, 10.0
    if not shutil.which("ffmpeg"):
        print("the soak needs ffmpeg to make its tracks (Debian: apt-get install ffmpeg)", file=sys.stderr)
        return 2
    limit = raiseFileLimit()
    if limit < opts.listeners + 64:
        print(f"RLIMIT_NOFILE {limit} is too low for {opts.listeners} listeners: raise it (ulimit -Hn)", file=sys.stderr)
        return 2
    log(
        f"soak: {opts.listeners} listeners for {opts.duration:g} s, a track change every {opts.track_seconds:g} s, "
        f"a metadata update every {opts.metadata_every:g} s"
    )
    figures = asyncio.run(soak(opts))
    print(summary(figures), flush=True)
    if opts.json:
        with open(opts.json, "w") as f:
            json.dump(figures, f, indent=1)
    clean = (
        figures["connected"] == figures["listeners"]
        and not figures["stalls"]
        and not figures["disconnects"]
        and not figures["head_failures"]
        and not figures["sync_bad"]
        and not figures["meta_bad"]
        and not figures["updates_failed"]
    )
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
