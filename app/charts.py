"""Server-drawn charts: the geometry of a daily bar chart with axes, gridlines and labelled ticks,
an optional part of each bar drawn over it (errors within calls) and an optional second series as a
line on its own right-hand axis (credits). The template draws it as SVG; no script, no third party.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

LEFT, RIGHT, TOP, BOTTOM = 52, 52, 10, 26  # room for the tick labels around the plot


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    value: int
    index: int
    part_y: float = 0.0       # the overlaid part (errors): top and height
    part_height: float = 0.0


@dataclass(frozen=True)
class Tick:
    position: float   # y for a value axis, x for the day axis
    value: int        # the value (value axes) or the point's index (day axis)


def nice_ticks(top: int, count: int = 4) -> list[int]:
    """0 and round steps (1, 2, 5 × 10ⁿ) up to at least ``top``: 0, 250, 500, 750, 1000."""
    if top <= 0:
        return [0, 1]
    raw = top / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    step = max(int(step), 1)
    return list(range(0, int(math.ceil(top / step)) * step + 1, step))


def _scale(ticks: list[int], height: float):
    top = ticks[-1] or 1
    return lambda value: TOP + height - value / top * height


def bar_chart(values: list[int], part: list[int] | None = None, line: list[int] | None = None,
              width: int = 720, height: int = 240, day_ticks: int = 6, highlight: int | None = None) -> dict:
    """Geometry for ``values`` (one bar per day). ``part``: the share of each bar drawn over it;
    ``line``: a second series on the right axis; ``highlight``: the index of the bar to mark."""
    plot_w, plot_h = width - LEFT - (RIGHT if line else 12), height - TOP - BOTTOM
    slot = plot_w / max(len(values), 1)
    ticks = nice_ticks(max(values, default=0))
    y = _scale(ticks, plot_h)
    bars = []
    pad = min(slot * 0.15, 2)
    for i, value in enumerate(values):
        share = min(part[i], value) if part else 0
        bars.append(Bar(x=LEFT + i * slot + pad, y=y(value), width=max(slot - 2 * pad, 1), height=y(0) - y(value),
                        value=value, index=i, part_y=y(share), part_height=y(0) - y(share)))
    chart = {
        "bars": bars, "width": width, "height": height, "left": LEFT, "top": TOP, "bottom": TOP + plot_h,
        "right": LEFT + plot_w, "ticks": [Tick(y(t), t) for t in ticks], "max": max(values, default=0),
        "highlight": highlight,
    }
    step = max(1, math.ceil(len(values) / day_ticks))
    chart["day_ticks"] = [Tick(LEFT + (i + 0.5) * slot, i) for i in range(len(values) - 1, -1, -step)][::-1]
    if line:
        line_ticks = nice_ticks(max(line, default=0))
        ly = _scale(line_ticks, plot_h)
        chart["line_ticks"] = [Tick(ly(t), t) for t in line_ticks]
        chart["line"] = " ".join(f"{LEFT + (i + 0.5) * slot:.1f},{ly(v):.1f}" for i, v in enumerate(line))
    return chart
