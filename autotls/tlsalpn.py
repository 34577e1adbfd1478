"""TLS-ALPN-01 (RFC 8737), which the acme library no longer implements: the key
authorization, the challenge certificate, and the response the CA expects.

How it is served: the SNI callback in autotls.tls switches the context for that one
host name to one holding the challenge certificate with ALPN "acme-tls/1" while the
challenge is pending (alpn/<host>.pem exists). Normal TLS clients asking for that name
during those seconds get the challenge certificate and fail; peeking at the ClientHello
for the ALPN extension would avoid that, but needs the listeners' accept loop.
"""
from __future__ import annotations

import datetime
import hashlib
from typing import Any

import josepy as jose
from acme import challenges
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID, ObjectIdentifier

TYPE = "tls-alpn-01"
# RFC 8737 section 6.1: the ALPN protocol name.
ALPN_PROTOCOL = "acme-tls/1"
# RFC 8737 section 6.2: id-pe-acmeIdentifier.
ACME_IDENTIFIER_OID = ObjectIdentifier("1.3.6.1.5.5.7.1.31")


def is_tls_alpn(chall: challenges.Challenge) -> bool:
    return isinstance(chall, challenges.UnrecognizedChallenge) and chall.jobj.get("type") == TYPE


def token(chall: challenges.Challenge) -> str:
    value = chall.jobj.get("token") if isinstance(chall, challenges.UnrecognizedChallenge) else None
    if not isinstance(value, str) or not value:
        raise ValueError("tls-alpn-01 challenge without a token")
    return value


def key_authorization(token: str, account_key: jose.JWK) -> str:
    """RFC 8555 section 8.1: token "." base64url(JWK thumbprint, RFC 7638)."""
    return token + "." + jose.b64encode(account_key.thumbprint(hash_function=hashes.SHA256)).decode()


def challenge_certificate(
    hostname: str, key_authz: str, key: Any, now: datetime.datetime | None = None
) -> x509.Certificate:
    """RFC 8737 section 3: self-signed, exactly one dNSName SAN (the name being
    validated) and a critical acmeIdentifier extension holding the SHA-256 digest of
    the key authorization as a DER OCTET STRING."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    digest = hashlib.sha256(key_authz.encode("ascii")).digest()
    octet_string = b"\x04" + bytes([len(digest)]) + digest
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "acme-tls-alpn-01 challenge")])
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=7))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
        .add_extension(x509.UnrecognizedExtension(ACME_IDENTIFIER_OID, octet_string), critical=True)
        .sign(key, hashes.SHA256())
    )


def response() -> challenges.ChallengeResponse:
    """RFC 8737 section 3: the client responds with an empty JSON object; any key
    authorization response of the library serializes to exactly that."""
    return challenges.HTTP01Response()
