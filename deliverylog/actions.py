"""Recording delivery attempts; only the latest `KEEP` are kept."""
from __future__ import annotations

from datetime import datetime

from deliverylog.models import DeliveryAttempt

KEEP = 1000
# Trimming costs a query: do it once every PRUNE_EVERY records.
PRUNE_EVERY = 50


def record_attempt(
    *, time: datetime, queue_id: int, attempt: int, sender: str, recipient: str, result: str,
    remote_mta: str = "", transport: str = "", detail: str = "",
) -> DeliveryAttempt:
    row = DeliveryAttempt.objects.create(
        time=time, queue_id=queue_id, attempt=attempt, sender=sender, recipient=recipient, result=result,
        remote_mta=remote_mta[:255], transport=transport[:100], detail=detail,
    )
    if row.pk % PRUNE_EVERY == 0:
        prune()
    return row


def prune(keep: int = KEEP) -> int:
    """Delete all but the `keep` latest attempts; returns how many were deleted."""
    beyond = list(DeliveryAttempt.objects.order_by("-id").values_list("id", flat=True)[keep : keep + 1])
    if not beyond:
        return 0
    deleted, _ = DeliveryAttempt.objects.filter(id__lte=beyond[0]).delete()
    return deleted
