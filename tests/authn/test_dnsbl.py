"""DNSBL lookups (RFC 5782) against a blocklist zone in the test DNS server."""
from __future__ import annotations

from mailcore.authn.dnsbl import DNSBLResult, DNSBLStatus, check_health, lookup, query_name
from tests.fixtures_dns import DNSTestServer

ZONE = """
$ORIGIN bl.example.
2.0.0.127           A    127.0.0.2
2.0.0.127           TXT  "test listing"
10.2.0.192          A    127.0.0.4
10.2.0.192          TXT  "see https://bl.example/192.0.2.10"
2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2 A 127.0.0.2
"""


def test_query_names_reverse_octets_and_nibbles() -> None:
    assert query_name("192.0.2.10", "bl.example") == "10.2.0.192.bl.example"
    assert query_name("2001:db8::2", "bl.example.") == (
        "2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.example"
    )


async def test_it_reports_listings_with_their_text(dns_server: DNSTestServer) -> None:
    dns_server.add_zone(ZONE)
    r = dns_server.resolver()
    assert await lookup(r, "bl.example", "192.0.2.10") == DNSBLResult(
        DNSBLStatus.fail, "bl.example", ("127.0.0.4",), "see https://bl.example/192.0.2.10"
    )
    assert await lookup(r, "bl.example", "192.0.2.11") == DNSBLResult(DNSBLStatus.pass_, "bl.example")
    assert (await lookup(r, "bl.example", "2001:db8::2")).listed


async def test_a_dns_failure_is_temperror_not_a_listing(dns_server: DNSTestServer) -> None:
    dns_server.add_zone(ZONE)
    dns_server.servfail("12.2.0.192.bl.example")
    res = await lookup(dns_server.resolver(), "bl.example", "192.0.2.12")
    assert (res.status, res.listed) == (DNSBLStatus.temperror, False)


async def test_zone_health(dns_server: DNSTestServer) -> None:
    dns_server.add_zone(ZONE)
    dns_server.add("1.0.0.127.listsall.example", "A", "127.0.0.2")
    dns_server.add("2.0.0.127.listsall.example", "A", "127.0.0.2")
    r = dns_server.resolver()
    assert await check_health(r, "bl.example") is True
    assert await check_health(r, "listsall.example") is False
    assert await check_health(r, "empty.example") is False


async def test_checker_skips_unhealthy_zones_and_caches_health(dns_server: DNSTestServer) -> None:
    from mailcore.authn.dnsbl import Checker

    dns_server.add_zone(ZONE)
    dns_server.add("10.2.0.192.dead.example", "A", "127.0.0.2")  # dead.example fails its health check
    now = [0.0]
    c = Checker(dns_server.resolver(), ["dead.example", "bl.example"], clock=lambda: now[0])
    res = await c.check("192.0.2.10")
    assert res is not None and (res.zone, res.addresses) == ("bl.example", ("127.0.0.4",))
    assert await c.check("192.0.2.11") is None
    health = [q for q in dns_server.queries if q[0].startswith(("1.0.0.127.", "2.0.0.127."))]
    assert len(health) == 8  # A and TXT for 127.0.0.1 and .2, in two zones, once
    now[0] = 4 * 3600 + 1
    await c.check("192.0.2.11")
    assert len([q for q in dns_server.queries if q[0].startswith(("1.0.0.127.", "2.0.0.127."))]) == 16
