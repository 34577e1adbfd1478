"""Operator verbs on queued messages, used by the admin console: hold, release, drop.

Each takes one QueuedMessage (one recipient) and changes only the retry state a
delivery worker reads, with a single UPDATE/DELETE so a worker's concurrent claim of
the same row is never overwritten with stale fields.
"""
from __future__ import annotations

import logging
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from mailqueue.models import QueuedMessage

log = logging.getLogger(__name__)


def hold(qm: QueuedMessage) -> None:
    """Keep the message in the queue without delivery attempts until released."""
    QueuedMessage.objects.filter(pk=qm.pk).update(hold=True)
    qm.hold = True
    log.info("queue message held", extra={"queue_id": qm.pk})


def release(qm: QueuedMessage) -> None:
    """Lift a hold and attempt delivery now (mox's "kick")."""
    now = timezone.now()
    QueuedMessage.objects.filter(pk=qm.pk).update(hold=False, next_attempt=now)
    qm.hold, qm.next_attempt = False, now
    log.info("queue message released", extra={"queue_id": qm.pk})


def _message_file(path: str) -> Path:
    p = Path(path)
    return p if p.is_absolute() else Path(settings.DATA_DIR) / p


def drop(qm: QueuedMessage) -> None:
    """Remove the recipient from the queue without a DSN. The message file goes with the
    last recipient that refers to it."""
    path = qm.path
    with transaction.atomic():
        QueuedMessage.objects.filter(pk=qm.pk).delete()
        last = not QueuedMessage.objects.filter(path=path).exists()
        if last and path:
            transaction.on_commit(lambda: _message_file(path).unlink(missing_ok=True))
    log.info("queue message dropped", extra={"queue_id": qm.pk})
