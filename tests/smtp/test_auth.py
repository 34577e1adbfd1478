"""SMTP AUTH on submission: SCRAM-SHA-1/256 (+PLUS over TLS), CRAM-MD5, PLAIN, LOGIN,
TLS requirements, failures and their replies."""
from __future__ import annotations

import base64
import hashlib
import hmac
import smtplib
import socket
import ssl

import pytest
import trustme
from scramp import ScramClient

from tests.fixtures_smtp import RawSMTP

pytestmark = pytest.mark.django_db(transaction=True)


def b64(data: bytes | str) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def scram_exchange(c, mech: str, user: str, password: str, cb=None) -> str:  # type: ignore[no-untyped-def]
    client = ScramClient([mech], user, password, channel_binding=cb)
    reply = c.cmd(f"AUTH {mech} {b64(client.get_client_first())}")
    if not reply.startswith("334 "):
        return reply
    client.set_server_first(base64.b64decode(reply[4:]).decode())
    reply = c.cmd(b64(client.get_client_final()))
    if not reply.startswith("334 "):
        return reply
    client.set_server_final(base64.b64decode(reply[4:]).decode())
    return c.cmd("")


@pytest.mark.parametrize("mech", ["SCRAM-SHA-256", "SCRAM-SHA-1"])
def test_scram_logs_in_and_rejects_wrong_passwords(smtp_listener, raw_smtp, localserve_account, mech):
    srv = smtp_listener(kind="submission")
    c = raw_smtp(srv)
    c.cmd("EHLO client.example")
    assert scram_exchange(c, mech, "mox@localhost", "wrongpassword") == "535 5.7.8 bad credentials"
    assert scram_exchange(c, mech, "nobody@localhost", "x") == "454 4.3.0 scram not possible"
    assert scram_exchange(c, mech, "mox@localhost", "moxmoxmox") == "235 2.7.0 nice"
    assert c.cmd("AUTH PLAIN") == "503 5.5.1 already authenticated"


def test_scram_plus_binds_to_the_tls_certificate(smtp_listener, raw_smtp, localserve_account, smtp_tls_context,
                                                 tls_files):
    srv = smtp_listener(kind="submissions", tls=smtp_tls_context())
    c = raw_smtp(srv, tls=tls_files.client_context())
    ehlo = c.cmd("EHLO client.example").split("\n")
    assert ehlo[3] == "250-AUTH SCRAM-SHA-256-PLUS SCRAM-SHA-256 SCRAM-SHA-1-PLUS SCRAM-SHA-1 CRAM-MD5 PLAIN LOGIN"
    assert ehlo[-1] == "250 REQUIRETLS"
    assert scram_exchange(c, "SCRAM-SHA-256-PLUS", "mox@localhost", "moxmoxmox",
                          cb=("tls-server-end-point", c.sock)) == "235 2.7.0 nice"


def test_scram_plus_fails_with_another_certificate(smtp_listener, raw_smtp, localserve_account, smtp_tls_context,
                                                   tls_files):
    srv = smtp_listener(kind="submissions", tls=smtp_tls_context())
    c = raw_smtp(srv, tls=tls_files.client_context())
    c.cmd("EHLO client.example")
    wrong = ("tls-server-end-point", hashlib.sha256(b"another certificate").digest())
    assert scram_exchange(c, "SCRAM-SHA-256-PLUS", "mox@localhost", "moxmoxmox", cb=wrong).startswith("5")


def test_plus_is_not_offered_without_tls(smtp_listener, raw_smtp, localserve_account):
    c = raw_smtp(smtp_listener(kind="submission"))
    c.cmd("EHLO client.example")
    assert c.cmd("AUTH SCRAM-SHA-256-PLUS") == "504 5.5.4 mechanism SCRAM-SHA-256-PLUS not supported"
    assert c.cmd("AUTH GSSAPI") == "504 5.5.4 mechanism GSSAPI not supported"


def test_cram_md5_and_login_with_smtplib(smtp_listener, localserve_account):
    srv = smtp_listener(kind="submission")
    for mech in ("CRAM-MD5", "LOGIN", "PLAIN"):
        with smtplib.SMTP(srv.host, srv.port) as c:
            c.ehlo("client.example")
            c.user, c.password = "mox@localhost", "moxmoxmox"
            authobject = {"CRAM-MD5": c.auth_cram_md5, "LOGIN": c.auth_login, "PLAIN": c.auth_plain}[mech]
            assert c.auth(mech, authobject, initial_response_ok=mech != "CRAM-MD5") == (235, b"2.7.0 nice")


def test_cram_md5_rejects_a_wrong_digest(smtp_listener, raw_smtp, localserve_account):
    c = raw_smtp(smtp_listener(kind="submission"))
    c.cmd("EHLO client.example")
    challenge = base64.b64decode(c.cmd("AUTH CRAM-MD5")[4:])
    assert challenge.startswith(b"<") and challenge.endswith(b"@localhost>")
    digest = hmac.new(b"wrongpassword", challenge, "md5").hexdigest()
    assert c.cmd(b64(f"mox@localhost {digest}")) == "535 5.7.8 bad user/pass"


def test_plain_failures_and_abort(smtp_listener, raw_smtp, localserve_account):
    c = raw_smtp(smtp_listener(kind="submission"))
    c.cmd("EHLO client.example")
    assert c.cmd("AUTH PLAIN " + b64("\0mox@localhost\0wrong")) == "535 5.7.8 bad user/pass"
    assert c.cmd("AUTH PLAIN " + b64("other@localhost\0mox@localhost\0moxmoxmox")) == (
        "535 5.7.8 cannot assume other role")
    assert c.cmd("AUTH PLAIN") == "334 "
    assert c.cmd("*") == "501 5.5.0 authentication aborted"
    assert c.cmd("AUTH PLAIN !!!") == "501 5.5.2 bad syntax: invalid base64"
    assert c.cmd("AUTH PLAIN " + b64("mox@localhost\0mox@localhost\0moxmoxmox")) == "235 2.7.0 nice"


def test_plain_and_login_need_tls_outside_localserve(smtp_listener, raw_smtp, alice, smtp_tls_context, tls_files):
    srv = smtp_listener(kind="submission", localserve=False, tls=smtp_tls_context(), hostname="mail.example.test")
    c = raw_smtp(srv)
    lines = c.cmd("EHLO client.example").split("\n")
    assert lines == [
        "250-mail.example.test", "250-PIPELINING", f"250-SIZE {srv.config.max_message_size}", "250-STARTTLS",
        "250-AUTH SCRAM-SHA-256 SCRAM-SHA-1 CRAM-MD5", "250-ENHANCEDSTATUSCODES", "250-8BITMIME", "250-SMTPUTF8",
        "250-CHUNKING", "250 DSN",
    ]
    assert c.cmd("AUTH PLAIN " + b64("\0alice@example.test\0alicepassword")) == (
        "538 5.7.11 authentication requires tls")
    assert c.cmd("STARTTLS") == "220 2.0.0 go!"
    c.starttls(tls_files.client_context())
    assert c.cmd("AUTH PLAIN " + b64("\0alice@example.test\0alicepassword")) == "503 5.5.1 no ehlo/helo yet"
    lines = c.cmd("EHLO client.example").split("\n")
    assert "250-STARTTLS" not in lines
    assert lines[3] == (
        "250-AUTH SCRAM-SHA-256-PLUS SCRAM-SHA-256 SCRAM-SHA-1-PLUS SCRAM-SHA-1 CRAM-MD5 PLAIN LOGIN")
    assert c.cmd("AUTH PLAIN " + b64("\0alice+tag@example.test\0alicepassword")) == "235 2.7.0 nice"


def test_mail_needs_tls_on_submission(smtp_listener, raw_smtp, alice, smtp_tls_context):
    srv = smtp_listener(kind="submission", localserve=False, tls=smtp_tls_context())
    c = raw_smtp(srv)
    c.cmd("EHLO client.example")
    assert scram_exchange(c, "SCRAM-SHA-256", "alice@example.test", "alicepassword") == "235 2.7.0 nice"
    assert c.cmd("MAIL FROM:<alice@example.test>") == "530 5.7.0 STARTTLS required for mail delivery"


def test_failed_logins_slow_down_and_count(smtp_listener, raw_smtp, localserve_account):
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    srv = smtp_listener(kind="submission", sleep=sleep, auth_fail_delay=5.0, slow_delay=1.0)
    c = raw_smtp(srv)
    c.cmd("EHLO client.example")
    bad = "AUTH PLAIN " + b64("\0mox@localhost\0wrong")
    for _ in range(2):
        assert c.cmd(bad) == "535 5.7.8 bad user/pass"
    assert slept == []
    assert c.cmd(bad) == "535 5.7.8 bad user/pass"  # the 3rd failure switches to slow mode
    # Slow mode: each reply byte a second apart (and a pause before each read).
    assert slept.count(1.0) >= len("535 5.7.8 bad user/pass\r\n") - 1
    assert c.cmd(bad) == "535 5.7.8 bad user/pass"
    assert 5.0 not in slept
    assert c.cmd(bad) == "535 5.7.8 bad user/pass"
    assert slept.count(5.0) == 1  # the 5th attempt waits (4 - 3) x 5 s
    assert c.cmd("AUTH PLAIN " + b64("\0mox@localhost\0moxmoxmox")) == "235 2.7.0 nice"
    assert slept.count(10.0) == 1
    slept.clear()
    assert c.cmd("NOOP") == "250 2.0.0 alrighty"
    assert slept == []  # success leaves slow mode


def test_too_many_auth_failures_refuse_new_submission_connections(smtp_listener, raw_smtp, localserve_account):
    srv = smtp_listener(kind="submission")
    # One instant: the limiter's windows are whole minutes (as mox's), and ten failures
    # straddling a minute's end would count in two of them.
    srv.config.limiters.auth_failures.clock = lambda: 1_800_000_030.0
    c = raw_smtp(srv)
    c.cmd("EHLO client.example")
    for _ in range(10):
        c.cmd("AUTH PLAIN " + b64("\0mox@localhost\0wrong"))
    late = raw_smtp(srv, greet=False)
    assert late.reply() == ["421 4.7.0 too many auth failures"]
    assert late.closed()


def test_scram_plus_uses_the_certificate_chosen_by_sni(smtp_listener, localserve_account, tls_files):
    """With SNI the handshake may switch contexts; each carries `cert_der` (autotls)."""
    other = trustme.CA().issue_cert("other.example")
    sni_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    other.configure_cert(sni_ctx)
    sni_ctx.cert_der = ssl.PEM_cert_to_DER_cert(other.cert_chain_pems[0].bytes().decode())  # type: ignore[attr-defined]
    base = tls_files.server_context()

    def choose(sslobj, server_name, _ctx):  # type: ignore[no-untyped-def]
        if server_name == "other.example":
            sslobj.context = sni_ctx

    base.sni_callback = choose
    srv = smtp_listener(kind="submissions", tls=base)
    client_ctx = ssl.create_default_context()
    client_ctx.check_hostname = False
    client_ctx.verify_mode = ssl.CERT_NONE
    sock = client_ctx.wrap_socket(socket.create_connection((srv.host, srv.port), timeout=10),
                                  server_hostname="other.example")
    c = RawSMTP.__new__(RawSMTP)
    c.sock, c.buf = sock, b""
    try:
        c.reply()
        assert "SCRAM-SHA-256-PLUS" in c.cmd("EHLO client.example")
        assert scram_exchange(c, "SCRAM-SHA-256-PLUS", "mox@localhost", "moxmoxmox",
                              cb=("tls-server-end-point", c.sock)) == "235 2.7.0 nice"
    finally:
        sock.close()
