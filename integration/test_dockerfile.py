"""
The container recipe: the C{Dockerfile}'s command is one C{twistd} and
txradio accept, it runs as an unprivileged user, its health check passes
against a running radio (and fails without one), and the build context
leaves out what the image does not need.

No container is built here (CI has no container engine); the same
entrypoint runs as a child process from the checkout instead, on a free
port of 127.0.0.1 rather than the image's C{tcp:8000}.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import sys

from twisted.internet.defer import inlineCallbacks
from twisted.scripts.twistd import ServerOptions
from twisted.trial.unittest import SynchronousTestCase, TestCase

from integration._realpeers import CHECKOUT, childSignal, run, spawn, withTimeout
from integration.test_systemd import TWISTD, childEnvironment, freePort

DOCKERFILE = os.path.join(CHECKOUT, "Dockerfile")
"""The container recipe."""

DOCKERIGNORE = os.path.join(CHECKOUT, ".dockerignore")
"""What the build context leaves out."""


def instructions() -> list[tuple[str, str]]:
    """
    Read the Dockerfile's instructions.

    @return: C{(INSTRUCTION, arguments)} pairs in order, continuation lines
        joined and comments dropped.
    """
    with open(DOCKERFILE, encoding="utf-8") as dockerfile:
        lines = [line for line in dockerfile.read().splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    found = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, arguments = line.strip().partition(" ")
            found.append((keyword.upper(), arguments.strip()))
    return found


def last(keyword: str) -> str:
    """
    The arguments of the last instruction of a kind, the one that counts.

    @param keyword: e.g. C{"CMD"}.
    @return: its arguments.
    @raise AssertionError: when there is none.
    """
    matching = [arguments for name, arguments in instructions() if name == keyword]
    if not matching:
        raise AssertionError(f"the Dockerfile has no {keyword}")
    return matching[-1]


def command() -> list[str]:
    """
    The container's command line: C{ENTRYPOINT} then C{CMD}, both in the
    exec (JSON) form so that twistd is PID 1 and gets C{docker stop}'s
    SIGTERM.

    @return: the command line.
    """
    return json.loads(last("ENTRYPOINT")) + json.loads(last("CMD"))


def healthCheck() -> list[str]:
    """
    The C{HEALTHCHECK}'s command, in its exec form.

    @return: the command line.
    """
    arguments = last("HEALTHCHECK")
    options, _, check = arguments.partition("CMD ")
    for option in options.split():
        if not re.fullmatch(r"--(interval|timeout|start-period|start-interval|retries)=\S+", option):
            raise AssertionError(f"unknown HEALTHCHECK option {option!r}")
    return json.loads(check)


class DockerfileTests(SynchronousTestCase):
    """
    The recipe, read.
    """

    def test_commandParses(self) -> None:
        """
        The command is C{twistd} in the foreground without a pid file,
        running the txradio plugin on C{tcp:8000}, the exposed port.
        """
        args = command()
        self.assertEqual(args[:4], ["twistd", "--nodaemon", "--pidfile=", "txradio"])
        config = ServerOptions()
        config.parseOptions(args[1:])
        self.assertEqual(config.subCommand, "txradio")
        self.assertEqual(type(config.subOptions).__module__, "txradio.tap")
        self.assertEqual(config.subOptions["listen"], ["tcp:8000"])
        self.assertEqual(last("EXPOSE").split(), ["8000"])

    def test_unprivileged(self) -> None:
        """
        The container runs as a user other than root, made (as root, like
        every other build step) before it becomes that user.
        """
        names = [name for name, _ in instructions()]
        user = last("USER")
        self.assertNotIn(user.split(":")[0], ("root", "0"))
        made = [arguments for name, arguments in instructions() if name == "RUN" and "useradd" in arguments]
        self.assertTrue(made and user in made[-1].split(), made)
        lastUser = max(i for i, name in enumerate(names) if name == "USER")
        lastRun = max(i for i, name in enumerate(names) if name == "RUN")
        self.assertGreater(lastUser, lastRun, "a RUN after USER would run as the unprivileged user")

    def test_installsCheckout(self) -> None:
        """
        The image installs the package from the build context with pip and
        rebuilds Twisted's plugin cache as root.
        """
        runs = " ".join(arguments for name, arguments in instructions() if name == "RUN")
        self.assertIn("pip install", runs)
        self.assertIn("getPlugins(IPlugin)", runs)
        self.assertEqual(last("FROM").split()[0], "python:3.11-slim")

    def test_contextHasWhatPipNeeds(self) -> None:
        """
        The build context keeps what C{pip install} needs and leaves out
        the repository, test output and caches.
        """
        with open(DOCKERIGNORE, encoding="utf-8") as ignore:
            patterns = [line.strip() for line in ignore if line.strip() and not line.startswith("#")]

        def ignored(path: str) -> bool:
            return any(fnmatch.fnmatch(path, pattern.removeprefix("**/")) for pattern in patterns)

        for needed in ("pyproject.toml", "README.md", "LICENSE", "txradio", "twisted", "txradio/demo"):
            self.assertFalse(ignored(needed), needed)
        for unwanted in (".git", "_trial_temp", "build", "txradio.egg-info", "__pycache__", "twisted/plugins/dropin.cache"):
            self.assertTrue(ignored(unwanted), unwanted)


class HealthCheckTests(TestCase):
    """
    The health check, run against the container's command run from the
    checkout.
    """

    timeout = 60

    def healthCheckOn(self, port: int) -> list[str]:
        """
        @param port: where the radio listens on 127.0.0.1.
        @return: the health check's command for that port.
        """
        check = healthCheck()
        self.assertEqual(check[0], "python")
        self.assertIn("http://127.0.0.1:8000/", check[-1])
        return [sys.executable, *check[1:-1], check[-1].replace("127.0.0.1:8000", f"127.0.0.1:{port}")]

    @inlineCallbacks
    def test_healthy(self):
        """
        Against the entrypoint running the demo station, the health check
        exits 0; SIGTERM then stops the station cleanly.
        """
        args = command()
        self.assertEqual(args[-2:], ["--listen", "tcp:8000"])
        local = [sys.executable, "-c", TWISTD, *args[1:-2], "--listen", "tcp:0:interface=127.0.0.1"]
        radio = spawn(self, local, 50, path=CHECKOUT, env=childEnvironment())
        match = yield radio.waitForOutput(r"starting on (\d+)", 30)
        check = yield run(self, self.healthCheckOn(int(match.group(1))), 20)
        self.assertEqual(check.exitCode, 0, check.describe())
        radio.kill("TERM")
        yield withTimeout(radio.whenEnded(), 15, "the radio to stop")
        self.assertTrue(
            radio.exitCode == 0 or (radio.signal == childSignal("TERM") and "Main loop terminated." in radio.output),
            radio.describe(),
        )

    @inlineCallbacks
    def test_unhealthy(self):
        """
        With nothing listening, the health check fails.
        """
        check = yield run(self, self.healthCheckOn(freePort()), 20)
        self.assertNotEqual(check.exitCode, 0, check.describe())
