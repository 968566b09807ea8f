"""
The package's layers: what each subpackage may import, and what importing a
module costs.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys

from twisted.trial.unittest import SynchronousTestCase

import txradio

PACKAGE = os.path.dirname(os.path.abspath(txradio.__file__))

LAYERS = ("wire", "stream", "sources", "net", "library", "operations", "web", "config")
"""The subpackages; each says in its docstring what it holds and may import."""

TOP_LEVEL = {
    "__init__",
    "__main__",
    "_version",
    "build",
    "dynamic",
    "interfaces",
    "reload",
    "service",
    "tap",
    "testing",
    "wiring",
}
"""The modules at the top of the package: the composition root, the
interfaces and the public test helpers."""


def run(code: str, *args: str) -> str:
    """
    Run Python code in a fresh interpreter that imports this tree's
    txradio.

    @param code: the program.
    @param args: its arguments.
    @return: what it printed.
    """
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.dirname(PACKAGE), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60, check=True, env=env
    ).stdout.strip()


def modules() -> list[tuple[str, str]]:
    """
    @return: C{(dotted name, path)} of every module of the package.
    """
    found = []
    for folder, dirs, files in os.walk(PACKAGE):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                relative = os.path.relpath(path, os.path.dirname(PACKAGE))[: -len(".py")]
                dotted = relative.replace(os.sep, ".").removesuffix(".__init__")
                found.append((dotted, path))
    return sorted(found)


def importsTwisted(path: str) -> bool:
    """
    @param path: a module's file.
    @return: whether the module itself imports anything from Twisted (at any
        depth of its code).
    """
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "twisted" for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "twisted":
            return True
    return False


class LayersTests(SynchronousTestCase):
    """
    The tree shows the architecture, and importing a pure module stays cheap.
    """

    def test_topLevel(self) -> None:
        """
        The top of the package holds only the composition root, the
        interfaces and the test helpers; everything else lives in a layer.
        """
        names = {
            name[: -len(".py")]
            for name in os.listdir(PACKAGE)
            if name.endswith(".py")
        }
        self.assertEqual(names, TOP_LEVEL)

    def test_layerDocstrings(self) -> None:
        """
        Every layer's C{__init__} says in its docstring what it holds and
        what it may import.
        """
        for layer in LAYERS:
            path = os.path.join(PACKAGE, layer, "__init__.py")
            with open(path, encoding="utf-8") as f:
                docstring = ast.get_docstring(ast.parse(f.read()))
            self.assertTrue(docstring, layer)
            self.assertIn("import", docstring, layer)

    def test_pureModulesLoadNoTwistedWeb(self) -> None:
        """
        Importing a module that imports nothing from Twisted itself loads
        no twisted.web (the package facade is lazy).
        """
        pure = [name for name, path in modules() if not importsTwisted(path)]
        self.assertIn("txradio.wire.mp3", pure)
        code = (
            "import importlib, sys\n"
            "importlib.import_module(sys.argv[1])\n"
            "heavy = sorted(m for m in sys.modules if m.startswith('twisted.web'))\n"
            "print(' '.join(heavy[:3]))\n"
        )
        loaded = {}
        for name in pure:
            out = run(code, name)
            if out:
                loaded[name] = out
        self.assertEqual(loaded, {})

    def test_versionWithoutCycle(self) -> None:
        """
        C{from txradio import __version__} loads nothing but the version.
        """
        code = "import sys; from txradio import __version__; print(sorted(m for m in sys.modules if m.startswith('txradio')))"
        self.assertEqual(run(code), "['txradio', 'txradio._version']")
