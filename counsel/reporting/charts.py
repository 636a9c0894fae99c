"""Charts as inline SVG made on the server: no JavaScript, no style attributes, readable in print.

Charts draw published figures only: a suppressed cell gets no bar (its mark "<5" or "×" is
written instead) and breaks a line. Colours and fonts come from classes in reports.css.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from markupsafe import Markup, escape

WIDTH = 640
LABEL_WIDTH = 230
BAR_HEIGHT = 18
ROW_HEIGHT = 24
MAX_LABEL = 34


def _short(text: str) -> str:
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"


def _nice_top(value: float) -> float:
    """Round the largest value up to 1, 2 or 5 times a power of ten, for the axis."""
    if value <= 0:
        return 1
    power = 10.0 ** math.floor(math.log10(value))
    return float(next(step * power for step in (1, 2, 5, 10) if step * power >= value))


def bars(title: str, labels: Sequence[str], numbers: Sequence[float | None], texts: Sequence[str]) -> Markup:
    """A horizontal bar per row; suppressed rows show their mark instead of a bar."""
    top = _nice_top(max((n for n in numbers if n is not None), default=0))
    span = WIDTH - LABEL_WIDTH - 70
    height = ROW_HEIGHT * len(labels) + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart bars" viewBox="0 0 {WIDTH} {height}" '
             f'role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>']
    for index, (label, number, text) in enumerate(zip(labels, numbers, texts, strict=True)):
        y = 5 + index * ROW_HEIGHT
        middle = y + BAR_HEIGHT / 2 + 4
        parts.append(f'<text class="label" x="{LABEL_WIDTH - 8}" y="{middle:.0f}" text-anchor="end">'
                     f"<title>{escape(label)}</title>{escape(_short(label))}</text>")
        length = 0.0 if number is None else span * number / top
        if number is not None:
            parts.append(f'<rect class="bar" x="{LABEL_WIDTH}" y="{y}" width="{length:.1f}" height="{BAR_HEIGHT}"/>')
        kind = "value" if number is not None else "value suppressed"
        parts.append(f'<text class="{kind}" x="{LABEL_WIDTH + length + 6:.1f}" y="{middle:.0f}">{escape(text)}</text>')
    parts.append(f'<line class="axis" x1="{LABEL_WIDTH}" y1="0" x2="{LABEL_WIDTH}" y2="{height}"/></svg>')
    return Markup("".join(parts))  # noqa: S704 - every text above went through escape()


def lines(title: str, labels: Sequence[str], numbers: Sequence[float | None]) -> Markup:
    """A line over the months; a suppressed month leaves a gap, marked on the axis."""
    height, left, right, bottom, top_margin = 260, 56, 16, 54, 14
    plot_w, plot_h = WIDTH - left - right, height - bottom - top_margin
    top = _nice_top(max((n for n in numbers if n is not None), default=0))
    step = plot_w / max(1, len(labels) - 1)

    def x(index: int) -> float:
        return left + (index * step if len(labels) > 1 else plot_w / 2)

    def y(value: float) -> float:
        return top_margin + plot_h * (1 - value / top)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart lines" viewBox="0 0 {WIDTH} {height}" '
             f'role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>']
    for fraction in (0, 0.5, 1):
        level = y(top * fraction)
        parts.append(f'<line class="grid" x1="{left}" y1="{level:.1f}" x2="{WIDTH - right}" y2="{level:.1f}"/>')
        parts.append(f'<text class="tick" x="{left - 6}" y="{level + 4:.1f}" text-anchor="end">'
                     f"{escape(_tick(top * fraction))}</text>")
    segment: list[str] = []
    for index, number in enumerate([*numbers, None]):
        if number is not None:
            segment.append(f"{x(index):.1f},{y(number):.1f}")
            continue
        if len(segment) > 1:
            parts.append(f'<polyline class="line" fill="none" points="{" ".join(segment)}"/>')
        segment = []
    for index, (label, number) in enumerate(zip(labels, numbers, strict=True)):
        if number is not None:
            parts.append(f'<circle class="point" cx="{x(index):.1f}" cy="{y(number):.1f}" r="3.5">'
                         f"<title>{escape(label)}: {escape(_tick(number))}</title></circle>")
        else:
            parts.append(f'<text class="gap" x="{x(index):.1f}" y="{top_margin + plot_h - 4}" '
                         f'text-anchor="middle">×</text>')
        if len(labels) <= 13 or index % max(1, len(labels) // 12) == 0:
            parts.append(f'<text class="tick" x="{x(index):.1f}" y="{height - bottom + 18}" text-anchor="end" '
                         f'transform="rotate(-35 {x(index):.1f} {height - bottom + 18})">{escape(label)}</text>')
    parts.append(f'<line class="axis" x1="{left}" y1="{top_margin + plot_h}" x2="{WIDTH - right}" '
                 f'y2="{top_margin + plot_h}"/></svg>')
    return Markup("".join(parts))  # noqa: S704 - every text above went through escape()


def _tick(value: float) -> str:
    return f"{value:.0f}" if value == int(value) else f"{value:.1f}"
