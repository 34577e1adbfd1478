"""The start-up check that the names we want certificates for point at us.

A CA validates HTTP-01 and TLS-ALPN-01 by connecting to the addresses the name resolves
to (RFC 8555 section 8.3, RFC 8737 section 3), so a name that does not resolve, or
resolves to addresses we do not listen on, will fail. Checked once per process start
(not per connection or renewal), with a warning per problem; it never stops the server.
As in mox, addresses are compared only when MOX_LISTEN_IPS names specific addresses:
behind NAT or with 0.0.0.0 we cannot know our public addresses.
"""
from __future__ import annotations

import asyncio
import ipaddress
import logging
import threading
from collections.abc import Callable, Iterable

from django.conf import settings

log = logging.getLogger("moxweb.autotls")

# name -> its IPv4 and IPv6 addresses; raises on failures other than "no such name".
Resolve = Callable[[str], list[str]]

_done = False
_done_lock = threading.Lock()


def check_hostnames_once(hostnames: Iterable[str] | None = None, resolve: Resolve | None = None) -> list[str]:
    """The check, the first time it is called in this process; later calls return [].
    Blocking (DNS, and the database for the names): run it in a thread, e.g.
    `asyncio.create_task(asyncio.to_thread(check_hostnames_once))`."""
    global _done
    with _done_lock:
        if _done:
            return []
        _done = True
    from autotls.manager import acme_enabled, managed_hostnames

    if hostnames is None:
        if not acme_enabled():
            return []
        hostnames = managed_hostnames()
    return check_hostnames(hostnames, resolve or resolve_addresses, settings.MOX_LISTEN_IPS)


def check_hostnames(hostnames: Iterable[str], resolve: Resolve, listen_ips: list[str]) -> list[str]:
    hostnames = list(hostnames)
    ours = {_canonical(ip) for ip in listen_ips if not ipaddress.ip_address(ip).is_unspecified}
    warnings = []
    for host in hostnames:
        try:
            addresses = resolve(host)
        except Exception as exc:  # noqa: BLE001 - a failed lookup is a warning, not a crash
            warnings.append(f"{host}: DNS lookup failed ({exc or type(exc).__name__}); certificate requests will fail")
            continue
        if not addresses:
            warnings.append(f"{host}: has no A or AAAA record; certificate requests will fail until it points at us")
            continue
        if ours:
            foreign = sorted({_canonical(a) for a in addresses} - ours)
            if foreign:
                warnings.append(
                    f"{host}: resolves to {', '.join(foreign)}, which we do not listen on "
                    f"({', '.join(sorted(ours))}); certificate requests are likely to fail"
                )
    for w in warnings:
        log.warning("acme hostname check: " + w)
    if not warnings:
        log.info("acme hostname check passed", extra={"hosts": ",".join(hostnames)})
    return warnings


def resolve_addresses(host: str) -> list[str]:
    """A and AAAA through MOX_DNS_RESOLVER (or the system's resolvers), 10 s at most.
    Runs its own event loop: call it from a thread, as check_hostnames_once is."""
    from mailcore.dns import DNSResolver, lookup_ips

    resolver = DNSResolver(settings.MOX_DNS_RESOLVER, timeout=5, lifetime=10, cache=False)
    result = asyncio.run(lookup_ips(resolver, host))
    if result.temporary:
        raise LookupError(result.error or "temporary DNS failure")
    return [str(ip) for ip in result.records]


def _canonical(ip: str) -> str:
    return str(ipaddress.ip_address(ip))


def reset() -> None:
    """Allow the check again (tests)."""
    global _done
    with _done_lock:
        _done = False
