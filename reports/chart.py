"""A pass/fail bar chart over days, as numbers for an SVG template: no JavaScript,
rendered on the server (templates/reports/chart.html)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

WIDTH = 600
HEIGHT = 160
PAD_LEFT = 40
PAD_BOTTOM = 20
PAD_TOP = 10


@dataclass(frozen=True)
class Bar:
    day: date
    kind: str  # "pass" or "fail"
    count: int
    x: float
    y: float
    width: float
    height: float
    fill: str


@dataclass(frozen=True)
class Chart:
    bars: list[Bar]
    days: int
    first: date
    last: date
    max_count: int
    width: int = WIDTH
    height: int = HEIGHT
    pad_left: int = PAD_LEFT
    baseline: int = HEIGHT - PAD_BOTTOM
    top: int = PAD_TOP
    pass_label: str = "pass"
    fail_label: str = "fail"

    @property
    def label_y(self) -> int:
        return self.height - 4

    @property
    def right(self) -> int:
        return self.width


COLORS = {"pass": "#1e7a3c", "fail": "#b3261e"}


def daily_chart(counts: dict[date, tuple[int, int]], last: date, days: int = 30,
                pass_label: str = "pass", fail_label: str = "fail") -> Chart:
    """Stacked bars per day for the `days` days ending with `last`: pass at the bottom,
    fail on top, heights scaled to the busiest day. `counts` maps day -> (pass, fail)."""
    first = last - timedelta(days=days - 1)
    slot = (WIDTH - PAD_LEFT) / days
    inner = HEIGHT - PAD_BOTTOM - PAD_TOP
    in_range = {d: c for d, c in counts.items() if first <= d <= last}
    max_count = max((p + f for p, f in in_range.values()), default=0)
    bars: list[Bar] = []
    for i in range(days):
        day = first + timedelta(days=i)
        passed, failed = in_range.get(day, (0, 0))
        x = round(PAD_LEFT + i * slot + 1, 2)
        base = HEIGHT - PAD_BOTTOM
        for kind, n in (("pass", passed), ("fail", failed)):
            if n <= 0:
                continue
            h = round(max(inner * n / max_count, 1.0), 2)
            base -= h
            bars.append(Bar(day, kind, n, x, round(base, 2), round(slot - 2, 2), h, COLORS[kind]))
    return Chart(bars, days, first, last, max_count, pass_label=pass_label, fail_label=fail_label)
