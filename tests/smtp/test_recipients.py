"""Incoming mail on port 25 outside localserve: recipient rules and per-account copies."""
from __future__ import annotations

import pytest

from accounts.actions import add_address, create_account, create_domain
from mailstore.files import read_message
from mailstore.models import Message

pytestmark = pytest.mark.django_db(transaction=True)

BODY = "Subject: hi\r\n\r\nhello\r\n."


def deliver(c, rcpts: list[str], sender: str = "a@example.org") -> list[str]:  # type: ignore[no-untyped-def]
    c.cmd("EHLO client.example")
    out = [c.cmd(f"MAIL FROM:<{sender}>")]
    out += [c.cmd(f"RCPT TO:<{r}>") for r in rcpts]
    if any(r.startswith("250") for r in out[1:]):
        out.append(c.cmd("DATA"))
        out.append(c.cmd(BODY))
    return out


@pytest.fixture(autouse=True)
def spf_pass(dns_server):  # type: ignore[no-untyped-def]
    """mox §1.1.8: a second recipient needs an SPF pass for the MAIL FROM domain."""
    dns_server.add("example.org", "TXT", "v=spf1 ip4:127.0.0.1 -all")


def test_a_second_recipient_needs_an_spf_pass(smtp_listener, raw_smtp, alice, bob, dns_server):
    dns_server.add("nospf.example", "MX", "10 mail.example.org.")
    dns_server.add("fails.example", "MX", "10 mail.example.org.")
    dns_server.add("fails.example", "TXT", "v=spf1 ip4:192.0.2.1 -all")
    c = raw_smtp(smtp_listener(localserve=False, hostname="mail.example.test"))
    c.cmd("EHLO client.example")
    for sender in ("a@nospf.example", "a@fails.example"):
        assert c.cmd(f"MAIL FROM:<{sender}>") == "250 2.1.0 looking good"
        assert c.cmd("RCPT TO:<alice@example.test>") == "250 2.1.0 now on the list"
        assert c.cmd("RCPT TO:<bob@example.test>") == "452 4.5.3 only one recipient allowed without spf pass"
        assert c.cmd("RSET") == "250 2.0.0 all clear"
    # With a pass (example.org allows 127.0.0.1): a second and a third recipient.
    out = deliver(c, ["alice@example.test", "bob@example.test", "alice+x@example.test"])
    assert out[1:] == ["250 2.1.0 now on the list"] * 3 + ["354 see you at the bare dot", "250 2.2.0 it is done"]
    assert len(inbox(alice)) == 2 and len(inbox(bob)) == 1


def inbox(account, mailbox: str = "Inbox") -> list[Message]:  # type: ignore[no-untyped-def]
    return list(Message.objects.filter(account=account, mailbox__name=mailbox).order_by("id"))


def test_exact_separator_and_case(smtp_listener, raw_smtp, alice, bob):
    c = raw_smtp(smtp_listener(localserve=False, hostname="mail.example.test"))
    assert deliver(c, ["alice@example.test", "ALICE+news@Example.TEST", "bob@example.test"]) == [
        "250 2.1.0 looking good", "250 2.1.0 now on the list", "250 2.1.0 now on the list",
        "250 2.1.0 now on the list", "354 see you at the bare dot", "250 2.2.0 it is done"]
    a1, a2 = inbox(alice)
    [b1] = inbox(bob)
    assert read_message(a1.path) == read_message(b1.path) == b"Subject: hi\r\n\r\nhello\r\n"
    assert "for <ALICE+news@example.test>;" in bytes(a2.prefix).decode()
    assert a2.rcpt_to == "ALICE+news@example.test"


def test_unknown_users_domains_and_ips(smtp_listener, raw_smtp, alice):
    c = raw_smtp(smtp_listener(localserve=False, hostname="mail.example.test"))
    c.cmd("EHLO client.example")
    c.cmd("MAIL FROM:<a@example.org>")
    assert c.cmd("RCPT TO:<nobody@example.test>") == "550 5.1.1 no such user"
    assert c.cmd("RCPT TO:<+tag@example.test>") == "550 5.1.1 no such user"
    assert c.cmd("RCPT TO:<alice@elsewhere.example>") == "550 5.1.1 not accepting email for domain"
    assert c.cmd("RCPT TO:<alice@[127.0.0.1]>") == "550 5.1.1 not accepting email for ip"
    assert c.cmd("DATA") == "503 5.5.1 missing MAIL FROM/RCPT TO"


def test_catchall_only_when_no_address_matches(smtp_listener, raw_smtp, alice, bob):
    add_address(bob, "@example.test", mailbox="Catchall")
    c = raw_smtp(smtp_listener(localserve=False))
    assert deliver(c, ["whatever@example.test", "alice@example.test"])[-1] == "250 2.2.0 it is done"
    assert len(inbox(bob, "Catchall")) == 1
    assert len(inbox(alice)) == 1


def test_case_sensitive_domains(smtp_listener, raw_smtp, db):
    create_domain("cs.example", case_sensitive=True)
    carol = create_account("carol", "Carol@cs.example", "carolpassword")
    c = raw_smtp(smtp_listener(localserve=False))
    c.cmd("EHLO client.example")
    c.cmd("MAIL FROM:<a@example.org>")
    assert c.cmd("RCPT TO:<carol@cs.example>") == "550 5.1.1 no such user"
    assert c.cmd("RCPT TO:<Carol@cs.example>") == "250 2.1.0 now on the list"
    assert carol.name == "carol"


def test_postmaster_bare_at_hostname_and_at_domains(smtp_listener, raw_smtp, alice, settings):
    settings.MOX_POSTMASTER_ACCOUNT = "alice"
    c = raw_smtp(smtp_listener(localserve=False, hostname="mail.example.test"))
    assert deliver(c, ["Postmaster", "postmaster@mail.example.test", "POSTMASTER@example.test"], sender="")[1:] == [
        "250 2.1.0 now on the list", "452 4.5.3 only one recipient allowed with null reverse address",
        "452 4.5.3 only one recipient allowed with null reverse address", "354 see you at the bare dot",
        "250 2.2.0 it is done"]
    c.cmd("MAIL FROM:<a@example.org>")
    assert c.cmd("RCPT TO:<postmaster@mail.example.test>") == "250 2.1.0 now on the list"
    assert c.cmd("RCPT TO:<POSTMASTER@example.test>") == "250 2.1.0 now on the list"
    assert len(inbox(alice, "Postmaster")) == 1


def test_too_many_failed_transactions_close(smtp_listener, raw_smtp, alice):
    c = raw_smtp(smtp_listener(localserve=False, max_failed_transactions=2))
    c.cmd("EHLO client.example")
    for i in range(3):
        c.cmd("MAIL FROM:<a@example.org>")
        assert c.cmd(f"RCPT TO:<guess{i}@example.test>") == "550 5.1.1 no such user"
        c.cmd("RSET")
    assert c.cmd("MAIL FROM:<a@example.org>") == "550 5.1.0 too many failures"
    assert c.closed()


def test_ip_literal_sender_is_refused(smtp_listener, raw_smtp, alice):
    c = raw_smtp(smtp_listener(localserve=False))
    c.cmd("EHLO client.example")
    assert c.cmd("MAIL FROM:<a@[192.0.2.1]>") == "550 5.7.0 domain name required"


def test_delivery_rate_limits_per_account_and_network(smtp_listener, raw_smtp, alice, bob):
    big = (10**9, 10**9, 10**9)
    srv = smtp_listener(localserve=False, delivery_limits=[(60, "1m0s", (2, 100, 100), big)])
    c = raw_smtp(srv)
    assert deliver(c, ["alice@example.test"])[-1] == "250 2.2.0 it is done"
    assert deliver(c, ["alice@example.test"])[-1] == "250 2.2.0 it is done"
    assert deliver(c, ["alice@example.test"])[-1] == "452 4.2.2 more than 2 messages in past 1m0s from your ip/network"
    # Bob's account has its own count; a byte limit counts the new message too.
    assert deliver(c, ["bob@example.test"])[-1] == "250 2.2.0 it is done"
    stored = inbox(bob)[0].size
    srv.config.delivery_limits = [(86400, "24h0m0s", (100, 100, 100), (stored + 21, 10**9, 10**9))]
    assert deliver(c, ["bob@example.test"])[-1] == (
        f"452 4.2.2 more than {stored + 21} bytes in past 24h0m0s from your ip/network")
    assert len(inbox(alice)) == 2 and len(inbox(bob)) == 1


def test_helo_name_must_resolve_on_port_25(smtp_listener, raw_smtp, alice, dns_server):
    dns_server.add("client.example.org", "A", "192.0.2.20")
    dns_server.servfail("broken.example.org")
    c = raw_smtp(smtp_listener(localserve=False, hostname="mail.example.test"))
    assert c.cmd("HELO nxdomain.example.org") == "550 5.5.0 your ehlo domain does not resolve to an IP address"
    assert c.cmd("HELO broken.example.org") == "250 mail.example.test"
    assert c.cmd("HELO client.example.org") == "250 mail.example.test"
    assert c.cmd("HELO [192.0.2.20]") == "250 mail.example.test"
    assert c.cmd("EHLO nxdomain.example.org").startswith("250-mail.example.test")


def test_mail_from_domain_must_accept_mail(smtp_listener, raw_smtp, alice, dns_server):
    dns_server.add("nullmx.example.org", "MX", "0 .")
    dns_server.add("implicit.example.org", "A", "192.0.2.30")
    dns_server.servfail("broken.example.org")
    c = raw_smtp(smtp_listener(localserve=False))
    c.cmd("EHLO client.example")
    assert c.cmd("MAIL FROM:<a@nullmx.example.org>") == "550 5.7.27 mailfrom domain not configured for mail"
    assert c.cmd("MAIL FROM:<a@nowhere.example.org>") == "550 5.1.8 mailfrom domain has no mx or address records"
    assert c.cmd("MAIL FROM:<a@broken.example.org>") == "451 4.4.0 cannot verify mx records for mailfrom domain"
    assert c.cmd("MAIL FROM:<a@implicit.example.org>") == "250 2.1.0 looking good"
    c.cmd("RSET")
    assert c.cmd("MAIL FROM:<>") == "250 2.1.0 looking good"


def test_automatic_junk_flags_apply_at_delivery(smtp_listener, raw_smtp, alice, bob):
    add_address(bob, "@example.test", mailbox="Spam")
    add_address(alice, "lists@example.test", mailbox="Lists")
    c = raw_smtp(smtp_listener(localserve=False))
    assert deliver(c, ["whatever@example.test", "lists@example.test", "alice@example.test"])[-1] == (
        "250 2.2.0 it is done")
    [spam] = inbox(bob, "Spam")
    [listed] = inbox(alice, "Lists")
    [plain] = inbox(alice)
    assert (spam.junk, spam.notjunk, spam.trained_junk) == (True, False, True)
    assert (listed.junk, listed.notjunk, listed.trained_junk) == (False, True, False)
    assert (plain.junk, plain.notjunk, plain.trained_junk) == (False, False, None)


def test_a_message_for_several_recipients_is_parsed_once(smtp_listener, raw_smtp, alice, bob, monkeypatch):
    from mailstore import actions

    parses: list[bytes] = []
    real = actions._parse_bytes

    def counting(data: bytes):  # type: ignore[no-untyped-def]
        parses.append(data)
        return real(data)

    monkeypatch.setattr(actions, "_parse_bytes", counting)
    c = raw_smtp(smtp_listener(localserve=False, hostname="mail.example.test"))
    out = deliver(c, ["alice@example.test", "bob@example.test", "alice+x@example.test"])
    assert out[-1] == "250 2.2.0 it is done"
    assert parses == [b"Subject: hi\r\n\r\nhello\r\n"]
    stored = inbox(alice) + inbox(bob)
    assert [m.subject for m in stored] == ["hi", "hi", "hi"]
    assert len({m.path for m in stored}) == 3 and all(m.size == len(bytes(m.prefix)) + 22 for m in stored)


def test_the_copies_of_a_small_message_share_one_file(smtp_listener, raw_smtp, alice, bob):
    import os

    from mailstore.files import data_dir

    c = raw_smtp(smtp_listener(localserve=False, hostname="mail.example.test"))
    assert deliver(c, ["alice@example.test", "bob@example.test", "alice+x@example.test"])[-1] == "250 2.2.0 it is done"
    stored = inbox(alice) + inbox(bob)
    files = [os.stat(data_dir() / m.path) for m in stored]
    # Written once, linked into each mailbox directory (the spool's own link is gone).
    assert len({(f.st_dev, f.st_ino) for f in files}) == 1
    assert [f.st_nlink for f in files] == [3, 3, 3]
    assert [read_message(m.path) for m in stored] == [b"Subject: hi\r\n\r\nhello\r\n"] * 3
