# -*- test-case-name: tests.test_config -*-
"""
The reference tables of C{docs/config.md}, written from the settings'
declarations: every key of C{[server]}, C{[[mount]]}, C{push}, C{[hls]} and
C{[[hook]]}, its type and range, its default, what it does and the
command-line option that sets it.

Run C{python -m txradio.config.reference} to rewrite the tables between the
marker comments of C{docs/config.md} (C{<!-- reference: server -->} …
C{<!-- /reference: server -->}), or with C{--check} to fail when they are
out of date; C{tests/test_config.py} runs the check, so a new setting
cannot go undocumented.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Mapping
from typing import Any

from txradio.config._check import REQUIRED, Declared, declared
from txradio.config.djs import DJConfig
from txradio.config.mount import MountConfig, PushConfig
from txradio.config.requests import RequestsConfig
from txradio.config.schedule import BlockConfig, JinglesConfig, RotationConfig
from txradio.config.values import HLSConfig, HookConfig, ServerConfig

TABLES = (
    ("server", ServerConfig),
    ("mount", MountConfig),
    ("push", PushConfig),
    ("hls", HLSConfig),
    ("hook", HookConfig),
    ("block", BlockConfig),
    ("jingles", JinglesConfig),
    ("rotation", RotationConfig),
    ("requests", RequestsConfig),
    ("dj", DJConfig),
)
"""Each reference table's name (the key path of its settings) and value class."""

GUIDE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "docs", "config.md")
"""The guide whose tables are written (in a checkout)."""


def tomlText(value: Any) -> str:
    """
    Write a default as the file would.

    @param value: a default.
    @return: e.g. C{'"tcp:8000"'}, C{"16000"}, C{"false"}.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple):
        return tomlText(value[0]) if len(value) == 1 else "[" + ", ".join(map(tomlText, value)) + "]"
    if isinstance(value, str):
        return json.dumps(value)
    return str(value)


def _default(d: Declared) -> str:
    """
    @param d: a declared setting.
    @return: its default for the reference.
    """
    if d.default is REQUIRED:
        return "**required**"
    if d.setting.shown is not None:
        return d.setting.shown
    if d.default is None:
        return "none"
    return f"`{tomlText(d.default)}`"


def _cell(text: str) -> str:
    """
    @param text: a cell's text.
    @return: it with C{|} escaped for a Markdown table.
    """
    return text.replace("\\|", "|").replace("|", "\\|")


def commandLine() -> dict[str, list[str]]:
    """
    The command-line options that set each key.

    @return: C{"--option"} texts by key path (C{"mount.metaint"}), from the
        declarations and from L{txradio.tap.COMPOSITE}.
    """
    from txradio.tap import COMPOSITE  # The command line is above the settings.

    options: dict[str, list[str]] = {}
    for name, cls in TABLES:
        for d in declared(cls):
            if d.setting.option:
                options.setdefault(f"{name}.{d.key}", []).append(f"--{d.setting.option}")
    for composite in COMPOSITE:
        if composite.option == "config":
            continue
        for key in re.findall(r"`(\w+\.\w+)", composite.keys):
            options.setdefault(key, []).append(f"--{composite.option}")
    return options


def table(name: str, cls: type, options: Mapping[str, list[str]]) -> str:
    """
    One reference table.

    @param name: its name, e.g. C{"mount"}.
    @param cls: the value class declaring its settings.
    @param options: the options setting each key, by key path.
    @return: the Markdown table.
    """
    lines = ["| key | type | default | meaning | command line |", "|---|---|---|---|---|"]
    for d in declared(cls):
        meaning = " ".join(part for part in (d.setting.help, d.setting.doc) if part)
        given = ", ".join(f"`{option}`" for option in options.get(f"{name}.{d.key}", ())) or ""
        cells = (f"`{d.key}`", d.setting.kind.describe(), _default(d), meaning, given)
        lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    return "\n".join(lines)


def update(text: str, options: Mapping[str, list[str]] | None = None) -> str:
    """
    Write the reference tables into a guide.

    @param text: the guide, with a pair of marker comments per table.
    @param options: the options setting each key; L{commandLine} by default.
    @return: the guide with every table between its markers rewritten.
    @raise ValueError: when a table's markers are missing.
    """
    if options is None:
        options = commandLine()
    for name, cls in TABLES:
        begin, end = f"<!-- reference: {name} -->", f"<!-- /reference: {name} -->"
        pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.DOTALL)
        if not pattern.search(text):
            raise ValueError(f"the guide has no {begin} … {end} markers")
        replacement = f"{begin}\n{table(name, cls, options)}\n{end}"
        text = pattern.sub(lambda match: replacement, text)  # noqa: B023 - used at once
    return text


def main(argv: list[str] | None = None) -> int:
    """
    Rewrite, or with C{--check} check, the guide's reference tables.

    @param argv: C{[--check] [GUIDE]}; C{sys.argv[1:]} by default.
    @return: the exit status: 1 when C{--check} finds the guide out of date.
    """
    args = sys.argv[1:] if argv is None else list(argv)
    check = "--check" in args
    args = [arg for arg in args if arg != "--check"]
    path = args[0] if args else GUIDE
    with open(path, encoding="utf-8") as f:
        text = f.read()
    updated = update(text)
    if updated == text:
        return 0
    if check:
        print(f"{path}: the reference tables are out of date; run python -m txradio.config.reference", file=sys.stderr)
        return 1
    with open(path, "w", encoding="utf-8") as f:
        f.write(updated)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
