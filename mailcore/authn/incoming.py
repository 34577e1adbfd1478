"""All authentication checks of one incoming message, as mox runs them before replying
to DATA (mox-v0.0.5 section 1.1.11 steps 1, 3, 5 and 6): iprev, DKIM and SPF
concurrently, with the From domain's DMARC record looked up beside them, then DMARC
evaluated, and the headers to prepend.

The decision (reject on DMARC policy, reputation, junk filter, DNSBL) is the SMTP
pipeline's; this module only measures.
"""
from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass

from mailcore.authn import dkim, dmarc, iprev, spf
from mailcore.authn.authresults import authentication_results, fold_header
from mailcore.authn.dkim import DKIMResult
from mailcore.authn.dmarc import DMARCResult, DMARCStatus, OrgMethod
from mailcore.authn.fromheader import from_domain
from mailcore.authn.iprev import IPRevResult
from mailcore.authn.spf import SPFResult
from mailcore.dns import Resolver

__all__ = ["Verdicts", "authenticate", "from_domain"]


@dataclass(frozen=True)
class Verdicts:
    iprev: IPRevResult
    dkim: list[DKIMResult]
    spf: SPFResult  # MAIL FROM identity; the HELO identity for the null reverse-path
    spf_helo: SPFResult | None  # the EHLO name's own check, when asked for
    dmarc: DMARCResult
    from_domain: str  # ASCII (A-labels), lowercased; "" when From is unusable
    authentication_results: str  # "Authentication-Results: ...\r\n"
    received_spf: str  # "Received-SPF: ...\r\n"

    @property
    def headers(self) -> str:
        """What mox prepends (after Return-Path), in its order."""
        return self.authentication_results + self.received_spf


async def authenticate(
    resolver: Resolver,
    message: bytes,
    *,
    ip: str,
    helo: str,
    mail_from: str,
    authserv_id: str,
    check_helo: bool = False,
    method: OrgMethod = OrgMethod.treewalk,
    rand: Callable[[], float] = random.random,
) -> Verdicts:
    """`mail_from` is the reverse-path without brackets ("" for <>); `authserv_id` is
    our host name (RFC 8601 section 2.5)."""
    fd = from_domain(message)
    dmarc_lookups = dmarc.Lookups(resolver)
    if fd and "." in fd:
        # The policy record is looked up first in any case: ask for it now, beside
        # the lookups of iprev, DKIM and SPF, rather than after them.
        dmarc_lookups.prefetch(fd)
    jobs = [
        iprev.lookup(resolver, ip),
        dkim.verify(resolver, message),
        spf.check_mailfrom(resolver, ip, mail_from, helo, receiver=authserv_id),
    ]
    if check_helo and mail_from:
        jobs.append(spf.check_helo(resolver, ip, helo, receiver=authserv_id))
    done = await asyncio.gather(*jobs)
    rev: IPRevResult = done[0]  # type: ignore[assignment]
    dk: list[DKIMResult] = done[1]  # type: ignore[assignment]
    sp: SPFResult = done[2]  # type: ignore[assignment]
    sp_helo: SPFResult | None = done[3] if len(done) > 3 else None  # type: ignore[assignment]
    if fd:
        dm = await dmarc.evaluate(resolver, fd, dkim=dk, spf=sp, method=method, rand=rand, lookups=dmarc_lookups)
    else:
        dm = DMARCResult(DMARCStatus.none, "", error="no usable From header")
    ar = authentication_results(authserv_id, iprev=rev, dkim=dk, spf=sp, dmarc=dm)
    received = fold_header("Received-SPF", sp.received_spf) if sp.received_spf else ""
    return Verdicts(rev, dk, sp, sp_helo, dm, fd, ar, received)
