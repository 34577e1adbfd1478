"""SCRAM-SHA-256-PLUS and SCRAM-SHA-1-PLUS for IMAP AUTHENTICATE (RFC 5802, RFC 7677)
with the tls-server-end-point channel binding (RFC 5929 section 4), offered only over
TLS. The client side is written out here from RFC 5802 section 3, so the server is not
checked against the library it uses itself; scramp's client is used once as a second
opinion. tls-exporter (RFC 9266) is not offered: Python's ssl module cannot export
keying material.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import ssl

import pytest
from scramp import ScramClient

from tests.fixtures_imap import RawClient, imap_db, start_imap, stop_imap

pytestmark = imap_db

USER, PASSWORD = "alice@example.test", "alicepassword"
PLUS = " AUTH=SCRAM-SHA-256-PLUS AUTH=SCRAM-SHA-1-PLUS"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def end_point(sock: ssl.SSLSocket) -> bytes:
    # RFC 5929 section 4.1: the hash of the server certificate with its signature's hash
    # function (SHA-256 for trustme's certificates).
    der = sock.getpeercert(binary_form=True)
    assert der is not None
    return hashlib.sha256(der).digest()


def scram(c: RawClient, mech: str, *, cb: bytes | None = None, gs2_flag: str | None = None, authzid: str = "",
          password: str = PASSWORD, tag: str = "p1") -> list[str]:
    """One AUTHENTICATE exchange; returns the tagged line (and what preceded it)."""
    hash_name = "sha256" if mech.startswith("SCRAM-SHA-256") else "sha1"
    flag = gs2_flag or ("p=tls-server-end-point" if mech.endswith("-PLUS") else "n")
    gs2 = f"{flag},{'a=' + authzid if authzid else ''},"
    bare = f"n={USER},r={b64(os.urandom(18))}"
    c.send(f"{tag} AUTHENTICATE {mech} {b64((gs2 + bare).encode())}")
    line = c.line()
    if not line.startswith("+ "):
        return [line]
    server_first = base64.b64decode(line[2:]).decode()
    attrs = dict(kv.split("=", 1) for kv in server_first.split(","))
    salted = hashlib.pbkdf2_hmac(hash_name, password.encode(), base64.b64decode(attrs["s"]), int(attrs["i"]))
    client_key = hmac.new(salted, b"Client Key", hash_name).digest()
    stored_key = hashlib.new(hash_name, client_key).digest()
    without_proof = f"c={b64(gs2.encode() + (cb if flag.startswith('p=') and cb else b''))},r={attrs['r']}"
    auth_message = f"{bare},{server_first},{without_proof}".encode()
    signature = hmac.new(stored_key, auth_message, hash_name).digest()
    proof = bytes(a ^ b for a, b in zip(client_key, signature))
    c.send(b64(f"{without_proof},p={b64(proof)}".encode()))
    line = c.line()
    if not line.startswith("+ "):
        return [line]
    server_key = hmac.new(salted, b"Server Key", hash_name).digest()
    expected = "v=" + b64(hmac.new(server_key, auth_message, hash_name).digest())
    assert base64.b64decode(line[2:]).decode() == expected
    c.send("")
    return c.until_tagged(tag)


@pytest.fixture
def tls_context(tls_files) -> ssl.SSLContext:  # type: ignore[no-untyped-def]
    ctx = tls_files.server_context()
    # As autotls's contexts do: the DER of the certificate served, for the binding.
    ctx.cert_der = ssl.PEM_cert_to_DER_cert(tls_files.cert.cert_chain_pems[0].bytes().decode())  # type: ignore[attr-defined]
    return ctx


@pytest.fixture
def imaps(loop_thread, alice, tls_context):  # type: ignore[no-untyped-def]
    server, address = start_imap(loop_thread, implicit_tls=True, tls=tls_context, localserve=False)
    yield address
    stop_imap(loop_thread, server)


def connect(imaps, tls_files) -> tuple[RawClient, str]:  # type: ignore[no-untyped-def]
    c = RawClient(imaps.host, imaps.port, tls=tls_files.client_context())
    return c, c.line()


@pytest.mark.parametrize("mech", ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS"])
def test_it_logs_in_with_channel_binding(imaps, tls_files, mech):
    c, greeting = connect(imaps, tls_files)
    assert greeting.endswith(" AUTH=PLAIN" + PLUS + "] mox imap")
    caps = greeting[len("* OK [CAPABILITY "):-len("] mox imap")]
    assert scram(c, mech, cb=end_point(c.sock)) == [f"p1 OK [CAPABILITY {caps}] authenticate done"]
    assert c.cmd("p2 SELECT Inbox")[-1] == "p2 OK [READ-WRITE] x"
    c.close()


def test_it_accepts_an_authzid_naming_the_user_and_refuses_another(imaps, tls_files):
    c, _ = connect(imaps, tls_files)
    assert scram(c, "SCRAM-SHA-256-PLUS", cb=end_point(c.sock), authzid="bob@example.test") == [
        "p1 NO [AUTHORIZATIONFAILED] cannot assume other role"
    ]
    assert scram(c, "SCRAM-SHA-256-PLUS", cb=end_point(c.sock), authzid=USER, tag="p2")[-1].endswith(
        "] authenticate done"
    )
    c.close()


def test_it_refuses_wrong_binding_data_downgrades_and_wrong_passwords(imaps, tls_files):
    c, _ = connect(imaps, tls_files)
    other = hashlib.sha256(b"another certificate").digest()
    assert scram(c, "SCRAM-SHA-256-PLUS", cb=other) == ["p1 NO [AUTHENTICATIONFAILED] invalid credentials"]
    # "y": the client could bind but believes we cannot; we offered -PLUS, so this is a
    # downgrade (RFC 5802 section 6).
    assert scram(c, "SCRAM-SHA-256", gs2_flag="y", tag="p2") == ["p2 NO [AUTHENTICATIONFAILED] invalid credentials"]
    assert scram(c, "SCRAM-SHA-1-PLUS", cb=end_point(c.sock), password="wrong", tag="p3") == [
        "p3 NO [AUTHENTICATIONFAILED] invalid credentials"
    ]
    # Without binding, plain SCRAM still works over TLS.
    assert scram(c, "SCRAM-SHA-256", tag="p4")[-1].endswith("] authenticate done")
    c.close()


def test_scramp_client_binds_too(imaps, tls_files):
    c, _ = connect(imaps, tls_files)
    client = ScramClient(["SCRAM-SHA-256-PLUS"], USER, PASSWORD, channel_binding=("tls-server-end-point", c.sock))
    c.send("p1 AUTHENTICATE SCRAM-SHA-256-PLUS " + b64(client.get_client_first().encode()))
    client.set_server_first(base64.b64decode(c.line()[2:]).decode())
    c.send(b64(client.get_client_final().encode()))
    client.set_server_final(base64.b64decode(c.line()[2:]).decode())
    c.send("")
    assert c.until_tagged("p1")[-1].endswith("] authenticate done")
    c.close()


def test_plus_is_offered_only_after_starttls(loop_thread, alice, tls_context, tls_files):
    server, addr = start_imap(loop_thread, tls=tls_context, localserve=False)
    try:
        c = RawClient(addr.host, addr.port)
        greeting = c.line()
        assert greeting.endswith(" AUTH=CRAM-MD5 ID APPENDLIMIT=104857600 NAMESPACE CONDSTORE QRESYNC MULTIAPPEND "
                                 "STATUS=SIZE CREATE-SPECIAL-USE QUOTA QUOTA=RES-STORAGE SORT THREAD=ORDEREDSUBJECT "
                                 "THREAD=REFERENCES STARTTLS LOGINDISABLED] mox imap")
        assert c.cmd("a1 AUTHENTICATE SCRAM-SHA-256-PLUS") == ["a1 NO [CANNOT] unsupported authentication mechanism"]
        assert c.cmd("a2 STARTTLS") == ["a2 OK STARTTLS done"]
        c.sock = tls_files.client_context().wrap_socket(c.sock, server_hostname="localhost")
        c.file = c.sock.makefile("rb")
        caps = c.cmd("a3 CAPABILITY")
        assert caps[0].endswith(" AUTH=PLAIN" + PLUS) and caps[1] == "a3 OK CAPABILITY done"
        assert scram(c, "SCRAM-SHA-1-PLUS", cb=end_point(c.sock), tag="a4")[-1].endswith("] authenticate done")
        c.close()
    finally:
        stop_imap(loop_thread, server)
