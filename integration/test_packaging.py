"""
Packaging tests: the wheel built from this checkout ships the C{twistd}
plugin and the demo music and none of the files that break Twisted's plugin
system, and C{twistd} finds the plugin once the wheel is installed.

The wheel is built from a copy of the checkout (so the build's C{build/} and
C{*.egg-info} folders never land in the working tree, and files another
process is writing are read once), with a leftover C{dropin.cache} planted
in the copy's C{twisted/plugins}, as a developer's checkout has one after
running C{twistd}.  These tests run programs to their end with
C{subprocess} and hard timeouts; no reactor is involved.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import zipfile

from twisted.trial.unittest import SkipTest, SynchronousTestCase

CHECKOUT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
"""The root of the txradio checkout these tests belong to."""

_NOT_COPIED = shutil.ignore_patterns(
    ".git", "_trial_temp*", ".hypothesis", "build", "dist", "*.egg-info", ".venv", "__pycache__", "*.pyc"
)
"""What a fresh clone would not have (the leftover plugin cache is planted
on purpose instead)."""

PLUGIN = "twisted/plugins/txradio_plugin.py"
"""Where the plugin module must be in the wheel."""

_FINDS_PLUGIN = """
import os, sys, sysconfig
import twisted.plugins
from twisted.application.service import IServiceMaker
from twisted.plugin import getPlugins

ours = os.path.join(sysconfig.get_paths()["purelib"], "twisted", "plugins")
assert os.path.isfile(os.path.join(ours, "txradio_plugin.py")), ours
# Look only where this environment installed things, so that a txradio
# installed system-wide cannot stand in for the wheel's plugin.
twisted.plugins.__path__[:] = [
    p for p in twisted.plugins.__path__ if os.path.realpath(p) == os.path.realpath(ours)
]
makers = {maker.tapname: maker for maker in getPlugins(IServiceMaker, twisted.plugins)}
assert "txradio" in makers, sorted(makers)
module = sys.modules["twisted.plugins.txradio_plugin"]
import txradio.tap
print(module.__file__)
print(txradio.tap.__file__)
print(makers["txradio"].options.__module__)
"""
"""Run in the new environment: find the plugin the wheel installed."""


def runProgram(args: list[str], cwd: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """
    Run a program to its end, outside the checkout and without
    C{PYTHONPATH}, so only what is installed is found.

    @param args: the command line.
    @param cwd: its working directory.
    @param timeout: seconds it may take.
    @return: the finished process, with text output.
    @raise AssertionError: when it fails or runs out of time.
    """
    env = dict(os.environ, PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1", PYTHONDONTWRITEBYTECODE="1")
    env.pop("PYTHONPATH", None)
    try:
        done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as error:
        raise AssertionError(f"{args!r} ran for more than {timeout} s: {error.stdout}{error.stderr}") from None
    if done.returncode != 0:
        raise AssertionError(f"{args!r} failed with {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done


class WheelTests(SynchronousTestCase):
    """
    The wheel holds what C{twistd} needs and nothing that breaks it.
    """

    def setUp(self) -> None:
        try:
            import setuptools  # noqa: F401
            import wheel  # noqa: F401
        except ImportError:
            raise SkipTest("building the wheel without isolation needs setuptools and wheel installed") from None
        self.work = os.path.abspath(self.mktemp())
        self.outside = os.path.join(self.work, "elsewhere")
        os.makedirs(self.outside)

    def buildWheel(self) -> str:
        """
        Build the wheel from a copy of the checkout with a stale plugin
        cache in it.

        @return: the wheel's path.
        """
        source = os.path.join(self.work, "checkout")
        shutil.copytree(CHECKOUT, source, ignore=_NOT_COPIED)
        cache = os.path.join(source, "twisted", "plugins", "dropin.cache")
        if not os.path.exists(cache):
            with open(cache, "wb") as leftover:
                leftover.write(b"a stale plugin cache from running twistd in the checkout\n")
        wheels = os.path.join(self.work, "wheels")
        # An absolute path: pip reads a bare name as a project on the index.
        runProgram(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", wheels, source],
            cwd=self.outside,
        )
        built = glob.glob(os.path.join(wheels, "txradio-*.whl"))
        self.assertEqual(len(built), 1, os.listdir(wheels))
        return built[0]

    def test_contents(self) -> None:
        """
        The wheel holds the plugin module, every txradio module, the
        C{py.typed} marker (PEP 561: the package's annotations are for its
        users' type checkers), the demo tracks and the pages' static files
        (hls.js included), and no C{twisted/__init__.py},
        C{twisted/plugins/__init__.py}, plugin cache or compiled file.
        """
        with zipfile.ZipFile(self.buildWheel()) as archive:
            names = set(archive.namelist())
        self.assertIn(PLUGIN, names)
        self.assertIn("txradio/py.typed", names)
        demo = sorted(os.path.basename(path) for path in glob.glob(os.path.join(CHECKOUT, "txradio", "demo", "*.mp3")))
        self.assertTrue(demo, "the checkout has no demo tracks")
        for name in demo:
            self.assertIn(f"txradio/demo/{name}", names)
        # The pages' own files, hls.js and its licence among them.
        static = sorted(os.listdir(os.path.join(CHECKOUT, "txradio", "web", "static")))
        self.assertIn("hls.light.min.js", static)
        self.assertIn("hls.js-LICENSE.txt", static)
        for name in static:
            self.assertIn(f"txradio/web/static/{name}", names)
        modules = {
            os.path.relpath(path, CHECKOUT).replace(os.sep, "/")
            for path in glob.glob(os.path.join(CHECKOUT, "txradio", "**", "*.py"), recursive=True)
        }
        self.assertEqual(modules - names, set(), "modules missing from the wheel")
        self.assertNotIn("twisted/__init__.py", names)
        self.assertNotIn("twisted/plugins/__init__.py", names)
        unwanted = sorted(n for n in names if n.endswith(("dropin.cache", ".pyc")) or "__pycache__" in n)
        self.assertEqual(unwanted, [])
        twistedFiles = sorted(n for n in names if n.startswith("twisted/"))
        self.assertEqual(twistedFiles, [PLUGIN])

    def test_twistdFindsPlugin(self) -> None:
        """
        Installed into a fresh environment, the wheel's plugin is listed by
        C{twistd --help} and found by Twisted's plugin search in that
        environment's own C{twisted/plugins}, run from outside the checkout.
        """
        wheelPath = self.buildWheel()
        venv = os.path.join(self.work, "venv")
        # System site packages give Twisted and the other dependencies; pip
        # comes from there too.
        runProgram([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", venv], cwd=self.outside)
        python = os.path.join(venv, "bin", "python")
        if not os.path.exists(python):
            raise SkipTest("this platform's virtual environments have no bin/python")
        # --ignore-installed: CI also installs txradio system-wide, and pip
        # would otherwise leave the new environment without its own copy.
        runProgram(
            [python, "-m", "pip", "install", "--no-deps", "--ignore-installed", "--no-compile", wheelPath],
            cwd=self.outside,
        )
        purelib = runProgram(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=self.outside
        ).stdout.strip()
        self.assertTrue(os.path.isfile(os.path.join(purelib, *PLUGIN.split("/"))))

        twistd = "import sys; from twisted.scripts.twistd import run; sys.argv[0] = 'twistd'; run()"
        helpText = runProgram([python, "-c", twistd, "--help"], cwd=self.outside).stdout
        self.assertRegex(helpText, r"(?m)^\s+txradio\s")

        found = runProgram([python, "-c", _FINDS_PLUGIN], cwd=self.outside).stdout.split()
        pluginFile, tapFile, optionsModule = found[-3:]
        self.assertTrue(os.path.samefile(pluginFile, os.path.join(purelib, *PLUGIN.split("/"))), pluginFile)
        self.assertTrue(tapFile.startswith(purelib + os.sep), tapFile)
        self.assertEqual(optionsModule, "txradio.tap")
