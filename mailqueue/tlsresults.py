"""TLS results of outgoing connections, one row per connection of a delivery attempt,
for building outgoing TLS reports (RFC 8460 section 4) later: per policy domain the
policy type and the counts of successes and of each failure result type."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.utils import timezone

from mailqueue.models import TLSResult

if TYPE_CHECKING:
    from mailqueue.delivery import TLSAttempt

# Reports cover a day (RFC 8460 section 4.1); a month leaves room for late or re-sent ones.
KEEP = timedelta(days=31)


def record(queue_id: int, attempts: Iterable[TLSAttempt]) -> list[TLSResult]:
    rows = [
        TLSResult(
            queue_id=queue_id, policy_domain=a.policy_domain, policy_type=a.policy, result=a.result,
            mx_host=a.mx_host, ip=a.ip, detail=a.detail[:2000],
        )
        for a in attempts
    ]
    return TLSResult.objects.bulk_create(rows) if rows else []


def latest(queue_ids: Iterable[int]) -> dict[int, TLSResult]:
    """The most recent result per queued message, for listings."""
    out: dict[int, TLSResult] = {}
    for row in TLSResult.objects.filter(queue_id__in=list(queue_ids)).order_by("created", "id"):
        out[row.queue_id] = row
    return out


def summary(since: datetime, until: datetime) -> dict[tuple[str, str], dict[str, int]]:
    """{(policy domain, policy type): {result: count}} for a report period."""
    out: dict[tuple[str, str], dict[str, int]] = {}
    for row in TLSResult.objects.filter(created__gte=since, created__lt=until).values("policy_domain", "policy_type", "result"):
        counts = out.setdefault((row["policy_domain"], row["policy_type"]), {})
        counts[row["result"]] = counts.get(row["result"], 0) + 1
    return out


def prune(now: datetime | None = None) -> int:
    """Remove results older than KEEP; run with every queue scan (an indexed range)."""
    deleted, _ = TLSResult.objects.filter(created__lt=(now or timezone.now()) - KEEP).delete()
    return deleted
