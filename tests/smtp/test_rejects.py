"""The Rejects mailbox (mox-v0.0.5 1.1.13): rejected incoming mail is kept, Seen, once,
for 14 days and at most 1000 messages; a later delivery of the same Message-ID removes
it; moving it out makes it count for the mailbox it was meant for."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from mailstore import actions
from mailstore.actions import deliver_bytes, move
from mailstore.files import message_path, read_message
from mailstore.models import Mailbox, Message
from tests.smtp.incoming import message, reason_of, send
from tests.smtp.incoming import listener  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db(transaction=True)


def rejects(account) -> list[Message]:  # type: ignore[no-untyped-def]
    return list(Message.objects.filter(account=account, mailbox__name="Rejects").order_by("id"))


def test_a_reject_is_kept_once_and_removed_when_the_message_gets_through(listener, raw_smtp, dns_server, alice):
    c = raw_smtp(listener)
    data = message("a@soft.example", msgid="m1@soft.example")
    assert send(c, "a@soft.example", data) == "451 4.3.0 error processing"
    # The sender retries: the same Message-ID is not stored again.
    assert send(c, "a@soft.example", data) == "451 4.3.0 error processing"
    [kept] = rejects(alice)
    assert (kept.seen, kept.junk, kept.notjunk, kept.message_id) == (True, False, False, "<m1@soft.example>")
    assert reason_of(kept) == "spf-policy"
    inbox = Mailbox.objects.get(account=alice, name="Inbox")
    assert (kept.mailbox_orig, kept.mailbox_destined) == (kept.mailbox_id, inbox.pk)
    assert read_message(kept.path) == data[:-1].encode()
    path = message_path(kept.path)
    # The sender fixes SPF; the retry is delivered and the copy leaves Rejects.
    dns_server.remove("soft.example")
    dns_server.add("soft.example", "A", "192.0.2.2")
    dns_server.add("soft.example", "TXT", "v=spf1 ip4:127.0.0.1 -all")
    assert send(c, "a@soft.example", data) == "250 2.2.0 it is done"
    assert rejects(alice) == []
    assert not path.exists()
    [delivered] = Message.objects.filter(account=alice, mailbox=inbox)
    assert reason_of(delivered) == "no-bad-signals"


def test_without_a_message_id_the_hash_finds_the_duplicate(listener, raw_smtp, alice):
    c = raw_smtp(listener)
    for _ in range(2):
        assert send(c, "a@soft.example", message("a@soft.example")) == "451 4.3.0 error processing"
    [kept] = rejects(alice)
    assert kept.message_hash == __import__("hashlib").sha256(message("a@soft.example")[:-1].encode()).hexdigest()
    assert send(c, "a@soft.example", message("a@soft.example", body="other")) == "451 4.3.0 error processing"
    assert len(rejects(alice)) == 2


def test_old_rejects_are_tidied_and_a_full_mailbox_takes_no_more(listener, raw_smtp, alice, monkeypatch):
    old = deliver_bytes(alice, "Rejects", b"Subject: old\r\n\r\nold\r\n", received=timezone.now() - timedelta(days=15))
    recent = deliver_bytes(alice, "Rejects", b"Subject: recent\r\n\r\nrecent\r\n",
                           received=timezone.now() - timedelta(days=13))
    c = raw_smtp(listener)
    assert send(c, "a@soft.example", message("a@soft.example", msgid="n1@x")) == "451 4.3.0 error processing"
    assert [m.pk for m in rejects(alice)][:1] == [recent.pk]
    assert not Message.objects.filter(pk=old.pk).exists()
    assert len(rejects(alice)) == 2
    # With as many messages as allowed left after tidying, the reject is not kept.
    monkeypatch.setattr(actions, "REJECTS_MAX_MESSAGES", 2)
    assert send(c, "a@soft.example", message("a@soft.example", msgid="n2@x")) == "451 4.3.0 error processing"
    assert [m.message_id for m in rejects(alice)] == ["", "<n1@x>"]


def test_rejects_can_be_turned_off_and_never_use_the_inbox(listener, raw_smtp, alice):
    c = raw_smtp(listener)
    for name in ("", "INBOX"):
        alice.rejects_mailbox = name
        alice.save(update_fields=["rejects_mailbox"])
        assert send(c, "a@soft.example", message("a@soft.example", msgid=f"{name}@x")) == "451 4.3.0 error processing"
    assert Message.objects.filter(account=alice).count() == 0
    assert not Mailbox.objects.filter(account=alice, name="Rejects").exists()


def test_a_reject_for_a_ruleset_mailbox_remembers_it_and_moving_it_out_makes_it_count(listener, raw_smtp, alice):
    alice.rulesets = [{"smtp_mail_from_regexp": "@soft\\.example$", "mailbox": "Soft"}]
    alice.save(update_fields=["rulesets"])
    deliver_bytes(alice, "Soft", b"Subject: first\r\n\r\nx\r\n")  # the mailbox exists
    c = raw_smtp(listener)
    assert send(c, "a@soft.example", message("a@soft.example", msgid="r1@x")) == "451 4.3.0 error processing"
    [kept] = rejects(alice)
    soft = Mailbox.objects.get(account=alice, name="Soft")
    assert kept.mailbox_destined == soft.pk
    result = move(alice, kept.mailbox_id, [kept.uid], "Archive")
    [moved] = Message.objects.filter(account=alice, mailbox__name="Archive", uid__in=result.dest_uids)
    assert (moved.mailbox_orig, moved.mailbox_destined) == (soft.pk, None)
    # Moving an ordinary message keeps where it was delivered.
    first = Message.objects.get(account=alice, mailbox=soft)
    result = move(alice, soft.pk, [first.uid], "Trash")
    assert Message.objects.get(account=alice, mailbox__name="Trash").mailbox_orig == soft.pk
