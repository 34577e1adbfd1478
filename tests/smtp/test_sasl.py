"""The pure SASL mechanisms: only their own errors escape, and CRAM-MD5 verifies from
the stored pad states alone."""
from __future__ import annotations

import hmac

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailcore.sasl import server as sasl
from mailcore.sasl.md5state import cram_md5_states


def test_plain_parsing():
    assert sasl.parse_plain(b"\0user\0pass") == ("", "user", "pass")
    assert sasl.parse_plain("zid\0jörg\0pw".encode()) == ("zid", "jörg", "pw")
    for bad in (b"user\0pass", b"\0\0pass", b"\0a\0b\0c", b"\0\xff\0x"):
        with pytest.raises(sasl.SASLError):
            sasl.parse_plain(bad)


def test_cram_md5_verifies_from_pad_states():
    ipad, opad = cram_md5_states(b"moxmoxmox")
    challenge = b"<1.2@localhost>"
    digest = hmac.new(b"moxmoxmox", challenge, "md5").hexdigest()
    assert sasl.parse_cram_md5(f"mox@localhost {digest}".encode()) == ("mox@localhost", digest)
    sasl.verify_cram_md5(ipad, opad, challenge, digest)
    with pytest.raises(sasl.AuthFailed):
        sasl.verify_cram_md5(ipad, opad, challenge, "0" * 32)


def test_scram_client_first_username_and_authzid():
    ex = sasl.ScramExchange("SCRAM-SHA-256", None)
    assert ex.client_first(b"n,,n=a=2Cb=3Dc,r=abc") == "a,b=c"
    with pytest.raises(sasl.AuthFailed):
        sasl.ScramExchange("SCRAM-SHA-1", None).client_first(b"n,a=other,n=me,r=abc")
    with pytest.raises(sasl.SASLError):
        sasl.ScramExchange("SCRAM-SHA-256-PLUS", None)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=80))
def test_only_sasl_errors_escape(data):
    for fn in (sasl.parse_plain, sasl.parse_cram_md5, sasl.b64decode,
               lambda d: sasl.ScramExchange("SCRAM-SHA-256", None).client_first(d)):
        try:
            fn(data)
        except (sasl.SASLError, sasl.AuthFailed):
            pass


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=60), st.text(max_size=80))
def test_only_sasl_errors_escape_a_whole_scram_exchange(first_tail, final):
    from mailcore.sasl.secrets import scram_secret

    secret = scram_secret("sha256", "password", 4096, salt=b"0123456789abcdef")
    ex = sasl.ScramExchange("SCRAM-SHA-256", None)
    try:
        ex.client_first(("n,,n=user," + first_tail).encode())
        ex.server_first(secret)
        ex.client_final(final.encode())
    except (sasl.SASLError, sasl.AuthFailed):
        pass
