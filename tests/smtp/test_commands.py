"""Transcripts of each command with mox's exact replies (localserve listener)."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_closes_when_the_first_command_is_not_smtp(smtp_listener, raw_smtp, localserve_account):
    c = raw_smtp(smtp_listener())
    assert c.cmd("GET / HTTP/1.0") == "500 5.5.2 please try again speaking smtp"
    assert c.closed()


def test_later_unknown_commands_only_get_500(smtp_listener, raw_smtp, localserve_account):
    c = raw_smtp(smtp_listener())
    assert c.cmd("NOOP") == "250 2.0.0 alrighty"
    assert c.cmd("XYZZY") == "500 5.5.1 unknown command"
    assert c.cmd("noop") == "250 2.0.0 alrighty"


def test_it_needs_helo_first(smtp_listener, raw_smtp, localserve_account):
    c = raw_smtp(smtp_listener())
    assert c.cmd("MAIL FROM:<a@example.org>") == "503 5.5.1 no ehlo/helo yet"
    assert c.cmd("RCPT TO:<a@example.org>") == "503 5.5.1 no ehlo/helo yet"
    assert c.cmd("DATA") == "503 5.5.1 no ehlo/helo yet"
    assert c.cmd("HELO client.example") == "250 localhost"
    assert c.cmd("MAIL FROM:<a@example.org>") == "250 2.1.0 looking good"


def test_helo_refuses_esmtp_parameters(smtp_listener, raw_smtp, localserve_account):
    c = raw_smtp(smtp_listener())
    c.cmd("HELO client.example")
    assert c.cmd("MAIL FROM:<a@example.org> SIZE=10") == "501 5.5.2 bad syntax"


def test_transaction_order_and_reset(smtp_listener, raw_smtp, localserve_account):
    c = raw_smtp(smtp_listener())
    c.cmd("EHLO client.example")
    assert c.cmd("RCPT TO:<b@example.org>") == "503 5.5.1 missing MAIL FROM"
    assert c.cmd("MAIL FROM:<a@example.org>") == "250 2.1.0 looking good"
    assert c.cmd("DATA") == "503 5.5.1 missing MAIL FROM/RCPT TO"
    assert c.cmd("MAIL FROM:<a@example.org>") == "503 5.5.1 already have MAIL"
    assert c.cmd("RSET") == "250 2.0.0 all clear"
    assert c.cmd("MAIL FROM:<> BODY=8BITMIME") == "250 2.1.0 looking good"
    assert c.cmd("EHLO again.example").startswith("250-localhost")
    assert c.cmd("RCPT TO:<b@example.org>") == "503 5.5.1 missing MAIL FROM"


def test_syntax_errors_and_parameters(smtp_listener, raw_smtp, localserve_account):
    c = raw_smtp(smtp_listener())
    c.cmd("EHLO client.example")
    assert c.cmd("MAIL FROM:a@example.org") == "501 5.5.2 bad syntax"
    assert c.cmd("MAIL FROM:<a@example.org> FOO=BAR") == "555 5.3.3 unrecognized parameter"
    assert c.cmd("MAIL FROM:<a@example.org> SIZE=1 SIZE=1") == "501 5.5.2 bad syntax"
    assert c.cmd("MAIL FROM:<jörg@example.org>") == "550 5.6.7 non-ascii address not permitted without smtputf8"
    assert c.cmd("MAIL FROM:<a@example.org> REQUIRETLS") == "530 5.7.10 REQUIRETLS needs a TLS connection"
    assert c.cmd("MAIL FROM:<a@example.org>") == "250 2.1.0 looking good"
    assert c.cmd("RCPT TO:<jörg@example.org>") == "553 5.6.7 non-ascii address not permitted without smtputf8"
    assert c.cmd("RCPT TO:<b@example.org> NOTIFY=BOGUS") == "501 5.5.2 bad syntax"
    assert c.cmd("RCPT TO:<b@example.org> XYZ=1") == "555 5.3.3 unrecognized parameter"
    assert c.cmd("RCPT TO:<b@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b@example.org") == (
        "250 2.1.0 now on the list")
    assert c.cmd("RCPT TO:<\"john..doe\"@example.org>") == "250 2.1.0 now on the list"


def test_it_accepts_utf8_addresses_with_smtputf8(smtp_listener, raw_smtp, localserve_account):
    from mailstore.models import Message

    c = raw_smtp(smtp_listener())
    c.cmd("EHLO client.example")
    assert c.cmd("MAIL FROM:<jörg@bücher.example> SMTPUTF8") == "250 2.1.0 looking good"
    assert c.cmd("RCPT TO:<δοκιμή@παράδειγμα.example>") == "250 2.1.0 now on the list"
    assert c.cmd("DATA") == "354 see you at the bare dot"
    assert c.cmd("Subject: ü\r\n\r\nö\r\n.") == "250 2.2.0 it is done"
    m = Message.objects.get(account=localserve_account)
    prefix = bytes(m.prefix).decode()
    assert prefix.startswith("Return-Path: <jörg@bücher.example>\r\n")
    assert "with UTF8SMTP id" in prefix
    assert "for <δοκιμή@παράδειγμα.example>;" in prefix
    assert m.mail_from == "jörg@bücher.example"


def test_it_limits_recipients(smtp_listener, raw_smtp, localserve_account):
    c = raw_smtp(smtp_listener(max_recipients=2))
    c.cmd("EHLO client.example")
    c.cmd("MAIL FROM:<a@example.org>")
    assert c.cmd("RCPT TO:<b1@example.org>") == "250 2.1.0 now on the list"
    assert c.cmd("RCPT TO:<b2@example.org>") == "250 2.1.0 now on the list"
    assert c.cmd("RCPT TO:<b3@example.org>") == "452 4.5.3 max of 2 recipients reached"


def test_it_limits_commands_without_a_transaction(smtp_listener, raw_smtp, localserve_account):
    c = raw_smtp(smtp_listener(max_commands_without_mail=3))
    assert [c.cmd("NOOP") for _ in range(3)] == ["250 2.0.0 alrighty"] * 3
    assert c.cmd("NOOP") == "421 4.7.0 too many commands without a transaction"
    assert c.closed()


def test_it_closes_on_an_overlong_command_line(smtp_listener, raw_smtp, localserve_account):
    c = raw_smtp(smtp_listener())
    c.cmd("EHLO client.example")
    assert c.cmd("NOOP " + "x" * 3000) == "500 5.5.0 line too long, smtp max is 512, we reached 2048"
    assert c.closed()


def test_auth_is_only_for_submission(smtp_listener, raw_smtp, localserve_account):
    c = raw_smtp(smtp_listener())
    c.cmd("EHLO client.example")
    assert c.cmd("AUTH PLAIN AG1veEBsb2NhbGhvc3QAbW94bW94bW94") == (
        "503 5.5.1 authentication only allowed on submission ports")


def test_starttls_is_refused_without_tls(smtp_listener, raw_smtp, localserve_account):
    c = raw_smtp(smtp_listener())
    c.cmd("EHLO client.example")
    assert c.cmd("STARTTLS") == "502 5.5.1 no tls configured"
