"""Incoming mail on port 25 judged before the reply to DATA: DMARC, SPF, suspicious
iprev, the junk filter, with Authentication-Results and X-Mox-Reason in the stored
prefix (mox-v0.0.5 1.1.11)."""
from __future__ import annotations

import pytest

from mailstore.files import read_message
from mailstore.models import Message
from tests.smtp.incoming import ZONE, message, prefix_of, reason_of, send
from tests.smtp.incoming import in_mailbox as inbox
from tests.smtp.incoming import listener  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_accepts_aligned_mail_and_stores_authentication_results(listener, raw_smtp, alice):
    c = raw_smtp(listener)
    assert send(c, "bob@sender.example", message("bob@sender.example")) == "250 2.2.0 it is done"
    [msg] = inbox(alice)
    prefix = prefix_of(msg).replace("\r\n\t", " ")
    assert prefix.startswith("X-Mox-Reason: no-bad-signals\r\nReturn-Path: <bob@sender.example>\r\n")
    assert (
        "Authentication-Results: mail.example.test; iprev=pass policy.iprev=127.0.0.1 (client.example.org); dkim=none; "
        "spf=pass smtp.mailfrom=bob@sender.example; dmarc=pass header.from=sender.example\r\n"
    ) in prefix
    assert prefix.index("Authentication-Results:") < prefix.index("Received-SPF:") < prefix.index("Received:")
    assert msg.validations["spf"] == "pass" and msg.validations["dmarc"] == "pass"
    assert read_message(msg.path).startswith(b"From: <bob@sender.example>\r\n")
    # What reputation will look at later.
    assert (msg.msg_from_localpart, msg.msg_from_domain, msg.msg_from_orgdomain, msg.msg_from_validation,
            msg.msg_from_validated) == ("bob", "sender.example", "sender.example", "strict", True)
    assert (msg.mail_from_localpart, msg.mail_from_domain, msg.mail_from_validation, msg.mail_from_validated,
            msg.ehlo_domain, msg.ehlo_validated) == ("bob", "sender.example", "pass", True, "client.example", False)
    assert (msg.remote_ip_masked1, msg.remote_ip_masked2, msg.remote_ip_masked3) == (
        "127.0.0.1/32", "127.0.0.0/26", "127.0.0.0/21")
    assert msg.mailbox_orig == msg.mailbox_id and msg.mailbox_destined is None


def test_it_rejects_per_dmarc_policy_and_keeps_the_reject(listener, raw_smtp, alice):
    c = raw_smtp(listener)
    # MAIL FROM passes SPF for another domain; the From domain's DMARC policy is reject.
    assert send(c, "x@client.example", message("ceo@sender.example")) == "550 5.7.26 rejecting per dmarc policy"
    assert inbox(alice) == []
    [kept] = Message.objects.filter(account=alice, mailbox__name="Rejects")
    assert reason_of(kept) == "dmarc-policy"
    assert (kept.msg_from_validation, kept.seen) == ("none", True)


def test_it_turns_away_an_spf_softfail_without_reputation(listener, raw_smtp, alice):
    c = raw_smtp(listener)
    assert send(c, "a@soft.example", message("a@soft.example")) == "451 4.3.0 error processing"
    assert inbox(alice) == []
    [kept] = Message.objects.filter(account=alice, mailbox__name="Rejects")
    assert (reason_of(kept), kept.mail_from_validation) == ("spf-policy", "softfail")


def test_a_suspicious_iprev_caps_the_junk_threshold(smtp_listener, dns_server, raw_smtp, alice):
    # No PTR for 127.0.0.1: iprev permerror. The untrained filter says 0.5, above the cap
    # of 0.25 that applies to senders without reputation and without iprev pass.
    dns_server.add_zone(ZONE)
    srv = smtp_listener(localserve=False, hostname="mail.example.test")
    dns_server.remove("1.0.0.127.in-addr.arpa")
    c = raw_smtp(srv)
    assert send(c, "bob@sender.example", message("bob@sender.example")) == "451 4.3.0 error processing"
    [kept] = Message.objects.filter(account=alice, mailbox__name="Rejects")
    assert reason_of(kept) == "junk-content-strict"
    # Without a junk filter nothing caps it: accepted for want of bad signals.
    alice.junk_filter = {}
    alice.save(update_fields=["junk_filter"])
    c2 = raw_smtp(srv)
    assert send(c2, "bob@sender.example", message("bob@sender.example", msgid="2@x")) == "250 2.2.0 it is done"
    assert reason_of(inbox(alice)[0]) == "no-bad-signals"


def test_the_junk_filter_refuses_spam_after_training(listener, raw_smtp, alice):
    from mailstore import junk
    from mailstore.actions import deliver_bytes

    for i in range(10):
        spam = deliver_bytes(alice, "Junk", f"Subject: cheap pills {i}\r\n\r\nbuy cheap pills viagra casino now {i}\r\n".encode(),
                             flags={"$Junk"})
        junk.retrain_for_flags(spam)
        ham = deliver_bytes(alice, "Archive", f"Subject: meeting {i}\r\n\r\nthe project meeting agenda notes {i}\r\n".encode(),
                            flags={"$NotJunk"})
        junk.retrain_for_flags(ham)
    c = raw_smtp(listener)
    assert send(c, "bob@sender.example", message("bob@sender.example", body="buy cheap pills viagra casino now")) == (
        "451 4.3.0 error processing")
    [kept] = Message.objects.filter(account=alice, mailbox__name="Rejects")
    assert reason_of(kept) == "junk-content"
    c2 = raw_smtp(listener)
    assert send(c2, "bob@sender.example",
                message("bob@sender.example", body="notes of the project meeting agenda")) == "250 2.2.0 it is done"
    [msg] = inbox(alice)
    assert reason_of(msg) == "no-bad-signals"
    assert float(msg.validations["junk_probability"]) < 0.5


def test_bad_iprev_with_a_junk_lean_is_refused(smtp_listener, dns_server, raw_smtp, alice):
    from datetime import timedelta

    from django.utils import timezone

    from mailstore.actions import DeliveryInfo, deliver_bytes

    # Three junk messages from the same /26: a lean, not conclusive (that needs 5).
    for i in range(3):
        deliver_bytes(alice, "Inbox", f"Subject: {i}\r\n\r\nx\r\n".encode(), flags={"$Junk"},
                      received=timezone.now() - timedelta(days=1), info=DeliveryInfo(remote_ip=f"127.0.0.{10 + i}"))
    alice.junk_filter = {}
    alice.save(update_fields=["junk_filter"])
    dns_server.add_zone(ZONE)
    srv = smtp_listener(localserve=False, hostname="mail.example.test")
    c = raw_smtp(srv)
    dns_server.remove("1.0.0.127.in-addr.arpa")
    assert send(c, "bob@sender.example", message("bob@sender.example")) == "451 4.3.0 error processing"
    [kept] = Message.objects.filter(account=alice, mailbox__name="Rejects")
    assert reason_of(kept) == "iprev"
    # With iprev passing, the same lean is not enough to refuse.
    dns_server.add("1.0.0.127.in-addr.arpa", "PTR", "client.example.org.")
    c2 = raw_smtp(srv)
    assert send(c2, "bob@sender.example", message("bob@sender.example", msgid="2@x")) == "250 2.2.0 it is done"


def test_a_rejected_delivery_slows_the_connection_down(listener, raw_smtp, alice):
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    listener.config.sleep = sleep
    listener.config.slow_delay = 0.5
    c = raw_smtp(listener)
    assert send(c, "a@soft.example", message("a@soft.example")) == "451 4.3.0 error processing"
    assert c.cmd("NOOP") == "250 2.0.0 alrighty"
    # The replies were written a byte a second (here: 0.5) and the read of NOOP waited
    # first (the read after it may have started already).
    written = len("451 4.3.0 error processing\r\n") - 1 + len("250 2.0.0 alrighty\r\n") - 1
    assert set(slept) == {0.5} and len(slept) in (written + 1, written + 2)


def test_a_valid_dmarc_report_is_accepted_as_reporting_and_marked_seen(smtp_listener, dns_server, raw_smtp, alice):
    from reports.actions import set_reporting_address
    from reports.models import DMARCReport
    from tests.reports import samples
    from tests.reports.conftest import add_reporter_zone, signed

    add_reporter_zone(dns_server)
    set_reporting_address(alice.domain, "dmarc", "dmarc-reports", alice)
    c = raw_smtp(smtp_listener(localserve=False, hostname="mail.example.test"))
    data = signed(samples.google_dmarc(samples.feedback_xml()), "google.com", "mail").decode()
    assert send(c, "noreply-dmarc-support@google.com", data + ".", rcpts=("dmarc-reports@example.test",)) == (
        "250 2.2.0 it is done")
    [msg] = Message.objects.filter(account=alice)
    assert (reason_of(msg), msg.mailbox.name, msg.seen) == ("reporting", "DMARC", True)
    assert DMARCReport.objects.get().message_id == msg.pk
