"""DMARC evaluation: policy discovery, organizational domain, alignment, disposition.

Two ways to find the organizational domain and the policy record:
- `OrgMethod.treewalk` (default): RFC 9989 section 4.10, the DNS tree walk of at most
  8 queries, honouring psd=y/n;
- `OrgMethod.psl`: RFC 7489 section 3.2 and 6.6.3, the public suffix list
  (publicsuffixlist), querying the author domain then its organizational domain.

The record tags of both are understood: p, sp, adkim, aspf, pct (RFC 7489), np and t
(RFC 9989). A temporary DNS error gives `temperror`, never `fail`.
"""
from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache

from publicsuffixlist import PublicSuffixList

from mailcore.authn.dkim import DKIMResult
from mailcore.authn.dmarcrecord import Alignment, DMARCRecord, Policy, is_dmarc_record, parse_record
from mailcore.authn.errors import ParseError
from mailcore.authn.spf import SPFResult
from mailcore.dns import Resolver, Status


class DMARCStatus(StrEnum):
    """RFC 7489 section 11.2 (Authentication-Results method "dmarc")."""

    none = "none"
    pass_ = "pass"
    fail = "fail"
    temperror = "temperror"
    permerror = "permerror"


class OrgMethod(StrEnum):
    treewalk = "treewalk"  # RFC 9989
    psl = "psl"  # RFC 7489


@lru_cache(maxsize=1)
def _psl() -> PublicSuffixList:
    return PublicSuffixList()


def psl_organizational_domain(domain: str) -> str:
    """RFC 7489 section 3.2: the public suffix plus one label (the domain itself if it
    is a public suffix)."""
    domain = domain.lower().rstrip(".")
    return _psl().privatesuffix(domain) or domain


def treewalk_names(domain: str) -> list[str]:
    """RFC 9989 section 4.10: the author domain, then (for more than 8 labels) its
    last 7 labels, then one label less each time down to the top-level domain."""
    labels = domain.lower().rstrip(".").split(".")
    names = [".".join(labels)]
    for k in range(min(len(labels) - 1, 7), 0, -1):
        names.append(".".join(labels[-k:]))
    return names


@dataclass
class _Found:
    status: DMARCStatus  # none: no usable record; pass_: record found; temperror; permerror
    record: DMARCRecord | None = None
    error: str = ""


class Lookups:
    """_dmarc TXT lookups of one evaluation, each name queried once. `prefetch` starts
    a lookup without waiting for it, so the policy record can be on its way while
    DKIM and SPF are checked."""

    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver
        self.cache: dict[str, asyncio.Future[_Found]] = {}

    def prefetch(self, domain: str) -> None:
        self._start(domain.lower().rstrip("."))

    def _start(self, domain: str) -> asyncio.Future[_Found]:
        fut = self.cache.get(domain)
        if fut is None:
            fut = asyncio.ensure_future(self._fetch(domain))
            self.cache[domain] = fut
        return fut

    async def get(self, domain: str) -> _Found:
        return await self._start(domain)

    async def _fetch(self, domain: str) -> _Found:
        r = await self.resolver.lookup_txt("_dmarc." + domain)
        if r.status == Status.temperror:
            return _Found(DMARCStatus.temperror, error=f"_dmarc.{domain}: {r.error}")
        candidates = [t for t in r.records if is_dmarc_record(t)]
        if not candidates:
            return _Found(DMARCStatus.none)
        if len(candidates) > 1:
            # RFC 7489 section 6.6.3: more than one record: DMARC does not apply.
            return _Found(DMARCStatus.none, error=f"_dmarc.{domain}: multiple DMARC records")
        try:
            return _Found(DMARCStatus.pass_, parse_record(candidates[0]))
        except ParseError as e:
            return _Found(DMARCStatus.permerror, error=f"_dmarc.{domain}: {e}")


class _TempError(Exception):
    pass


async def _org_domain(lk: Lookups, domain: str, method: OrgMethod) -> str:
    """The organizational domain; raises _TempError."""
    domain = domain.lower().rstrip(".")
    if method == OrgMethod.psl:
        return psl_organizational_domain(domain)
    names = treewalk_names(domain)
    found = await asyncio.gather(*(lk.get(n) for n in names))
    org = ""
    for i, (name, f) in enumerate(zip(names, found)):
        if f.status == DMARCStatus.temperror:
            raise _TempError(f.error)
        if f.record is None:
            continue
        # RFC 9989 section 4.10.2: psd=n: this is it; psd=y: one label below it.
        if f.record.psd == "n":
            return name
        if f.record.psd == "y":
            if i == 0:
                return name
            below = len(name.split(".")) + 1
            return ".".join(domain.split(".")[-below:])
        org = name  # keep walking: the one with the fewest labels wins
    return org or domain


async def _aligned(lk: Lookups, auth: str, from_domain: str, mode: Alignment, method: OrgMethod) -> bool:
    auth = auth.lower().rstrip(".")
    if auth == from_domain:
        return True
    if mode == Alignment.strict:
        return False
    # Cheap refusal: different top-level domains cannot share an organizational domain.
    if auth.rsplit(".", 1)[-1] != from_domain.rsplit(".", 1)[-1]:
        return False
    a, b = await asyncio.gather(_org_domain(lk, auth, method), _org_domain(lk, from_domain, method))
    return a == b


async def _false() -> bool:
    return False


@dataclass(frozen=True)
class DMARCResult:
    status: DMARCStatus
    from_domain: str
    policy_domain: str = ""  # where the record was found
    record: DMARCRecord | None = None
    policy: Policy = Policy.none  # the requested policy that applies (p, sp or np)
    reject: bool = False  # fail, policy quarantine or reject, and pct selected this message
    dkim_aligned: bool = False
    spf_aligned: bool = False
    aligned_dkim_domains: tuple[str, ...] = field(default=())
    error: str = ""

    @property
    def passed(self) -> bool:
        return self.status == DMARCStatus.pass_


async def discover_policy(
    resolver: Resolver, domain: str, method: OrgMethod = OrgMethod.treewalk
) -> tuple[DMARCStatus, str, DMARCRecord | None, str]:
    """(status, policy domain, record, error): status pass_ when a record was found."""
    return await _discover(Lookups(resolver), domain.lower().rstrip("."), method)


async def _discover(lk: Lookups, domain: str, method: OrgMethod) -> tuple[DMARCStatus, str, DMARCRecord | None, str]:
    if method == OrgMethod.psl:
        names = [domain]
        org = psl_organizational_domain(domain)
        if org != domain:
            names.append(org)
    else:
        names = treewalk_names(domain)
    for name in names:
        f = await lk.get(name)
        if f.status == DMARCStatus.none and f.error:
            return DMARCStatus.none, name, None, f.error
        if f.status != DMARCStatus.none:
            return f.status, name, f.record, f.error
    return DMARCStatus.none, "", None, ""


async def evaluate(
    resolver: Resolver,
    from_domain: str,
    *,
    dkim: Sequence[DKIMResult] = (),
    spf: SPFResult | None = None,
    method: OrgMethod = OrgMethod.treewalk,
    rand: Callable[[], float] = random.random,
    lookups: Lookups | None = None,
) -> DMARCResult:
    """RFC 7489 section 6.6 / RFC 9989 section 5.3 for the RFC5322.From domain.

    `dkim`: the message's DKIM results (passing ones count); `spf`: the SPF result of
    the MAIL FROM identity (the HELO identity for a null reverse-path). `rand` picks
    messages for pct= (RFC 7489 section 6.6.4). `lookups`: the same resolver's
    lookups, some perhaps started already (see `Lookups.prefetch`)."""
    fd = from_domain.lower().rstrip(".")
    if not fd or "." not in fd:
        return DMARCResult(DMARCStatus.none, fd, error="no usable From domain")
    lk = lookups if lookups is not None else Lookups(resolver)
    status, pdomain, record, error = await _discover(lk, fd, method)
    if status != DMARCStatus.pass_ or record is None:
        return DMARCResult(status, fd, pdomain, error=error)

    dkim_domains = [r.signature.domain for r in dkim if r.passed and r.signature is not None]
    spf_domain = spf.domain.lower().rstrip(".") if spf is not None and spf.passed else ""
    temp_errors: list[str] = []

    async def check(auth: str, mode: Alignment) -> bool:
        try:
            return await _aligned(lk, auth, fd, mode, method)
        except _TempError as e:
            temp_errors.append(str(e))
            return False

    checks = await asyncio.gather(
        *(check(d, record.adkim) for d in dkim_domains), check(spf_domain, record.aspf) if spf_domain else _false()
    )
    aligned = [d for d, ok in zip(dkim_domains, checks) if ok]
    spf_ok = checks[-1]
    if not aligned and not spf_ok and temp_errors:
        # An alignment we could not decide is not a failure (RFC 7489 section 6.6.3).
        return DMARCResult(DMARCStatus.temperror, fd, pdomain, record, error=temp_errors[0])

    policy = record.policy
    if pdomain != fd:
        policy = record.subdomain_policy or record.policy
        if record.nonexistent_policy is not None:
            # RFC 9989 section 4.7: np= for an author domain that does not exist.
            a = await resolver.lookup_a(fd)
            if a.status == Status.nxdomain:
                policy = record.nonexistent_policy
    if aligned or spf_ok:
        return DMARCResult(
            DMARCStatus.pass_, fd, pdomain, record, policy,
            dkim_aligned=bool(aligned), spf_aligned=spf_ok, aligned_dkim_domains=tuple(aligned),
        )
    effective = policy
    if record.testing:  # RFC 9989 section 4.7 t=y: one step milder
        effective = {Policy.reject: Policy.quarantine, Policy.quarantine: Policy.none, Policy.none: Policy.none}[policy]
    reject = effective != Policy.none and (record.pct >= 100 or rand() * 100 < record.pct)
    return DMARCResult(DMARCStatus.fail, fd, pdomain, record, policy, reject=reject)
