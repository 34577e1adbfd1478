"""The dashboard's figures for today (UTC, since midnight): incoming messages delivered
and refused (refused ones are the copies kept in Rejects, see webadmin/refusals.py),
outgoing delivery attempts by result, and the latest failed attempts. Each count is one
query over an index range of today's rows."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.db.models import Count

from deliverylog.models import DeliveryAttempt
from mailstore.models import Message
from webadmin.refusals import REFUSED

RECENT_ERRORS = 5


@dataclass
class Today:
    since: datetime
    delivered: int = 0
    refused: int = 0
    outgoing: dict[str, int] = field(default_factory=dict)
    errors: list[DeliveryAttempt] = field(default_factory=list)


def today(now: datetime) -> Today:
    since = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    incoming = Message.objects.filter(received__gte=since).exclude(remote_ip="").aggregate(
        delivered=Count("id", filter=~REFUSED),
        refused=Count("id", filter=REFUSED),
    )
    outgoing = dict(
        DeliveryAttempt.objects.filter(time__gte=since).values_list("result").annotate(n=Count("id")).order_by()
    )
    errors = list(DeliveryAttempt.objects.exclude(result=DeliveryAttempt.Result.DELIVERED)[:RECENT_ERRORS])
    return Today(since, incoming["delivered"], incoming["refused"], outgoing, errors)
