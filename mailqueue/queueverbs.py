"""Queue verbs for the `queue` command and the admin pages, next to queueops' hold,
release and drop: selecting messages by filters, kicking them, dumping one."""
from __future__ import annotations

import logging

from django.db.models import QuerySet
from django.utils import timezone

from mailqueue.dsn import message_bytes
from mailqueue.models import QueuedMessage

log = logging.getLogger(__name__)


def select(*, ids: list[int] | None = None, domain: str = "", transport: str | None = None) -> QuerySet[QueuedMessage]:
    """Messages matching all given filters (recipient domain compared case-insensitively)."""
    qs = QueuedMessage.objects.all().order_by("next_attempt", "id")
    if ids:
        qs = qs.filter(pk__in=ids)
    if domain:
        qs = qs.filter(recipient_domain__iexact=domain.rstrip("."))
    if transport is not None:
        qs = qs.filter(transport=transport)
    return qs


def kick(qs: QuerySet[QueuedMessage], *, transport: str | None = None) -> int:
    """Attempt delivery now (mox `queue kick`), optionally through a named transport
    (empty name: back to routes). Held messages stay held. One UPDATE, so a worker's
    claim is not overwritten; a message being delivered right now keeps its claim."""
    fields: dict[str, object] = {"next_attempt": timezone.now()}
    if transport is not None:
        fields["transport"] = transport
    n = qs.update(**fields)
    log.info("queue kicked", extra={"count": n})
    if n:
        from mailqueue.tasks import kick as kick_scan

        kick_scan()
    return n


def dump(qm: QueuedMessage) -> bytes:
    """The message as it will be sent: stored prefix and file."""
    return message_bytes(qm)
