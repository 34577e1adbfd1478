"""TLSA matching (RFC 6698 section 2.1, RFC 7672 section 3) with trustme certificates."""
from __future__ import annotations

import hashlib

import trustme
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from mailcore.dane import TLSARecord, verify_chain

CA = trustme.CA()
LEAF = CA.issue_cert("mx.example.org")
LEAF_DER = x509.load_pem_x509_certificate(LEAF.cert_chain_pems[0].bytes()).public_bytes(Encoding.DER)
CA_CERT = x509.load_pem_x509_certificate(CA.cert_pem.bytes())
CA_DER = CA_CERT.public_bytes(Encoding.DER)


def spki(der: bytes) -> bytes:
    return x509.load_der_x509_certificate(der).public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def test_dane_ee_matches_the_leaf_spki_sha256_without_name_checks():
    rec = TLSARecord(3, 1, 1, hashlib.sha256(spki(LEAF_DER)).digest())
    assert verify_chain([rec], [LEAF_DER], "other.example") == (True, "dane-ee")


def test_dane_ee_full_certificate_match():
    assert verify_chain([TLSARecord(3, 0, 0, LEAF_DER)], [LEAF_DER], "mx.example.org") == (True, "dane-ee")


def test_dane_ta_matches_the_issuer_and_checks_the_name():
    rec = TLSARecord(2, 0, 2, hashlib.sha512(CA_DER).digest())
    assert verify_chain([rec], [LEAF_DER, CA_DER], "mx.example.org") == (True, "dane-ta")
    assert verify_chain([rec], [LEAF_DER, CA_DER], "mail.example.org") == (False, "no TLSA record matches the peer's certificate")


def test_dane_ta_needs_the_signature_link():
    other = trustme.CA()
    other_der = x509.load_pem_x509_certificate(other.cert_pem.bytes()).public_bytes(Encoding.DER)
    rec = TLSARecord(2, 0, 1, hashlib.sha256(other_der).digest())
    assert verify_chain([rec], [LEAF_DER, other_der], "mx.example.org")[0] is False


def test_pkix_usages_are_not_usable_for_smtp():
    rec = TLSARecord(1, 0, 0, LEAF_DER)
    assert verify_chain([rec], [LEAF_DER], "mx.example.org") == (False, "no usable TLSA records")


def test_a_wrong_digest_does_not_match():
    rec = TLSARecord(3, 1, 1, b"\x00" * 32)
    assert verify_chain([rec], [LEAF_DER], "mx.example.org") == (False, "no TLSA record matches the peer's certificate")
