"""DNS blocklists (RFC 5782): is an IP listed in a zone, and is the zone healthy."""
from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from mailcore.dns import Resolver, Status


class DNSBLStatus(StrEnum):
    pass_ = "pass"  # not listed
    fail = "fail"  # listed
    temperror = "temperror"


@dataclass(frozen=True)
class DNSBLResult:
    status: DNSBLStatus
    zone: str
    addresses: tuple[str, ...] = ()  # the A records of a listing (127.0.0.x codes)
    explanation: str = ""  # the TXT record of a listing
    error: str = ""

    @property
    def listed(self) -> bool:
        return self.status == DNSBLStatus.fail


def query_name(ip: str, zone: str) -> str:
    """RFC 5782 section 2.1 (IPv4 octets reversed) and 2.4 (IPv6 nibbles reversed)."""
    addr = ipaddress.ip_address(ip)
    if addr.version == 4:
        prefix = ".".join(reversed(str(addr).split(".")))
    else:
        prefix = ".".join(reversed(addr.exploded.replace(":", "")))
    return f"{prefix}.{zone.strip('.')}"


async def lookup(resolver: Resolver, zone: str, ip: str) -> DNSBLResult:
    zone = zone.strip(".").lower()
    name = query_name(ip, zone)
    a, txt = await asyncio.gather(resolver.lookup_a(name), resolver.lookup_txt(name))
    if a.ok:
        # RFC 5782 section 2.3: listings are A records in 127.0.0.0/8.
        text = " ".join(t.decode("utf-8", "replace") for t in txt.records)
        return DNSBLResult(DNSBLStatus.fail, zone, a.records, text)
    if a.status == Status.temperror:
        return DNSBLResult(DNSBLStatus.temperror, zone, error=a.error)
    return DNSBLResult(DNSBLStatus.pass_, zone)


async def check_health(resolver: Resolver, zone: str) -> bool:
    """RFC 5782 section 5: 127.0.0.2 must be listed and 127.0.0.1 must not."""
    listed, clean = await asyncio.gather(lookup(resolver, zone, "127.0.0.2"), lookup(resolver, zone, "127.0.0.1"))
    return listed.status == DNSBLStatus.fail and clean.status == DNSBLStatus.pass_


class Checker:
    """Checks an IP against zones in order, as mox does (section 1.1.11 step 11):
    the first listing wins; zones whose health check failed are skipped, the health
    kept for `health_ttl` seconds (mox: 4 hours). One per process."""

    def __init__(self, resolver: Resolver, zones: Sequence[str], *, health_ttl: float = 4 * 3600,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.resolver = resolver
        self.zones = [z.strip(".").lower() for z in zones if z.strip(".")]
        self.health_ttl = health_ttl
        self.clock = clock
        self._health: dict[str, tuple[float, bool]] = {}

    async def healthy(self, zone: str) -> bool:
        now = self.clock()
        cached = self._health.get(zone)
        if cached is not None and now - cached[0] < self.health_ttl:
            return cached[1]
        ok = await check_health(self.resolver, zone)
        self._health[zone] = (now, ok)
        return ok

    async def check(self, ip: str) -> DNSBLResult | None:
        """The first listing, else None (not listed anywhere, or only temperrors:
        a DNS failure never blocks mail)."""
        for zone in self.zones:
            if not await self.healthy(zone):
                continue
            r = await lookup(self.resolver, zone, ip)
            if r.listed:
                return r
        return None
