"""Recent deliveries: messages received over SMTP (a real session to our listener) and
outgoing attempts made by the queue (to a real SMTP sink on loopback)."""
from __future__ import annotations

import re
import smtplib

import pytest

from deliverylog.actions import prune, record_attempt
from deliverylog.models import DeliveryAttempt
from mailqueue.tasks import deliver
from tests.listeners import bound_socket
from tests.queue.conftest import MESSAGE, mx_zone, queue_message, start_sink  # noqa: F401 - mx_zone is a fixture
from tests.smtp.incoming import listener  # noqa: F401 - a fixture


def _rows(html: str, table: str) -> list[str]:
    body = html.split(f'<table id="{table}">', 1)[1].split("</table>", 1)[0]
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", "<tr" + row)).strip() for row in body.split("<tr")[2:]]


def test_it_shows_outgoing_attempts_with_their_results(admin_client, alice, mx_zone, loop_thread, settings):  # noqa: F811
    replies = iter(["451 4.2.0 greylisted, try again later", None])
    sink = start_sink(loop_thread, bound_socket(), rcpt_reply=lambda a: next(replies))
    settings.MOX_QUEUE_SMTP_PORT = sink.port
    qm = queue_message(alice, "alice@example.test", "carol@example.org", MESSAGE)
    assert deliver(qm.pk) == "retry"
    type(qm).objects.filter(pk=qm.pk).update(next_attempt=qm.created)
    assert deliver(qm.pk) == "delivered"

    resp = admin_client.get("/admin/deliveries/")
    assert resp.status_code == 200
    assert [r.split(" ", 2)[2] for r in _rows(resp.text, "outgoing")] == [
        f"{qm.pk} alice@example.test carol@example.org 2 delivered mail.example.org 250 2.0.0 queued as 1",
        f"{qm.pk} alice@example.test carol@example.org 1 failed, will retry mail.example.org RCPT TO: 451 4.2.0 greylisted, try again later",
    ]


@pytest.mark.django_db(transaction=True)
def test_it_shows_messages_received_over_smtp(admin_user, smtp_listener, localserve_account):
    from django.test import Client

    srv = smtp_listener(kind="smtp", localserve=True)
    with smtplib.SMTP(srv.host, srv.port) as c:
        c.ehlo("client.example")
        c.sendmail("a@example.org", ["whoever@anywhere.example"], b"From: a@example.org\r\nSubject: hi\r\n\r\nhello\r\n")
    client = Client()
    client.force_login(admin_user)
    html = client.get("/admin/deliveries/").text
    [row] = _rows(html, "incoming")
    assert row.split(" ", 2)[2].startswith("a@example.org whoever@anywhere.example mox / Inbox 127.0.0.1 (client.example)")


def test_it_says_when_there_is_nothing_yet(admin_client, db):
    html = admin_client.get("/admin/deliveries/").text
    assert "No messages received over SMTP yet." in html
    assert "No delivery attempts yet." in html


def test_only_the_latest_attempts_are_kept(db):
    from django.utils import timezone

    for i in range(12):
        record_attempt(time=timezone.now(), queue_id=i, attempt=1, sender="", recipient=f"r{i}@x.example", result="delivered")
    assert prune(keep=5) == 7
    assert list(DeliveryAttempt.objects.values_list("queue_id", flat=True)) == [11, 10, 9, 8, 7]
    assert prune(keep=5) == 0


@pytest.mark.django_db(transaction=True)
def test_refused_incoming_mail_is_shown_with_its_reason_and_not_as_delivered(admin_user, raw_smtp, alice, listener):  # noqa: F811
    from django.test import Client

    from tests.smtp.incoming import message, send

    c = raw_smtp(listener)
    # The From domain's DMARC policy is reject and MAIL FROM is another domain's: refused.
    assert send(c, "x@client.example", message("ceo@sender.example")) == "550 5.7.26 rejecting per dmarc policy"
    assert send(c, "bob@sender.example", message("bob@sender.example")) == "250 2.2.0 it is done"
    client = Client()
    client.force_login(admin_user)
    html = client.get("/admin/deliveries/").text
    [refused] = _rows(html, "refused")
    assert refused.split(" ", 2)[2].startswith(
        "x@client.example alice@example.test alice / Inbox 127.0.0.1 (client.example) dmarc-policy "
    )
    [incoming] = _rows(html, "incoming")
    assert incoming.split(" ", 2)[2].startswith("bob@sender.example alice@example.test alice / Inbox 127.0.0.1")


def test_a_reason_is_read_from_the_first_prefix_line():
    from webadmin.refusals import reason_of

    assert reason_of(b"X-Mox-Reason: junk-content\r\nReturn-Path: <a@b>\r\n") == "junk-content"
    assert reason_of(b"Return-Path: <a@b>\r\n") == ""


def test_a_reject_accepted_into_a_rulesets_mailbox_counts_as_delivered(admin_client, alice):
    from django.utils import timezone

    from mailstore.actions import deliver_bytes
    from mailstore.models import Mailbox, Message
    from webadmin.today import today

    refused = deliver_bytes(alice, "Rejects", b"Subject: refused\r\n\r\nx\r\n", prefix=b"X-Mox-Reason: junk-content\r\n")
    accepted = deliver_bytes(alice, "Lists", b"Subject: list\r\n\r\nx\r\n", prefix=b"X-Mox-Reason: junk-content\r\n")
    inbox = Mailbox.objects.get(account=alice, name="Inbox")
    for m in (refused, accepted):
        Message.objects.filter(pk=m.pk).update(remote_ip="192.0.2.1", mailbox_destined=inbox.pk, mailbox_orig=m.mailbox_id)
    html = admin_client.get("/admin/deliveries/").text
    assert len(_rows(html, "refused")) == 1 and "alice / Rejects" not in _rows(html, "incoming")[0]
    assert "alice / Lists" in _rows(html, "incoming")[0]
    t = today(timezone.now())
    assert (t.delivered, t.refused) == (1, 1)
