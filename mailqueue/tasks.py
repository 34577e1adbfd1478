"""django-q2 tasks of the queue.

- `scan_queue`: run every minute by the Schedule row of migration 0003 ("mailqueue
  scan"); hands due messages to workers, within the concurrency limits, and drops
  TLS results older than a month.
- `deliver`: one attempt for one message; idempotent, since the broker delivers at
  least once: the atomic claim in `mailqueue.scheduler` decides who delivers.
- `kick`: for callers that just queued or released messages, to start at once
  instead of at the next scan.

django-q2's own retry is not used for SMTP retries (Q_CLUSTER max_attempts=1): the
retry schedule lives in the QueuedMessage rows.
"""
from __future__ import annotations

import logging
import threading
import time
from datetime import datetime

from django.conf import settings
from django.db import transaction

from mailqueue import tlsresults
from mailqueue.delivery import deliver_next, deliver_queued
from mailqueue.scheduler import due_messages, reserve

log = logging.getLogger(__name__)


_local = threading.local()


def task_seconds() -> float:
    """How long one deliver task goes on taking further due messages itself
    (MOX_QUEUE_TASK_SECONDS, default 30): with a batch's own limit of
    MOX_QUEUE_ATTEMPT_SECONDS it stays inside django-q2's task timeout."""
    return float(getattr(settings, "MOX_QUEUE_TASK_SECONDS", 30))


def deliver(pk: int, token: str = "") -> str:
    """`token` is the reservation from scan_queue (ISO time); without it the message is
    claimed only if nobody holds it (for direct calls and older queued tasks).

    A delivery handed out by a scan frees a slot when done (mox's scheduler wakes on a
    finished delivery): the worker takes the next due message into that slot itself,
    without a round trip through the broker, for up to `task_seconds()`; then it
    scans, handing the slot to the broker. Otherwise a backlog would wait on the
    broker's poll between batches."""
    # From the task's start: a first batch of up to MOX_QUEUE_ATTEMPT_SECONDS must not
    # push a further one past django-q2's task timeout.
    end = time.monotonic() + task_seconds()
    result = deliver_queued(pk, datetime.fromisoformat(token) if token else None)
    if token and not getattr(_local, "scanning", False):
        while time.monotonic() < end:
            if deliver_next() == "idle":
                return result
        scan_queue()
    return result


def scan_queue() -> int:
    """Hand due messages to the workers; returns how many. Each is reserved first, so
    a scan while tasks still wait in the broker does not hand them out twice. With a
    synchronous broker (tests) the tasks run inline, so it loops until nothing is due."""
    from django_q.tasks import async_task

    tlsresults.prune()
    total = 0
    _local.scanning = True
    try:
        while True:
            handed = reserve(due_messages())
            if not handed:
                break
            for pk, token in handed:
                async_task("mailqueue.tasks.deliver", pk, token.isoformat(), task_name=f"deliver {pk}", group="mailqueue")
            total += len(handed)
    finally:
        _local.scanning = False
    if total:
        log.info("queue scan", extra={"handed_out": total})
    return total




def kick() -> None:
    """Scan right after the current transaction commits (or now, outside one)."""
    transaction.on_commit(scan_queue)
