"""TLSA matching with cryptography (RFC 6698 section 2.1, RFC 7672 section 3)."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timezone

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

# RFC 7218 mnemonics.
DANE_TA = 2
DANE_EE = 3
SELECTOR_CERT = 0
SELECTOR_SPKI = 1
MATCH_FULL = 0
MATCH_SHA256 = 1
MATCH_SHA512 = 2


@dataclass(frozen=True)
class TLSARecord:
    usage: int
    selector: int
    matching_type: int
    data: bytes


def usable(records: list[TLSARecord]) -> list[TLSARecord]:
    """RFC 7672 section 3.1.3: only DANE-TA(2) and DANE-EE(3) are used for SMTP, with
    known selectors and matching types; other records are ignored."""
    return [
        r
        for r in records
        if r.usage in (DANE_TA, DANE_EE) and r.selector in (0, 1) and r.matching_type in (0, 1, 2)
    ]


def _selected(cert: x509.Certificate, selector: int) -> bytes:
    if selector == SELECTOR_CERT:
        return cert.public_bytes(Encoding.DER)
    return cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def record_matches(record: TLSARecord, cert: x509.Certificate) -> bool:
    data = _selected(cert, record.selector)
    if record.matching_type == MATCH_SHA256:
        data = hashlib.sha256(data).digest()
    elif record.matching_type == MATCH_SHA512:
        data = hashlib.sha512(data).digest()
    return data == record.data


def name_matches(cert: x509.Certificate, names: list[str]) -> bool:
    """RFC 7672 section 3.2.3 / RFC 6125: a DNS subjectAltName equal to a reference
    name, or a wildcard covering exactly its leftmost label; CN only without SANs."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns_names = san.get_values_for_type(x509.DNSName)
    except x509.ExtensionNotFound:
        dns_names = [a.value for a in cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME) if isinstance(a.value, str)]
    wanted = {n.lower().rstrip(".") for n in names}
    for dn in dns_names:
        dn = dn.lower().rstrip(".")
        if dn in wanted:
            return True
        if dn.startswith("*."):
            for n in wanted:
                if "." in n and n.split(".", 1)[1] == dn[2:]:
                    return True
    return False


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
        return True
    except Exception:  # noqa: BLE001 - any failure means "not issued by"
        return False


def _valid_now(cert: x509.Certificate, now: datetime) -> bool:
    return cert.not_valid_before_utc <= now <= cert.not_valid_after_utc


def verify_chain(
    records: list[TLSARecord], chain_der: list[bytes], host: str, *, now: datetime | None = None, names: list[str] | None = None
) -> tuple[bool, str]:
    """Whether the peer's chain (leaf first) is authenticated by a usable record.

    DANE-EE(3): the leaf matches; names and dates are not checked (RFC 7672 section
    3.1.1). DANE-TA(2): a certificate of the chain matches, the chain from the leaf
    up to it is signed link by link and within its dates, and the leaf carries the
    host name (RFC 7672 section 3.1.2 and 3.2.2)."""
    recs = usable(records)
    if not recs:
        return False, "no usable TLSA records"
    if not chain_der:
        return False, "peer sent no certificate"
    try:
        chain = [x509.load_der_x509_certificate(d) for d in chain_der]
    except ValueError as e:
        return False, f"bad certificate from peer: {e}"
    now = now or datetime.now(timezone.utc)
    leaf = chain[0]
    for r in recs:
        if r.usage == DANE_EE and record_matches(r, leaf):
            return True, "dane-ee"
    for r in recs:
        if r.usage != DANE_TA:
            continue
        for i, cert in enumerate(chain):
            if not record_matches(r, cert):
                continue
            links_ok = all(_issued_by(chain[j], chain[j + 1]) for j in range(i))
            dates_ok = all(_valid_now(c, now) for c in chain[: i + 1])
            if links_ok and dates_ok and name_matches(leaf, names or [host]):
                return True, "dane-ta"
    return False, "no TLSA record matches the peer's certificate"
