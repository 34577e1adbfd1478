"""moxweb.resolver: the resolver built from settings.MOX_DNS_RESOLVER."""
from __future__ import annotations

import dns.resolver

from mailcore.dns import Result, Status
from moxweb.resolver import configure_default_resolver, get_resolver, reset_resolver
from tests.fixtures_dns import DNSTestServer


async def test_get_resolver_uses_the_setting(dns_settings: DNSTestServer) -> None:
    dns_settings.add("mail.example.test", "A", "192.0.2.10")
    r = get_resolver()
    assert r.nameservers == [f"127.0.0.1:{dns_settings.port}"] or str(dns_settings.port) in r.nameservers[0]
    assert await r.lookup_a("mail.example.test") == Result(Status.ok, ("192.0.2.10",))
    assert get_resolver() is r  # one per process and setting: the cache is shared


def test_get_resolver_follows_setting_changes(settings) -> None:  # type: ignore[no-untyped-def]
    settings.MOX_DNS_RESOLVER = "127.0.0.1:5301"
    reset_resolver()
    a = get_resolver()
    settings.MOX_DNS_RESOLVER = "127.0.0.1:5302"
    b = get_resolver()
    assert a is not b
    assert "5302" in b.nameservers[0]
    reset_resolver()


def test_configure_default_resolver_points_dnspython_at_the_server(dns_settings: DNSTestServer) -> None:
    dns_settings.add("example.test", "TXT", "hello")
    answer = dns.resolver.resolve("example.test", "TXT")
    assert [b"".join(rd.strings) for rd in answer] == [b"hello"]


def test_empty_setting_means_the_system_resolver(settings) -> None:  # type: ignore[no-untyped-def]
    saved = dns.resolver.default_resolver
    try:
        settings.MOX_DNS_RESOLVER = ""
        reset_resolver()
        configure_default_resolver()
        assert dns.resolver.default_resolver is None
        assert get_resolver().nameservers  # whatever /etc/resolv.conf says
    finally:
        dns.resolver.default_resolver = saved
        reset_resolver()
