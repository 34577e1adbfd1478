"""AUTHENTICATE (PLAIN with SASL-IR, CRAM-MD5, SCRAM-SHA-1/256), LOGINDISABLED until
STARTTLS, and implicit TLS on the IMAPS port (RFC 9051 6.2, RFC 4959, RFC 8314)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import imaplib

import pytest
from scramp import ScramClient

from tests.fixtures_imap import RawClient, start_imap, stop_imap, imap_db

pytestmark = imap_db


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_it_authenticates_with_plain_cram_md5_and_scram(imap):
    c = RawClient(imap.host, imap.port)
    c.line()
    assert c.cmd("a1 AUTHENTICATE PLAIN " + b64(b"\x00alice@example.test\x00wrong")) == [
        "a1 NO [AUTHENTICATIONFAILED] invalid credentials"
    ]
    assert c.cmd("a2 AUTHENTICATE PLAIN " + b64(b"bob\x00alice@example.test\x00alicepassword")) == [
        "a2 NO [AUTHORIZATIONFAILED] cannot assume other role"
    ]
    c.send("a3 AUTHENTICATE PLAIN")
    assert c.line() == "+ "
    c.send("*")
    assert c.until_tagged("a3") == ["a3 BAD authenticate aborted by client"]
    c.send("a4 AUTHENTICATE PLAIN")
    assert c.line() == "+ "
    c.send(b64(b"\x00alice@example.test\x00alicepassword"))
    lines = c.until_tagged("a4")
    assert lines[-1].startswith("a4 OK [CAPABILITY IMAP4rev2 ") and lines[-1].endswith("] authenticate done")
    c.close()

    c = RawClient(imap.host, imap.port)
    c.line()
    c.send("b1 AUTHENTICATE CRAM-MD5")
    challenge = base64.b64decode(c.line()[2:])
    digest = hmac.new(b"alicepassword", challenge, hashlib.md5).hexdigest()
    c.send(b64(f"alice@example.test {digest}".encode()))
    assert c.until_tagged("b1")[-1].endswith("authenticate done")
    c.close()

    for mech in ("SCRAM-SHA-256", "SCRAM-SHA-1"):
        c = RawClient(imap.host, imap.port)
        c.line()
        client = ScramClient([mech], "alice@example.test", "alicepassword")
        c.send(f"c1 AUTHENTICATE {mech} " + b64(client.get_client_first().encode()))
        client.set_server_first(base64.b64decode(c.line()[2:]).decode())
        c.send(b64(client.get_client_final().encode()))
        client.set_server_final(base64.b64decode(c.line()[2:]).decode())
        c.send("")
        assert c.until_tagged("c1")[-1].endswith("authenticate done")
        assert c.cmd("c2 SELECT Inbox")[-1] == "c2 OK [READ-WRITE] x"
        c.close()

    c = RawClient(imap.host, imap.port)
    c.line()
    client = ScramClient(["SCRAM-SHA-256"], "alice@example.test", "wrongpassword")
    c.send("d1 AUTHENTICATE SCRAM-SHA-256 " + b64(client.get_client_first().encode()))
    client.set_server_first(base64.b64decode(c.line()[2:]).decode())
    c.send(b64(client.get_client_final().encode()))
    assert c.line() == "d1 NO [AUTHENTICATIONFAILED] invalid credentials"
    c.close()


def test_it_requires_tls_for_login_and_offers_starttls_and_imaps(loop_thread, alice, tls_files):
    server, addr = start_imap(loop_thread, tls=tls_files.server_context(), localserve=False)
    try:
        c = RawClient(addr.host, addr.port)
        greeting = c.line()
        assert greeting.endswith(" STARTTLS LOGINDISABLED] mox imap")
        assert c.cmd("a1 LOGIN alice@example.test alicepassword") == ["a1 NO [PRIVACYREQUIRED] tls required for login"]
        assert c.cmd("a2 AUTHENTICATE PLAIN " + b64(b"\x00alice@example.test\x00alicepassword")) == [
            "a2 NO [PRIVACYREQUIRED] tls required for login"
        ]
        c.close()
        # Commands pipelined in plaintext after STARTTLS end the connection.
        c = RawClient(addr.host, addr.port)
        c.line()
        c.send("a1 STARTTLS\r\na2 LOGIN alice@example.test alicepassword")
        assert c.line() == "a1 OK STARTTLS done"
        assert c.file.readline() == b""
        c.close()
        with imaplib.IMAP4(addr.host, addr.port) as m:
            m.starttls(ssl_context=tls_files.client_context())
            assert "AUTH=PLAIN" in m.capabilities and "STARTTLS" not in m.capabilities
            assert m.login("alice@example.test", "alicepassword")[0] == "OK"
            assert m.select("Inbox") == ("OK", [b"0"])
    finally:
        stop_imap(loop_thread, server)
    server, addr = start_imap(loop_thread, implicit_tls=True, tls=tls_files.server_context(), localserve=False)
    try:
        with imaplib.IMAP4_SSL(addr.host, addr.port, ssl_context=tls_files.client_context()) as m:
            assert "AUTH=PLAIN" in m.capabilities and "STARTTLS" not in m.capabilities
            assert m.login("alice@example.test", "alicepassword")[0] == "OK"
            assert m.logout()[0] == "BYE"
    finally:
        stop_imap(loop_thread, server)


def test_each_failed_login_is_logged_with_user_and_address(imap, caplog):
    c = RawClient(imap.host, imap.port)
    c.line()
    with caplog.at_level("INFO", logger="imapserver.auth"):
        assert c.cmd("a1 LOGIN mallory@example.test guess") == ["a1 NO [AUTHENTICATIONFAILED] invalid credentials"]
        assert c.cmd("a2 AUTHENTICATE PLAIN " + b64(b"\x00alice@example.test\x00wrong")) == [
            "a2 NO [AUTHENTICATIONFAILED] invalid credentials"]
    c.close()
    failures = [(r.username, r.mechanism, r.remote_ip) for r in caplog.records if r.getMessage() == "failed authentication attempt"]
    assert failures == [("mallory@example.test", "LOGIN", "127.0.0.1"), ("alice@example.test", "PLAIN", "127.0.0.1")]
