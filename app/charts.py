"""Server-drawn charts (SVG geometry for templates; no script, no third party)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: int


def bar_chart(points: list[tuple[str, int]], width: int = 720, height: int = 200, gap: float = 2.0) -> dict:
    """Geometry of a simple bar chart, drawn as SVG by the template (no script, no third party)."""
    top = max((value for _, value in points), default=0) or 1
    slot = width / max(len(points), 1)
    bars = [
        Bar(x=i * slot + gap / 2, y=height - value / top * height, width=max(slot - gap, 1),
            height=value / top * height, label=label, value=value)
        for i, (label, value) in enumerate(points)
    ]
    return {"bars": bars, "width": width, "height": height, "max": top}
