"""DKIM keys for a domain.

Key generation is mailcore.authn.dkimsign's (RSA-2048, RFC 6376; Ed25519,
RFC 8463; PKCS#8 PEM); this module stores them in `DKIMKey`. Selectors follow mox's
quickstart: `<year>a` Ed25519 and `<year>b` RSA sign, `<year>c` Ed25519 and `<year>d` RSA
are published but unused, ready for a key rotation.
"""
from __future__ import annotations

from datetime import date

from django.db import transaction

from accounts.models import DKIMKey, Domain
from mailcore.authn import dkimsign


def generate_private_key_pem(algorithm: str) -> str:
    if algorithm == DKIMKey.Algorithm.RSA:
        return dkimsign.generate_rsa_key(2048).decode("ascii")
    if algorithm == DKIMKey.Algorithm.ED25519:
        return dkimsign.generate_ed25519_key().decode("ascii")
    raise ValueError(f"unknown DKIM algorithm {algorithm!r}")


@transaction.atomic
def generate_domain_keys(domain: Domain, year: int | None = None) -> list[DKIMKey]:
    """The four quickstart keys for `domain`; fails if a selector is taken."""
    year = year or date.today().year
    plan = [
        ("a", DKIMKey.Algorithm.ED25519, True),
        ("b", DKIMKey.Algorithm.RSA, True),
        ("c", DKIMKey.Algorithm.ED25519, False),
        ("d", DKIMKey.Algorithm.RSA, False),
    ]
    return [
        DKIMKey.objects.create(
            domain=domain,
            selector=f"{year}{suffix}",
            algorithm=algorithm,
            private_key_pem=generate_private_key_pem(algorithm),
            sign=sign,
        )
        for suffix, algorithm, sign in plan
    ]


class DKIMKeyError(ValueError):
    """A key request that cannot be carried out, with a message fit for the operator."""


def next_selector(domain: Domain, year: int | None = None) -> str:
    """`<year><letter>` with the first letter not yet used for the domain that year."""
    year = year or date.today().year
    used = set(DKIMKey.objects.filter(domain=domain).values_list("selector", flat=True))
    for letter in "abcdefghijklmnopqrstuvwxyz":
        if f"{year}{letter}" not in used:
            return f"{year}{letter}"
    raise DKIMKeyError(f"all selectors {year}a-{year}z of {domain.name} are taken: name one with --selector")


def add_key(domain: Domain, algorithm: str, selector: str = "", *, sign: bool = False) -> DKIMKey:
    """A new key for `domain`. Not signing by default: publish its record first, then
    turn signing on (`set_signing`) once DNS has it, so no signature fails verification."""
    selector = selector or next_selector(domain)
    if not all(label and label.replace("-", "").isalnum() for label in selector.split(".")):
        raise DKIMKeyError(f"invalid selector {selector!r}: letters, digits and hyphens, dot-separated")
    if DKIMKey.objects.filter(domain=domain, selector=selector).exists():
        raise DKIMKeyError(f"domain {domain.name} already has selector {selector}")
    if algorithm not in DKIMKey.Algorithm.values:
        raise DKIMKeyError(f"unknown algorithm {algorithm!r}: ed25519 or rsa")
    return DKIMKey.objects.create(
        domain=domain, selector=selector, algorithm=algorithm, private_key_pem=generate_private_key_pem(algorithm),
        sign=sign,
    )


def set_signing(domain: Domain, selector: str, sign: bool) -> DKIMKey:
    key = DKIMKey.objects.filter(domain=domain, selector=selector).first()
    if key is None:
        raise DKIMKeyError(f"domain {domain.name} has no selector {selector}")
    key.sign = sign
    key.save(update_fields=["sign"])
    return key


def txt_record_line(key: DKIMKey) -> str:
    """The key's DNS record in zone-file syntax (TXT strings of at most 255 bytes)."""
    record = dkimsign.dns_record(key.private_key_pem.encode("ascii"))
    strings = " ".join(f'"{s}"' for s in dkimsign.txt_strings(record))
    return f"{key.selector}._domainkey.{key.domain.ascii}. IN TXT {strings}"
