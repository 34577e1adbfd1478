"""mox v0.0.6's ruleset options IsForward and AcceptRejectsToMailbox, and the account's
KeepRejects, end to end over port 25 with the test DNS server: a forwarder we trust is
not refused for the From domain's DMARC policy nor judged (or remembered) by its own
IP, EHLO and MAIL FROM domain; a mailing list's junk is accepted into its own mailbox;
the Rejects mailbox is kept as it is."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from mailstore import actions, junk, rulesets
from mailstore.actions import DeliveryInfo, deliver_bytes
from mailstore.models import Mailbox, Message
from tests.smtp.incoming import in_mailbox, message, reason_of, send
from tests.smtp.incoming import listener  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db(transaction=True)

# The forwarder delivers with its own envelope (x@client.example, SPF pass for
# 127.0.0.1); the From domain sender.example publishes p=reject.
FORWARDER = {"smtp_mail_from_regexp": "^x@client\\.example$", "verified_domain": "client.example",
             "mailbox": "Forwarded"}


def set_rulesets(account, *items: dict) -> None:  # type: ignore[no-untyped-def]
    account.rulesets = rulesets.normalize(list(items))
    account.save(update_fields=["rulesets"])


def test_a_forwarded_message_failing_dmarc_reject_is_accepted_only_with_is_forward(listener, raw_smtp, alice):
    c = raw_smtp(listener)
    set_rulesets(alice, FORWARDER)
    data = message("ceo@sender.example", msgid="f1@sender.example")
    assert send(c, "x@client.example", data) == "550 5.7.26 rejecting per dmarc policy"
    assert in_mailbox(alice, "Forwarded") == []
    set_rulesets(alice, {**FORWARDER, "is_forward": True})
    c2 = raw_smtp(listener)
    assert send(c2, "x@client.example", data) == "250 2.2.0 it is done"
    [msg] = in_mailbox(alice, "Forwarded")
    # Judged by the rest of the pipeline: the junk filter says 0.5, below the threshold.
    assert reason_of(msg) == "no-bad-signals"
    assert msg.validations["dmarc"] == "fail" and float(msg.validations["junk_probability"]) == 0.5
    # Stored without the forwarder's signals, so later mail from it is not judged by them.
    assert (msg.remote_ip_masked1, msg.remote_ip_masked2, msg.remote_ip_masked3) == ("", "", "")
    assert (msg.ehlo_domain, msg.mail_from_domain, msg.mail_from) == ("", "", "x@client.example")
    assert msg.remote_ip == "127.0.0.1"  # kept, as mox keeps RemoteIP
    assert (msg.msg_from_domain, msg.mail_from_validated) == ("sender.example", True)
    # The reject of the first attempt (same Message-ID) left Rejects with the delivery.
    assert in_mailbox(alice, "Rejects") == []


def test_the_forwarders_ip_does_not_count_toward_reputation(listener, raw_smtp, alice):
    # Two junk messages from 127.0.0.1: conclusive spam by IP (mox ip1 needs 2).
    for i in range(2):
        deliver_bytes(alice, "Inbox", f"Subject: {i}\r\n\r\nx\r\n".encode(), flags={"$Junk"},
                      received=timezone.now() - timedelta(days=1), info=DeliveryInfo(remote_ip="127.0.0.1"))
    data = message("bob@other.example", msgid="f2@other.example")
    set_rulesets(alice, {**FORWARDER, "mailbox": "Inbox"})
    c = raw_smtp(listener)
    assert send(c, "x@client.example", data) == "451 4.3.0 error processing"
    [kept] = in_mailbox(alice, "Rejects")
    assert reason_of(kept) == "ip1"
    set_rulesets(alice, {**FORWARDER, "mailbox": "Inbox", "is_forward": True})
    c2 = raw_smtp(listener)
    assert send(c2, "x@client.example", data) == "250 2.2.0 it is done"
    delivered = [m for m in in_mailbox(alice) if not m.junk]
    assert [reason_of(m) for m in delivered] == ["no-bad-signals"]


def _train(account) -> None:  # type: ignore[no-untyped-def]
    for i in range(10):
        spam = deliver_bytes(account, "Junk", f"Subject: cheap pills {i}\r\n\r\nbuy cheap pills viagra casino now {i}\r\n"
                             .encode(), flags={"$Junk"})
        junk.retrain_for_flags(spam)
        ham = deliver_bytes(account, "Archive", f"Subject: meeting {i}\r\n\r\nthe project meeting agenda notes {i}\r\n"
                            .encode(), flags={"$NotJunk"})
        junk.retrain_for_flags(ham)


def test_junk_matching_accept_rejects_to_mailbox_is_accepted_into_that_mailbox(listener, raw_smtp, alice):
    _train(alice)
    set_rulesets(alice, {"headers_regexp": {"^list-id$": "dev\\.other\\.example"}, "mailbox": "Lists",
                         "accept_rejects_to_mailbox": "Junk/Lists"})
    deliver_bytes(alice, "Lists", b"Subject: earlier\r\n\r\nx\r\n")  # the mailbox it was meant for exists
    spam = "buy cheap pills viagra casino now"
    c = raw_smtp(listener)
    listed = message("bob@other.example", body=spam, msgid="l1@x", extra="List-Id: <dev.other.example>\r\n")
    assert send(c, "bob@other.example", listed) == "250 2.2.0 it is done"
    [msg] = in_mailbox(alice, "Junk/Lists")
    # The refusal's reason, seen, and the automatic junk flags of that mailbox (^junk).
    assert reason_of(msg) == "junk-content"
    assert (msg.seen, msg.junk, msg.notjunk) == (True, True, False)
    assert msg.mailbox_destined == Mailbox.objects.get(account=alice, name="Lists").pk
    assert in_mailbox(alice, "Rejects") == [] and len(in_mailbox(alice, "Lists")) == 1
    # The same junk without the list's header matches no ruleset: refused as before.
    c2 = raw_smtp(listener)
    assert send(c2, "bob@other.example", message("bob@other.example", body=spam, msgid="l2@x")) == (
        "451 4.3.0 error processing")
    [kept] = in_mailbox(alice, "Rejects")
    assert reason_of(kept) == "junk-content"
    # Moved out, it was judged wrongly: it counts for the reputation of Lists from now on.
    result = actions.move(alice, msg.mailbox_id, [msg.uid], "Lists")
    [moved] = Message.objects.filter(account=alice, mailbox__name="Lists", uid__in=result.dest_uids)
    assert (moved.mailbox_orig, moved.mailbox_destined) == (msg.mailbox_destined, None)


def test_a_dmarc_reject_matching_accept_rejects_to_mailbox_is_accepted_too(listener, raw_smtp, alice):
    set_rulesets(alice, {"smtp_mail_from_regexp": "@client\\.example$", "mailbox": "Lists",
                         "accept_rejects_to_mailbox": "Lists/Rejected"})
    c = raw_smtp(listener)
    assert send(c, "x@client.example", message("ceo@sender.example")) == "250 2.2.0 it is done"
    [msg] = in_mailbox(alice, "Lists/Rejected")
    assert (reason_of(msg), msg.seen, msg.junk) == ("dmarc-policy", True, False)


def rejects(account) -> list[Message]:  # type: ignore[no-untyped-def]
    return in_mailbox(account, "Rejects")


@pytest.mark.parametrize("keep", [False, True])
def test_rejects_older_than_14_days_are_cleaned_unless_keep_rejects(listener, raw_smtp, alice, monkeypatch, keep):
    alice.keep_rejects = keep
    alice.save(update_fields=["keep_rejects"])
    old = deliver_bytes(alice, "Rejects", b"Subject: old\r\n\r\nold\r\n", received=timezone.now() - timedelta(days=15))
    c = raw_smtp(listener)
    assert send(c, "a@soft.example", message("a@soft.example", msgid="k1@x")) == "451 4.3.0 error processing"
    assert Message.objects.filter(pk=old.pk).exists() is keep
    assert [m.message_id for m in rejects(alice)] == (["", "<k1@x>"] if keep else ["<k1@x>"])
    # Nor is there a limit on their number when they are kept.
    monkeypatch.setattr(actions, "REJECTS_MAX_MESSAGES", 1)
    assert send(c, "a@soft.example", message("a@soft.example", msgid="k2@x")) == "451 4.3.0 error processing"
    assert [m.message_id for m in rejects(alice)] == (["", "<k1@x>", "<k2@x>"] if keep else ["<k1@x>"])


def test_the_options_are_validated():
    with pytest.raises(rulesets.RulesetError, match="is_forward needs smtp_mail_from_regexp and verified_domain"):
        rulesets.parse([{"verified_domain": "client.example", "is_forward": True, "mailbox": "F"}])
    with pytest.raises(rulesets.RulesetError, match="cannot have both is_forward and list_allow_domain"):
        rulesets.parse([{**FORWARDER, "is_forward": True, "list_allow_domain": "client.example"}])
    with pytest.raises(rulesets.RulesetError, match="accept_rejects_to_mailbox cannot be Inbox"):
        rulesets.parse([{**FORWARDER, "accept_rejects_to_mailbox": "inbox"}])
    with pytest.raises(rulesets.RulesetError, match="is_forward must be true or false"):
        rulesets.parse([{**FORWARDER, "is_forward": "yes"}])
    stored = rulesets.normalize([{**FORWARDER, "is_forward": True, "accept_rejects_to_mailbox": " Lists/Junk "}])
    assert stored == [{**FORWARDER, "is_forward": True, "accept_rejects_to_mailbox": "Lists/Junk"}]
    # Off is left out of the stored JSON.
    assert rulesets.normalize([{**FORWARDER, "is_forward": False, "accept_rejects_to_mailbox": ""}]) == [FORWARDER]


def test_forwarded_mail_gets_no_first_time_sender_delay_and_accepted_rejects_are_seen():
    from smtpserver.analysis import Decision

    plain = rulesets.parse([FORWARDER])[0]
    forward = rulesets.parse([{**FORWARDER, "is_forward": True}])[0]
    assert Decision(True, "no-bad-signals", "Inbox", ruleset=plain).delays_first_time
    assert not Decision(True, "no-bad-signals", "Inbox", ruleset=forward).delays_first_time
    assert not Decision(True, "no-bad-signals", "Inbox").seen
    accepted = Decision(True, "junk-content", "Junk/Lists", accepted_reject=True, destined="Lists")
    assert accepted.seen and not accepted.delays_first_time
    assert accepted.stored_info(DeliveryInfo(remote_ip="127.0.0.1")) == DeliveryInfo(
        remote_ip="127.0.0.1", destined_mailbox="Lists")
    assert Decision(True, "", "F", ruleset=forward).stored_info(DeliveryInfo(
        remote_ip="127.0.0.1", ehlo_domain="client.example", mail_from_domain="client.example",
        dkim_domains=["client.example", "sender.example"])) == DeliveryInfo(
        remote_ip="127.0.0.1", dkim_domains=["sender.example"], forwarded=True)
