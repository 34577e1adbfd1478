"""Submission outside localserve: MAIL FROM and From must be the account's, limits per
account, and accepted mail lands durably in the outgoing queue."""
from __future__ import annotations

import base64

import pytest

from mailqueue.models import QueuedMessage
from mailstore.files import read_message

pytestmark = pytest.mark.django_db(transaction=True)

MSG = "From: Alice <alice+x@example.test>\r\nTo: bob@example.org\r\nSubject: s\r\n\r\nbody\r\n."


@pytest.fixture
def session(smtp_listener, raw_smtp, alice, smtp_tls_context, tls_files):  # type: ignore[no-untyped-def]
    srv = smtp_listener(kind="submissions", localserve=False, tls=smtp_tls_context(), hostname="mail.example.test")
    c = raw_smtp(srv, tls=tls_files.client_context())
    c.cmd("EHLO client.example")
    auth = base64.b64encode(b"\0alice@example.test\0alicepassword").decode()
    assert c.cmd(f"AUTH PLAIN {auth}") == "235 2.7.0 nice"
    return c


def send(c, msg: str = MSG, sender: str = "alice@example.test", rcpts=("bob@example.org",)) -> str:  # type: ignore[no-untyped-def]
    assert c.cmd(f"MAIL FROM:<{sender}>") == "250 2.1.0 looking good"
    for r in rcpts:
        assert c.cmd(f"RCPT TO:<{r}>").startswith("250")
    assert c.cmd("DATA") == "354 see you at the bare dot"
    return c.cmd(msg)


def test_it_queues_one_row_per_recipient_with_dsn_fields(session, alice):
    c = session
    assert c.cmd("MAIL FROM:<alice@example.test> RET=HDRS ENVID=env+2B1 SMTPUTF8 REQUIRETLS") == (
        "250 2.1.0 looking good")
    assert c.cmd("RCPT TO:<bob@example.org> NOTIFY=FAILURE,DELAY ORCPT=rfc822;bob@example.org") == (
        "250 2.1.0 now on the list")
    assert c.cmd("RCPT TO:<carol@bücher.example>") == "250 2.1.0 now on the list"
    c.cmd("DATA")
    assert c.cmd(MSG) == "250 2.2.0 it is done"
    q1, q2 = QueuedMessage.objects.order_by("id")
    assert (q1.sender, q1.recipient, q2.recipient) == (
        "alice@example.test", "bob@example.org", "carol@xn--bcher-kva.example")
    assert (q1.dsn_ret, q1.dsn_envid, q1.dsn_notify, q1.dsn_orcpt) == (
        "HDRS", "env+1", ["FAILURE", "DELAY"], "rfc822;bob@example.org")
    assert (q2.dsn_notify, q2.dsn_orcpt, q1.smtputf8, q1.requiretls) == ([], "", True, True)
    body = b"From: Alice <alice+x@example.test>\r\nTo: bob@example.org\r\nSubject: s\r\n\r\nbody\r\n"
    assert read_message(q1.path) == read_message(q2.path) == body
    assert q1.path != q2.path
    prefix = bytes(q1.prefix).decode()
    head, received = prefix.split("Received: ", 1)
    msgid, date, authres, empty = head.split("\r\n")
    assert msgid.startswith("Message-Id: <") and msgid.endswith("@mail.example.test>")
    assert date.startswith("Date: ") and date.endswith(" +0000")
    assert (authres, empty) == (
        "Authentication-Results: mail.example.test; auth=pass smtp.mailfrom=alice@example.test", "")
    assert received.startswith("from mail.example.test by mail.example.test")
    assert "127.0.0.1" not in prefix.split(" by ")[0]
    assert "with UTF8SMTPSA id" in prefix
    assert q1.size == len(bytes(q1.prefix)) + len(body)


def test_bare_postmaster_is_not_an_outgoing_recipient(session):
    assert session.cmd("MAIL FROM:<alice@example.test>") == "250 2.1.0 looking good"
    assert session.cmd("RCPT TO:<Postmaster>") == "550 5.1.1 recipient needs a domain"


def test_mail_from_must_belong_to_the_account(session):
    c = session
    assert c.cmd("MAIL FROM:<bob@example.test>") == "550 5.7.1 must match authenticated user"
    assert c.cmd("MAIL FROM:<ALICE+tag@example.test>") == "250 2.1.0 looking good"
    c.cmd("RSET")
    assert c.cmd("MAIL FROM:<>") == "250 2.1.0 looking good"


FROM_RULES = [
    ("From: bob@example.test\r\n\r\nx\r\n.", "550 5.7.1 must match authenticated user"),
    ("From: alice@example.test, bob@example.test\r\n\r\nx\r\n.", "550 5.7.1 must match authenticated user"),
    ('From: "alice@example.test" <bob@example.test>\r\n\r\nx\r\n.', "550 5.7.1 must match authenticated user"),
    ("From: alice@example.test)<bob@example.test>\r\n\r\nx\r\n.", "550 5.6.0 cannot parse header or From address"),
    ("Subject: no from\r\n\r\nx\r\n.", "550 5.6.0 cannot parse header or From address"),
    ("From: alice@example.test\r\nReturn-Path: <x@y>\r\n\r\nx\r\n.",
     "550 5.6.0 message must not have Return-Path header"),
    ("just a body line\r\n.", "554 5.6.0 message requires both header and body section"),
    ('From: "Alice, A." <alice@example.test> (comment)\r\n\r\nx\r\n.', "250 2.2.0 it is done"),
]


def test_from_header_rules(session):
    for msg, result in FROM_RULES:
        assert send(session, msg) == result, msg


def test_outgoing_limits_name_the_setting(session, alice):
    alice.max_outgoing_messages_per_day = 2
    alice.save()
    assert send(session, rcpts=("b1@example.org", "b2@example.org")) == "250 2.2.0 it is done"
    assert send(session, rcpts=("b3@example.org",)) == (
        "451 4.7.1 max number of messages (2) over past 24h reached, try increasing per-account setting "
        "max_outgoing_messages_per_day")
    assert QueuedMessage.objects.count() == 2


def test_first_time_recipient_limit(session, alice):
    alice.max_first_time_recipients_per_day = 1
    alice.save()
    assert send(session, rcpts=("b1@example.org",)) == "250 2.2.0 it is done"
    assert send(session, rcpts=("b2@example.org",)) == (
        "451 4.7.1 max number of new/first-time recipients (1) over past 24h reached, try increasing "
        "per-account setting max_first_time_recipients_per_day")


def test_it_dkim_signs_with_the_from_domains_keys(session, alice, dns_server):
    import asyncio

    from accounts.models import DKIMKey, Domain
    from mailcore.authn import dkim
    from mailcore.authn.dkimsign import dns_record, generate_ed25519_key

    pem = generate_ed25519_key()
    DKIMKey.objects.create(domain=Domain.objects.get(ascii="example.test"), selector="sel1",
                           algorithm="ed25519", private_key_pem=pem.decode())
    dns_server.add("sel1._domainkey.example.test", "TXT", dns_record(pem))
    assert send(session) == "250 2.2.0 it is done"
    [q] = QueuedMessage.objects.all()
    prefix = bytes(q.prefix)
    assert prefix.startswith(b"DKIM-Signature: v=1; a=ed25519-sha256;")
    results = asyncio.run(dkim.verify(dns_server.resolver(), prefix + read_message(q.path)))
    assert [(str(r.status), r.signature.domain, r.signature.selector) for r in results] == [
        ("pass", "example.test", "sel1")]
