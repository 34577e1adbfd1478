"""iprev (RFC 8601 section 3) against PTR and A/AAAA records in the test DNS server."""
from __future__ import annotations

from mailcore.authn.iprev import IPRevResult, IPRevStatus, lookup
from tests.fixtures_dns import DNSTestServer

ZONE = """
10.2.0.192.in-addr.arpa.  PTR  mail.example.test.
11.2.0.192.in-addr.arpa.  PTR  liar.example.test.
12.2.0.192.in-addr.arpa.  PTR  other.example.test.
12.2.0.192.in-addr.arpa.  PTR  mail2.example.test.
13.2.0.192.in-addr.arpa.  PTR  broken.example.test.
mail.example.test.   A     192.0.2.10
mail2.example.test.  A     192.0.2.12
liar.example.test.   A     192.0.2.99
other.example.test.  A     192.0.2.77
mail6.example.test.  AAAA  2001:db8::25
5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa. PTR mail6.example.test.
"""


async def test_it_passes_a_forward_confirmed_name(dns_server: DNSTestServer) -> None:
    dns_server.add_zone(ZONE)
    r = dns_server.resolver()
    assert await lookup(r, "192.0.2.10") == IPRevResult(IPRevStatus.pass_, "192.0.2.10", "mail.example.test", ("mail.example.test",))
    res = await lookup(r, "192.0.2.12")
    assert (res.status, res.name, sorted(res.names)) == (IPRevStatus.pass_, "mail2.example.test", ["mail2.example.test", "other.example.test"])
    assert await lookup(r, "2001:db8::25") == IPRevResult(IPRevStatus.pass_, "2001:db8::25", "mail6.example.test", ("mail6.example.test",))


async def test_it_fails_when_no_name_points_back(dns_server: DNSTestServer) -> None:
    dns_server.add_zone(ZONE)
    res = await lookup(dns_server.resolver(), "192.0.2.11")
    assert (res.status, res.names, res.error) == (IPRevStatus.fail, ("liar.example.test",), "no PTR name resolves to the address")


async def test_no_ptr_is_permerror_and_dns_trouble_temperror(dns_server: DNSTestServer) -> None:
    dns_server.add_zone(ZONE)
    dns_server.servfail("broken.example.test")
    dns_server.servfail("20.2.0.192.in-addr.arpa")
    r = dns_server.resolver()
    assert (await lookup(r, "192.0.2.50")).status == IPRevStatus.permerror
    assert (await lookup(r, "192.0.2.20")).status == IPRevStatus.temperror
    assert (await lookup(r, "192.0.2.13")).status == IPRevStatus.temperror  # forward lookup SERVFAIL
    assert (await lookup(r, "nonsense")).status == IPRevStatus.permerror
