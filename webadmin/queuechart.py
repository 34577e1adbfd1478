"""A picture of the queue for the dashboard: queued messages by the hour of their next
attempt, as bars for a server-rendered SVG (templates/webadmin/queue_chart.html; no
JavaScript). Counted by the database: the bars' ranges on the next_attempt index, then
the held messages per bar."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import Case, Count, IntegerField, Value, When

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
    and later. Bars other than "held" count messages not on hold.

    With 100,000 queued a filtered count per bar over the whole table took 215 ms on
    SQLite; instead each bar's range of `next_attempt` is counted on its index (one
    query of scalar subqueries, 2 ms), and the held messages, usually few, are counted
    per bar in one grouped query and taken off."""
    start = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    edges = [start + timedelta(hours=i) for i in range(HOURS)]
    labels = [("due", "due")] + [(f"{lo:%H}h", "hour") for lo in [now] + edges[:-1]] + [("later", "later")]
    # The bars split the time line: (-inf, now], (now, edges[0]), [edges[i], edges[i+1]), [edges[-1], inf).
    in_range = _range_counts(now, edges)
    whens = [When(next_attempt__lte=now, then=Value(0))] + [
        When(next_attempt__lt=hi, then=Value(i + 1)) for i, hi in enumerate(edges)
    ]
    held = dict(
        QueuedMessage.objects.filter(hold=True)
        .annotate(bar=Case(*whens, default=Value(len(edges) + 1), output_field=IntegerField()))
        .values_list("bar")
        .annotate(n=Count("id"))
        .order_by()
    )
    rows = [("held", "held", sum(held.values()))]
    for i, (label, kind) in enumerate(labels):
        rows.append((label, kind, in_range[i] - held.get(i, 0)))
    return rows


def _range_counts(now: datetime, edges: list[datetime]) -> list[int]:
    """Messages (held or not) per bar's range of next attempt, counted on its index."""
    table = connection.ops.quote_name(QueuedMessage._meta.db_table)
    col = connection.ops.quote_name(QueuedMessage._meta.get_field("next_attempt").column)
    adapt = connection.ops.adapt_datetimefield_value
    parts = [f"SELECT COUNT(*) FROM {table} WHERE {col} <= %s", f"SELECT COUNT(*) FROM {table} WHERE {col} > %s AND {col} < %s"]
    params: list[object] = [adapt(now), adapt(now), adapt(edges[0])]
    for lo, hi in zip(edges, edges[1:]):
        parts.append(f"SELECT COUNT(*) FROM {table} WHERE {col} >= %s AND {col} < %s")
        params += [adapt(lo), adapt(hi)]
    parts.append(f"SELECT COUNT(*) FROM {table} WHERE {col} >= %s")
    params.append(adapt(edges[-1]))
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(f"({p})" for p in parts), params)
        return list(cursor.fetchone())


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
