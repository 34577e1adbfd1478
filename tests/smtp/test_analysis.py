"""Incoming mail on port 25 judged before the reply to DATA: DMARC, SPF, the junk filter,
with Authentication-Results in the stored prefix (mox-v0.0.5 1.1.11)."""
from __future__ import annotations

import pytest

from mailstore.files import read_message
from mailstore.models import Message

pytestmark = pytest.mark.django_db(transaction=True)

SENDER_ZONE = """
$ORIGIN sender.example.
@       A    192.0.2.1
@       TXT  "v=spf1 ip4:127.0.0.1 -all"
_dmarc  TXT  "v=DMARC1; p=reject"
$ORIGIN client.example.
@       A    192.0.2.3
@       TXT  "v=spf1 ip4:127.0.0.1 -all"
"""


def send(c, sender: str, from_header: str, body: str = "hello") -> list[str]:  # type: ignore[no-untyped-def]
    out = [c.cmd("EHLO client.example"), c.cmd(f"MAIL FROM:<{sender}>"), c.cmd("RCPT TO:<alice@example.test>")]
    out.append(c.cmd("DATA"))
    out.append(c.cmd(f"From: <{from_header}>\r\nTo: alice@example.test\r\nSubject: test\r\n\r\n{body}\r\n."))
    return out


@pytest.fixture
def listener(smtp_listener, dns_server):  # type: ignore[no-untyped-def]
    dns_server.add_zone(SENDER_ZONE)
    return smtp_listener(localserve=False, hostname="mail.example.test")


def test_it_accepts_aligned_mail_and_stores_authentication_results(listener, raw_smtp, alice):
    c = raw_smtp(listener)
    assert send(c, "bob@sender.example", "bob@sender.example")[-1] == "250 2.2.0 it is done"
    [msg] = Message.objects.filter(account=alice)
    prefix = bytes(msg.prefix).decode().replace("\r\n\t", " ")
    assert (
        "Authentication-Results: mail.example.test; iprev=permerror policy.iprev=127.0.0.1; dkim=none; "
        "spf=pass smtp.mailfrom=bob@sender.example; dmarc=pass header.from=sender.example\r\n"
    ) in prefix
    assert prefix.index("Authentication-Results:") < prefix.index("Received-SPF:") < prefix.index("Received:")
    assert msg.validations["spf"] == "pass" and msg.validations["dmarc"] == "pass"
    assert read_message(msg.path).startswith(b"From: <bob@sender.example>\r\n")


def test_it_rejects_per_dmarc_policy_and_stores_nothing(listener, raw_smtp, alice):
    c = raw_smtp(listener)
    # MAIL FROM passes SPF for another domain; the From domain's DMARC policy is reject.
    assert send(c, "x@client.example", "ceo@sender.example")[-1] == "550 5.7.26 rejecting per dmarc policy"
    assert Message.objects.filter(account=alice).count() == 0


def test_it_turns_away_an_spf_softfail_without_dmarc_pass(smtp_listener, dns_server, raw_smtp, alice):
    dns_server.add_zone("""
$ORIGIN soft.example.
@  A    192.0.2.2
@  TXT  "v=spf1 ip4:192.0.2.0/24 ~all"
""")
    c = raw_smtp(smtp_listener(localserve=False, hostname="mail.example.test"))
    assert send(c, "a@soft.example", "a@soft.example")[-1] == "451 4.3.0 error processing"
    assert Message.objects.filter(account=alice).count() == 0


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
    before = Message.objects.filter(account=alice, mailbox__name="Inbox").count()
    c = raw_smtp(listener)
    assert send(c, "bob@sender.example", "bob@sender.example", "buy cheap pills viagra casino now")[-1] == (
        "451 4.3.0 error processing")
    c2 = raw_smtp(listener)
    assert send(c2, "bob@sender.example", "bob@sender.example", "notes of the project meeting agenda")[-1] == (
        "250 2.2.0 it is done")
    assert Message.objects.filter(account=alice, mailbox__name="Inbox").count() == before + 1
