"""
Tests for L{txradio.__main__}: the C{txradio} command.
"""

from __future__ import annotations

import io
import os
import sys

from twisted.trial.unittest import SynchronousTestCase

from txradio.__main__ import checkConfig, main
from txradio.sources.tracks import demoTracks


class CheckConfigTests(SynchronousTestCase):
    """
    C{txradio check-config FILE} validates without starting anything.
    """

    def setUp(self) -> None:
        self.out, self.err = io.StringIO(), io.StringIO()
        self.patch(sys, "stdout", self.out)
        self.patch(sys, "stderr", self.err)
        self.path = self.mktemp()

    def write(self, text: str) -> str:
        with open(self.path, "w") as f:
            f.write(text)
        return self.path

    def test_valid(self) -> None:
        """
        A valid file is summarised and exits 0.
        """
        folder = os.path.dirname(demoTracks().paths[0])
        path = self.write(
            f'[[mount]]\npath = "/stream"\nplaylist = "{folder}"\nlive = true\nsource_password = "x"\n'
            '[[mount]]\npath = "/live"\nlive = true\nsource_password = "y"\nfallback = "/stream"\n'
        )
        self.assertEqual(checkConfig(path), 0)
        output = self.out.getvalue()
        self.assertIn("/stream: playlist", output)
        self.assertIn("takes live sources", output)
        self.assertIn("/live: live: live sources only (falls back to /stream)", output)

    def test_invalid(self) -> None:
        """
        An invalid file prints the error naming the key and exits 1.
        """
        path = self.write('[[mount]]\npath = "/stream"\nlive = true\nsource_password = "x"\nmetaint = 0\n')
        self.assertEqual(checkConfig(path), 1)
        self.assertIn("metaint", self.err.getvalue())

    def test_usage(self) -> None:
        """
        C{check-config} without a file is a usage error.
        """
        error = self.assertRaises(SystemExit, main, ["check-config"])
        self.assertEqual(error.code, 2)

    def test_exitStatus(self) -> None:
        """
        The command exits with the check's status.
        """
        path = self.write("not toml [")
        error = self.assertRaises(SystemExit, main, ["check-config", path])
        self.assertEqual(error.code, 1)


class VersionTests(SynchronousTestCase):
    """
    C{txradio --version} prints txradio's version, not Twisted's.
    """

    def test_version(self) -> None:
        """
        It prints C{txradio} and the package's version and exits 0.
        """
        from txradio._version import __version__

        out = io.StringIO()
        self.patch(sys, "stdout", out)
        with self.assertRaises(SystemExit) as caught:
            main(["--version"])
        self.assertEqual(caught.exception.code, 0)
        self.assertEqual(out.getvalue(), f"txradio {__version__}\n")
