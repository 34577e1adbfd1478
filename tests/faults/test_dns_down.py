"""The DNS server down for the sender's domain (no answer, or SERVFAIL): port 25 answers
the MAIL FROM domain check with a temporary 451, never a 5xx; SPF and DMARC record
temperror in Authentication-Results, and the message is still delivered when only those
checks failed temporarily (mox-v0.0.5 1.1.7 and 1.1.11)."""
from __future__ import annotations

import pytest

from mailstore.files import read_message
from mailstore.models import Message
from tests.faults.processes import without_junk_checks

pytestmark = pytest.mark.django_db(transaction=True)

MAILFROM_TEMPORARY = "451 4.4.0 cannot verify mx records for mailfrom domain"


@pytest.fixture
def listener(smtp_listener, dns_server):  # type: ignore[no-untyped-def]
    # Short DNS timeouts, so a dropped query costs a fraction of a second.
    return smtp_listener(localserve=False, hostname="mail.example.test",
                         resolver=dns_server.resolver(timeout=0.3, lifetime=0.6))


def mail_from(c, sender: str) -> str:  # type: ignore[no-untyped-def]
    assert c.cmd("EHLO client.example").startswith("250")
    return c.cmd(f"MAIL FROM:<{sender}>")


def test_it_answers_451_at_mail_from_when_the_senders_dns_servfails(listener, dns_server, raw_smtp, alice):
    dns_server.servfail("down.example")
    dns_server.add("up.example", "MX", "10 mail.up.example.")
    c = raw_smtp(listener)
    assert mail_from(c, "bob@down.example") == MAILFROM_TEMPORARY
    # The session goes on: the client may try another sender.
    assert c.cmd("MAIL FROM:<bob@up.example>") == "250 2.1.0 looking good"


def test_it_answers_451_at_mail_from_when_the_senders_dns_does_not_answer(listener, dns_server, raw_smtp, alice):
    dns_server.drop("silent.example")
    c = raw_smtp(listener)
    assert mail_from(c, "bob@silent.example") == MAILFROM_TEMPORARY
    assert c.cmd("NOOP") == "250 2.0.0 alrighty"


def test_it_answers_451_at_mail_from_when_only_the_mx_query_goes_unanswered(listener, dns_server, raw_smtp, alice):
    # The name exists (a TXT answers), but its server drops MX queries.
    dns_server.add("nomx.example", "TXT", "v=spf1 -all")
    dns_server.drop("nomx.example", keep_records=True)
    c = raw_smtp(listener)
    assert mail_from(c, "bob@nomx.example") == MAILFROM_TEMPORARY


def test_it_delivers_with_spf_and_dmarc_temperror_when_only_those_lookups_fail(listener, dns_server, raw_smtp, alice):
    # Only the DNS checks are under test: the new account's junk filter, which would
    # turn away a first message from an unknown sender, is off.
    without_junk_checks(alice)
    dns_server.add_zone("""
$ORIGIN flaky.example.
@   MX  10 mail.flaky.example.
mail A  192.0.2.20
""")
    # The domain answers MX and A, but its TXT (SPF) query never comes back, and its
    # DMARC record's name gives SERVFAIL.
    dns_server.drop("flaky.example", keep_records=True)
    dns_server.servfail("_dmarc.flaky.example")
    c = raw_smtp(listener)
    assert mail_from(c, "bob@flaky.example") == "250 2.1.0 looking good"
    assert c.cmd("RCPT TO:<alice@example.test>") == "250 2.1.0 now on the list"
    assert c.cmd("DATA").startswith("354 ")
    body = "From: <bob@flaky.example>\r\nTo: alice@example.test\r\nSubject: dns down\r\n\r\nhello\r\n"
    assert c.cmd(body + ".") == "250 2.2.0 it is done"
    [msg] = Message.objects.filter(account=alice)
    prefix = bytes(msg.prefix).decode().replace("\r\n\t", " ")
    assert "spf=temperror smtp.mailfrom=bob@flaky.example" in prefix
    assert "dmarc=temperror header.from=flaky.example" in prefix
    assert msg.validations["spf"] == "temperror" and msg.validations["dmarc"] == "temperror"
    assert read_message(msg.path) == body.encode()
