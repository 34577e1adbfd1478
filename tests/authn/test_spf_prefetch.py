"""SPF lookups are made before pyspf runs, concurrently, level by level; what was not
foreseen is still looked up (pyspf then runs in a worker thread)."""
from __future__ import annotations

from mailcore.authn.spf import PREFETCH_NAMES, SPFStatus, check_mailfrom
from tests.fixtures_dns import DNSTestServer


async def test_it_asks_for_the_names_of_one_level_together(dns_server: DNSTestServer) -> None:
    dns_server.add_zone(
        """
        $ORIGIN example.test.
        @     TXT  "v=spf1 include:one.example.test include:two.example.test -all"
        one   TXT  "v=spf1 include:deep.example.test -all"
        deep  TXT  "v=spf1 ip4:198.51.100.0/24 -all"
        two   TXT  "v=spf1 a:mail.example.test -all"
        mail  A    192.0.2.10
        """
    )
    result = await check_mailfrom(dns_server.resolver(), "192.0.2.10", "a@example.test", "mail.example.test")
    assert result.status == SPFStatus.pass_
    queries = dns_server.queries
    # pyspf alone goes depth first (one, deep, two, mail); the lookups go by level.
    assert queries[0] == ("example.test", "TXT")
    assert set(queries[1:3]) == {("one.example.test", "TXT"), ("two.example.test", "TXT")}
    assert set(queries[3:5]) == {("deep.example.test", "TXT"), ("mail.example.test", "A")}
    assert len(queries) == 5


async def test_lookups_it_did_not_foresee_are_still_made(dns_server: DNSTestServer) -> None:
    # The MX hosts' addresses are prefetched; the exp= text and ptr names are not.
    dns_server.add_zone(
        """
        $ORIGIN example.test.
        @        TXT  "v=spf1 mx ptr:example.test -all exp=why.example.test"
        @        MX   10 mx1
        mx1      A    192.0.2.1
        why      TXT  "no mail from %{i}"
        host     A    192.0.2.20
        20.2.0.192.in-addr.arpa. PTR host.example.test.
        """
    )
    r = dns_server.resolver()
    assert (await check_mailfrom(r, "192.0.2.1", "a@example.test", "x.test")).status == SPFStatus.pass_
    assert (await check_mailfrom(r, "192.0.2.20", "a@example.test", "x.test")).status == SPFStatus.pass_
    fail = await check_mailfrom(r, "192.0.2.99", "a@example.test", "x.test")
    assert (fail.status, fail.explanation) == (SPFStatus.fail, "no mail from 192.0.2.99")


async def test_prefetching_is_bounded(dns_server: DNSTestServer) -> None:
    includes = " ".join(f"include:i{n}.example.test" for n in range(30))
    dns_server.add("example.test", "TXT", f"v=spf1 {includes} -all")
    for n in range(30):
        dns_server.add(f"i{n}.example.test", "TXT", "v=spf1 -all")
    result = await check_mailfrom(dns_server.resolver(), "192.0.2.10", "a@example.test", "mail.example.test")
    # RFC 7208 section 4.6.4: more than 10 mechanisms that look up names is a permerror.
    assert result.status == SPFStatus.permerror
    assert len(dns_server.queries) == PREFETCH_NAMES
