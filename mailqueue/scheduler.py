"""Retry schedule and atomic claims of queued messages.

mox (queue.go) counts an attempt and moves `next_attempt` forward *before* it dials,
so a worker that dies mid-delivery leaves a message that is simply retried at its
next slot; we do the same, and additionally hold a claim (`claimed_until`) so that
two workers never deliver the same recipient at once. The broker may run a deliver
task twice (at least once); the second run finds the claim taken or the row gone.

Settings (read with defaults, documented in docs/configuration.md by the owner):
- MOX_QUEUE_RETRY_INTERVALS: seconds between attempts, default mox's
  7.5 min doubling to 8 h; the number of attempts is one more than its length.
- MOX_QUEUE_JITTER: seconds of random jitter, default 5 (mox: -5..+4 s).
- MOX_QUEUE_DELAYED_DSN_AFTER: failed attempts after which a "delayed" DSN goes
  out, default 5.
- MOX_QUEUE_CONCURRENCY: deliveries at once, default 10 (mox).
- MOX_QUEUE_PER_DOMAIN: deliveries at once to one recipient domain, default 1.
- MOX_QUEUE_CONNECTION_MESSAGES: messages one worker takes along to the same
  recipient domain and sends over one connection, default 100.
- MOX_QUEUE_TASK_SECONDS (mailqueue.tasks): how long a deliver task goes on taking
  the next due messages into the slot it freed, default 30.
- MOX_QUEUE_CLAIM_SECONDS: how long a claim lasts, default 10 min; an attempt is cut
  off after MOX_QUEUE_ATTEMPT_SECONDS (240 s), inside django-q2's task timeout (300 s).
"""
from __future__ import annotations

import random
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from mailqueue.models import QueuedMessage

DEFAULT_INTERVALS = [450, 900, 1800, 3600, 7200, 14400, 28800]


def retry_intervals() -> list[int]:
    return list(getattr(settings, "MOX_QUEUE_RETRY_INTERVALS", DEFAULT_INTERVALS))


def max_attempts() -> int:
    return len(retry_intervals()) + 1


def attempt_limit(qm: QueuedMessage) -> int:
    """Attempts before giving up: from MOX_QUEUE_RETRY_INTERVALS when configured (so a
    changed schedule applies to queued messages too), else the row's max_attempts."""
    if hasattr(settings, "MOX_QUEUE_RETRY_INTERVALS"):
        return max_attempts()
    return qm.max_attempts


def delayed_dsn_after() -> int:
    return int(getattr(settings, "MOX_QUEUE_DELAYED_DSN_AFTER", 5))


def concurrency() -> int:
    return int(getattr(settings, "MOX_QUEUE_CONCURRENCY", 10))


def per_domain() -> int:
    return int(getattr(settings, "MOX_QUEUE_PER_DOMAIN", 1))


def messages_per_connection() -> int:
    return max(1, int(getattr(settings, "MOX_QUEUE_CONNECTION_MESSAGES", 100)))


def claim_duration() -> timedelta:
    return timedelta(seconds=int(getattr(settings, "MOX_QUEUE_CLAIM_SECONDS", 600)))


def backoff(attempts_done: int, rng: random.Random | None = None) -> timedelta:
    """Delay after attempt number `attempts_done` (1-based) before the next one.
    mox: (7.5 min + jitter) * 2^(attempts-1), i.e. 7.5 min, 15 min, ... 8 h."""
    intervals = retry_intervals()
    seconds = float(intervals[min(max(attempts_done, 1), len(intervals)) - 1])
    jitter = int(getattr(settings, "MOX_QUEUE_JITTER", 5))
    if jitter:
        seconds += (rng or random).randint(-jitter, jitter - 1)
    return timedelta(seconds=seconds)


def due_filter(now: datetime) -> Q:
    return Q(hold=False, next_attempt__lte=now) & (Q(claimed_until__isnull=True) | Q(claimed_until__lte=now))


def _busy(now: datetime) -> Q:
    return Q(claimed_until__gt=now)


def in_flight(now: datetime, domain: str | None = None) -> dict[str, int]:
    """Deliveries in flight (claimed or reserved) per recipient domain. The rows of
    one batch share their claim's expiry, so a delivery is a distinct (domain, expiry)
    pair, however many messages its batch carries."""
    rows = QueuedMessage.objects.filter(_busy(now))
    if domain is not None:
        rows = rows.filter(recipient_domain=domain)
    counts: dict[str, int] = {}
    for dom, _until in rows.order_by().values_list("recipient_domain", "claimed_until").distinct():
        counts[dom] = counts.get(dom, 0) + 1
    return counts


def due_messages(now: datetime | None = None, limit: int | None = None) -> list[int]:
    """IDs of messages to hand to workers now: due, not claimed, at most
    `concurrency()` deliveries in flight and `per_domain()` per recipient domain.
    Oldest slots first, so after a restart the queue drains at the configured pace
    instead of bursting."""
    now = now or timezone.now()
    busy = in_flight(now)
    room = (limit if limit is not None else concurrency()) - sum(busy.values())
    if room <= 0:
        return []
    picked: list[int] = []
    rows = QueuedMessage.objects.filter(due_filter(now)).order_by("next_attempt", "id").values_list("id", "recipient_domain")
    for pk, dom in rows.iterator():
        if busy.get(dom, 0) >= per_domain():
            continue
        busy[dom] = busy.get(dom, 0) + 1
        picked.append(pk)
        if len(picked) >= room:
            break
    return picked


def reserve(ids: list[int], now: datetime | None = None) -> list[tuple[int, datetime]]:
    """Mark messages as handed to the broker, so later scans do not hand them out again
    while they wait for a worker. Returns (id, token) for each one reserved; the deliver
    task passes the token to `claim`. An unclaimed reservation expires on its own."""
    now = now or timezone.now()
    token = now + timedelta(seconds=int(getattr(settings, "MOX_QUEUE_RESERVE_SECONDS", 120)))
    out = []
    with transaction.atomic():  # one write transaction (SQLite: one lock, one fsync)
        for i, pk in enumerate(ids):
            # Distinct tokens: each reservation counts as one delivery (`in_flight`).
            mine = token + timedelta(microseconds=i)
            if QueuedMessage.objects.filter(pk=pk).filter(due_filter(now)).update(claimed_until=mine):
                out.append((pk, mine))
    return out


def claim(pk: int, now: datetime | None = None, token: datetime | None = None) -> QueuedMessage | None:
    """Atomically take message `pk` for one delivery attempt, or None if it is not due,
    held, claimed by another worker, gone, or its domain is at its concurrency limit.
    `token` is the reservation made by the scan that handed the message out.

    On success the attempt is already counted and the next slot set (mox: saved before
    the attempt), and the claim runs until `claim_duration()` from now.
    """
    now = now or timezone.now()
    with transaction.atomic():
        row = QueuedMessage.objects.select_for_update().filter(pk=pk).first()
        if row is None or row.hold or row.next_attempt > now:
            return None
        if row.claimed_until is not None and row.claimed_until > now and row.claimed_until != token:
            return None
        # Lock the domain's busy rows so concurrent claims for one domain serialise
        # (PostgreSQL; SQLite's IMMEDIATE transactions serialise all writers), and count
        # its deliveries in flight from them as `in_flight` does: distinct expiries.
        expiries = set(
            QueuedMessage.objects.select_for_update()
            .filter(recipient_domain=row.recipient_domain, claimed_until__gt=now)
            .exclude(pk=pk)
            .order_by("id")
            .values_list("claimed_until", flat=True)
        )
        mine = 1 if row.claimed_until is not None and row.claimed_until > now else 0  # our own reservation
        if mine:
            expiries.add(row.claimed_until)
        if len(expiries) - mine >= per_domain():
            return None
        taken = _count_attempts([row], now)
    return taken[0] if taken else None


# RFC 5321 section 4.5.3.1.8: a server takes at least 100 recipients per transaction.
GROUP_MAX = 100


def claim_companions(qm: QueuedMessage, limit: int, now: datetime | None = None) -> list[QueuedMessage]:
    """Claim more due messages that go where `qm` goes (same recipient domain,
    transport and REQUIRETLS wish), for the same worker to deliver over the same
    connection: first the other recipients of the same message at the same attempt
    (its group, up to GROUP_MAX, for one transaction), then up to `limit` other
    messages. Counted as attempts like `claim`; the domain's concurrency limit is the
    first message's."""
    now = now or timezone.now()
    with transaction.atomic():
        due = (
            QueuedMessage.objects.select_for_update()
            .filter(due_filter(now), recipient_domain=qm.recipient_domain, transport=qm.transport, requiretls=qm.requiretls)
            .exclude(pk=qm.pk)
            .order_by("next_attempt", "id")
        )
        rows: list[QueuedMessage] = []
        if qm.base_id is not None:
            rows = list(due.filter(base_id=qm.base_id, attempts=qm.attempts - 1)[: GROUP_MAX - 1])
        if limit > 0:
            rows += list(due.exclude(pk__in=[r.pk for r in rows])[:limit])
        return _count_attempts(rows, now)


def _count_attempts(rows: list[QueuedMessage], now: datetime) -> list[QueuedMessage]:
    """Count the attempt about to be made (mox: saved before it), one UPDATE per attempt
    number: the rows of one attempt number get the same next slot (so a group stays
    together), and a claim until `claim_duration()` from now. Returns the
    rows counted, their fields set as stored."""
    by_attempts: dict[int, list[QueuedMessage]] = {}
    for row in rows:
        by_attempts.setdefault(row.attempts, []).append(row)
    taken: set[int] = set()
    until = now + claim_duration()
    for attempts, group in by_attempts.items():
        fields = {"attempts": attempts + 1, "last_attempt": now, "next_attempt": now + backoff(attempts + 1), "claimed_until": until}
        ids = [row.pk for row in group]
        updated = QueuedMessage.objects.filter(pk__in=ids, attempts=attempts).update(**fields)
        if updated != len(ids):
            # Another worker counted some of them first (they were not locked).
            counted = set(QueuedMessage.objects.filter(pk__in=ids, last_attempt=now, claimed_until=until).values_list("pk", flat=True))
            group = [row for row in group if row.pk in counted]
        for row in group:
            for name, value in fields.items():
                setattr(row, name, value)
            taken.add(row.pk)
    return [row for row in rows if row.pk in taken]


def claim_batch(pk: int, limit: int, now: datetime | None = None, token: datetime | None = None) -> list[QueuedMessage]:
    """`claim` and `claim_companions` in one transaction: message `pk` first, or [] if
    it cannot be claimed."""
    now = now or timezone.now()
    with transaction.atomic():
        qm = claim(pk, now, token)
        return [qm, *claim_companions(qm, limit, now)] if qm is not None else []


def claim_next(limit: int, now: datetime | None = None) -> list[QueuedMessage]:
    """For a worker whose batch ended, which frees its slot: the oldest due message
    that the concurrency limits allow, with its companions (`claim_batch`), chosen
    and claimed in one transaction; [] when nothing is due."""
    now = now or timezone.now()
    with transaction.atomic():
        for pk in due_messages(now)[:1]:
            return claim_batch(pk, limit, now)
    return []


def unclaim(qm: QueuedMessage) -> None:
    """Give back a message claimed for a batch but not attempted: the attempt it was
    counted for did not happen, and it is due again at once."""
    QueuedMessage.objects.filter(pk=qm.pk, attempts=qm.attempts).update(
        attempts=qm.attempts - 1, next_attempt=timezone.now(), claimed_until=None
    )


def release_claim(qm: QueuedMessage) -> None:
    QueuedMessage.objects.filter(pk=qm.pk).update(claimed_until=None)
