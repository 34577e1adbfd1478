"""SPF (RFC 7208) through our resolver against the test DNS server."""
from __future__ import annotations

import pytest

from mailcore.authn.spf import Identity, SPFResult, SPFStatus, check_helo, check_mailfrom
from tests.fixtures_dns import DNSTestServer

ZONE = """
$ORIGIN example.test.
@        TXT  "v=spf1 ip4:192.0.2.0/24 mx -all"
@        MX   10 mail
mail     A    198.51.100.7
mail     AAAA 2001:db8::7
mail     TXT  "v=spf1 a -all"
soft     TXT  "v=spf1 ~all"
neutral  TXT  "v=spf1 ?all"
exp      TXT  "v=spf1 -all exp=explain.example.test"
explain  TXT  "%{i} may not send for %{d}"
inc      TXT  "v=spf1 include:broken.example.test -all"
bad      TXT  "v=spf1 ip4:300.1.1.1 -all"
two      TXT  "v=spf1 -all"
two      TXT  "v=spf1 +all"
ptr      TXT  "v=spf1 ptr:example.test -all"
7.100.51.198.in-addr.arpa. PTR mail.example.test.
"""


@pytest.fixture
def zone(dns_server: DNSTestServer) -> DNSTestServer:
    dns_server.add_zone(ZONE)
    dns_server.servfail("broken.example.test")
    dns_server.drop("slow.example.test")
    return dns_server


@pytest.mark.parametrize(
    ("ip", "sender", "status"),
    [
        ("192.0.2.5", "alice@example.test", SPFStatus.pass_),
        ("198.51.100.7", "alice@example.test", SPFStatus.pass_),  # mx
        ("2001:db8::7", "alice@example.test", SPFStatus.pass_),  # mx, AAAA
        ("203.0.113.1", "alice@example.test", SPFStatus.fail),
        ("203.0.113.1", "a@soft.example.test", SPFStatus.softfail),
        ("203.0.113.1", "a@neutral.example.test", SPFStatus.neutral),
        ("203.0.113.1", "a@nope.example.test", SPFStatus.none),  # NXDOMAIN
        ("203.0.113.1", "a@mail.example.test", SPFStatus.fail),
        ("203.0.113.1", "a@bad.example.test", SPFStatus.permerror),
        ("203.0.113.1", "a@two.example.test", SPFStatus.permerror),  # section 4.5
        ("198.51.100.7", "a@ptr.example.test", SPFStatus.pass_),
        ("203.0.113.1", "a@broken.example.test", SPFStatus.temperror),  # SERVFAIL
        ("203.0.113.1", "a@inc.example.test", SPFStatus.temperror),  # include hits SERVFAIL
    ],
)
async def test_it_evaluates_mail_from(zone: DNSTestServer, ip: str, sender: str, status: SPFStatus) -> None:
    r = await check_mailfrom(zone.resolver(), ip, sender, "client.example.org")
    assert (r.status, r.identity, r.sender) == (status, Identity.mailfrom, sender)


async def test_it_keeps_a_timeout_a_temperror(zone: DNSTestServer) -> None:
    r = await check_mailfrom(zone.resolver(timeout=0.2, lifetime=0.3), "203.0.113.1", "a@slow.example.test", "x.example")
    assert r.status == SPFStatus.temperror


async def test_it_returns_the_domains_explanation_on_fail(zone: DNSTestServer) -> None:
    r = await check_mailfrom(zone.resolver(), "203.0.113.1", "a@exp.example.test", "x.example", receiver="mx.moxweb.test")
    assert r == SPFResult(
        SPFStatus.fail,
        Identity.mailfrom,
        "exp.example.test",
        "a@exp.example.test",
        "203.0.113.1 may not send for exp.example.test",
        "Fail (mx.moxweb.test: domain of exp.example.test does not designate 203.0.113.1 as permitted sender) "
        'client-ip=203.0.113.1; envelope-from="a@exp.example.test"; helo=x.example; receiver=mx.moxweb.test; '
        "mechanism=-all; identity=mailfrom",
    )


async def test_it_leaves_out_the_default_explanation(zone: DNSTestServer) -> None:
    r = await check_mailfrom(zone.resolver(), "203.0.113.1", "alice@example.test", "x.example")
    assert (r.status, r.explanation) == (SPFStatus.fail, "")


async def test_it_checks_helo_for_the_null_reverse_path(zone: DNSTestServer) -> None:
    r = await check_mailfrom(zone.resolver(), "198.51.100.7", "", "mail.example.test", receiver="mx.moxweb.test")
    assert (r.status, r.identity, r.domain, r.sender) == (
        SPFStatus.pass_, Identity.helo, "mail.example.test", "postmaster@mail.example.test"
    )
    assert r.received_spf == (
        "Pass (mx.moxweb.test: domain of mail.example.test designates 198.51.100.7 as permitted sender) "
        "client-ip=198.51.100.7; helo=mail.example.test; receiver=mx.moxweb.test; mechanism=a; identity=helo"
    )


async def test_it_checks_the_helo_identity(zone: DNSTestServer) -> None:
    assert (await check_helo(zone.resolver(), "198.51.100.7", "mail.example.test")).status == SPFStatus.pass_
    assert (await check_helo(zone.resolver(), "192.0.2.1", "mail.example.test")).status == SPFStatus.fail


async def test_it_gives_none_for_address_literals_and_bad_domains(zone: DNSTestServer) -> None:
    r = zone.resolver()
    assert (await check_helo(r, "192.0.2.1", "[192.0.2.1]")).status == SPFStatus.none
    assert (await check_helo(r, "192.0.2.1", "localhost")).status == SPFStatus.none
    assert (await check_mailfrom(r, "192.0.2.1", "user@", "x.example")).status == SPFStatus.none
    assert zone.queries == []


async def test_it_does_not_touch_dnspythons_default_resolver(zone: DNSTestServer) -> None:
    """All lookups reach our server, though dns.resolver.default_resolver is untouched."""
    await check_mailfrom(zone.resolver(), "192.0.2.5", "alice@example.test", "x.example")
    assert ("example.test", "TXT") in zone.queries
