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
