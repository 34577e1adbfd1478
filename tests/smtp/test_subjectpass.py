"""Subjectpass (mox-v0.0.5 1.1.11 steps 9 and 13): a DMARC-passing sender without any
reputation whose message is refused on a DNSBL listing is told a token; sent again with
the token in the Subject, the message gets through during the account's period."""
from __future__ import annotations

import re

import pytest

from mailcore import subjectpass
from mailcore.authn.dnsbl import query_name
from mailstore.models import Message
from tests.smtp.incoming import message, reason_of, send

pytestmark = pytest.mark.django_db(transaction=True)

ZONE6 = """
$ORIGIN sender.example.
@       AAAA 2001:db8::1
@       TXT  "v=spf1 ip6:::1 -all"
_dmarc  TXT  "v=DMARC1; p=reject"
$ORIGIN client.example.
@       AAAA ::1
"""


@pytest.fixture
def listed(smtp_listener, dns_server, settings, alice):  # type: ignore[no-untyped-def]
    """A listener on ::1, which the bl.example zone lists; alice has subjectpass on and
    no junk filter (so the DNSBL decides)."""
    dns_server.add_zone(ZONE6)
    dns_server.add(query_name("127.0.0.2", "bl.example"), "A", "127.0.0.2")
    dns_server.add(query_name("::1", "bl.example"), "A", "127.0.0.2")
    settings.MOX_DNSBL_ZONES = ["bl.example"]
    alice.subjectpass_period = 3600
    alice.junk_filter = {}
    alice.save(update_fields=["subjectpass_period", "junk_filter"])
    return smtp_listener(localserve=False, hostname="mail.example.test", host="::1")


def test_a_listed_sender_gets_a_token_and_gets_through_with_it(listed, raw_smtp, alice):
    c = raw_smtp(listed)
    answer = send(c, "bob@sender.example", message("bob@sender.example", subject="hello"))
    m = re.fullmatch(r"550 5\.7\.1 (.*)(\(pass:[A-Za-z0-9_-]{22}\))", answer)
    assert m is not None, answer
    assert m.group(1) == subjectpass.EXPLANATION
    [kept] = Message.objects.filter(account=alice, mailbox__name="Rejects")
    assert reason_of(kept) == "give-subjectpass"
    token = m.group(2)
    assert send(c, "bob@sender.example", message("bob@sender.example", subject=f"hello {token}")) == (
        "250 2.2.0 it is done")
    [msg] = Message.objects.filter(account=alice, mailbox__name="Inbox")
    assert (reason_of(msg), msg.subject) == ("subjectpass", f"hello {token}")
    # The token is bound to the From address.
    assert send(c, "eve@sender.example", message("eve@sender.example", subject=f"hi {token}")).startswith(
        "550 5.7.1 ")


def test_without_subjectpass_a_listing_is_the_opaque_451(listed, raw_smtp, alice):
    alice.subjectpass_period = 0
    alice.save(update_fields=["subjectpass_period"])
    c = raw_smtp(listed)
    assert send(c, "bob@sender.example", message("bob@sender.example")) == "451 4.3.0 error processing"
    [kept] = Message.objects.filter(account=alice, mailbox__name="Rejects")
    assert reason_of(kept) == "dns-blocklisted"


def test_tokens_expire_and_resist_tampering():
    key = b"k" * 32
    token = subjectpass.generate("bob@sender.example", key, now=1_700_000_000)
    assert subjectpass.verify(f"re: x {token}", "bob@sender.example", key, 3600, now=1_700_000_100) == ""
    assert subjectpass.verify(token, "bob@sender.example", key, 3600, now=1_700_004_000) == "token expired"
    assert subjectpass.verify(token, "bob@sender.example", b"x" * 32, 3600, now=1_700_000_100) == (
        "token verification failed")
    assert subjectpass.verify(token, "eve@sender.example", key, 3600, now=1_700_000_100) == (
        "token verification failed")
    assert subjectpass.verify("no token", "bob@sender.example", key, 3600) == "no token in subject"
    assert subjectpass.verify("(pass:!!)", "bob@sender.example", key, 3600) == "malformed token"
    assert subjectpass.verify("(pass:AAAA)", "bob@sender.example", key, 3600) == "bad token length"
    assert subjectpass.verify("(pass:8AAAAAAAAAAAAAAAAAAAAA)", "bob@sender.example", key, 3600) == (
        "unknown token version")
