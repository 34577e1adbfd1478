"""Interoperability with Debian's Postfix on loopback, both ways.

moxweb's queue delivers to Postfix directly by MX (the test DNS server points
example.org's MX at 127.0.0.1 and the queue's SMTP port at Postfix's), Postfix stores
into Maildirs and its success DSNs and relayed mail come back to moxweb's own port 25
listener (Postfix's relayhost), into alice's Inbox.
"""
from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
import trustme

from mailqueue.models import QueuedMessage
from mailqueue.tasks import deliver
from tests.queue.conftest import inbox_messages, queue_message
from tests.queue.postfix import DovecotAuth, Postfix, free_port, strip_trace

pytestmark = pytest.mark.django_db(transaction=True)

MESSAGE_8BIT = (
    "From: Alice <alice@example.test>\r\n"
    "To: Carol <carol@example.org>\r\n"
    "Subject: =?utf-8?q?caf=C3=A9?=\r\n"
    "Message-Id: <pf1@example.test>\r\n"
    "Date: Wed, 25 Nov 2026 12:00:00 +0000\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 8bit\r\n"
    "\r\n"
    "Un café, s'il vous plaît.\r\n"
    ".a line starting with a dot\r\n"
).encode()

MESSAGE_UTF8 = (
    "From: Alice <alice@example.test>\r\n"
    "To: Zoë <zoë@example.org>\r\n"
    "Subject: grüße\r\n"
    "Message-Id: <pf2@example.test>\r\n"
    "Date: Wed, 25 Nov 2026 12:00:00 +0000\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "\r\n"
    "Hallo Zoë.\r\n"
).encode()


@pytest.fixture(scope="module")
def postfix() -> Iterator[Postfix]:
    """Postfix for example.org, with a second smtpd that takes mail only from clients
    authenticated (by Dovecot) over TLS, as a smarthost."""
    ca = trustme.CA()
    leaf = ca.issue_cert("mail.example.org", "127.0.0.1")
    pem = leaf.private_key_pem.bytes() + b"".join(c.bytes() for c in leaf.cert_chain_pems)
    auth = DovecotAuth({"relayuser": "relaypass"})
    auth.start()
    pf = Postfix(
        hostname="mail.example.org",
        domains=["example.org"],
        mailboxes={"carol@example.org": "carol", "zoë@example.org": "zoe", "dave@example.org": "dave"},
        relayhost=f"[127.0.0.1]:{free_port()}",
        cert_pem=pem,
        message_size_limit=100_000,
        sasl_auth=auth.address,
    )
    try:
        pf.start()
        pf.ca_file = pf.dir / "ca.pem"  # type: ignore[attr-defined]
        ca.cert_pem.write_to_path(str(pf.ca_file))  # type: ignore[attr-defined]
        yield pf
    finally:
        pf.stop()
        auth.stop()


@pytest.fixture
def moxweb_port25(postfix, mx_zone, loop_thread, tls_files, settings) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    """moxweb's port 25 listener on the port Postfix relays to, with STARTTLS."""
    from mailcore.ratelimit import auth_failure_limiter
    from smtpserver.config import Limiters
    from smtpserver.listener import make_config, serve_config

    settings.MOX_QUEUE_SMTP_PORT = postfix.port
    mx_zone.add_zone(
        """
        $ORIGIN sender.example.
        @   A    192.0.2.1
        @   TXT  "v=spf1 ip4:127.0.0.1 -all"
        """
    )
    # Reverse DNS for Postfix's address, so iprev passes and the junk filter is not strict.
    mx_zone.add("1.0.0.127.in-addr.arpa", "PTR", "mail.example.org.")
    port = int(postfix.relayhost.rsplit(":", 1)[1])
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(16)
    sock.setblocking(False)
    config = make_config(kind="smtp", tls=tls_files.server_context(), hostname="mx.example.test", localserve=False)
    config.limiters = Limiters(auth_failures=auth_failure_limiter())
    config.auth_fail_delay = 0
    config.slow_delay = 0
    config.first_time_sender_delay = 0
    config.resolver = mx_zone.resolver()
    server = loop_thread.run(serve_config(sock, config))
    yield server
    postfix.clear_queue()

    async def close() -> None:
        server.close()
        await server.wait_closed()

    loop_thread.run(close())


def wait_for_inbox(account: Any, count: int, timeout: float = 20) -> list[bytes]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = inbox_messages(account)
        if len(got) >= count:
            return got
        time.sleep(0.5)
    return inbox_messages(account)


def test_the_queue_delivers_8bit_mail_to_postfix_over_starttls_with_dsn_parameters(alice, postfix, moxweb_port25):
    qm = queue_message(
        alice, "alice@example.test", "carol@example.org", MESSAGE_8BIT, has_8bit=True,
        notify=["SUCCESS", "FAILURE"], orcpt="rfc822;carol@example.org", dsn_envid="env 42", dsn_ret="HDRS",
    )

    assert deliver(qm.pk) == "delivered"

    (stored,) = postfix.maildir("carol")
    added, original = strip_trace(stored)
    assert original == MESSAGE_8BIT
    assert added[0] == b"Return-Path: <alice@example.test>"
    received = next(h for h in added if h.startswith(b"Received:"))
    assert b"(using TLSv1.3 with cipher" in received
    assert b"by mail.example.org (Postfix) with ESMTPS id" in received
    assert not QueuedMessage.objects.filter(pk=qm.pk).exists()

    # NOTIFY=SUCCESS went along (RFC 3461): Postfix, not moxweb, reports the delivery,
    # and its DSN comes back through its relayhost, moxweb's port 25 listener.
    dsns = wait_for_inbox(alice, 1)
    assert len(dsns) == 1, postfix.log()
    dsn = dsns[0]
    assert b"Return-Path: <>\r\n" in dsn
    assert b"From: Mail Delivery System <MAILER-DAEMON@mail.example.org>\r\n" in dsn
    assert b"Subject: Successful Mail Delivery Report\r\n" in dsn
    assert b"Original-Envelope-Id: env 42\r\n" in dsn
    assert b"Final-Recipient: rfc822; carol@example.org\r\nOriginal-Recipient: rfc822;carol@example.org\r\nAction: delivered\r\nStatus: 2.0.0\r\n" in dsn
    assert b"Message-Id: <pf1@example.test>\r\n" in dsn  # ENVID "env 42" went as xtext "env+2042"
    assert b"Un caf" not in dsn  # RET=HDRS


def test_the_queue_delivers_smtputf8_mail_to_postfix(alice, postfix, moxweb_port25):
    qm = queue_message(alice, "alice@example.test", "zoë@example.org", MESSAGE_UTF8, has_8bit=True, smtputf8=True)

    assert deliver(qm.pk) == "delivered"

    (stored,) = postfix.maildir("zoe")
    added, original = strip_trace(stored)
    assert original == MESSAGE_UTF8
    assert "Delivered-To: zoë@example.org".encode() in added
    received = next(h for h in added if h.startswith(b"Received:"))
    assert b"by mail.example.org (Postfix) with UTF8SMTPS id" in received


def test_a_recipient_postfix_refuses_gives_a_failure_dsn_in_the_senders_inbox(alice, postfix, moxweb_port25):
    qm = queue_message(alice, "alice@example.test", "nobody@example.org", MESSAGE_8BIT, has_8bit=True)

    assert deliver(qm.pk) == "failed"

    (dsn,) = inbox_messages(alice)
    assert b"Subject: mail delivery failed\r\n" in dsn
    assert b"Final-Recipient: rfc822; nobody@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n" in dsn
    assert b"Remote-MTA: dns; mail.example.org\r\n" in dsn
    unfolded = dsn.replace(b"\r\n ", b" ").replace(b"\r\n\t", b" ")
    assert (
        b"Diagnostic-Code: smtp; 550 5.1.1 <nobody@example.org>: Recipient address rejected: "
        b"User unknown in virtual mailbox table\r\n"
    ) in unfolded
    assert not QueuedMessage.objects.filter(pk=qm.pk).exists()


def test_a_message_over_postfixs_size_limit_fails_at_once(alice, postfix, moxweb_port25):
    big = MESSAGE_8BIT.replace(b"<pf1@", b"<pf-big@") + (b"y" * 998 + b"\r\n") * 100
    qm = queue_message(alice, "alice@example.test", "carol@example.org", big)

    assert deliver(qm.pk) == "failed"

    (dsn,) = inbox_messages(alice)
    assert b"Status: 5.3.4\r\n" in dsn
    assert f"\tmessage of {len(big)} bytes exceeds remote limit of 100000 bytes\r\n".encode() in dsn
    assert not any(b"<pf-big@example.test>" in m for m in postfix.maildir("carol", timeout=0.1))


def test_postfix_relays_into_moxwebs_port_25(alice, postfix, moxweb_port25):
    message = (
        b"From: Bob <bob@sender.example>\r\n"
        b"To: Alice <alice@example.test>\r\n"
        b"Subject: via postfix\r\n"
        b"Message-Id: <pf3@sender.example>\r\n"
        b"Date: Wed, 25 Nov 2026 12:00:00 +0000\r\n"
        b"\r\n"
        b"Relayed by Postfix.\r\n"
    )
    postfix.sendmail("bob@sender.example", ["alice@example.test"], message.replace(b"\r\n", b"\n"))

    received = wait_for_inbox(alice, 1)
    assert len(received) == 1, postfix.log()
    got = received[0]
    unfolded = got.replace(b"\r\n\t", b" ")
    assert b"spf=pass smtp.mailfrom=bob@sender.example;" in unfolded
    assert b"Received: from mail.example.org ([127.0.0.1]) by mx.example.test ([127.0.0.1]) via tcp with ESMTPS id " in unfolded
    # Postfix's own Received line, then the message as it was given to sendmail (with CRLF).
    assert b"\r\nReceived: by mail.example.org (Postfix, from userid 0)\r\n\tid " in got
    assert got.endswith(b" +0000 (UTC)\r\n" + message)


def _smarthost(postfix: Postfix, settings: Any, **auth: Any) -> Any:
    from mailqueue.models import Transport

    settings.MOX_QUEUE_CA_FILE = str(postfix.ca_file)  # type: ignore[attr-defined]
    return Transport.objects.create(
        name="smarthost", kind=Transport.Kind.SUBMISSION, host="127.0.0.1", port=postfix.sasl_port, **auth
    )


def test_the_queue_relays_through_postfix_as_a_smarthost_with_sasl(alice, postfix, moxweb_port25, settings):
    from mailqueue.models import Route

    Route.objects.create(account=alice, transport=_smarthost(postfix, settings, auth_username="relayuser",
                                                             auth_password="relaypass"))
    message = MESSAGE_8BIT.replace(b"<pf1@", b"<pf-relay@").replace(b"Carol <carol@", b"Dave <dave@")
    qm = queue_message(alice, "alice@example.test", "dave@example.org", message, has_8bit=True)

    assert deliver(qm.pk) == "delivered"

    (stored,) = postfix.maildir("dave")
    added, original = strip_trace(stored)
    assert original == message
    received = next(h for h in added if h.startswith(b"Received:"))
    assert b"(Authenticated sender: relayuser)" in received
    # The most secure mechanism both sides offer (Dovecot: PLAIN LOGIN CRAM-MD5 SCRAM-*).
    assert "sasl_method=SCRAM-SHA-256, sasl_username=relayuser" in postfix.log()


def test_configured_mechanisms_limit_the_choice_and_bad_credentials_are_retried(alice, postfix, moxweb_port25, settings):
    t = _smarthost(postfix, settings, auth_username="relayuser", auth_password="wrong", auth_mechanisms=["CRAM-MD5"])
    qm = queue_message(alice, "alice@example.test", "dave@example.org", MESSAGE_8BIT, has_8bit=True)
    QueuedMessage.objects.filter(pk=qm.pk).update(transport=t.name)

    assert deliver(qm.pk) == "retry"

    qm.refresh_from_db()
    assert qm.last_error.startswith("transport smarthost: auth CRAM-MD5: 535 5.7.8 Error: authentication failed")
