"""The Django side of DNS: the one resolver built from settings.MOX_DNS_RESOLVER.

`get_resolver()` is what listeners and tasks pass to the mailcore checks.
`configure_default_resolver()` points dnspython's module-level default resolver at
the same server, for third-party code that resolves through it (dkimpy's default
dnsfunc, pyspf when called directly); our own SPF code does not need it.
"""
from __future__ import annotations

import threading

import dns.nameserver
import dns.resolver
from django.conf import settings

from mailcore.dns import DNSResolver, parse_hostport

_lock = threading.Lock()
_cached: tuple[str, DNSResolver] | None = None


def get_resolver() -> DNSResolver:
    """The process's resolver for the current MOX_DNS_RESOLVER ("host:port"; empty =
    the system resolver). Built once per setting value, so its cache is shared."""
    global _cached
    value = settings.MOX_DNS_RESOLVER
    with _lock:
        if _cached is None or _cached[0] != value:
            _cached = (value, DNSResolver(value))
        return _cached[1]


def reset_resolver() -> None:
    """Forget the built resolver (tests change the setting)."""
    global _cached
    with _lock:
        _cached = None


def configure_default_resolver() -> None:
    """Make dns.resolver.default_resolver use MOX_DNS_RESOLVER too (when set)."""
    value = settings.MOX_DNS_RESOLVER
    if not value:
        dns.resolver.default_resolver = None  # dnspython rebuilds it from the system
        return
    host, port = parse_hostport(value)
    r = dns.resolver.Resolver(configure=False)
    r.nameservers = [dns.nameserver.Do53Nameserver(host, port=port)]
    dns.resolver.default_resolver = r
