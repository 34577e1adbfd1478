"""A picture of the queue for the dashboard: queued messages by the hour of their next
attempt, as bars for a server-rendered SVG (templates/webadmin/queue_chart.html; no
JavaScript). Counted by the database, so 100,000 queued messages cost one grouped query."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count
from django.db.models.functions import TruncHour

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
    `HOURS` hours (labelled with its UTC hour), and later."""
    start = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    end = start + timedelta(hours=HOURS - 1)  # the current hour's rest plus 23 full hours
    active = QueuedMessage.objects.filter(hold=False)
    held = QueuedMessage.objects.filter(hold=True).count()
    due = active.filter(next_attempt__lte=now).count()
    later = active.filter(next_attempt__gte=end).count()
    # The rest of the current hour counts as its first bar.
    first = active.filter(next_attempt__gt=now, next_attempt__lt=start).count()
    per_hour = dict(
        active.filter(next_attempt__gte=start, next_attempt__lt=end)
        .annotate(hour=TruncHour("next_attempt"))
        .values_list("hour")
        .annotate(n=Count("id"))
        .order_by()
    )
    by_hour = {h.replace(tzinfo=None): n for h, n in per_hour.items() if h is not None}
    rows = [("held", "held", held), ("due", "due", due), (f"{now:%H}h", "hour", first)]
    for i in range(HOURS - 1):
        hour = start + timedelta(hours=i)
        rows.append((f"{hour:%H}h", "hour", by_hour.get(hour.replace(tzinfo=None), 0)))
    rows.append(("later", "later", later))
    return rows


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
