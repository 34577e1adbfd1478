"""Operator verbs on queued messages, used by the admin console: hold, release, drop,
and reading a queued message for display.

Each takes one QueuedMessage (one recipient) and changes only the retry state a
delivery worker reads, with a single UPDATE/DELETE so a worker's concurrent claim of
the same row is never overwritten with stale fields.
"""
from __future__ import annotations

import logging
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from mailqueue.models import QueuedMessage

log = logging.getLogger(__name__)


class QueueOpError(ValueError):
    """An operation that cannot be done now, with a message fit for the operator."""


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
    last recipient that refers to it. A message a worker is delivering right now (an
    unexpired claim) is refused: the worker would act on a row that no longer exists."""
    path = qm.path
    with transaction.atomic():
        now = timezone.now()
        deleted, _ = (
            QueuedMessage.objects.filter(pk=qm.pk)
            .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lte=now))
            .delete()
        )
        if not deleted:
            if not QueuedMessage.objects.filter(pk=qm.pk).exists():
                return  # delivered or dropped meanwhile
            raise QueueOpError("the message is being delivered right now; try again when the attempt ends")
        last = not QueuedMessage.objects.filter(path=path).exists()
        if last and path:
            transaction.on_commit(lambda: _message_file(path).unlink(missing_ok=True))
    log.info("queue message dropped", extra={"queue_id": qm.pk})


def read_message(qm: QueuedMessage, limit: int = 64 * 1024) -> tuple[bytes, bool]:
    """The first `limit` bytes of the message as it will be sent (our prefix, then the
    file), and whether there was more."""
    data = bytes(qm.prefix)
    try:
        with open(_message_file(qm.path), "rb") as fh:
            data += fh.read(limit + 1 - len(data)) if len(data) <= limit else b""
    except OSError as exc:
        raise QueueOpError(f"cannot read the message file: {exc.strerror}") from exc
    return data[:limit], len(data) > limit
