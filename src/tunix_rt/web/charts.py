"""Charts as SVG, drawn on the server: line charts (loss curves) and bar charts (histograms,
accuracy by group). Colours come from the stylesheet's classes, so dark mode applies."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

WIDTH = 640
HEIGHT = 240
MARGIN_LEFT = 56
MARGIN_RIGHT = 16
MARGIN_TOP = 14
MARGIN_BOTTOM = 34
#: Series with this many points or fewer get a dot at each point as well as the line.
MARKED_POINTS = 12


@dataclass(frozen=True)
class Series:
    """One line: its name (for the legend and the title) and its (x, y) points."""

    name: str
    points: Sequence[tuple[float, float]]


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high]: steps of 1, 2, 2.5 or 5 times a power of ten."""
    if not math.isfinite(low) or not math.isfinite(high):
        return [0.0]
    if high <= low:
        high = low + (abs(low) or 1.0)
    raw = (high - low) / max(count - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.floor(low / step) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    if ticks[-1] < high:
        ticks.append(round(value, 12))
    return ticks


def _label(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:g}"
    return f"{value:.3g}"


def _empty(title: str, says: str, attrs: str) -> Markup:
    """A short chart frame that says why there is nothing to draw."""
    return Markup(
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT // 3}" role="img"{attrs} '
        f'aria-label="{escape(title)}: {says}"><text x="{WIDTH // 2}" '
        f'y="{HEIGHT // 6}" text-anchor="middle">{says}</text></svg>'
    )


def _y_grid(ticks: Sequence[float], py: Callable[[float], float]) -> list[str]:
    """A grid line and its label at each y tick."""
    return [
        f'<line class="grid" x1="{MARGIN_LEFT}" x2="{WIDTH - MARGIN_RIGHT}" '
        f'y1="{py(y):.1f}" y2="{py(y):.1f}"/>'
        f'<text x="{MARGIN_LEFT - 6}" y="{py(y) + 4:.1f}" text-anchor="end">{_label(y)}</text>'
        for y in ticks
    ]


def line_chart(
    series: Sequence[Series],
    *,
    x_label: str,
    y_label: str,
    title: str,
    testid: str = "",
) -> Markup:
    """Up to two series on shared axes (the second dashed), with a grid and round ticks. With
    no points it says so instead of drawing empty axes."""
    points = [p for s in series for p in s.points]
    attrs = f' data-testid="{escape(testid)}"' if testid else ""
    if not points:
        return _empty(title, "no points yet", attrs)
    xs = [x for x, _ in points]
    ys = [y for _, y in points]
    x_ticks = nice_ticks(min(xs), max(xs))
    low, high = min(ys), max(ys)
    # Start the y axis at 0 when the values come near it (a loss), else at the lowest value.
    y_ticks = nice_ticks(0.0 if 0 <= low < high * 0.2 else low, high)
    x0, x1, y0, y1 = x_ticks[0], x_ticks[-1], y_ticks[0], y_ticks[-1]
    plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM

    def px(x: float) -> float:
        return MARGIN_LEFT + (x - x0) / ((x1 - x0) or 1) * plot_w

    def py(y: float) -> float:
        return MARGIN_TOP + plot_h - (y - y0) / ((y1 - y0) or 1) * plot_h

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img"{attrs} '
        f'aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    parts.extend(_y_grid(y_ticks, py))
    for x in x_ticks:
        parts.append(
            f'<text x="{px(x):.1f}" y="{HEIGHT - MARGIN_BOTTOM + 16}" '
            f'text-anchor="middle">{_label(x)}</text>'
        )
    parts.append(
        f'<text x="{MARGIN_LEFT + plot_w / 2:.1f}" y="{HEIGHT - 4}" '
        f'text-anchor="middle">{escape(x_label)}</text>'
        f'<text x="12" y="{MARGIN_TOP + plot_h / 2:.1f}" text-anchor="middle" '
        f'transform="rotate(-90 12 {MARGIN_TOP + plot_h / 2:.1f})">{escape(y_label)}</text>'
    )
    for index, one in enumerate(series[:2], start=1):
        if not one.points:
            continue
        path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in one.points)
        parts.append(
            f'<polyline class="s{index}" points="{path}" data-series="{escape(one.name)}" '
            f'data-points="{len(one.points)}"><title>{escape(one.name)}</title></polyline>'
        )
        if len(one.points) <= MARKED_POINTS:  # a line of one point is not seen: mark each
            parts.extend(
                f'<circle class="dot{index}" cx="{px(x):.1f}" cy="{py(y):.1f}" r="3.5">'
                f"<title>{escape(one.name)}: {_label(y)} at {_label(x)}</title></circle>"
                for x, y in one.points
            )
    parts.append("</svg>")
    return Markup("".join(parts))


def bar_chart(
    bars: Sequence[tuple[str, float]],
    *,
    y_label: str,
    title: str,
    y_max: float | None = None,
    value_format: str = "{:g}",
    testid: str = "",
) -> Markup:
    """One bar per (label, value), labels under the bars and values above them."""
    attrs = f' data-testid="{escape(testid)}"' if testid else ""
    if not bars:
        return _empty(title, "nothing to show", attrs)
    top = y_max if y_max is not None else max(value for _, value in bars)
    y_ticks = nice_ticks(0.0, top or 1.0)
    y1 = y_ticks[-1]
    plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    slot = plot_w / len(bars)
    bar_w = max(2.0, slot * 0.7)

    def py(y: float) -> float:
        return MARGIN_TOP + plot_h - y / (y1 or 1) * plot_h

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img"{attrs} '
        f'aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    parts.extend(_y_grid(y_ticks, py))
    label_every = max(1, math.ceil(len(bars) / 16))
    for index, (label, value) in enumerate(bars):
        x = MARGIN_LEFT + index * slot + (slot - bar_w) / 2
        shown = value_format.format(value)
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{py(value):.1f}" width="{bar_w:.1f}" '
            f'height="{py(0) - py(value):.1f}" data-label="{escape(label)}" '
            f'data-value="{value:g}"><title>{escape(label)}: {escape(shown)}</title></rect>'
        )
        if index % label_every == 0:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{HEIGHT - MARGIN_BOTTOM + 16}" '
                f'text-anchor="middle">{escape(label)}</text>'
            )
        if len(bars) <= 16:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{py(value) - 4:.1f}" '
                f'text-anchor="middle">{escape(shown)}</text>'
            )
    parts.append(
        f'<text x="12" y="{MARGIN_TOP + plot_h / 2:.1f}" text-anchor="middle" '
        f'transform="rotate(-90 12 {MARGIN_TOP + plot_h / 2:.1f})">{escape(y_label)}</text>'
    )
    parts.append("</svg>")
    return Markup("".join(parts))
