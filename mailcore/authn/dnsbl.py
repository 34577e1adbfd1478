"""DNS blocklists (RFC 5782): is an IP listed in a zone, and is the zone healthy."""
from __future__ import annotations

import asyncio
import ipaddress
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
