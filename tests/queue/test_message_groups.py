"""Several recipients of one message (queued together, one `base_id`) to one domain go
in one mail transaction: MAIL once, a RCPT each, the message once; each recipient
keeps its own outcome (mox v0.0.10)."""
from __future__ import annotations

import pytest

from mailqueue.models import QueuedMessage
from mailqueue.tasks import deliver
from tests.queue.conftest import MESSAGE, inbox_messages, queue_group, queue_message
from tests.queue.recording_server import RecordingSMTP
from tests.queue.test_connection_reuse import transaction_verbs
from tests.queue.test_pipelining import serve

pytestmark = pytest.mark.django_db

SENDER = "alice@example.test"


def test_recipients_of_one_message_share_a_group_id(alice):
    rows = queue_group(alice, SENDER, ["a@example.org", "b@example.org", "c@example.net"], MESSAGE)
    single = queue_message(alice, SENDER, "d@example.org", MESSAGE)

    assert [r.base_id for r in rows] == [rows[0].pk] * 3
    assert list(QueuedMessage.objects.filter(pk__in=[r.pk for r in rows]).values_list("base_id", flat=True)) == [rows[0].pk] * 3
    assert len({r.next_attempt for r in rows}) == 1
    assert QueuedMessage.objects.get(pk=single.pk).base_id is None


def test_one_transaction_with_a_rcpt_each_and_an_outcome_each(alice, mx_zone, loop_thread, settings):
    replies = {"b@example.org": "550 5.1.1 no such user", "c@example.org": "451 4.2.0 greylisted"}
    server = RecordingSMTP(rcpt_reply=replies.get)
    settings.MOX_QUEUE_SMTP_PORT = serve(loop_thread, server)
    a, b, c = queue_group(alice, SENDER, ["a@example.org", "b@example.org", "c@example.org"], MESSAGE)

    assert deliver(a.pk) == "delivered"

    (conn,) = server.connections
    assert conn.reads[1] == (
        f"MAIL FROM:<alice@example.test> SIZE={len(MESSAGE)}\r\n"
        "RCPT TO:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nRCPT TO:<c@example.org>\r\nDATA\r\n"
    ).encode()
    assert transaction_verbs(conn.commands) == [
        "EHLO", "MAIL", "RCPT:<a@example.org>", "RCPT:<b@example.org>", "RCPT:<c@example.org>", "DATA", "QUIT",
    ]
    assert [(m.rcpt_tos, m.data) for m in server.messages] == [(["a@example.org"], MESSAGE)]
    # a delivered, b failed for good (with a DSN naming only b), c kept for a retry.
    assert list(QueuedMessage.objects.values_list("pk", "attempts", "last_error")) == [
        (c.pk, 1, "RCPT TO: 451 4.2.0 greylisted"),
    ]
    (dsn,) = inbox_messages(alice)
    assert b"Final-Recipient: rfc822; b@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n" in dsn
    assert b"Diagnostic-Code: smtp; 550 5.1.1 no such user\r\n" in dsn
    assert b"a@example.org" not in dsn and b"c@example.org" not in dsn


def test_a_refused_transaction_fails_every_recipient_alike(alice, mx_zone, loop_thread, settings):
    server = RecordingSMTP(rcpt_reply=lambda a: "451 4.3.0 try later")
    settings.MOX_QUEUE_SMTP_PORT = serve(loop_thread, server)
    rows = queue_group(alice, SENDER, ["a@example.org", "b@example.org"], MESSAGE)

    assert deliver(rows[0].pk) == "retry"

    assert [c.count("DATA") for c in [server.connections[0].commands]] == [1]
    assert list(QueuedMessage.objects.order_by("pk").values_list("attempts", "last_error", "claimed_until")) == [
        (1, "RCPT TO: 451 4.3.0 try later", None), (1, "RCPT TO: 451 4.3.0 try later", None),
    ]


def test_recipients_beyond_rcptmax_go_in_the_next_transaction(alice, mx_zone, loop_thread, settings):
    server = RecordingSMTP(extensions=("LIMITS RCPTMAX=2",))
    settings.MOX_QUEUE_SMTP_PORT = serve(loop_thread, server)
    rows = queue_group(alice, SENDER, ["a@example.org", "b@example.org", "c@example.org"], MESSAGE)

    assert deliver(rows[0].pk) == "delivered"

    (conn,) = server.connections
    assert transaction_verbs(conn.commands) == [
        "EHLO", "MAIL", "RCPT:<a@example.org>", "RCPT:<b@example.org>", "DATA",
        "RSET", "MAIL", "RCPT:<c@example.org>", "DATA", "QUIT",
    ]
    assert [m.rcpt_tos for m in server.messages] == [["a@example.org", "b@example.org"], ["c@example.org"]]
    assert QueuedMessage.objects.count() == 0


def test_too_many_recipients_are_sent_again_in_a_new_transaction_at_once(alice, mx_zone, loop_thread, settings):
    # RFC 5321 section 4.5.3.1.10: 452 for recipients over an unannounced limit.
    server = RecordingSMTP(max_rcpts=2)
    settings.MOX_QUEUE_SMTP_PORT = serve(loop_thread, server)
    rows = queue_group(alice, SENDER, ["a@example.org", "b@example.org", "c@example.org"], MESSAGE)

    assert deliver(rows[0].pk) == "delivered"

    assert [m.rcpt_tos for m in server.messages] == [["a@example.org", "b@example.org"], ["c@example.org"]]
    assert len(server.connections) == 1
    assert QueuedMessage.objects.count() == 0
    assert inbox_messages(alice) == []


def test_dsn_parameters_are_per_recipient(alice, mx_zone, loop_thread, settings):
    server = RecordingSMTP(extensions=("DSN",))
    settings.MOX_QUEUE_SMTP_PORT = serve(loop_thread, server)
    rows = queue_group(alice, SENDER, ["a@example.org", "b@example.org"], MESSAGE,
                       notify={"a@example.org": ["SUCCESS", "FAILURE"], "b@example.org": ["NEVER"]},
                       dsn_ret="HDRS", dsn_envid="env1")

    assert deliver(rows[0].pk) == "delivered"

    (conn,) = server.connections
    assert conn.commands[1:4] == [
        f"MAIL FROM:<alice@example.test> SIZE={len(MESSAGE)} RET=HDRS ENVID=env1",
        "RCPT TO:<a@example.org> NOTIFY=SUCCESS,FAILURE",
        "RCPT TO:<b@example.org> NOTIFY=NEVER",
    ]


def test_other_domains_and_other_attempt_counts_are_not_grouped(alice, mx_zone, loop_thread, settings):
    server = RecordingSMTP()
    settings.MOX_QUEUE_SMTP_PORT = serve(loop_thread, server)
    mx_zone.add("example.net", "MX", "10 mail.example.org.")
    a, b, n = queue_group(alice, SENDER, ["a@example.org", "b@example.org", "n@example.net"], MESSAGE)
    QueuedMessage.objects.filter(pk=b.pk).update(attempts=1)  # b failed once before, on its own

    assert deliver(a.pk) == "delivered"

    # b goes along on the connection (same domain) but in its own transaction; the
    # example.net recipient is another domain's delivery.
    assert [m.rcpt_tos for m in server.messages] == [["a@example.org"], ["b@example.org"]]
    assert list(QueuedMessage.objects.values_list("pk", "attempts")) == [(n.pk, 0)]


def test_through_a_relay_each_recipients_error_names_the_transport(alice, loop_thread, settings):
    from mailqueue.models import Route, Transport

    server = RecordingSMTP(rcpt_reply=lambda a: "451 4.2.0 later" if a == "b@example.org" else None)
    relay = Transport.objects.create(name="relay", kind=Transport.Kind.SMTP, host="127.0.0.1",
                                     port=serve(loop_thread, server), no_starttls=True)
    Route.objects.create(transport=relay)
    a, b = queue_group(alice, SENDER, ["a@example.org", "b@example.org"], MESSAGE)

    assert deliver(a.pk) == "delivered"

    assert [m.rcpt_tos for m in server.messages] == [["a@example.org"]]
    assert list(QueuedMessage.objects.values_list("pk", "last_error")) == [
        (b.pk, "transport relay: RCPT TO: 451 4.2.0 later"),
    ]
