"""iprev (RFC 8601 section 3): the connecting IP's PTR names, forward-confirmed."""
from __future__ import annotations

import asyncio
import ipaddress
from dataclasses import dataclass
from enum import StrEnum

from mailcore.dns import Resolver, Status


class IPRevStatus(StrEnum):
    """RFC 8601 section 2.7.3."""

    pass_ = "pass"
    fail = "fail"
    temperror = "temperror"
    permerror = "permerror"


@dataclass(frozen=True)
class IPRevResult:
    status: IPRevStatus
    ip: str
    name: str = ""  # the first forward-confirmed name (for the Received header)
    names: tuple[str, ...] = ()  # all PTR names
    error: str = ""

    @property
    def passed(self) -> bool:
        return self.status == IPRevStatus.pass_


# RFC 8601 section 3 leaves the limit to us; mox checks at most 10 names.
MAX_NAMES = 10


async def lookup(resolver: Resolver, ip: str) -> IPRevResult:
    """pass: a PTR name resolves back to `ip`; fail: none does; permerror: no PTR
    records; temperror: a DNS failure kept us from deciding."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return IPRevResult(IPRevStatus.permerror, ip, error="not an IP address")
    ptr = await resolver.lookup_ptr(str(addr))
    if ptr.status == Status.temperror:
        return IPRevResult(IPRevStatus.temperror, str(addr), error=ptr.error)
    if not ptr.records:
        return IPRevResult(IPRevStatus.permerror, str(addr), error="no PTR records")
    names = ptr.records[:MAX_NAMES]
    lookup_fn = resolver.lookup_a if addr.version == 4 else resolver.lookup_aaaa
    forwards = await asyncio.gather(*(lookup_fn(n) for n in names))
    temporary = False
    for name, fw in zip(names, forwards):
        if any(ipaddress.ip_address(a) == addr for a in fw.records):
            return IPRevResult(IPRevStatus.pass_, str(addr), name, ptr.records)
        temporary = temporary or fw.temporary
    if temporary:
        return IPRevResult(IPRevStatus.temperror, str(addr), names=ptr.records, error="forward lookup failed")
    return IPRevResult(IPRevStatus.fail, str(addr), names=ptr.records, error="no PTR name resolves to the address")
