"""mailcore.dns.DNSResolver against the real test DNS server on loopback."""
from __future__ import annotations

import time

import pytest

from mailcore.dns import MX, TLSA, DNSResolver, Result, Status, lookup_ips, parse_hostport
from tests.fixtures_dns import DNSTestServer, free_udp_port

ZONE = """
$ORIGIN example.test.
@        MX   10 mail
@        MX   20 backup.example.org.
@        TXT  "v=spf1 " "mx -all"
mail     A    192.0.2.10
mail     AAAA 2001:db8::10
www      CNAME mail
loop1    CNAME loop2
loop2    CNAME loop1
deep.sub A    192.0.2.99
_25._tcp.mail TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
nullmx.example.test. MX 0 .
10.2.0.192.in-addr.arpa. PTR mail.example.test.
"""


@pytest.fixture
def zone(dns_server: DNSTestServer) -> DNSTestServer:
    dns_server.add_zone(ZONE)
    return dns_server


async def test_it_looks_up_a_aaaa_mx_txt_ptr_cname(zone: DNSTestServer) -> None:
    r = zone.resolver()
    assert await r.lookup_a("mail.example.test") == Result(Status.ok, ("192.0.2.10",))
    assert await r.lookup_aaaa("mail.example.test.") == Result(Status.ok, ("2001:db8::10",))
    mx = await r.lookup_mx("example.test")
    assert sorted(mx.records, key=lambda m: m.preference) == [MX(10, "mail.example.test"), MX(20, "backup.example.org")]
    assert await r.lookup_txt("example.test") == Result(Status.ok, (b"v=spf1 mx -all",))
    assert await r.lookup_ptr("192.0.2.10") == Result(Status.ok, ("mail.example.test",))
    assert await r.lookup_cname("www.example.test") == Result(Status.ok, ("mail.example.test",))
    # A through the CNAME, as a stub resolver sees it (RFC 1034 section 3.6.2).
    assert await r.lookup_a("WWW.Example.Test") == Result(Status.ok, ("192.0.2.10",))
    assert await r.lookup_mx("nullmx.example.test") == Result(Status.ok, (MX(0, ""),))


async def test_it_tells_nxdomain_nodata_and_temperror_apart(zone: DNSTestServer) -> None:
    zone.servfail("broken.example.test")
    zone.drop("slow.example.test")
    r = zone.resolver(timeout=0.2, lifetime=0.4)
    assert (await r.lookup_a("nope.example.test")).status == Status.nxdomain
    assert (await r.lookup_a("example.test")).status == Status.nodata
    # An empty non-terminal exists (RFC 8020): no data, not NXDOMAIN.
    assert (await r.lookup_a("sub.example.test")).status == Status.nodata
    broken = await r.lookup_txt("broken.example.test")
    assert broken.status == Status.temperror and broken.temporary and not broken.notfound
    start = time.monotonic()
    assert (await r.lookup_txt("slow.example.test")).status == Status.temperror
    assert time.monotonic() - start < 2


async def test_it_reports_a_cname_loop_as_no_data(zone: DNSTestServer) -> None:
    r = zone.resolver()
    res = await r.lookup_a("loop1.example.test")
    assert res == Result(Status.nodata, error="CNAME loop or chain too long")


async def test_it_reports_an_unreachable_server_as_temperror() -> None:
    r = DNSResolver(f"127.0.0.1:{free_udp_port()}", timeout=0.2, lifetime=0.4, cache=False)
    assert (await r.lookup_a("example.test")).status == Status.temperror


async def test_it_returns_tlsa_with_the_ad_bit_when_the_server_sets_it(zone: DNSTestServer) -> None:
    r = zone.resolver()
    want = TLSA(3, 1, 1, bytes.fromhex("0123456789abcdef" * 4))
    assert await r.lookup_tlsa("_25._tcp.mail.example.test") == Result(Status.ok, (want,), authentic=False)
    zone.authentic("example.test")
    assert await r.lookup_tlsa("_25._tcp.mail.example.test") == Result(Status.ok, (want,), authentic=True)


async def test_it_fetches_large_txt_records_over_tcp(dns_server: DNSTestServer) -> None:
    big = "v=DKIM1; p=" + "A" * 3000
    dns_server.add("big.example.test", "TXT", big)
    r = dns_server.resolver()
    assert await r.lookup_txt("big.example.test") == Result(Status.ok, (big.encode(),))


async def test_it_answers_wildcards(dns_server: DNSTestServer) -> None:
    dns_server.add_zone("*.wild.example.test. A 192.0.2.1\n")
    r = dns_server.resolver()
    assert await r.lookup_a("x.wild.example.test") == Result(Status.ok, ("192.0.2.1",))


async def test_lookup_ips_combines_a_and_aaaa(zone: DNSTestServer) -> None:
    zone.servfail("broken.example.test")
    r = zone.resolver()
    assert await lookup_ips(r, "mail.example.test") == Result(Status.ok, ("192.0.2.10", "2001:db8::10"))
    assert (await lookup_ips(r, "nope.example.test")).status == Status.nxdomain
    assert (await lookup_ips(r, "example.test")).status == Status.nodata
    assert (await lookup_ips(r, "broken.example.test")).status == Status.temperror


async def test_it_treats_impossible_names_as_nonexistent(zone: DNSTestServer) -> None:
    r = zone.resolver()
    assert (await r.lookup_a("a" * 64 + ".example.test")).status == Status.nxdomain
    assert (await r.lookup_a("a..example.test")).status == Status.nxdomain
    assert (await r.lookup_ptr("not-an-ip")).status == Status.nxdomain


async def test_it_caches_answers_when_asked(zone: DNSTestServer) -> None:
    r = DNSResolver(zone.address, cache=True)
    await r.lookup_a("mail.example.test")
    await r.lookup_a("mail.example.test")
    assert zone.queries.count(("mail.example.test", "A")) == 1


def test_parse_hostport() -> None:
    assert parse_hostport("127.0.0.1:5353") == ("127.0.0.1", 5353)
    assert parse_hostport("[::1]:53") == ("::1", 53)
    assert parse_hostport("::1") == ("::1", 53)
    assert parse_hostport("ns.example") == ("ns.example", 53)
    for bad in ("", "host:0", "host:x", "[::1"):
        with pytest.raises(ValueError):
            parse_hostport(bad)


async def test_lookup_ips_is_authentic_when_each_answer_with_records_is(zone: DNSTestServer) -> None:
    zone.add("v4only.example.test", "A", "192.0.2.44")
    zone.authentic("example.test")
    r = zone.resolver()
    assert await lookup_ips(r, "v4only.example.test") == Result(Status.ok, ("192.0.2.44",), authentic=True)


async def test_it_looks_up_unicode_names_as_a_labels(dns_server: DNSTestServer) -> None:
    dns_server.add("xn--bcher-kva.example", "A", "192.0.2.7")
    r = dns_server.resolver()
    assert await r.lookup_a("bücher.example") == Result(Status.ok, ("192.0.2.7",))
