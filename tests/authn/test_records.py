"""Record parsers: DMARC records, DKIM signatures and key records, tag lists.
Exact values for known inputs; hypothesis asserts only ParseError ever escapes."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailcore.authn.dkim import KeyRecord, Signature, parse_key_record, parse_signature
from mailcore.authn.dmarcrecord import Alignment, DMARCRecord, Policy, is_dmarc_record, parse_record
from mailcore.authn.errors import ParseError
from mailcore.authn.tags import parse_tags


def test_dmarc_record_all_tags() -> None:
    rec = parse_record(
        "v=DMARC1; p=Quarantine; sp=reject; np=none; adkim=s; aspf=r; pct=20; psd=n; t=y; "
        "rua=mailto:a@example.test!10m, mailto:b@example.org; ruf=mailto:f@example.test; fo=1; ri=3600; future=x;"
    )
    assert rec == DMARCRecord(
        policy=Policy.quarantine,
        subdomain_policy=Policy.reject,
        nonexistent_policy=Policy.none,
        adkim=Alignment.strict,
        aspf=Alignment.relaxed,
        pct=20,
        psd="n",
        testing=True,
        rua=("mailto:a@example.test!10m", "mailto:b@example.org"),
        ruf=("mailto:f@example.test",),
        fo="1",
        ri=3600,
    )


def test_dmarc_record_defaults_and_rfc7489_fallback() -> None:
    assert parse_record("v=DMARC1;p=none") == DMARCRecord(Policy.none)
    # RFC 7489 section 6.6.3: bad p= with a valid rua acts as p=none.
    assert parse_record("v=DMARC1; p=bogus; rua=mailto:r@example.test") == DMARCRecord(
        Policy.none, rua=("mailto:r@example.test",), p_missing=True
    )


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("p=reject; v=DMARC1", "record does not start with v=DMARC1"),
        ("v=DMARC1", "missing p="),
        ("v=DMARC1; p=reject; pct=101", "bad pct='101'"),
        ("v=DMARC1; p=reject; adkim=x", "bad adkim='x'"),
        ("v=DMARC1; p=reject; p=none", "duplicate tag 'p'"),
        ("v=DMARC1; p=reject; rua=nocolon", "bad report URI 'nocolon'"),
        ("v=DMARC1; p", "tag without '=': 'p'"),
    ],
)
def test_dmarc_record_errors(text: str, error: str) -> None:
    with pytest.raises(ParseError) as e:
        parse_record(text)
    assert str(e.value) == error


def test_is_dmarc_record() -> None:
    assert is_dmarc_record(b"v=DMARC1; p=none")
    assert is_dmarc_record(" v = DMARC1 ;p=none")
    assert not is_dmarc_record("v=spf1 -all")
    assert not is_dmarc_record("v=DMARC10; p=none")


def test_dkim_signature_fields() -> None:
    sig = parse_signature(
        "v=1; a=RSA-SHA256; c=relaxed; d=Example.Test; s=sel;\r\n i=alice@mail.example.test; t=10; x=20; l=5;\r\n"
        " h=From : Subject:\r\n to; bh=AAAA; b=AB\r\n CD"
    )
    assert sig == Signature(
        algorithm="rsa-sha256",
        b="ABCD",
        body_hash="AAAA",
        domain="example.test",
        selector="sel",
        signed_headers=("from", "subject", "to"),
        canonicalization="relaxed/simple",
        identity="alice@mail.example.test",
        length=5,
        timestamp=10,
        expiration=20,
    )


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("v=1; a=rsa-sha256; d=x.test; s=s; h=from; bh=AAAA", "missing required tag b="),
        ("v=2; a=rsa-sha256; d=x.test; s=s; h=from; bh=AAAA; b=AAAA", "unsupported version v=2"),
        ("v=1; a=rsa-md5; d=x.test; s=s; h=from; bh=AAAA; b=AAAA", "unknown algorithm a=rsa-md5"),
        ("v=1; a=rsa-sha256; d=x.test; s=s; h=to; bh=AAAA; b=AAAA", "h= does not include From"),
        ("v=1; a=rsa-sha256; d=x.test; s=s; h=from; bh=AAAA; b=A!AA", "b=: invalid base64"),
        ("v=1; a=rsa-sha256; d=x.test; s=s; h=from; bh=AAAA; b=AAAA; i=a@y.test", "i= is not in the d= domain"),
        ("v=1; a=rsa-sha256; d=x.test; s=s; h=from; bh=AAAA; b=AAAA; t=5; x=4", "x= is before t="),
        ("v=1; a=rsa-sha256; d=x.test; s=s; h=from; bh=AAAA; b=AAAA; c=fancy", "unknown canonicalization c=fancy/simple"),
    ],
)
def test_dkim_signature_errors(text: str, error: str) -> None:
    with pytest.raises(ParseError) as e:
        parse_signature(text)
    assert str(e.value) == error


def test_dkim_key_records() -> None:
    ed = "v=DKIM1; k=ed25519; h=sha256; s=email:tlsrpt; t=y:s; n=note; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
    assert parse_key_record(ed) == KeyRecord(
        "ed25519",
        bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"),
        ("sha256",),
        ("email", "tlsrpt"),
        ("y", "s"),
        "note",
        256,
    )
    assert parse_key_record("p=") == KeyRecord("rsa", b"")
    for bad, error in [
        ("k=rsa; v=DKIM1; p=", "v= must be first and DKIM1"),
        ("v=DKIM1", "missing p= public key"),
        ("v=DKIM1; k=dsa; p=", "unknown key type k=dsa"),
        ("v=DKIM1; k=ed25519; p=AAAA", "ed25519 p= is not 32 bytes"),
        ("v=DKIM1; p=AAAA", "p= is not an RSA public key"),
    ]:
        with pytest.raises(ParseError) as e:
            parse_key_record(bad)
        assert str(e.value) == error


_tagish = st.lists(
    st.tuples(
        st.sampled_from(["v", "p", "sp", "np", "adkim", "aspf", "pct", "psd", "t", "rua", "ruf", "ri", "fo", "a", "b", "bh",
                         "d", "h", "s", "c", "i", "l", "x", "k", "q", "n", "X-y", "1"]),
        st.text(alphabet=st.characters(codec="utf-8"), max_size=12)
        | st.sampled_from(["DMARC1", "DKIM1", "1", "reject", "none", "rsa-sha256", "ed25519", "from:subject", "AAAA",
                           "mailto:a@b", "r", "s", "y", "100", "example.test", ""]),
    ),
    max_size=10,
).map(lambda pairs: ";".join(f"{k}={v}" for k, v in pairs))


@settings(max_examples=150, deadline=None)
@given(st.one_of(st.text(max_size=80), _tagish, _tagish.map(lambda s: "v=DMARC1;" + s), _tagish.map(lambda s: "v=1;" + s)))
def test_only_parse_errors_escape(text: str) -> None:
    for parser in (parse_tags, parse_record, parse_signature, parse_key_record):
        try:
            parser(text)
        except ParseError:
            pass


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=80))
def test_only_parse_errors_escape_for_bytes(data: bytes) -> None:
    for parser in (parse_record, parse_signature, parse_key_record):
        try:
            parser(data)
        except ParseError:
            pass
    assert is_dmarc_record(data) in (True, False)
