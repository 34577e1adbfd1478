"""A DSN for the recipients that failed while others were delivered (mox-v0.0.5 1.1.12),
queued to the MAIL FROM address with a null reverse path; and the first-time sender
delay, once per message (1.1.10)."""
from __future__ import annotations

import pytest

from mailqueue.dsn import message_bytes
from mailqueue.models import QueuedMessage
from mailstore.models import Message
from tests.smtp.incoming import message, reason_of, send
from tests.smtp.incoming import listener  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_partly_failed_delivery_queues_one_dsn_to_the_sender(listener, raw_smtp, alice, bob):
    bob.quota_bytes = 10  # bob's delivery fails: over quota
    bob.save(update_fields=["quota_bytes"])
    c = raw_smtp(listener)
    data = message("carol@sender.example", subject="to both", msgid="both@sender.example")
    assert send(c, "carol@sender.example", data, rcpts=("alice@example.test", "bob@example.test")) == (
        "250 2.2.0 it is done")
    assert Message.objects.filter(account=alice, mailbox__name="Inbox").count() == 1
    assert Message.objects.filter(account=bob).count() == 0
    [qm] = QueuedMessage.objects.all()
    assert (qm.sender_localpart, qm.sender_domain, qm.recipient_localpart, qm.recipient_domain, qm.account_id) == (
        "", "", "carol", "sender.example", None)
    dsn = message_bytes(qm).decode()
    head, _, body = dsn.partition("\r\n\r\n")
    assert "From: <postmaster@example.test>\r\nTo: <carol@sender.example>\r\nSubject: mail delivery failure\r\n" in head
    text = body.split("Content-Type: message/delivery-status")[0]
    # Each failed recipient with its own error (mox swaps the two in its text).
    assert "\tbob@example.test\r\n\t\t452 4.2.2 mailbox full\r\n" in text
    assert "alice@example.test" not in text
    status = body.split("Content-Type: message/delivery-status\r\n\r\n", 1)[1].split("\r\n--", 1)[0]
    assert status.split("\r\n") == [
        "Reporting-MTA: dns; mail.example.test",
        "Received-From-MTA: dns; client.example (127.0.0.1)",
        status.split("\r\n")[2],
        "",
        "Final-Recipient: rfc822; bob@example.test",
        "Action: failed",
        "Status: 4.2.2",
        "Diagnostic-Code: smtp; 452 4.2.2 mailbox full",
        "",
    ]
    assert status.split("\r\n")[2].startswith("Arrival-Date: ")
    assert "Content-Type: text/rfc822-headers\r\n" in body and "Message-ID: <both@sender.example>\r\n" in body


def test_no_dsn_when_all_fail_or_all_succeed(listener, raw_smtp, alice, bob):
    c = raw_smtp(listener)
    assert send(c, "carol@sender.example", message("carol@sender.example"),
                rcpts=("alice@example.test", "bob@example.test")) == "250 2.2.0 it is done"
    alice.quota_bytes = bob.quota_bytes = 10
    alice.save(update_fields=["quota_bytes"])
    bob.save(update_fields=["quota_bytes"])
    assert send(c, "carol@sender.example", message("carol@sender.example", msgid="2@x"),
                rcpts=("alice@example.test", "bob@example.test")) == "452 4.2.2 mailbox full"
    assert QueuedMessage.objects.count() == 0


def test_the_first_time_sender_delay_is_waited_once_per_message(listener, raw_smtp, alice, bob):
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    listener.config.sleep = sleep
    listener.config.first_time_sender_delay = 7
    c = raw_smtp(listener)
    assert send(c, "carol@sender.example", message("carol@sender.example"),
                rcpts=("alice@example.test", "bob@example.test")) == "250 2.2.0 it is done"
    assert slept == [7]
    assert reason_of(Message.objects.get(account=bob)) == "no-bad-signals"
    # A sender with reputation is not delayed; nor an account that opted out.
    first = Message.objects.get(account=alice)
    from mailstore.actions import set_flags

    set_flags(alice.pk, first.mailbox_id, [first.uid], "add", ["$NotJunk"])
    bob.first_time_sender_delay = False
    bob.save(update_fields=["first_time_sender_delay"])
    slept.clear()
    assert send(c, "carol@sender.example", message("carol@sender.example", msgid="2@x"),
                rcpts=("alice@example.test", "bob@example.test")) == "250 2.2.0 it is done"
    assert slept == []
    assert reason_of(Message.objects.filter(account=alice).latest("id")) == "msgfromfull"


def test_a_dsn_returning_utf8_headers_is_queued_in_two_variants(listener, raw_smtp, alice, bob):
    # mox-v0.0.5 1.1.12: a 7-bit variant (the queued file) for a next hop without
    # SMTPUTF8, and the UTF-8 one (RFC 6533 message/global-headers) beside it.
    bob.quota_bytes = 10
    bob.save(update_fields=["quota_bytes"])
    c = raw_smtp(listener)
    data = message("carol@sender.example", subject="Grüße", msgid="utf8@sender.example")
    assert send(c, "carol@sender.example", data, rcpts=("alice@example.test", "bob@example.test")) == (
        "250 2.2.0 it is done")
    [qm] = QueuedMessage.objects.all()
    seven_bit, utf8 = message_bytes(qm), bytes(qm.dsn_utf8)
    assert seven_bit.isascii() and not qm.smtputf8 and not qm.has_8bit
    assert b"Content-Type: message/delivery-status\r\n" in seven_bit
    assert b"Content-Type: text/rfc822-headers\r\nContent-Transfer-Encoding: quoted-printable\r\n" in seven_bit
    assert b"Subject: Gr=C3=BC=C3=9Fe\r\n" in seven_bit
    assert b"Content-Type: message/global-delivery-status\r\n" in utf8
    assert b"Content-Type: message/global-headers\r\nContent-Transfer-Encoding: 8bit\r\n" in utf8
    assert "Subject: Grüße\r\n".encode() in utf8
