"""A picture of the queue for the dashboard: queued messages by the hour of their next
attempt, as bars for a server-rendered SVG (templates/webadmin/queue_chart.html; no
JavaScript). Counted by the database in one query."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Q

from mailqueue.models import QueuedMessage

HOURS = 24
WIDTH = 720
HEIGHT = 180
PAD_LEFT = 44
PAD_BOTTOM = 22
PAD_TOP = 12


@dataclass(frozen=True)
class Bar:
    label: str
    count: int
    x: float
    y: float
    width: float
    height: float
    kind: str  # "due", "hour", "later" or "held": the CSS class of the bar

    @property
    def label_x(self) -> float:
        return self.x + self.width / 2


@dataclass(frozen=True)
class QueueChart:
    bars: list[Bar]
    max_count: int
    total: int
    width: int = WIDTH
    height: int = HEIGHT
    pad_left: int = PAD_LEFT
    top: int = PAD_TOP
    baseline: int = HEIGHT - PAD_BOTTOM

    @property
    def label_y(self) -> int:
        return self.height - 6


def bucket_counts(now: datetime) -> list[tuple[str, str, int]]:
    """(label, kind, count): held, due now (next attempt passed), each of the next
    `HOURS` hours (labelled with its UTC hour; the first is the rest of the current one),
    and later. One aggregate query with a filtered count per bar: plain comparisons,
    no per-row date function (SQLite runs those in Python)."""
    start = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    edges = [now] + [start + timedelta(hours=i) for i in range(HOURS)]
    active = Q(hold=False)
    buckets: list[tuple[str, str, Q]] = [("held", "held", Q(hold=True)), ("due", "due", active & Q(next_attempt__lte=now))]
    for lo, hi in zip(edges, edges[1:]):
        buckets.append((f"{lo:%H}h", "hour", active & Q(next_attempt__gt=lo, next_attempt__lt=hi) if lo == now
                        else active & Q(next_attempt__gte=lo, next_attempt__lt=hi)))
    buckets.append(("later", "later", active & Q(next_attempt__gte=edges[-1])))
    counts = QueuedMessage.objects.aggregate(**{f"b{i}": Count("id", filter=q) for i, (_, _, q) in enumerate(buckets)})
    return [(label, kind, counts[f"b{i}"]) for i, (label, kind, _) in enumerate(buckets)]


def queue_chart(now: datetime) -> QueueChart:
    rows = bucket_counts(now)
    max_count = max((n for _, _, n in rows), default=0)
    slot = (WIDTH - PAD_LEFT) / len(rows)
    inner = HEIGHT - PAD_BOTTOM - PAD_TOP
    bars = []
    for i, (label, kind, n) in enumerate(rows):
        h = inner * n / max_count if max_count else 0.0
        bars.append(Bar(label, n, PAD_LEFT + i * slot + 2, HEIGHT - PAD_BOTTOM - h, slot - 4, h, kind))
    return QueueChart(bars, max_count, sum(n for _, _, n in rows))
