"""The TLS-ALPN-01 challenge certificate (RFC 8737 section 3)."""
from __future__ import annotations

import hashlib

import josepy as jose
from acme import challenges
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from autotls import store, tlsalpn


def test_it_builds_the_acme_identifier_certificate() -> None:
    key = store.new_private_key()
    cert = tlsalpn.challenge_certificate("mail.example.test", "token.thumb", key)
    ext = cert.extensions.get_extension_for_oid(tlsalpn.ACME_IDENTIFIER_OID)
    assert ext.critical
    assert ext.value.value == b"\x04\x20" + hashlib.sha256(b"token.thumb").digest()  # type: ignore[attr-defined]
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["mail.example.test"]


def test_it_computes_the_key_authorization_like_the_library() -> None:
    account = jose.JWKEC(key=store.new_private_key())
    token = b"evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"
    http01 = challenges.HTTP01(token=token)
    assert tlsalpn.key_authorization(jose.b64encode(token).decode(), account) == http01.key_authorization(account)
    assert account.thumbprint(hash_function=hashes.SHA256)


def test_it_recognizes_the_challenge_and_answers_with_an_empty_object() -> None:
    chall = challenges.Challenge.from_json({"type": "tls-alpn-01", "token": "abc"})
    assert tlsalpn.is_tls_alpn(chall)
    assert tlsalpn.token(chall) == "abc"
    assert tlsalpn.response().to_partial_json() == {}
