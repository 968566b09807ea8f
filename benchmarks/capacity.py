#!/usr/bin/env python3
"""
Capacity benchmark: how many listeners txradio holds on one core, measured
against Icecast 2 on the same machine, load and file.

    python benchmarks/capacity.py --smoke     # N=50 for a few seconds (CI)
    python benchmarks/capacity.py --quick     # N=1,000 and 3,000 (< 3 minutes)
    python benchmarks/capacity.py --full      # N=1,000/3,000/6,000/9,000 (~10 minutes)
    python benchmarks/capacity.py --quick --stalled 0.1   # 10% never read
    python benchmarks/capacity.py --profile 20 --n 3000    # py-spy on txradio

For every (N, metadata) configuration and every server it starts a fresh
server process pinned to CPU 0, waits until its burst buffer is full, runs
C{benchmarks/loadgen.c} (compiled here with the system C compiler, pinned to
the last CPU) and samples the server's CPU time (/proc/PID/stat utime+stime)
over the load generator's steady window and its resident memory
(/proc/PID/status VmRSS) before the listeners connect and at the end of the
window.  It prints one table with both servers side by side.

Icecast runs only when C{icecast2} and C{ffmpeg} are installed; it is fed by
C{ffmpeg -re} with the same 128 kbps file and run as the C{icecast2} user
(Icecast refuses to run as root).  Every socket is on 127.0.0.1.  The soft
RLIMIT_NOFILE of this process and of every child is raised to the hard limit.

See docs/performance.md for what the columns mean and for results.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import pwd
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CLK_TCK = os.sysconf("SC_CLK_TCK")

MODES = {
    # ns: listener counts; off: counts also run with metadata off.
    "smoke": dict(ns=[50], off=[], rate=500, warmup=2.0, settle=1.0, window=3.0),
    "quick": dict(ns=[1000, 3000], off=[], rate=1000, warmup=5.0, settle=3.0, window=8.0),
    "full": dict(ns=[1000, 3000, 6000, 9000], off=[3000, 9000], rate=1000, warmup=5.0, settle=5.0, window=20.0),
}

STALLED_MIN_WINDOW = 45.0
"""
Seconds of steady window when some listeners never read: a lag limit of
512 KiB is 33 s of 128 kbps audio, plus the socket buffers before it.
"""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def raiseFileLimit() -> int:
    """
    Raise the soft RLIMIT_NOFILE to the hard limit; children inherit it.

    @return: the new soft limit.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def cpuCount() -> int:
    return len(os.sched_getaffinity(0))


def serverCPUs() -> set[int]:
    cpus = sorted(os.sched_getaffinity(0))
    return {cpus[0]}


def clientCPUs() -> set[int]:
    cpus = sorted(os.sched_getaffinity(0))
    return {cpus[-1]} if len(cpus) > 1 else set(cpus)


def childSetup(cpus: set[int]):
    """
    Make a preexec function: raise the fd limit, pin to C{cpus}.
    """

    def setup() -> None:
        raiseFileLimit()
        try:
            os.sched_setaffinity(0, cpus)
        except OSError:
            pass

    return setup


def machineDescription() -> str:
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kib = int(f.readline().split()[1])
            mem = f", {kib / 1048576:.1f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return f"{model}, {os.cpu_count()} cores{mem}, Linux {platform.release()}, Python {platform.python_version()}"


def txradioVersion(root: str) -> str:
    try:
        out = subprocess.run(
            [sys.executable, "-c", "import txradio, twisted; print(txradio.__version__, twisted.__version__)"],
            cwd=root,
            env=dict(os.environ, PYTHONPATH=root),
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout.split()
        version = f"txradio {out[0]} (Twisted {out[1]})"
    except (OSError, subprocess.SubprocessError, IndexError):
        return "txradio (unknown version)"
    if os.path.isdir(os.path.join(root, ".git")) and shutil.which("git"):
        rev = subprocess.run(
            ["git", "-C", root, "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", root, "status", "--porcelain", "--untracked-files=no", "txradio"],
            capture_output=True,
            text=True,
        ).stdout.strip()
        if rev:
            version += f" at {rev}" + (" with local changes" if dirty else "")
    return version


def icecastVersion(binary: str) -> str:
    try:
        return subprocess.run([binary, "-v"], capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "Icecast (unknown version)"


def freePort() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- process sampling -------------------------------------------------------


def cpuTicks(pid: int) -> tuple[int, int]:
    """utime and stime of a process (all its threads), in clock ticks."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]), int(fields[12])


def rssKiB(pid: int, key: str = "VmRSS") -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


KERNEL_COUNTERS = (
    "ListenOverflows", "ListenDrops", "TCPReqQFullDrop", "TCPReqQFullDoCookies", "SyncookiesSent",
    "TCPMemoryPressures", "PruneCalled", "RcvPruned", "TCPRcvQDrop", "TCPBacklogDrop", "TCPSynRetrans",
    "TCPTimeouts",
)
"""
The kernel's TCP counters (C{/proc/net/netstat}, for the whole network
namespace) that say where connections or data waited: the accept queue
(C{ListenOverflows}), the SYN queue (C{TCPReqQFull*}, C{Syncookies*}),
socket memory (C{TCPMemoryPressures}, C{*Prune*}, C{TCPRcvQDrop}) and
retransmissions.
"""


def kernelCounters() -> dict[str, int]:
    """The TcpExt counters named in L{KERNEL_COUNTERS}."""
    values: dict[str, int] = {}
    try:
        with open("/proc/net/netstat") as f:
            lines = f.read().splitlines()
    except OSError:
        return values
    for names, numbers in zip(lines[::2], lines[1::2]):
        if names.startswith("TcpExt:"):
            for k, v in zip(names.split()[1:], numbers.split()[1:]):
                if k in KERNEL_COUNTERS:
                    values[k] = int(v)
    return values


# --- the test file ----------------------------------------------------------


def makeTestFile(folder: str, seconds: int) -> str | None:
    """
    Encode a 128 kbps CBR MP3 of two tones with ffmpeg.

    @return: its path, or L{None} without ffmpeg.
    """
    if not shutil.which("ffmpeg"):
        return None
    os.makedirs(folder, exist_ok=True)
    out = os.path.join(folder, "tone.mp3")
    subprocess.run(
        [
            "ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}:sample_rate=44100",
            "-f", "lavfi", "-i", f"sine=frequency=660:duration={seconds}:sample_rate=44100",
            "-filter_complex", "amerge=inputs=2", "-ac", "2", "-ar", "44100",
            "-c:a", "libmp3lame", "-b:a", "128k",
            "-metadata", "title=Benchmark Tone", "-metadata", "artist=txradio",
            out,
        ],
        check=True,
    )
    return out


# --- servers ----------------------------------------------------------------


def probe(port: int, timeout: float, wrap=lambda s: s) -> int | None:
    """
    Wait until C{GET /stream} answers 200 with some audio.

    @param wrap: wraps the connected socket (e.g. in TLS).
    @return: the announced bitrate in kbps (icy-br), or L{None} on timeout.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with wrap(socket.create_connection(("127.0.0.1", port), timeout=2)) as s:
                s.sendall(b"GET /stream HTTP/1.0\r\nUser-Agent: capacity-probe\r\n\r\n")
                data = b""
                while b"\r\n\r\n" not in data or len(data) < data.find(b"\r\n\r\n") + 1000:
                    more = s.recv(65536)
                    if not more:
                        break
                    data += more
                head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
                if head.split(" ", 2)[1:2] == ["200"]:
                    for line in head.split("\r\n"):
                        if line.lower().startswith("icy-br:"):
                            return int(line.split(":", 1)[1].strip().split(",")[0])
                    return 128
        except (OSError, ValueError, IndexError):
            pass
        time.sleep(0.25)
    return None


class Server:
    name = "server"
    loadgenOptions: tuple[str, ...] = ()
    """More options for the load generator (benchmarks/tls.py adds C{--tls})."""

    def __init__(self, tmp: str, mp3: str | None) -> None:
        self.tmp = tmp
        self.mp3 = mp3
        self.proc: subprocess.Popen | None = None
        self.helpers: list[subprocess.Popen] = []
        self.port = 0

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> None:
        raise NotImplementedError

    def ready(self, timeout: float) -> int | None:
        """
        Wait until the server streams; see L{probe}.
        """
        return probe(self.port, timeout)

    def stop(self) -> None:
        for proc in self.helpers + ([self.proc] if self.proc else []):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.helpers + ([self.proc] if self.proc else []):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.helpers = []
        self.proc = None


class TxradioServer(Server):
    name = "txradio"

    def __init__(self, tmp: str, mp3: str | None, root: str) -> None:
        Server.__init__(self, tmp, mp3)
        self.root = root

    def start(self) -> None:
        self.port = freePort()
        music = os.path.dirname(self.mp3) if self.mp3 else os.path.join(self.root, "txradio", "demo")
        cmd = [
            sys.executable, "-m", "twisted", "txradio",
            "--music-dir", music,
            "--listen", self.listenDescription(),
        ]
        self.logFile = open(os.path.join(self.tmp, f"txradio-{self.port}.log"), "wb")
        env = dict(os.environ, PYTHONPATH=self.root + os.pathsep + os.environ.get("PYTHONPATH", ""))
        self.proc = subprocess.Popen(
            cmd, cwd=self.root, env=env, stdout=self.logFile, stderr=subprocess.STDOUT,
            preexec_fn=childSetup(serverCPUs()),
        )

    def listenDescription(self) -> str:
        """
        The listening endpoint, on C{self.port}.
        """
        return f"tcp:{self.port}:interface=127.0.0.1:backlog=4096"

    def stop(self) -> None:
        Server.stop(self)
        self.logFile.close()


class FloorServer(Server):
    """
    C{benchmarks/floor.c}: one epoll loop, one send per listener a tick from
    a shared buffer, a 4 s burst, no metadata.  The reference for what the
    kernel and the machine cost, measured in the same run as txradio.
    """

    name = "floor"

    def start(self) -> None:
        if self.mp3 is None:
            raise RuntimeError("the C floor needs the ffmpeg-made test file")
        self.port = freePort()
        self.logFile = open(os.path.join(self.tmp, f"floor-{self.port}.log"), "wb")
        self.proc = subprocess.Popen(
            [compileC(self.tmp, "floor"), "--port", str(self.port), "--file", self.mp3, "--backlog", "4096"],
            stdout=self.logFile, stderr=subprocess.STDOUT, preexec_fn=childSetup(serverCPUs()),
        )

    def stop(self) -> None:
        Server.stop(self)
        self.logFile.close()


ICECAST_CONFIG = """<icecast>
  <location>127.0.0.1</location>
  <admin>bench@localhost</admin>
  <limits>
    <clients>12000</clients>
    <sources>4</sources>
    <queue-size>524288</queue-size>
    <client-timeout>30</client-timeout>
    <header-timeout>15</header-timeout>
    <source-timeout>10</source-timeout>
    <burst-on-connect>1</burst-on-connect>
    <burst-size>65536</burst-size>
  </limits>
  <authentication>
    <source-password>{password}</source-password>
    <relay-password>{password}</relay-password>
    <admin-user>admin</admin-user>
    <admin-password>{password}</admin-password>
  </authentication>
  <hostname>127.0.0.1</hostname>
  <listen-socket>
    <port>{port}</port>
    <bind-address>127.0.0.1</bind-address>
  </listen-socket>
  <fileserve>1</fileserve>
  <paths>
    <basedir>/usr/share/icecast2</basedir>
    <logdir>{logdir}</logdir>
    <webroot>/usr/share/icecast2/web</webroot>
    <adminroot>/usr/share/icecast2/admin</adminroot>
  </paths>
  <logging>
    <accesslog>access.log</accesslog>
    <errorlog>error.log</errorlog>
    <loglevel>2</loglevel>
    <logsize>100000</logsize>
  </logging>
  <security>
    <chroot>0</chroot>
  </security>
</icecast>
"""


def icecastUser() -> tuple[str, str] | None:
    """
    The user and group to run Icecast as: it refuses to run as root.  The
    Debian package creates C{icecast2}:C{icecast}.
    """
    if os.getuid() != 0:
        return None
    for user in ("icecast2", "icecast", "nobody"):
        try:
            entry = pwd.getpwnam(user)
        except KeyError:
            continue
        import grp

        try:
            group = grp.getgrgid(entry.pw_gid).gr_name
        except KeyError:
            group = str(entry.pw_gid)
        return user, group
    return None


class IcecastServer(Server):
    name = "icecast"
    config = ICECAST_CONFIG

    def __init__(self, tmp: str, mp3: str, binary: str) -> None:
        Server.__init__(self, tmp, mp3)
        self.binary = binary

    def start(self) -> None:
        self.port = freePort()
        password = "bench" + str(os.getpid())
        logdir = os.path.join(self.tmp, f"icecast-{self.port}")
        os.makedirs(logdir, mode=0o755)
        config = os.path.join(logdir, "icecast.xml")
        with open(config, "w") as f:
            f.write(self.config.format(password=password, port=self.port, logdir=logdir))
        os.chmod(config, 0o644)
        who = icecastUser()
        kwargs = {}
        if who is not None:
            user, group = who
            entry = pwd.getpwnam(user)
            os.chown(logdir, entry.pw_uid, entry.pw_gid)
            kwargs = dict(user=user, group=group, extra_groups=[])
        self.logFile = open(os.path.join(logdir, "stdout.log"), "wb")
        self.proc = subprocess.Popen(
            [self.binary, "-c", config], stdout=self.logFile, stderr=subprocess.STDOUT,
            preexec_fn=childSetup(serverCPUs()), **kwargs,
        )
        # Wait for the port, then feed it with ffmpeg in real time.
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"icecast exited; see {logdir}") from None
                time.sleep(0.1)
        self.feedLog = open(os.path.join(logdir, "ffmpeg.log"), "wb")
        self.helpers.append(
            subprocess.Popen(
                [
                    "ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin",
                    "-re", "-stream_loop", "-1", "-i", self.mp3,
                    "-c", "copy", "-id3v2_version", "0", "-write_xing", "0",
                    "-content_type", "audio/mpeg", "-f", "mp3",
                    f"icecast://source:{password}@127.0.0.1:{self.port}/stream",
                ],
                stdin=subprocess.DEVNULL, stdout=self.feedLog, stderr=subprocess.STDOUT,
                preexec_fn=childSetup(clientCPUs()),
            )
        )

    def stop(self) -> None:
        Server.stop(self)
        self.logFile.close()
        self.feedLog.close()


# --- one run ----------------------------------------------------------------


def compileC(tmp: str, name: str) -> str:
    """
    Compile C{benchmarks/NAME.c} with the system C compiler into C{tmp}.

    @return: the path of the program.
    """
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if not cc:
        raise RuntimeError("no C compiler (cc) found: install gcc (Debian: apt-get install gcc)")
    out = os.path.join(tmp, name)
    if not os.path.exists(out):
        subprocess.run([cc, "-O2", "-o", out, os.path.join(HERE, f"{name}.c"), "-lm"], check=True)
    return out


def compileLoadgen(tmp: str) -> str:
    return compileC(tmp, "loadgen")


def runOne(server: Server, loadgen: str, n: int, meta: bool, opts, stalled: float, profile: float = 0.0) -> dict:
    """
    Start C{server}, load it with C{n} listeners, measure, stop it.
    """
    server.start()
    try:
        kbps = server.ready(30)
        if kbps is None:
            raise RuntimeError(f"{server.name} did not start streaming on port {server.port}")
        time.sleep(opts.warmup)
        pid = server.pid
        baseline = rssKiB(pid)
        window = max(opts.window, STALLED_MIN_WINDOW) if stalled else opts.window
        cmd = [
            loadgen, "--port", str(server.port), "--n", str(n), "--rate", str(opts.rate),
            "--settle", str(opts.settle), "--window", str(window), "--bitrate", str(kbps * 1000),
            "--linger", "1", "--stalled", str(stalled), *server.loadgenOptions,
        ]
        if not meta:
            cmd.append("--no-meta")
        marks: dict[str, tuple[float, tuple[int, int], int]] = {}
        marks["start"] = (time.monotonic(), cpuTicks(pid), rssKiB(pid))
        counters = kernelCounters()
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            preexec_fn=childSetup(clientCPUs()),
        )
        spy: list[subprocess.Popen] = []
        profileOut = os.path.join(server.tmp, f"profile-{server.name}-{n}.txt")

        def watch() -> None:
            assert proc.stderr is not None
            for line in proc.stderr:
                words = line.split()
                if words[:1] == ["phase"] and len(words) > 1:
                    try:
                        marks[words[1]] = (time.monotonic(), cpuTicks(pid), rssKiB(pid))
                    except OSError:
                        pass
                    if words[1] == "steady_start" and profile:
                        spy.append(
                            subprocess.Popen(
                                ["py-spy", "record", "--nonblocking", "--rate", "200", "--duration",
                                 str(int(profile)), "--format", "raw", "-o", profileOut, "--pid", str(pid)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                preexec_fn=childSetup(clientCPUs()),
                            )
                        )
                else:
                    sys.stderr.write("loadgen: " + line)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        limit = (n - 1) / opts.rate + opts.settle + window + 60
        killer = threading.Timer(limit, proc.kill)
        killer.start()
        try:
            assert proc.stdout is not None
            out = proc.stdout.read()
            proc.wait()
        finally:
            killer.cancel()
        watcher.join(10)
        if proc.returncode != 0 or "steady_end" not in marks:
            raise RuntimeError(f"the load generator failed (exit status {proc.returncode})")
        for p in spy:
            p.wait(timeout=profile + 30)
        result = json.loads(out.strip().splitlines()[-1])
        after = kernelCounters()
        result["kernel"] = {k: after[k] - counters.get(k, 0) for k in after if after[k] != counters.get(k, 0)}
        # the machine's load at the end: other work on a shared machine shows here
        result["loadavg_1min"] = os.getloadavg()[0]
        t1, c1, _ = marks["steady_start"]
        t2, c2, rss = marks["steady_end"]
        tr, cr, _ = marks.get("ramp_done", marks["start"])
        seconds = t2 - t1
        user = (c2[0] - c1[0]) / CLK_TCK / seconds
        system = (c2[1] - c1[1]) / CLK_TCK / seconds
        cores = user + system
        rampTicks = sum(cr) - sum(marks["start"][1])
        result.update(
            server=server.name,
            kbps=kbps,
            server_cores=cores,
            server_user_cores=user,
            server_sys_cores=system,
            # per listener actually served during the window (a server that
            # has not admitted everyone yet is not flattered)
            server_us_per_listener_s=cores * 1e6 / max(result["active_avg"], 1),
            ramp_cores=rampTicks / CLK_TCK / max(tr - marks["start"][0], 1e-3),
            rss_baseline_kib=baseline,
            rss_kib=rss,
            kib_per_listener=(rss - baseline) / n,
            stalled_fraction=stalled,
        )
        if profile and os.path.exists(profileOut):
            result["profile_file"] = profileOut
        return result
    finally:
        server.stop()


# --- the table --------------------------------------------------------------


def fmt(value, spec: str) -> str:
    if value is None or (isinstance(value, (int, float)) and value < 0):
        return "-"
    return format(value, spec)


COLUMNS = [
    # title, key, format, ratio?
    ("served", "active_avg", ".0f", False),
    ("CPU cores", "server_cores", ".3f", False),
    ("user/sys", "user_sys", None, False),
    ("µs/listener·s", "server_us_per_listener_s", ".1f", True),
    ("RSS MiB", "rss_kib", None, False),
    ("KiB/listener", "kib_per_listener", ".2f", True),
    ("TTFA p50 ms", "ttfa_p50_ms", ".1f", False),
    ("TTFA p99 ms", "ttfa_p99_ms", ".1f", True),
    ("burst p1 s", "burst_p1_s", ".2f", False),
    ("rate p1", "rate_p1", ".3f", False),
    ("stalls", "stalls", "d", False),
    ("disc.", "disconnects", None, False),
    ("loadgen cores", "cpu_window_cores", ".3f", False),
]


def cell(result: dict | None, key: str, spec: str | None) -> str:
    if result is None:
        return "-"
    if key == "user_sys":
        return f"{result['server_user_cores']:.3f}/{result['server_sys_cores']:.3f}"
    if key == "rss_kib":
        return f"{result['rss_kib'] / 1024:.0f}"
    if key == "disconnects":
        failed = result["disconnects"] + result["connect_fail"] + result["head_fail"] + result["no_audio"]
        return str(failed)
    return fmt(result.get(key), spec or "")


SHORT = {"txradio": "tx", "icecast": "ice", "floor": "floor"}


def table(results: list[dict], withIcecast: bool) -> str:
    """
    One row per configuration, the servers side by side; the ratio columns
    set txradio against the C floor when it ran, else against Icecast.
    """
    servers = [s for s in ("txradio", "floor", "icecast") if any(r["server"] == s for r in results)]
    reference = next((s for s in ("floor", "icecast") if s in servers), None)
    compare = "txradio" in servers and reference is not None
    keyed = {(r["n"], r["meta"], r["stalled_fraction"], r["server"]): r for r in results}
    configs = []
    for r in results:
        c = (r["n"], r["meta"], r["stalled_fraction"])
        if c not in configs:
            configs.append(c)
    header = ["N", "meta", "stalled"]
    for title, _, _, ratio in COLUMNS:
        for s in servers:
            header.append(f"{title} {SHORT[s]}")
        if ratio and compare:
            header.append(f"{title} tx/{SHORT[reference]}")
    rows = []
    for n, meta, stalled in configs:
        row = [str(n), "on" if meta else "off", f"{stalled:.0%}" if stalled else "-"]
        for _title, key, spec, ratio in COLUMNS:
            values = [keyed.get((n, meta, stalled, s)) for s in servers]
            row += [cell(v, key, spec) for v in values]
            if ratio and compare:
                a, b = keyed.get((n, meta, stalled, "txradio")), keyed.get((n, meta, stalled, reference))
                try:
                    row.append(f"{a[key] / b[key]:.2f}")
                except (TypeError, ZeroDivisionError, KeyError):
                    row.append("-")
        rows.append(row)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---:" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    stalledRows = [r for r in results if r["stalled_fraction"]]
    if stalledRows:
        lines.append("")
        lines.append("| server | N | stalled listeners | dropped | drop time p50 s | drop time max s | stalls among the others |")
        lines.append("|---|---:|---:|---:|---:|---:|---:|")
        for r in stalledRows:
            lines.append(
                f"| {r['server']} | {r['n']} | {r['stalled_listeners']} | {r['stalled_dropped']} | "
                f"{fmt(r['drop_p50_s'], '.1f')} | {fmt(r['drop_max_s'], '.1f')} | {r['stalls']} |"
            )
    return "\n".join(lines)


# --- profile summary ----------------------------------------------------------


def summariseProfile(path: str, top: int = 20) -> str:
    """
    Sum py-spy's raw (collapsed) stacks by function: self samples (leaf
    frame) and total samples (anywhere in the stack).
    """
    selfCount: dict[str, int] = {}
    totalCount: dict[str, int] = {}
    samples = 0
    with open(path) as f:
        for line in f:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if not stack:
                continue
            k = int(count)
            samples += k
            frames = []
            for frame in stack.split(";"):
                # "func (path/to/file.py:123)" -> "func (file.py)"
                name, _, where = frame.partition(" (")
                where = where.rstrip(")").rsplit(":", 1)[0]
                short = "/".join(where.split("/")[-2:])
                frames.append(f"{name} ({short})")
            selfCount[frames[-1]] = selfCount.get(frames[-1], 0) + k
            for frame in set(frames):
                totalCount[frame] = totalCount.get(frame, 0) + k
    lines = [f"{samples} samples (non-idle); self %, total %, function", ""]
    for name, k in sorted(selfCount.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"{100 * k / samples:6.1f} {100 * totalCount[name] / samples:6.1f}  {name}")
    return "\n".join(lines)


# --- main -------------------------------------------------------------------


def addOptions(parser: argparse.ArgumentParser, modes: dict) -> None:
    """
    The options of a capacity run (also those of benchmarks/tls.py).
    """
    mode = parser.add_mutually_exclusive_group()
    for name in modes:
        mode.add_argument(f"--{name}", dest="mode", action="store_const", const=name)
    parser.add_argument("--n", type=lambda s: [int(x) for x in s.split(",")], help="listener counts, e.g. 1000,3000")
    parser.add_argument("--stalled", type=float, default=0.0, help="fraction of listeners that never read")
    parser.add_argument("--rate", type=float, help="new connections per second")
    parser.add_argument("--window", type=float, help="seconds of steady window")
    parser.add_argument("--settle", type=float, help="seconds between the end of the ramp and the window")
    parser.add_argument("--servers", default="txradio,icecast",
                        help="which servers, comma-separated: txradio, icecast, floor (benchmarks/floor.c)")
    parser.add_argument("--txradio-root", default=ROOT, help="the txradio tree to run (default: this checkout)")
    parser.add_argument("--profile", type=float, default=0.0, metavar="SECONDS",
                        help="run py-spy on txradio for SECONDS of the steady window")
    parser.add_argument("--json", help="write every result to this file")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, profiles)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    addOptions(parser, MODES)
    parser.add_argument("--meta", choices=["on", "off", "both"], help="metadata on, off or both for every N")
    opts = parser.parse_args(argv)
    opts.mode = opts.mode or "quick"
    settings = dict(MODES[opts.mode])
    for key in ("rate", "window", "settle"):
        if getattr(opts, key) is not None:
            settings[key] = getattr(opts, key)
    ns = opts.n or settings["ns"]
    for key, value in settings.items():
        setattr(opts, key, value)

    limit = raiseFileLimit()
    need = max(ns) + 64
    if limit < need:
        log(f"RLIMIT_NOFILE hard limit {limit} is below {need}: raise it (ulimit -Hn) to run {max(ns)} listeners")
        return 2

    wanted = set(opts.servers.split(","))
    icecastBinary = shutil.which("icecast2") or shutil.which("icecast")
    haveIcecast = "icecast" in wanted and icecastBinary is not None and shutil.which("ffmpeg") is not None
    tmp = tempfile.mkdtemp(prefix="txradio-capacity-")
    os.chmod(tmp, 0o755)
    results: list[dict] = []
    try:
        loadgen = compileLoadgen(tmp)
        mp3 = makeTestFile(os.path.join(tmp, "music"), 60 if opts.mode == "smoke" else 240)
        if mp3:
            os.chmod(os.path.dirname(mp3), 0o755)
            os.chmod(mp3, 0o644)
        print(f"machine: {machineDescription()}")
        print(f"txradio: {txradioVersion(opts.txradio_root)}")
        if haveIcecast:
            print(f"icecast: {icecastVersion(icecastBinary)}")
        else:
            why = "not asked for" if "icecast" not in wanted else "icecast2 and ffmpeg are not both installed"
            print(f"icecast: skipped ({why})")
        print(f"file: {'128 kbps CBR tone from ffmpeg' if mp3 else 'the packaged demo playlist'}; "
              f"ramp {opts.rate:g}/s, settle {opts.settle:g} s, window "
              f"{max(opts.window, STALLED_MIN_WINDOW) if opts.stalled else opts.window:g} s; "
              f"RLIMIT_NOFILE {limit}; servers on CPU {sorted(serverCPUs())}, loadgen on CPU {sorted(clientCPUs())}")
        sys.stdout.flush()

        configs = []
        for n in ns:
            metas = {"on": [True], "off": [False], "both": [True, False]}.get(opts.meta or "", None)
            if metas is None:
                metas = [True, False] if n in settings["off"] else [True]
            configs += [(n, m) for m in metas]

        if opts.profile:
            if not shutil.which("py-spy"):
                log("--profile needs py-spy (pip install py-spy)")
                return 2
            n, meta = configs[0]
            log(f"profiling txradio with N={n}, metadata {'on' if meta else 'off'}")
            r = runOne(TxradioServer(tmp, mp3, opts.txradio_root), loadgen, n, meta, opts, opts.stalled, opts.profile)
            results.append(r)
            print(table(results, False))
            if "profile_file" in r:
                print()
                print(summariseProfile(r["profile_file"]))
                dest = os.path.join(os.getcwd(), f"txradio-profile-{n}.txt")
                shutil.copy(r["profile_file"], dest)
                print(f"\nraw py-spy stacks: {dest}")
            else:
                print("py-spy produced no profile (does this container allow ptrace?)")
            return 0

        for n, meta in configs:
            servers: list[Server] = []
            if "txradio" in wanted:
                servers.append(TxradioServer(tmp, mp3, opts.txradio_root))
            if haveIcecast:
                servers.append(IcecastServer(tmp, mp3, icecastBinary))
            if "floor" in wanted:
                servers.append(FloorServer(tmp, mp3))
            for server in servers:
                log(f"{server.name}: N={n}, metadata {'on' if meta else 'off'}"
                    + (f", {opts.stalled:.0%} stalled" if opts.stalled else ""))
                r = runOne(server, loadgen, n, meta, opts, opts.stalled)
                results.append(r)
                log(
                    f"  cpu {r['server_cores']:.3f} cores ({r['server_us_per_listener_s']:.1f} µs/listener·s), "
                    f"{r['kib_per_listener']:.2f} KiB/listener, ttfa p99 {r['ttfa_p99_ms']:.1f} ms, "
                    f"rate p1 {r['rate_p1']:.3f}, stalls {r['stalls']}, disconnects {r['disconnects']}, "
                    f"failed {r['connect_fail'] + r['head_fail']}, loadgen {r['cpu_window_cores']:.3f} cores, "
                    f"machine load {r['loadavg_1min']:.1f}"
                )
                if r["kernel"]:
                    log("  kernel: " + ", ".join(f"{k} {v}" for k, v in sorted(r["kernel"].items())))
        print()
        print(table(results, haveIcecast))
        if opts.json:
            with open(opts.json, "w") as f:
                json.dump(results, f, indent=1)
    finally:
        if opts.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    if opts.mode == "smoke":
        # Functional checks only (no timing): every listener got a stream
        # with well-formed metadata starting on a frame boundary.
        bad = [
            r for r in results
            if r["server"] == "txradio"
            and (r["ok"] != r["listeners"] or r["no_audio"] or r["meta_bad"] or r["sync_bad"])
        ]
        if bad:
            log("smoke run: some listeners did not get a clean stream")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
