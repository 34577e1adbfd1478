"""A destination that never answers the connection attempt (its listen backlog is
full, so the SYN goes unanswered): the attempt ends after MOX_QUEUE_DIAL_TIMEOUT and
the message is retried on mox's schedule."""
from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from mailqueue.models import QueuedMessage
from mailqueue.tasks import deliver
from tests.queue.conftest import MESSAGE, queue_message

pytestmark = pytest.mark.django_db


@pytest.fixture
def unanswered_port() -> Iterator[int]:
    """A loopback port whose listen queue is full: Linux drops further SYNs."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    held: list[socket.socket] = []
    try:
        for _ in range(64):
            c = socket.socket()
            c.settimeout(0.2)
            try:
                c.connect(("127.0.0.1", port))
            except TimeoutError:
                c.close()
                break
            held.append(c)
        else:
            pytest.fail("the listen queue never filled")
        yield port
    finally:
        for c in held:
            c.close()
        listener.close()


def test_an_unanswered_connection_fails_after_the_dial_timeout_and_is_retried(alice, mx_zone, settings, unanswered_port):
    settings.MOX_QUEUE_SMTP_PORT = unanswered_port
    settings.MOX_QUEUE_DIAL_TIMEOUT = 0.5
    qm = queue_message(alice, "alice@example.test", "carol@example.org", MESSAGE)

    started = time.monotonic()
    assert deliver(qm.pk) == "retry"
    assert time.monotonic() - started < 30  # hang guard: the dial timeout ended it

    qm.refresh_from_db()
    assert qm.last_error == "connect: no connection within 0.5s"
    assert qm.attempts == 1
    assert qm.dialed_ips == {"mail.example.org": ["127.0.0.1"]}
    assert (qm.next_attempt - qm.last_attempt).total_seconds() == 450  # mox's first interval
    assert qm.claimed_until is None
