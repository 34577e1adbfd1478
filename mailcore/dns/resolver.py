"""The resolver: typed lookups over dnspython's async stub resolver (RFC 1034, 1035).

Every lookup returns a `Result` that tells the three ways of not getting records
apart, because the mail checks treat them differently (RFC 7208 section 2.6.6 and
RFC 7489 section 6.6.3: only a temporary error may become a temporary verdict):

- `nxdomain`: the name does not exist (RCODE 3, RFC 1035 section 4.1.1);
- `nodata`: the name exists but has no records of this type (RFC 2308 section 2.2);
- `temperror`: timeout, SERVFAIL, REFUSED, unreachable server or a broken answer.

`authentic` is the AD bit of the answer (RFC 4035 section 3.2.3; RFC 6840 section
5.7 lets a stub ask for it by setting AD in the query). We do not validate DNSSEC
ourselves: DANE trusts a local validating resolver, as mox does.
"""
from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, Protocol, TypeVar

import dns.asyncresolver
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.nameserver
import dns.rdatatype
import dns.resolver
import dns.reversename

T = TypeVar("T")


class Status(StrEnum):
    ok = "ok"
    nxdomain = "nxdomain"
    nodata = "nodata"
    temperror = "temperror"


@dataclass(frozen=True)
class Result(Generic[T]):
    status: Status
    records: tuple[T, ...] = ()
    authentic: bool = False
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status == Status.ok

    @property
    def notfound(self) -> bool:
        """NXDOMAIN or no data: a definite "there is nothing"."""
        return self.status in (Status.nxdomain, Status.nodata)

    @property
    def temporary(self) -> bool:
        return self.status == Status.temperror


@dataclass(frozen=True)
class MX:
    preference: int
    host: str  # without trailing dot; "" for the null MX "." (RFC 7505)


@dataclass(frozen=True)
class TLSA:
    """RFC 6698 section 2.1."""

    usage: int
    selector: int
    matching_type: int
    data: bytes


class Resolver(Protocol):
    """What the mail checks need from DNS. Names are str (unicode is IDNA-encoded),
    without or with a trailing dot; returned host names have no trailing dot."""

    async def lookup_a(self, name: str) -> Result[str]: ...

    async def lookup_aaaa(self, name: str) -> Result[str]: ...

    async def lookup_mx(self, name: str) -> Result[MX]: ...

    async def lookup_txt(self, name: str) -> Result[bytes]:
        """Each record's character-strings concatenated (RFC 7208 section 3.3,
        RFC 6376 section 3.6.2.2), as bytes: TXT is not necessarily text."""
        ...

    async def lookup_ptr(self, ip: str) -> Result[str]: ...

    async def lookup_cname(self, name: str) -> Result[str]: ...

    async def lookup_tlsa(self, name: str) -> Result[TLSA]: ...


def parse_hostport(value: str, default_port: int = 53) -> tuple[str, int]:
    """"127.0.0.1:5353", "[::1]:53", "::1" or "host" -> (host, port). Raises ValueError."""
    value = value.strip()
    if not value:
        raise ValueError("empty nameserver")
    if value.startswith("["):
        host, sep, rest = value[1:].partition("]")
        if not sep:
            raise ValueError(f"unterminated [ in {value!r}")
        port = int(rest[1:]) if rest.startswith(":") else default_port
        if rest and not rest.startswith(":"):
            raise ValueError(f"bad nameserver {value!r}")
    elif ":" not in value:
        host, port = value, default_port
    else:
        try:  # a bare IPv6 address
            ipaddress.IPv6Address(value)
            host, port = value, default_port
        except ValueError:
            host, _, p = value.rpartition(":")
            port = int(p)
    if not host or not 0 < port < 65536:
        raise ValueError(f"bad nameserver {value!r}")
    return host, port


# Called after every lookup with (record type, status, seconds), cache hits included:
# moxweb.metrics feeds Prometheus from it; mailcore itself knows nothing of metrics.
LookupObserver = Callable[[str, str, float], None]
_observers: list[LookupObserver] = []


def observe_lookups(fn: LookupObserver) -> None:
    if fn not in _observers:
        _observers.append(fn)


def _strip_dot(name: dns.name.Name) -> str:
    return name.to_text(omit_final_dot=True)


class DNSResolver:
    """The production resolver. `nameserver` is "host:port" (or a list of them); empty
    means the system's configuration (/etc/resolv.conf)."""

    def __init__(
        self,
        nameserver: str | list[str] = "",
        *,
        timeout: float = 5.0,
        lifetime: float = 15.0,
        cache: bool = True,
    ) -> None:
        servers = [nameserver] if isinstance(nameserver, str) else list(nameserver)
        servers = [s for s in servers if s.strip()]
        if servers:
            r = dns.asyncresolver.Resolver(configure=False)
            nss: list[str | dns.nameserver.Nameserver] = []
            for s in servers:
                host, port = parse_hostport(s)
                nss.append(dns.nameserver.Do53Nameserver(host, port=port))
            r.nameservers = nss
        else:
            try:
                r = dns.asyncresolver.Resolver()
            except dns.resolver.NoResolverConfiguration:  # e.g. no /etc/resolv.conf
                r = dns.asyncresolver.Resolver(configure=False)
                r.nameservers = ["127.0.0.1"]
        r.timeout = timeout
        r.lifetime = lifetime
        # RFC 6840 section 5.7: AD in the query asks for AD in the answer; EDNS0 with
        # a 1232-byte payload (DNS flag day 2020) keeps large TXT records on UDP
        # while dnspython falls back to TCP on TC.
        r.flags = dns.flags.RD | dns.flags.AD
        r.use_edns(0, 0, 1232)
        if cache:
            r.cache = dns.resolver.LRUCache(10000)
        self._r = r

    @property
    def nameservers(self) -> list[str]:
        return [str(ns) for ns in self._r.nameservers]

    async def _resolve(self, name: str | dns.name.Name, rdtype: dns.rdatatype.RdataType) -> tuple[Status, dns.resolver.Answer | None, str]:
        try:
            qname = name if isinstance(name, dns.name.Name) else dns.name.from_text(name.rstrip(".") + ".")
        except (dns.exception.DNSException, UnicodeError, ValueError) as e:
            # A name that cannot exist in the DNS (empty or too long label): it has
            # no records, permanently.
            return Status.nxdomain, None, f"invalid name: {e}"
        try:
            ans = await self._r.resolve(qname, rdtype, search=False, raise_on_no_answer=True)
        except dns.resolver.NXDOMAIN:
            return Status.nxdomain, None, ""
        except dns.resolver.NoAnswer:
            return Status.nodata, None, ""
        except dns.resolver.YXDOMAIN as e:
            return Status.nxdomain, None, str(e)
        except dns.resolver.NoNameservers as e:
            errors = e.kwargs.get("errors") or []
            if errors and all(isinstance(err[3], dns.message.ChainTooLong) for err in errors):
                # A CNAME loop (RFC 1034 section 3.6.2) is the zone's permanent
                # mistake, not a temporary failure: no data is reachable.
                return Status.nodata, None, "CNAME loop or chain too long"
            return Status.temperror, None, f"{type(e).__name__}: {e}"
        except dns.exception.DNSException as e:
            # Timeout, NoNameservers (SERVFAIL/REFUSED), malformed answers, CNAME
            # chains too long: never a permanent conclusion.
            return Status.temperror, None, f"{type(e).__name__}: {e}"
        except OSError as e:
            return Status.temperror, None, f"{type(e).__name__}: {e}"
        return Status.ok, ans, ""

    async def _lookup(self, name: str | dns.name.Name, rdtype: dns.rdatatype.RdataType) -> Result[object]:
        started = time.perf_counter()
        status, ans, err = await self._resolve(name, rdtype)
        if _observers:
            elapsed = time.perf_counter() - started
            kind = dns.rdatatype.to_text(rdtype)
            for fn in _observers:
                fn(kind, str(status), elapsed)
        if ans is None:
            return Result(status, error=err)
        ad = bool(ans.response.flags & dns.flags.AD)
        return Result(Status.ok, tuple(ans), ad)

    async def lookup_a(self, name: str) -> Result[str]:
        r = await self._lookup(name, dns.rdatatype.A)
        return Result(r.status, tuple(rd.address for rd in r.records), r.authentic, r.error)  # type: ignore[attr-defined]

    async def lookup_aaaa(self, name: str) -> Result[str]:
        r = await self._lookup(name, dns.rdatatype.AAAA)
        return Result(r.status, tuple(rd.address for rd in r.records), r.authentic, r.error)  # type: ignore[attr-defined]

    async def lookup_mx(self, name: str) -> Result[MX]:
        r = await self._lookup(name, dns.rdatatype.MX)
        recs = tuple(MX(rd.preference, _strip_dot(rd.exchange) if rd.exchange != dns.name.root else "") for rd in r.records)  # type: ignore[attr-defined]
        return Result(r.status, recs, r.authentic, r.error)

    async def lookup_txt(self, name: str) -> Result[bytes]:
        r = await self._lookup(name, dns.rdatatype.TXT)
        return Result(r.status, tuple(b"".join(rd.strings) for rd in r.records), r.authentic, r.error)  # type: ignore[attr-defined]

    async def lookup_ptr(self, ip: str) -> Result[str]:
        try:
            rev = dns.reversename.from_address(str(ipaddress.ip_address(ip)))
        except ValueError as e:
            return Result(Status.nxdomain, error=f"invalid address: {e}")
        r = await self._lookup(rev, dns.rdatatype.PTR)
        return Result(r.status, tuple(_strip_dot(rd.target) for rd in r.records), r.authentic, r.error)  # type: ignore[attr-defined]

    async def lookup_cname(self, name: str) -> Result[str]:
        r = await self._lookup(name, dns.rdatatype.CNAME)
        return Result(r.status, tuple(_strip_dot(rd.target) for rd in r.records), r.authentic, r.error)  # type: ignore[attr-defined]

    async def lookup_tlsa(self, name: str) -> Result[TLSA]:
        r = await self._lookup(name, dns.rdatatype.TLSA)
        recs = tuple(TLSA(rd.usage, rd.selector, rd.mtype, bytes(rd.cert)) for rd in r.records)  # type: ignore[attr-defined]
        return Result(r.status, recs, r.authentic, r.error)


async def lookup_ips(resolver: Resolver, name: str) -> Result[str]:
    """A and AAAA concurrently. ok if either has records; temperror if either failed
    temporarily and neither has records; nxdomain if the name does not exist."""
    a, aaaa = await asyncio.gather(resolver.lookup_a(name), resolver.lookup_aaaa(name))
    records = a.records + aaaa.records
    if records:
        # Authentic when every answer that had records was (a host may have no AAAA).
        return Result(Status.ok, records, all(r.authentic for r in (a, aaaa) if r.ok))
    for r in (a, aaaa):
        if r.temporary:
            return Result(Status.temperror, error=r.error)
    if Status.nxdomain in (a.status, aaaa.status):
        return Result(Status.nxdomain)
    return Result(Status.nodata)
