"""django-q2 tasks of the queue.

- `scan_queue`: run every minute by the Schedule row of migration 0003 ("mailqueue
  scan"); hands due messages to workers, within the concurrency limits.
- `deliver`: one attempt for one message; idempotent, since the broker delivers at
  least once: the atomic claim in `mailqueue.scheduler` decides who delivers.
- `kick`: for callers that just queued or released messages, to start at once
  instead of at the next scan.

django-q2's own retry is not used for SMTP retries (Q_CLUSTER max_attempts=1): the
retry schedule lives in the QueuedMessage rows.
"""
from __future__ import annotations

import logging

from django.db import transaction

from mailqueue.delivery import deliver_queued
from mailqueue.scheduler import due_messages

log = logging.getLogger(__name__)


def deliver(pk: int) -> str:
    return deliver_queued(pk)


def _enqueue(ids: list[int]) -> None:
    from django_q.tasks import async_task

    for pk in ids:
        async_task("mailqueue.tasks.deliver", pk, task_name=f"deliver {pk}", group="mailqueue")


def scan_queue() -> int:
    ids = due_messages()
    _enqueue(ids)
    if ids:
        log.info("queue scan", extra={"handed_out": len(ids)})
    return len(ids)


def kick() -> None:
    """Scan right after the current transaction commits (or now, outside one)."""
    transaction.on_commit(scan_queue)
