# -*- test-case-name: tests.test_charts -*-
"""
Server-rendered SVG charts: pure functions from numbers and labels to an
SVG document, with no script, no external reference and a fixed
C{viewBox} (the page scales it).  Every label is XML-escaped, so a track
title such as C{</svg><script>} stays text.
"""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape

__all__ = ["WIDTH", "HEIGHT", "MAX_LABEL", "lineChart", "barChart", "emptyChart"]

WIDTH = 640
"""The charts' C{viewBox} width."""

HEIGHT = 240
"""The line chart's C{viewBox} height."""

MAX_LABEL = 60
"""The most characters of a label shown (longer ones end in an ellipsis)."""

_STYLE = "font-family:sans-serif;font-size:11px"
_LEFT, _RIGHT, _TOP, _BOTTOM = 40, 10, 20, 30


def _text(value: object) -> str:
    """
    @param value: a label.
    @return: it shortened to L{MAX_LABEL} and escaped for text and
        attributes.
    """
    label = str(value)
    if len(label) > MAX_LABEL:
        label = label[: MAX_LABEL - 1] + "\u2026"
    return escape(label, {'"': "&quot;", "'": "&#39;"})


def _number(value: float) -> str:
    """
    @param value: a value.
    @return: it compactly (C{3}, C{2.5}).
    """
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _document(height: int, title: str, body: list[str]) -> str:
    """
    @return: the C{<svg>} document around C{body}.
    """
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'role="img" aria-label="{_text(title)}" style="{_STYLE}">'
        f"<title>{_text(title)}</title>" + "".join(body) + "</svg>"
    )


def emptyChart(title: str, message: str) -> str:
    """
    A chart with nothing to draw.

    @param title: the chart's title.
    @param message: what to say instead.
    @return: an SVG document.
    """
    return _document(
        HEIGHT, title, [f'<text x="{WIDTH // 2}" y="{HEIGHT // 2}" text-anchor="middle">{_text(message)}</text>']
    )


def lineChart(points: Sequence[tuple[str, float]], title: str, unit: str = "") -> str:
    """
    A line chart of values over time.

    @param points: C{(label, value)} in order; the first and last labels
        are printed under the axis.
    @param title: the chart's title (also its accessible name).
    @param unit: what the values count, printed by the top of the axis.
    @return: an SVG document.
    """
    if not points:
        return emptyChart(title, "No data")
    top = max(max(value for _, value in points), 1)
    plotW = WIDTH - _LEFT - _RIGHT
    plotH = HEIGHT - _TOP - _BOTTOM
    step = plotW / max(len(points) - 1, 1)

    def y(value: float) -> float:
        return _TOP + plotH - plotH * max(value, 0) / top

    coords = " ".join(f"{_number(_LEFT + i * step)},{_number(y(value))}" for i, (_, value) in enumerate(points))
    body = [
        f'<line x1="{_LEFT}" y1="{_TOP + plotH}" x2="{WIDTH - _RIGHT}" y2="{_TOP + plotH}" stroke="#888"/>',
        f'<line x1="{_LEFT}" y1="{_TOP}" x2="{_LEFT}" y2="{_TOP + plotH}" stroke="#888"/>',
        f'<text x="{_LEFT - 4}" y="{_TOP + 4}" text-anchor="end">{_number(top)}</text>',
        f'<text x="{_LEFT - 4}" y="{_TOP + plotH}" text-anchor="end">0</text>',
        f'<text x="{_LEFT + 4}" y="{_TOP - 6}">{_text(unit)}</text>',
        f'<polyline fill="none" stroke="#2a7ab9" stroke-width="2" points="{coords}"/>',
        f'<text x="{_LEFT}" y="{HEIGHT - 8}">{_text(points[0][0])}</text>',
        f'<text x="{WIDTH - _RIGHT}" y="{HEIGHT - 8}" text-anchor="end">{_text(points[-1][0])}</text>',
    ]
    for i, (label, value) in enumerate(points):
        body.append(
            f'<circle cx="{_number(_LEFT + i * step)}" cy="{_number(y(value))}" r="2" fill="#2a7ab9">'
            f"<title>{_text(label)}: {_number(value)}</title></circle>"
        )
    return _document(HEIGHT, title, body)


def barChart(bars: Sequence[tuple[str, float]], title: str, unit: str = "") -> str:
    """
    A horizontal bar chart, one labelled bar a row, in the order given.

    @param bars: C{(label, value)}.
    @param title: the chart's title (also its accessible name).
    @param unit: what the values count, printed after each value.
    @return: an SVG document, as tall as its rows.
    """
    if not bars:
        return emptyChart(title, "No data")
    row = 22
    height = _TOP + row * len(bars) + 10
    top = max(max(value for _, value in bars), 1)
    labelW = WIDTH * 0.45
    barW = WIDTH - labelW - 80
    body = []
    for i, (label, value) in enumerate(bars):
        y = _TOP + i * row
        width = barW * max(value, 0) / top
        body.append(
            f'<text x="{_number(labelW - 6)}" y="{y + 15}" text-anchor="end">{_text(label)}</text>'
            f'<rect x="{_number(labelW)}" y="{y + 4}" width="{_number(width)}" height="{row - 8}" fill="#2a7ab9"/>'
            f'<text x="{_number(labelW + width + 4)}" y="{y + 15}">{_number(value)} {_text(unit)}</text>'
        )
    return _document(height, title, body)
