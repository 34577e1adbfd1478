"""The dashboard's picture of the queue: an SVG of queued messages by next attempt."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import time_machine

from webadmin.queuechart import queue_chart

NOW = datetime(2026, 11, 25, 10, 30, tzinfo=UTC)


def _bars(html: str) -> list[tuple[str, str, int]]:
    return [(k, label, int(n)) for k, label, n in re.findall(r'<g class="bar (\w+)" data-label="([^"]+)" data-count="(\d+)">', html)]


def test_it_counts_queued_messages_by_hour_of_next_attempt(make_queued):
    make_queued(next_attempt=NOW - timedelta(minutes=5))  # due
    make_queued(next_attempt=NOW + timedelta(minutes=10))  # rest of 10h
    make_queued(next_attempt=NOW + timedelta(hours=1))  # 11:30
    make_queued(next_attempt=NOW + timedelta(hours=1, minutes=20))  # 11:50
    make_queued(next_attempt=NOW + timedelta(hours=5))  # 15:30
    make_queued(next_attempt=NOW + timedelta(hours=23, minutes=20))  # 09:50 tomorrow, the last hour bar
    make_queued(next_attempt=NOW + timedelta(hours=23, minutes=40))  # 10:10 tomorrow: later
    make_queued(next_attempt=NOW + timedelta(hours=1), hold=True)
    chart = queue_chart(NOW)
    counts = [(b.kind, b.label, b.count) for b in chart.bars]
    assert len(counts) == 27
    assert counts[:5] == [("held", "held", 1), ("due", "due", 1), ("hour", "10h", 1), ("hour", "11h", 2), ("hour", "12h", 0)]
    assert counts[7] == ("hour", "15h", 1)
    assert counts[-2:] == [("hour", "09h", 1), ("later", "later", 1)]
    assert chart.total == 8
    assert chart.max_count == 2
    tallest = max(chart.bars, key=lambda b: b.height)
    assert (tallest.label, tallest.y, tallest.height) == ("11h", chart.top, chart.baseline - chart.top)


def test_the_dashboard_draws_the_chart(admin_client, make_queued):
    with time_machine.travel(NOW, tick=False):
        make_queued(next_attempt=NOW - timedelta(minutes=5))
        make_queued(next_attempt=NOW - timedelta(minutes=1))
        resp = admin_client.get("/admin/")
    assert resp.status_code == 200
    bars = _bars(resp.text)
    assert bars[:3] == [("held", "held", 0), ("due", "due", 2), ("hour", "10h", 0)]
    assert "<title id=\"queue-chart-title\">Queued messages by next attempt: 2 in all</title>" in resp.text
    assert sum(n for *_, n in bars) == 2


def test_an_empty_queue_draws_flat_bars(db):
    chart = queue_chart(NOW)
    assert chart.total == 0
    assert {b.height for b in chart.bars} == {0.0}
