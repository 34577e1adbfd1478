"""The MTA-STS policy we serve for every configured domain (RFC 8461 section 3.2).

There is no per-domain MTA-STS configuration yet: every domain gets the same policy,
naming our hostname as its only MX. The policy id published in the `_mta-sts` TXT
record is derived from the policy text, so it changes exactly when the policy does
(RFC 8461 section 3.1: senders refetch the policy when the id changes).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.conf import settings

from accounts.actions import domain_forms_safe

# A week, as mox's quickstart suggests; senders cache the policy this long.
DEFAULT_MAX_AGE = 7 * 24 * 3600


@dataclass(frozen=True)
class Policy:
    mode: str
    max_age: int
    mx: tuple[str, ...]

    def text(self) -> str:
        # RFC 8461 section 3.2: "key: value" lines; CRLF is the canonical delimiter.
        lines = ["version: STSv1", f"mode: {self.mode}", f"max_age: {self.max_age}"]
        lines += [f"mx: {host}" for host in self.mx]
        return "".join(line + "\r\n" for line in lines)

    def policy_id(self) -> str:
        # RFC 8461 section 3.1: id is 1 to 32 alphanumeric characters.
        return hashlib.sha256(self.text().encode()).hexdigest()[:20]


def current_policy() -> Policy:
    mode = getattr(settings, "MOX_MTASTS_MODE", "enforce")
    max_age = int(getattr(settings, "MOX_MTASTS_MAX_AGE", DEFAULT_MAX_AGE))
    return Policy(mode=mode, max_age=max_age, mx=(domain_forms_safe(settings.MOX_HOSTNAME),))
