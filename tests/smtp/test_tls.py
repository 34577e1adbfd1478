"""STARTTLS on 25 and 587, implicit TLS on 465, with smtplib and swaks end to end."""
from __future__ import annotations

import shutil
import smtplib
import subprocess

import pytest

from mailstore.files import read_message
from mailstore.models import Message

pytestmark = pytest.mark.django_db(transaction=True)

MSG = b"From: mox@localhost\r\nTo: x@example.org\r\nSubject: tls\r\n\r\nsecret\r\n"


def test_starttls_on_port_25_then_delivery_records_tls(smtp_listener, localserve_account, smtp_tls_context,
                                                        tls_files):
    srv = smtp_listener(kind="smtp", tls=smtp_tls_context())
    with smtplib.SMTP(srv.host, srv.port) as c:
        c.ehlo("client.example")
        assert c.has_extn("starttls")
        assert c.starttls(context=tls_files.client_context()) == (220, b"2.0.0 go!")
        c.ehlo("client.example")
        assert not c.has_extn("starttls")
        assert c.has_extn("requiretls")
        assert c.mail("a@example.org", ["REQUIRETLS"]) == (250, b"2.1.0 looking good")
        c.rcpt("x@example.org")
        assert c.data(MSG) == (250, b"2.2.0 it is done")
    [m] = Message.objects.filter(account=localserve_account)
    prefix = bytes(m.prefix).decode()
    assert "with ESMTPS id" in prefix
    assert "(TLS1.3 TLS_" in prefix


def test_plaintext_pipelined_after_starttls_is_discarded(smtp_listener, raw_smtp, localserve_account,
                                                         smtp_tls_context, tls_files):
    # RFC 3207 section 4.2 / CVE-2011-0411: commands sent with STARTTLS are dropped.
    srv = smtp_listener(kind="smtp", tls=smtp_tls_context())
    c = raw_smtp(srv)
    c.cmd("EHLO client.example")
    c.send("STARTTLS\r\nMAIL FROM:<injected@example.org>\r\n")
    assert c.reply() == ["220 2.0.0 go!"]
    c.starttls(tls_files.client_context())
    c.cmd("EHLO client.example")
    assert c.cmd("RCPT TO:<b@example.org>") == "503 5.5.1 missing MAIL FROM"


def test_submissions_on_465_with_smtplib(smtp_listener, alice, smtp_tls_context, tls_files):
    from mailqueue.models import QueuedMessage

    srv = smtp_listener(kind="submissions", localserve=False, tls=smtp_tls_context(), hostname="mail.example.test")
    with smtplib.SMTP_SSL(srv.host, srv.port, context=tls_files.client_context()) as c:
        c.ehlo("client.example")
        assert not c.has_extn("starttls")
        assert c.login("alice@example.test", "alicepassword") == (235, b"2.7.0 nice")
        msg = b"From: Alice <alice@example.test>\r\nTo: bob@example.org\r\nSubject: out\r\n\r\nhi\r\n"
        assert c.sendmail("alice@example.test", ["bob@example.org"], msg) == {}
    [q] = QueuedMessage.objects.all()
    assert (q.sender, q.recipient, q.account_id) == ("alice@example.test", "bob@example.org", alice.pk)


def test_swaks_end_to_end_with_starttls_and_auth(smtp_listener, localserve_account, smtp_tls_context):
    swaks = shutil.which("swaks")
    assert swaks, "swaks is installed by scripts/install-debian-packages.sh"
    srv = smtp_listener(kind="submission", tls=smtp_tls_context())
    run = subprocess.run(
        [swaks, "--server", srv.host, "--port", str(srv.port), "--tls", "--auth", "PLAIN",
         "--auth-user", "mox@localhost", "--auth-password", "moxmoxmox", "--from", "mox@localhost",
         "--to", "someone@example.org", "--ehlo", "swaks.example", "--header", "Subject: from swaks",
         "--body", "swaks body"],
        capture_output=True, text=True, timeout=60,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "<-  220 2.0.0 go!" in run.stdout
    assert "<~  235 2.7.0 nice" in run.stdout
    assert "<~  250 2.2.0 it is done" in run.stdout
    [m] = Message.objects.filter(account=localserve_account)
    data = read_message(m.path)
    assert b"Subject: from swaks\r\n" in data and data.endswith(b"\r\n\r\nswaks body\r\n\r\n\r\n")


def test_swaks_over_465_with_cram_md5(smtp_listener, localserve_account, smtp_tls_context):
    srv = smtp_listener(kind="submissions", tls=smtp_tls_context())
    run = subprocess.run(
        ["swaks", "--server", srv.host, "--port", str(srv.port), "--tls-on-connect", "--auth", "CRAM-MD5",
         "--auth-user", "mox@localhost", "--auth-password", "moxmoxmox", "--from", "mox@localhost",
         "--to", "x@example.org", "--pipeline"],
        capture_output=True, text=True, timeout=60,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "<~  235 2.7.0 nice" in run.stdout
    assert Message.objects.filter(account=localserve_account).count() == 1
