"""
Running txradio as a systemd service: the unit files in C{docs/systemd},
the logrotate snippet in C{docs/logrotate}, and socket activation with real
processes.

The unit's own command line (its C{ExecStart}, with the program replaced by
this checkout's C{twistd}) is what the process tests run:

 - under Debian's C{systemd-socket-activate}, which binds the port, waits
   for the first listener and then starts txradio on the socket as systemd
   would;
 - on a listening socket this test process holds, as systemd's PID 1 does:
   the server is stopped, a listener connects while none runs (the kernel
   queues it), a second server starts on the same socket and the waiting
   listener gets the stream: the port stays open while the server restarts;
 - inside the unit's seccomp restrictions (C{SystemCallFilter=@system-service},
   C{MemoryDenyWriteExecute=yes}, C{RestrictAddressFamilies=},
   C{NoNewPrivileges=}), rebuilt with libseccomp's Python binding, so that
   CPython, Twisted and ffmpeg are shown to work under them.

Every wait is bounded, every port is a free one on 127.0.0.1, and every
child process is killed when its test ends.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import socket
import subprocess
import sys

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.scripts.twistd import ServerOptions
from twisted.trial.unittest import SkipTest, SynchronousTestCase, TestCase

from integration._realpeers import (
    CHECKOUT,
    ChildProcess,
    childSignal,
    connectRaw,
    parseResponse,
    requireProgram,
    run,
    spawn,
    withTimeout,
)
from txradio.config import loadConfig

UNITS = os.path.join(CHECKOUT, "docs", "systemd")
"""Where the unit files are."""

SERVICE = os.path.join(UNITS, "txradio.service")
"""The service unit."""

SOCKET = os.path.join(UNITS, "txradio.socket")
"""The socket unit."""

LOGROTATE = os.path.join(CHECKOUT, "docs", "logrotate", "txradio")
"""The logrotate snippet."""

OPERATIONS = os.path.join(CHECKOUT, "docs", "operations.md")
"""The operator's guide, whose configuration example is checked here."""

INSTALLED_BIN = "/opt/txradio/bin/"
"""Where the documented installation puts C{twistd}."""

TWISTD = "import sys; from twisted.scripts.twistd import run; sys.argv[0] = 'twistd'; run()"
"""C{python -c TWISTD ARGS} is C{twistd ARGS} from the checkout."""

WITH_LISTEN_PID = 'LISTEN_PID=$$; export LISTEN_PID; exec "$@"'
"""
For C{sh -c}: set C{LISTEN_PID} to the shell's own process id, which the
program it then executes keeps, as systemd sets it for the service.
"""

ICY_REQUEST = b"GET /stream HTTP/1.0\r\nHost: 127.0.0.1\r\nIcy-MetaData: 1\r\nUser-Agent: txradio-tests\r\n\r\n"
"""A player's request for the stream with titles."""

STREAM_TITLE = re.compile(rb"StreamTitle='([^']+)';")
"""A title in an ICY metadata block."""


def unitSettings(path: str) -> dict[tuple[str, str], list[str]]:
    """
    Read a systemd unit file.

    It has the INI shape C{configparser} reads, but systemd allows a key to
    be repeated (and an empty value to reset a list), so every value of a key
    is kept, in order.

    @param path: the unit file.
    @return: C{(section, key)} mapped to the values given, in order.
    """
    settings: dict[tuple[str, str], list[str]] = {}
    section = ""
    with open(path, encoding="utf-8") as unit:
        lines = unit.read().replace("\\\n", " ").splitlines()
    for line in lines:
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        key, equals, value = line.partition("=")
        if not equals:
            raise ValueError(f"{path}: not a setting: {line!r}")
        settings.setdefault((section, key.strip()), []).append(value.strip())
    return settings


def setting(settings: dict[tuple[str, str], list[str]], section: str, key: str) -> str:
    """
    The value of a key given once in a unit.

    @param settings: what L{unitSettings} read.
    @param section: e.g. C{"Service"}.
    @param key: e.g. C{"ExecStart"}.
    @return: its value.
    @raise AssertionError: when it is missing or given more than once.
    """
    values = settings.get((section, key), [])
    if len(values) != 1:
        raise AssertionError(f"[{section}] {key}= is given {len(values)} times, not once: {values}")
    return values[0]


def execStart() -> list[str]:
    """
    The service's command line.

    @return: C{ExecStart} split into words.
    """
    return shlex.split(setting(unitSettings(SERVICE), "Service", "ExecStart"))


def checkoutCommand(unitCommand: list[str]) -> list[str]:
    """
    Turn the unit's command line into one that runs this checkout's
    C{twistd} with the same arguments.

    @param unitCommand: the unit's command line, starting with the
        installed C{twistd}.
    @return: the command line for this checkout.
    """
    if unitCommand[0] != INSTALLED_BIN + "twistd":
        raise AssertionError(f"the unit runs {unitCommand[0]!r}, not {INSTALLED_BIN}twistd")
    return [sys.executable, "-c", TWISTD, *unitCommand[1:]]


def freePort() -> int:
    """
    Find a TCP port on 127.0.0.1 that nothing listens on now.

    @return: the port number.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def childEnvironment() -> dict[str, str]:
    """
    The environment for a radio run from the checkout: ours without
    C{PYTHONPATH}, unbuffered, and without any systemd variables of our own.

    @return: the environment.
    """
    env = dict(os.environ, PYTHONUNBUFFERED="1", LC_ALL="C.UTF-8")
    for name in ("PYTHONPATH", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"):
        env.pop(name, None)
    return env


def spawnWithSocket(testCase, args: list[str], listening: socket.socket, timeout: float) -> ChildProcess:
    """
    Start a program as systemd starts a socket-activated service: the
    listening socket as descriptor 3, C{LISTEN_FDS=1}, C{LISTEN_FDNAMES} and
    C{LISTEN_PID} set to the program's own process id.

    @param testCase: the running test; the process is killed when it ends.
    @param args: the command line.
    @param listening: the listening socket, which this process keeps open.
    @param timeout: seconds before the process is killed.
    @return: the L{ChildProcess}.
    """
    env = dict(childEnvironment(), LISTEN_FDS="1", LISTEN_FDNAMES="txradio.socket")
    command = ["/bin/sh", "-c", WITH_LISTEN_PID, "sh", *args]
    child = ChildProcess(command, timeout)
    try:
        reactor.spawnProcess(
            child,
            command[0],
            command,
            env=env,
            path=CHECKOUT,
            childFDs={0: "w", 1: "r", 2: "r", 3: listening.fileno()},
        )
    except BaseException:
        child._killer.cancel()
        raise
    testCase.addCleanup(child.stop)
    return child


def listeningSocket(testCase) -> socket.socket:
    """
    Open a listening TCP socket on a free port of 127.0.0.1, closed when
    the test ends.

    @param testCase: the running test.
    @return: the socket, listening with a backlog of 1024 (as
        C{txradio.socket} asks).
    """
    listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    testCase.addCleanup(listening.close)
    listening.bind(("127.0.0.1", 0))
    listening.listen(1024)
    return listening


@inlineCallbacks
def hearStream(testCase, port: int, client=None):
    """
    Check that a listener gets the ICY stream with a title.

    @param testCase: the running test.
    @param port: the radio's port on 127.0.0.1.
    @param client: a connected L{integration._realpeers.RawClient} that has sent
        L{ICY_REQUEST}, or L{None} to connect one.
    @return: a L{Deferred} firing with C{(client, title)}.
    """
    if client is None:
        client = yield connectRaw(testCase, port, ICY_REQUEST)
    yield client.waitForHead(20)
    status, headers, _ = parseResponse(client.data)
    testCase.assertEqual(status, b"HTTP/1.0 200 OK")
    testCase.assertEqual(headers[b"content-type"], b"audio/mpeg")
    testCase.assertIn(b"icy-metaint", headers)
    match = yield client.waitFor(lambda: STREAM_TITLE.search(client.data), 20, "a StreamTitle")
    return client, match.group(1).decode("utf-8")


@inlineCallbacks
def stopCleanly(testCase, child: ChildProcess):
    """
    Send SIGTERM, as C{systemctl stop} does, and check that the radio shuts
    down cleanly within 15 s: with status 0, or by SIGTERM re-raised after
    the reactor's clean shutdown (what C{SuccessExitStatus=SIGTERM} accepts).

    @param testCase: the running test.
    @param child: the radio.
    """
    child.kill("TERM")
    yield withTimeout(child.whenEnded(), 15, "the radio to exit after SIGTERM")
    cleanly = child.exitCode == 0 or (
        child.signal == childSignal("TERM") and "Main loop terminated." in child.output
    )
    testCase.assertTrue(cleanly, child.describe())
    testCase.assertNotIn("Traceback", child.output, child.describe())


class UnitFileTests(SynchronousTestCase):
    """
    The unit files say what docs/operations.md says they do, and the
    command line in them is one C{twistd} and txradio accept.
    """

    def test_execStartParses(self) -> None:
        """
        C{twistd}'s own option parser accepts C{ExecStart}'s arguments:
        no daemon, no pid file, the C{txradio} plugin listening on the
        first socket systemd passes.
        """
        config = ServerOptions()
        config.parseOptions(execStart()[1:])
        self.assertEqual(config.subCommand, "txradio")
        self.assertTrue(config["nodaemon"])
        self.assertEqual(config["pidfile"], "")
        self.assertEqual(config.subOptions["listen"], ["systemd:domain=INET:index=0"])
        self.assertEqual(type(config.subOptions).__module__, "txradio.tap")

    def test_socketMatchesListen(self) -> None:
        """
        The socket unit listens on one IPv4 stream socket, which is what
        C{--listen systemd:domain=INET:index=0} takes, with txradio's
        backlog, and the service asks for that socket.
        """
        socketUnit = unitSettings(SOCKET)
        self.assertEqual(socketUnit[("Socket", "ListenStream")], ["0.0.0.0:8000"])
        self.assertEqual(setting(socketUnit, "Socket", "Backlog"), "1024")
        self.assertEqual(setting(socketUnit, "Install", "WantedBy"), "sockets.target")
        service = unitSettings(SERVICE)
        self.assertIn("txradio.socket", setting(service, "Unit", "Requires").split())
        self.assertIn("txradio.socket", setting(service, "Unit", "After").split())

    def test_lifecycle(self) -> None:
        """
        Reload sends SIGHUP to twistd; stopping counts twistd's re-raised
        SIGTERM as success, and sends SIGTERM to twistd alone so it can stop
        its own ffmpeg children.
        """
        service = unitSettings(SERVICE)
        self.assertEqual(setting(service, "Service", "ExecReload"), "/bin/kill -HUP $MAINPID")
        self.assertIn("SIGTERM", setting(service, "Service", "SuccessExitStatus").split())
        self.assertEqual(setting(service, "Service", "KillMode"), "mixed")

    def test_hardening(self) -> None:
        """
        The service runs as a dynamic user without capabilities, in a
        read-only system, with the system call, memory and address family
        restrictions the process tests below check txradio runs under.
        """
        service = unitSettings(SERVICE)
        expected = {
            "DynamicUser": "yes",
            "NoNewPrivileges": "yes",
            "ProtectSystem": "strict",
            "ProtectHome": "yes",
            "PrivateTmp": "yes",
            "PrivateDevices": "yes",
            "CapabilityBoundingSet": "",
            "MemoryDenyWriteExecute": "yes",
            "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
            "SystemCallFilter": "@system-service",
            "LogsDirectory": "txradio",
            "StateDirectory": "txradio",
        }
        found = {key: setting(service, "Service", key) for key in expected}
        self.assertEqual(found, expected)

    def test_systemdAnalyzeVerify(self) -> None:
        """
        C{systemd-analyze verify} finds nothing wrong with the two units
        (with C{twistd} at a path that exists here).
        """
        analyze = shutil.which("systemd-analyze")
        if analyze is None:
            raise SkipTest("systemd-analyze is not installed (Debian package systemd; CI installs it)")
        work = os.path.abspath(self.mktemp())
        os.makedirs(os.path.join(work, "bin"))
        os.symlink(sys.executable, os.path.join(work, "bin", "twistd"))
        # A unit known to be right first: if even that fails, this machine
        # (a container without systemd running, say) cannot verify units.
        with open(os.path.join(work, "probe.service"), "w", encoding="utf-8") as probe:
            probe.write(f"[Service]\nExecStart={sys.executable} -c pass\n")
        if self.analyze(analyze, work, ["probe.service"]).returncode != 0:
            raise SkipTest("systemd-analyze verify does not work on this machine")
        for name in ("txradio.service", "txradio.socket"):
            with open(os.path.join(UNITS, name), encoding="utf-8") as original:
                text = original.read().replace(INSTALLED_BIN, os.path.join(work, "bin") + os.sep)
            with open(os.path.join(work, name), "w", encoding="utf-8") as copy:
                copy.write(text)
        verified = self.analyze(analyze, work, ["txradio.socket", "txradio.service"])
        self.assertEqual((verified.returncode, verified.stdout + verified.stderr), (0, ""))

    def analyze(self, analyze: str, work: str, units: list[str]) -> subprocess.CompletedProcess:
        """
        Run C{systemd-analyze verify}.

        @param analyze: the program.
        @param work: the folder holding the units.
        @param units: the unit file names.
        @return: the finished process.
        """
        args = [analyze, "verify", "--man=no", *(os.path.join(".", unit) for unit in units)]
        try:
            return subprocess.run(args, cwd=work, capture_output=True, text=True, timeout=60)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{args!r} ran for more than 60 s") from None


class OperationsGuideTests(SynchronousTestCase):
    """
    The configuration docs/operations.md gives for the service is valid,
    and the C{ExecStart} it tells operators to use accepts it.
    """

    def guide(self) -> str:
        """
        @return: docs/operations.md.
        """
        with open(OPERATIONS, encoding="utf-8") as guide:
            return guide.read()

    def test_configuration(self) -> None:
        """
        The guide's C{/etc/txradio/radio.toml} is a valid configuration
        that listens on the socket systemd passes, and the guide's
        C{ExecStart} for it parses with that file.
        """
        blocks = re.findall(r"```toml\n(.*?)```", self.guide(), re.S)
        self.assertTrue(blocks, "no TOML example in docs/operations.md")
        music = os.path.abspath(self.mktemp())
        os.makedirs(music)
        demo = os.path.join(CHECKOUT, "txradio", "demo")
        shutil.copy(os.path.join(demo, sorted(name for name in os.listdir(demo) if name.endswith(".mp3"))[0]), music)
        path = os.path.abspath(self.mktemp())
        with open(path, "w", encoding="utf-8") as config:
            config.write(blocks[0].replace("/srv/music", music))
        radio = loadConfig(path)
        self.assertEqual(radio.server.listen, ("systemd:domain=INET:index=0",))

        commands = re.findall(r"^ExecStart=(/.*)$", self.guide(), re.M)
        self.assertTrue(commands, "no ExecStart= line in docs/operations.md")
        for command in commands:
            args = shlex.split(command.replace("/etc/txradio/radio.toml", path))
            self.assertEqual(args[0], INSTALLED_BIN + "twistd")
            config = ServerOptions()
            config.parseOptions(args[1:])
            self.assertEqual(config.subCommand, "txradio")


class LogrotateTests(SynchronousTestCase):
    """
    The logrotate snippet rotates C{/var/log/txradio/*.log} and tells the
    main process (only: a SIGUSR1 would kill ffmpeg) to reopen its logs.
    """

    def test_signalsMainProcess(self) -> None:
        """
        The C{postrotate} script sends SIGUSR1 with C{systemctl kill} to the
        main process of C{txradio.service} only.
        """
        with open(LOGROTATE, encoding="utf-8") as snippet:
            text = snippet.read()
        self.assertIn("/var/log/txradio/*.log {", text)
        script = re.search(r"postrotate\n(.*?)\n\s*endscript", text, re.S)
        self.assertIsNotNone(script, text)
        words = shlex.split(script.group(1))
        self.assertEqual(words[:2], ["systemctl", "kill"])
        self.assertIn("--kill-whom=main", words)
        self.assertIn("USR1", words[words.index("-s") + 1])
        self.assertIn("txradio.service", words)

    def test_rotates(self) -> None:
        """
        logrotate accepts the snippet and, forced, rotates a log file and
        runs the C{postrotate} script once (here with the C{systemctl}
        command replaced by one that leaves a mark).
        """
        logrotate = shutil.which("logrotate") or next(
            (p for p in ("/usr/sbin/logrotate", "/sbin/logrotate") if os.path.exists(p)), None
        )
        if logrotate is None:
            raise SkipTest("logrotate is not installed (CI installs it: see .ci/run)")
        work = os.path.abspath(self.mktemp())
        logs = os.path.join(work, "log")
        os.makedirs(logs)
        for name in ("access.log", "playlist.log"):
            with open(os.path.join(logs, name), "w", encoding="utf-8") as log:
                log.write("a line\n")
        mark = os.path.join(work, "signalled")
        with open(LOGROTATE, encoding="utf-8") as snippet:
            text = snippet.read().replace("/var/log/txradio", logs)
        text = re.sub(r"(?m)^(\s*)systemctl kill .*$", lambda m: f"{m.group(1)}echo once >> {mark}", text)
        config = os.path.join(work, "txradio.logrotate")
        with open(config, "w", encoding="utf-8") as copy:
            copy.write(text)
        args = [logrotate, "--force", "--state", os.path.join(work, "state"), config]
        done = subprocess.run(args, capture_output=True, text=True, timeout=60)
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        rotated = sorted(os.listdir(logs))
        self.assertEqual(rotated, ["access.log", "access.log.1", "playlist.log", "playlist.log.1"])
        with open(mark, encoding="utf-8") as signalled:
            self.assertEqual(signalled.read(), "once\n")


class SocketActivationTests(TestCase):
    """
    The unit's command line serves listeners on a socket it inherits, as
    under systemd, and the socket outlives the server.
    """

    timeout = 90

    @inlineCallbacks
    def test_systemdSocketActivate(self):
        """
        Under C{systemd-socket-activate}, the unit's command line starts
        when the first listener connects; that listener, queued on the
        socket meanwhile, gets the ICY stream with a title, mpg123 plays it
        too, and SIGTERM stops it cleanly.
        """
        activate = requireProgram("systemd-socket-activate")
        port = freePort()
        # systemd itself always sets LISTEN_FDNAMES (the socket unit's name
        # by default); systemd-socket-activate only with --fdname, and
        # Twisted ignores inherited sockets without names.
        args = [activate, "-l", f"127.0.0.1:{port}", "--fdname=txradio.socket", *checkoutCommand(execStart())]
        child = spawn(self, args, 80, path=CHECKOUT, env=childEnvironment())
        yield child.waitForOutput(rf"Listening on 127\.0\.0\.1:{port}", 20)
        self.assertNotIn("starting on", child.output)
        client, title = yield hearStream(self, port)
        self.assertIn(f"starting on {port}", child.output)
        self.assertTrue(title, client.data[:300])
        yield client.close()
        if shutil.which("mpg123") is not None:
            url = f"http://127.0.0.1:{port}/stream"
            player = yield run(self, ["mpg123", "-v", "-n", "40", "-w", "/dev/null", url], 30)
            self.assertEqual(player.exitCode, 0, player.describe())
            self.assertIn("ICY-META: StreamTitle=", player.output, player.describe())
        yield stopCleanly(self, child)

    @inlineCallbacks
    def test_portHeldAcrossRestart(self):
        """
        With the listening socket held outside the server (by systemd, here
        by the test), a listener that connects while the server is stopped
        is queued by the kernel and gets the stream from the next server
        started on the same socket.
        """
        listening = listeningSocket(self)
        port = listening.getsockname()[1]
        command = checkoutCommand(execStart())

        first = spawnWithSocket(self, command, listening, 80)
        yield first.waitForOutput(rf"starting on {port}\b", 30)
        before, _ = yield hearStream(self, port)
        yield stopCleanly(self, first)
        yield withTimeout(before.whenClosed(), 10, "the first server's listener to be disconnected")

        # No server runs now; the connection completes in the kernel.
        waiting = yield connectRaw(self, port, ICY_REQUEST)
        self.assertEqual((bytes(waiting.data), waiting.lost), (b"", None))

        second = spawnWithSocket(self, command, listening, 80)
        yield second.waitForOutput(rf"starting on {port}\b", 30)
        _, title = yield hearStream(self, port, waiting)
        self.assertTrue(title)
        yield stopCleanly(self, second)


SANDBOX = r'''
"""
Run a program inside the seccomp rules of docs/systemd/txradio.service:
SystemCallFilter=@system-service with SystemCallErrorNumber=EPERM,
MemoryDenyWriteExecute=yes, RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX,
and NoNewPrivileges=yes (which seccomp needs anyway). The filters are built
the way systemd builds them, from systemd-analyze's own list of the group.
"""
import errno, mmap, os, socket, subprocess, sys
import seccomp

listing = subprocess.run(
    ["systemd-analyze", "syscall-filter", "--no-pager"], capture_output=True, text=True, check=True
).stdout
groups, current = {}, None
for line in listing.splitlines():
    if line.startswith("@"):
        current = groups.setdefault(line.split()[0], [])
    elif current is not None and line.strip() and not line.strip().startswith("#"):
        current.append(line.split()[0])

def expand(name, seen):
    calls = set()
    if name not in seen:
        seen.add(name)
        for member in groups[name]:
            calls |= expand(member, seen) if member.startswith("@") else {member}
    return calls

allowed = expand("@system-service", set())
allow = seccomp.SyscallFilter(defaction=seccomp.ERRNO(errno.EPERM))
for name in sorted(allowed):
    try:
        allow.add_rule(seccomp.ALLOW, name)
    except Exception:
        pass  # not a system call on this architecture

deny = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
WX = mmap.PROT_WRITE | mmap.PROT_EXEC
deny.add_rule(seccomp.ERRNO(errno.EPERM), "mmap", seccomp.Arg(2, seccomp.MASKED_EQ, WX, WX))
for call in ("mprotect", "pkey_mprotect"):
    deny.add_rule(seccomp.ERRNO(errno.EPERM), call, seccomp.Arg(2, seccomp.MASKED_EQ, mmap.PROT_EXEC, mmap.PROT_EXEC))
SHM_EXEC = 0o100000
deny.add_rule(seccomp.ERRNO(errno.EPERM), "shmat", seccomp.Arg(2, seccomp.MASKED_EQ, SHM_EXEC, SHM_EXEC))
families = (socket.AF_UNIX, socket.AF_INET, socket.AF_INET6)
for family in range(64):
    if family not in families:
        deny.add_rule(seccomp.ERRNO(errno.EAFNOSUPPORT), "socket", seccomp.Arg(0, seccomp.EQ, family))
deny.add_rule(seccomp.ERRNO(errno.EAFNOSUPPORT), "socket", seccomp.Arg(0, seccomp.GE, 64))
# The allow list refuses seccomp() itself, so it goes last.
deny.load()
allow.load()

try:
    mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | WX)
except PermissionError:
    pass
else:
    sys.exit("sandbox: write+execute memory was not refused")
try:
    socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
except OSError as error:
    if error.errno != errno.EAFNOSUPPORT:
        raise
else:
    sys.exit("sandbox: a packet socket was not refused")
print(f"sandbox: {len(allowed)} system calls allowed; W+X memory and other families refused", file=sys.stderr)
os.execvp(sys.argv[1], sys.argv[1:])
'''
"""
Run as C{PYTHON -c SANDBOX PROGRAM ARGS}: execute the program under the
unit's seccomp restrictions (refusing to if they do not take effect).
"""


def sandboxPython() -> str:
    """
    Find a Python with libseccomp's binding (Debian's C{python3-seccomp}
    installs it for the system's C{python3}).

    @return: its path.
    @raise SkipTest: when there is none, or C{systemd-analyze} is missing.
    """
    if shutil.which("systemd-analyze") is None:
        raise SkipTest("systemd-analyze is not installed (Debian package systemd; CI installs it)")
    for python in (sys.executable, "/usr/bin/python3"):
        if os.path.exists(python):
            found = subprocess.run([python, "-c", "import seccomp"], capture_output=True, timeout=30)
            if found.returncode == 0:
                return python
    raise SkipTest("no Python with libseccomp's binding (Debian package python3-seccomp; CI installs it)")


class HardeningTests(TestCase):
    """
    txradio runs under the unit's seccomp restrictions: no system call
    outside C{@system-service}, no writable and executable memory, no socket
    families but IPv4, IPv6 and Unix.
    """

    timeout = 90

    @inlineCallbacks
    def test_streamsInSandbox(self):
        """
        The unit's command line, on a socket passed as systemd passes it and
        under the unit's seccomp rules, serves the ICY stream; with ffmpeg
        installed it also serves a re-encoded bitrate, so ffmpeg runs under
        the same rules.
        """
        python = sandboxPython()
        listening = listeningSocket(self)
        port = listening.getsockname()[1]
        command = checkoutCommand(execStart())
        ffmpeg = shutil.which("ffmpeg") is not None
        if ffmpeg:
            command += ["--also-bitrate", "64"]
        child = spawnWithSocket(self, [python, "-c", SANDBOX, *command], listening, 80)
        yield child.waitForOutput(r"sandbox: \d+ system calls allowed", 30)
        yield child.waitForOutput(rf"starting on {port}\b", 30)
        _, title = yield hearStream(self, port)
        self.assertTrue(title)
        if ffmpeg:
            lower = yield connectRaw(self, port, ICY_REQUEST.replace(b"/stream ", b"/stream-64 "))
            yield hearStream(self, port, lower)
        self.assertNotIn("Operation not permitted", child.output, child.describe())
        self.assertNotIn("MemoryError", child.output, child.describe())
        yield stopCleanly(self, child)
