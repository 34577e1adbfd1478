"""The slice: localserve accepts mail for any address into mox's Inbox, and submission
with AUTH PLAIN delivers back; 250 only once stored."""
from __future__ import annotations

import smtplib

import pytest

from mailstore.files import read_message
from mailstore.models import Message

MSG = b"From: a@example.org\r\nTo: whoever@anywhere.example\r\nSubject: hi\r\n\r\nhello\r\n.dot line\r\n"


def stored(account) -> list[Message]:  # type: ignore[no-untyped-def]
    return list(Message.objects.filter(account=account).order_by("id"))


@pytest.mark.django_db(transaction=True)
def test_it_accepts_any_recipient_into_the_localserve_inbox(smtp_listener, localserve_account):
    srv = smtp_listener(kind="smtp", localserve=True)
    with smtplib.SMTP(srv.host, srv.port) as c:
        assert c.ehlo("client.example")[0] == 250
        assert c.mail("a@example.org") == (250, b"2.1.0 looking good")
        assert c.rcpt("whoever@anywhere.example") == (250, b"2.1.0 now on the list")
        assert c.data(MSG) == (250, b"2.2.0 it is done")
    [m] = stored(localserve_account)
    assert m.mailbox.name == "Inbox"
    data = read_message(m.path)
    # smtplib dot-stuffs ".dot line"; we store the original bytes.
    assert data == MSG
    assert m.size == len(bytes(m.prefix)) + len(MSG)
    prefix = bytes(m.prefix).decode()
    assert prefix.startswith("Return-Path: <a@example.org>\r\nReceived: from client.example ([127.0.0.1]) by localhost")
    assert "for <whoever@anywhere.example>;" in prefix


@pytest.mark.django_db(transaction=True)
def test_it_greets_and_answers_ehlo_like_mox(smtp_listener, localserve_account):
    srv = smtp_listener(kind="smtp", localserve=True)
    c = smtplib.SMTP()
    code, msg = c.connect(srv.host, srv.port)
    assert (code, msg) == (220, b"localhost ESMTP moxweb")
    code, msg = c.ehlo("client.example")
    assert code == 250
    assert msg.decode().split("\n") == [
        "localhost", "PIPELINING", f"SIZE {srv.config.max_message_size}", "ENHANCEDSTATUSCODES", "8BITMIME",
        "SMTPUTF8", "CHUNKING", "DSN",
    ]
    assert c.noop() == (250, b"2.0.0 alrighty")
    assert c.rset() == (250, b"2.0.0 all clear")
    assert c.verify("x@y.example") == (252, b"2.7.0 no verify but will try delivery")
    assert c.docmd("HELP") == (214, b"2.0.0 see rfc 5321 (smtp)")
    assert c.quit() == (221, b"2.0.0 okay thanks bye")


@pytest.mark.django_db(transaction=True)
def test_it_delivers_submitted_mail_back_into_the_account(smtp_listener, localserve_account):
    srv = smtp_listener(kind="submission", localserve=True)
    with smtplib.SMTP(srv.host, srv.port) as c:
        c.ehlo("client.example")
        assert "AUTH SCRAM-SHA-256 SCRAM-SHA-1 CRAM-MD5 PLAIN LOGIN" in c.ehlo_resp.decode()
        assert c.mail("mox@localhost") == (530, b"5.7.0 authentication required")
        c.user, c.password = "mox@localhost", "moxmoxmox"
        assert c.auth("PLAIN", c.auth_plain) == (235, b"2.7.0 nice")
        assert c.mail("mox@localhost") == (250, b"2.1.0 looking good")
        assert c.rcpt("someone@elsewhere.example") == (250, b"2.1.0 now on the list")
        assert c.data(MSG) == (250, b"2.2.0 it is done")
    [m] = stored(localserve_account)
    assert read_message(m.path) == MSG
    assert m.mailbox.name == "Inbox"
    assert "with ESMTPA id" in bytes(m.prefix).decode()
