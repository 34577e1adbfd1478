"""Several queued messages to the same host go over one connection (RSET between
transactions), at most MOX_QUEUE_CONNECTION_MESSAGES per connection."""
from __future__ import annotations

import pytest

from mailqueue.models import QueuedMessage
from mailqueue.tasks import deliver
from tests.queue.conftest import MESSAGE, inbox_messages, queue_message
from tests.queue.recording_server import RecordingSMTP
from tests.queue.test_pipelining import serve

pytestmark = pytest.mark.django_db


def transaction_verbs(commands: list[str]) -> list[str]:
    return [c.split(":")[0].split(" ")[0] + (":" + c.split(":", 1)[1].split(" ")[0] if c.startswith("RCPT") else "")
            for c in commands]


def test_queued_messages_to_one_host_share_a_connection(alice, mx_zone, loop_thread, settings):
    server = RecordingSMTP()
    settings.MOX_QUEUE_SMTP_PORT = serve(loop_thread, server)
    first = queue_message(alice, "alice@example.test", "a@example.org", MESSAGE)
    for rcpt in ("b@example.org", "c@example.org"):
        queue_message(alice, "alice@example.test", rcpt, MESSAGE)

    assert deliver(first.pk) == "delivered"

    (conn,) = server.connections
    assert transaction_verbs(conn.commands) == [
        "EHLO",
        "MAIL", "RCPT:<a@example.org>", "DATA",
        "RSET", "MAIL", "RCPT:<b@example.org>", "DATA",
        "RSET", "MAIL", "RCPT:<c@example.org>", "DATA",
        "QUIT",
    ]
    assert [m.rcpt_tos for m in server.messages] == [["a@example.org"], ["b@example.org"], ["c@example.org"]]
    assert QueuedMessage.objects.count() == 0


def test_a_connection_carries_at_most_the_configured_number_of_messages(alice, mx_zone, loop_thread, settings):
    settings.MOX_QUEUE_CONNECTION_MESSAGES = 2
    server = RecordingSMTP()
    settings.MOX_QUEUE_SMTP_PORT = serve(loop_thread, server)
    rows = [queue_message(alice, "alice@example.test", f"r{n}@example.org", MESSAGE) for n in range(3)]

    assert deliver(rows[0].pk) == "delivered"
    assert QueuedMessage.objects.get().pk == rows[2].pk  # not taken along: over the bound
    assert deliver(rows[2].pk) == "delivered"

    assert [sum(c == "DATA" for c in conn.commands) for conn in server.connections] == [2, 1]
    assert len(server.messages) == 3


def test_a_refused_message_does_not_end_the_connection_for_the_others(alice, mx_zone, loop_thread, settings):
    server = RecordingSMTP(rcpt_reply=lambda a: "550 5.1.1 no such user" if a == "b@example.org" else None)
    settings.MOX_QUEUE_SMTP_PORT = serve(loop_thread, server)
    first = queue_message(alice, "alice@example.test", "a@example.org", MESSAGE)
    queue_message(alice, "alice@example.test", "b@example.org", MESSAGE)
    queue_message(alice, "alice@example.test", "c@example.org", MESSAGE)

    assert deliver(first.pk) == "delivered"

    assert len(server.connections) == 1
    assert [m.rcpt_tos for m in server.messages] == [["a@example.org"], ["c@example.org"]]
    (dsn,) = inbox_messages(alice)
    assert b"Final-Recipient: rfc822; b@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n" in dsn
    assert QueuedMessage.objects.count() == 0


def test_messages_to_other_domains_or_held_ones_are_not_taken_along(alice, mx_zone, loop_thread, settings):
    server = RecordingSMTP()
    settings.MOX_QUEUE_SMTP_PORT = serve(loop_thread, server)
    mx_zone.add("example.net", "MX", "10 mail.example.org.")
    first = queue_message(alice, "alice@example.test", "a@example.org", MESSAGE)
    other = queue_message(alice, "alice@example.test", "x@example.net", MESSAGE)
    held = queue_message(alice, "alice@example.test", "h@example.org", MESSAGE)
    QueuedMessage.objects.filter(pk=held.pk).update(hold=True)

    assert deliver(first.pk) == "delivered"

    assert [m.rcpt_tos for m in server.messages] == [["a@example.org"]]
    assert sorted(QueuedMessage.objects.values_list("pk", "attempts")) == [(other.pk, 0), (held.pk, 0)]


def test_companions_not_reached_before_the_deadline_are_given_back_uncounted(alice, mx_zone, loop_thread, settings):
    import asyncio

    from django.utils import timezone

    from tests.listeners import bound_socket
    from tests.queue.conftest import start_sink

    sink = start_sink(loop_thread, bound_socket(), on_data=lambda: asyncio.sleep(1.5))
    settings.MOX_QUEUE_SMTP_PORT = sink.port
    settings.MOX_QUEUE_ATTEMPT_SECONDS = 2
    first = queue_message(alice, "alice@example.test", "a@example.org", MESSAGE)
    second = queue_message(alice, "alice@example.test", "b@example.org", MESSAGE)

    assert deliver(first.pk) == "delivered"

    second.refresh_from_db()
    assert (second.attempts, second.claimed_until, second.last_error) == (0, None, "")
    assert second.next_attempt <= timezone.now()
    assert [m.rcpt_tos for m in sink.messages] == [["a@example.org"]]
