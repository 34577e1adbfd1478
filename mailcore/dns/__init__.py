"""DNS for moxweb: one resolver, wrapping dnspython's async resolver (RFC 1034/1035).

Everything that looks names up (SPF, DKIM, DMARC, iprev, DNSBL, MTA-STS, DANE, the
queue's MX lookups) goes through a `Resolver`, so tests and local setups can point it
at a test DNS server with `DNSResolver("127.0.0.1:5353")`.
"""
from __future__ import annotations

from mailcore.dns.resolver import (
    MX,
    TLSA,
    DNSResolver,
    Resolver,
    Result,
    Status,
    lookup_ips,
    parse_hostport,
)

__all__ = [
    "MX",
    "TLSA",
    "DNSResolver",
    "Resolver",
    "Result",
    "Status",
    "lookup_ips",
    "parse_hostport",
]
