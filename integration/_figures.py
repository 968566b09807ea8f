"""
Speed figures measured by the integration tests, recorded instead of
asserted.

A shared CI machine (two cores, other jobs, C{trial -j2}) makes wall-clock
speed a poor pass/fail criterion: a latency, a gap in the audio or a
memory growth is measured, logged and kept as a figure, and the test
asserts only what must hold at any speed (the audio decodes, the title
changes, nothing is lost).

Each figure is logged (C{figure: …} in C{_trial_temp/test.log}) and
appended as one JSON line to the file named by C{$TXRADIO_FIGURES}, or, when
that is unset, to C{figures.jsonl} in trial's working directory
(C{_trial_temp/figures.jsonl}).  docs/security.md and docs/performance.md
quote such figures.
"""

from __future__ import annotations

import json
import os
import time

from twisted.logger import Logger

_log = Logger()

FIGURES_VARIABLE = "TXRADIO_FIGURES"
"""The environment variable naming the file figures are appended to."""

DEFAULT_FIGURES = "figures.jsonl"
"""The file figures go to without L{FIGURES_VARIABLE}, relative to the
working directory (trial runs tests in C{_trial_temp})."""


def figuresPath() -> str:
    """
    @return: the absolute path of the file figures are appended to.
    """
    return os.path.abspath(os.environ.get(FIGURES_VARIABLE) or DEFAULT_FIGURES)


def recordFigure(name: str, **values: object) -> dict[str, object]:
    """
    Log a measured figure and append it to the figures file.

    @param name: what was measured, e.g. C{"live source SIGKILL, fallback
        mount"}.
    @param values: the figures (JSON-serialisable: seconds, bytes, counts).
    @return: the record written: C{values} with C{name} and C{recorded}
        (a UNIX time) added.
    """
    record: dict[str, object] = dict(values, name=name, recorded=round(time.time(), 3))
    _log.info("figure: {name} {values}", name=name, values=values)
    with open(figuresPath(), "a", encoding="utf-8") as f:
        f.write(json.dumps(record, sort_keys=True) + "\n")
    return record
