"""Horizontal bar charts for the workspace pages, laid out here and drawn as SVG by the templates."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Bar:
    """One bar of a horizontal bar chart, laid out in SVG user units."""

    label: str
    value: float
    text: str
    y: float
    width: float
    full: float  # the track's width (capacity bars) or the scale's


def bar_rows(
    rows: list[tuple[str, float, float, str]], track: float = 360.0, height: float = 28.0
) -> list[Bar]:
    """Lay out bars: each row is (label, value, scale, text); a bar is value/scale of `track`."""
    bars = []
    for i, (label, value, scale, text) in enumerate(rows):
        width = 0.0 if scale <= 0 else track * min(1.0, max(0.0, value / scale))
        bars.append(Bar(label, value, text, i * height, round(width, 1), track))
    return bars


def chart(rows: list[tuple[str, float]], track: float = 360.0) -> list[Bar]:
    """Bars of plain counts on one scale (the largest count fills the track)."""
    top = max([v for _, v in rows] + [1])
    return bar_rows([(label, value, top, f"{value:g}") for label, value in rows], track)
