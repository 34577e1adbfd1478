"""A deliver task from a scan takes the next due message into the slot it freed
itself (no round trip through the broker) for up to MOX_QUEUE_TASK_SECONDS, then
leaves the rest to the broker."""
from __future__ import annotations

import pytest

from mailqueue.models import QueuedMessage
from mailqueue.scheduler import claim, claim_next, reserve
from mailqueue.tasks import deliver
from tests.listeners import bound_socket
from tests.queue.conftest import MESSAGE, queue_message, start_sink

pytestmark = pytest.mark.django_db


@pytest.fixture
def handed_out(monkeypatch):  # type: ignore[no-untyped-def]
    """Tasks given to the broker, recorded instead of run."""
    calls: list[tuple[object, ...]] = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda *args, **kw: calls.append(args))
    return calls


def test_the_worker_delivers_the_next_due_messages_itself(alice, mx_zone, loop_thread, settings, handed_out):
    sink = start_sink(loop_thread, bound_socket())
    settings.MOX_QUEUE_SMTP_PORT = sink.port
    settings.MOX_QUEUE_CONNECTION_MESSAGES = 1  # a batch of one: each message is its own claim
    rows = [queue_message(alice, "alice@example.test", f"r{n}@example.org", MESSAGE) for n in range(3)]
    ((pk, token),) = reserve([rows[0].pk])

    assert deliver(pk, token.isoformat()) == "delivered"

    assert [m.rcpt_tos for m in sink.messages] == [["r0@example.org"], ["r1@example.org"], ["r2@example.org"]]
    assert QueuedMessage.objects.count() == 0
    assert handed_out == []


def test_after_its_time_the_worker_hands_the_slot_to_the_broker(alice, mx_zone, loop_thread, settings, handed_out):
    sink = start_sink(loop_thread, bound_socket())
    settings.MOX_QUEUE_SMTP_PORT = sink.port
    settings.MOX_QUEUE_CONNECTION_MESSAGES = 1
    settings.MOX_QUEUE_TASK_SECONDS = 0
    first, second, third = (queue_message(alice, "alice@example.test", f"r{n}@example.org", MESSAGE) for n in range(3))
    ((pk, token),) = reserve([first.pk])

    assert deliver(pk, token.isoformat()) == "delivered"

    assert [m.rcpt_tos for m in sink.messages] == [["r0@example.org"]]
    # One per domain at a time: the scan handed out the next one only, reserved.
    assert [args[:2] for args in handed_out] == [("mailqueue.tasks.deliver", second.pk)]
    assert QueuedMessage.objects.get(pk=second.pk).claimed_until is not None
    assert QueuedMessage.objects.get(pk=third.pk).claimed_until is None


def test_claim_next_keeps_to_the_limits(alice, settings):
    settings.MOX_QUEUE_CONCURRENCY = 2
    a = queue_message(alice, "alice@example.test", "a@example.org", MESSAGE)
    queue_message(alice, "alice@example.test", "b@example.org", MESSAGE)
    n = queue_message(alice, "alice@example.test", "n@example.net", MESSAGE)
    x = queue_message(alice, "alice@example.test", "x@example.com", MESSAGE)
    assert claim(a.pk) is not None  # example.org busy

    got = claim_next(0)
    assert [qm.pk for qm in got] == [n.pk]  # not b: its domain is busy
    assert got[0].attempts == 1 and got[0].claimed_until is not None
    assert claim_next(0) == []  # two deliveries at once: the limit
    assert QueuedMessage.objects.get(pk=x.pk).attempts == 0


def test_a_batch_counts_as_one_delivery_however_many_messages_it_carries(alice, settings):
    from mailqueue.scheduler import claim_batch, due_messages

    settings.MOX_QUEUE_CONCURRENCY = 2
    a = queue_message(alice, "alice@example.test", "a@example.org", MESSAGE)
    for n in range(3):
        queue_message(alice, "alice@example.test", f"r{n}@example.org", MESSAGE)
    n = queue_message(alice, "alice@example.test", "n@example.net", MESSAGE)

    assert len(claim_batch(a.pk, 10)) == 4  # one connection's worth of example.org
    assert due_messages() == [n.pk]  # one of two delivery slots is taken, not four
    assert [qm.pk for qm in claim_next(0)] == [n.pk]
    assert due_messages() == []
