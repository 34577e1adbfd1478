"""DMARC evaluation (RFC 7489, RFC 9989) against records in the test DNS server."""
from __future__ import annotations

import pytest

from mailcore.authn.dkim import DKIMResult, DKIMStatus, Signature
from mailcore.authn.dmarc import DMARCStatus, OrgMethod, discover_policy, evaluate, treewalk_names
from mailcore.authn.dmarcrecord import Policy
from mailcore.authn.spf import Identity, SPFResult, SPFStatus
from tests.fixtures_dns import DNSTestServer


def dkim_pass(domain: str) -> DKIMResult:
    sig = Signature("rsa-sha256", "AAAA", "AAAA", domain, "sel", ("from", "subject"))
    return DKIMResult(DKIMStatus.pass_, sig)


def dkim_fail(domain: str) -> DKIMResult:
    return DKIMResult(DKIMStatus.fail, Signature("rsa-sha256", "AAAA", "AAAA", domain, "sel", ("from",)))


def spf_pass(domain: str) -> SPFResult:
    return SPFResult(SPFStatus.pass_, Identity.mailfrom, domain, "bounce@" + domain)


ZONE = """
$ORIGIN example.test.
_dmarc          TXT "v=DMARC1; p=reject; sp=quarantine; np=reject; rua=mailto:dmarc@example.test"
sub             A   192.0.2.1
strict          A   192.0.2.1
_dmarc.strict   TXT "v=DMARC1; p=reject; adkim=s; aspf=s"
none            A   192.0.2.1
_dmarc.none     TXT "v=DMARC1; p=none"
half            A   192.0.2.1
_dmarc.half     TXT "v=DMARC1; p=reject; pct=50"
testing         A   192.0.2.1
_dmarc.testing  TXT "v=DMARC1; p=reject; t=y"
_dmarc.bad      TXT "v=DMARC1; p=bogus"
_dmarc.two      TXT "v=DMARC1; p=reject"
_dmarc.two      TXT "v=DMARC1; p=none"
_dmarc.other    TXT "v=spf1 -all"
"""


@pytest.fixture
def zone(dns_server: DNSTestServer) -> DNSTestServer:
    dns_server.add_zone(ZONE)
    return dns_server


async def test_it_passes_with_aligned_dkim_or_spf(zone: DNSTestServer) -> None:
    r = zone.resolver()
    res = await evaluate(r, "example.test", dkim=[dkim_fail("example.test"), dkim_pass("example.test")])
    assert (res.status, res.dkim_aligned, res.spf_aligned, res.policy_domain) == (DMARCStatus.pass_, True, False, "example.test")
    assert res.aligned_dkim_domains == ("example.test",)
    res = await evaluate(r, "example.test", spf=spf_pass("example.test"))
    assert (res.status, res.dkim_aligned, res.spf_aligned, res.reject) == (DMARCStatus.pass_, False, True, False)


async def test_relaxed_alignment_uses_the_organizational_domain(zone: DNSTestServer) -> None:
    r = zone.resolver()
    for method in OrgMethod:
        res = await evaluate(r, "sub.example.test", dkim=[dkim_pass("mail.example.test")], method=method)
        assert res.status == DMARCStatus.pass_, method
        res = await evaluate(r, "example.test", spf=spf_pass("bounces.example.test"), method=method)
        assert res.status == DMARCStatus.pass_, method


async def test_strict_alignment_needs_the_exact_domain(zone: DNSTestServer) -> None:
    r = zone.resolver()
    res = await evaluate(r, "strict.example.test", dkim=[dkim_pass("example.test")], spf=spf_pass("x.strict.example.test"))
    assert (res.status, res.policy, res.reject) == (DMARCStatus.fail, Policy.reject, True)
    res = await evaluate(r, "Strict.Example.Test.", dkim=[dkim_pass("strict.example.test")])
    assert res.status == DMARCStatus.pass_


async def test_unaligned_or_failing_authentication_fails(zone: DNSTestServer) -> None:
    r = zone.resolver()
    res = await evaluate(r, "example.test", dkim=[dkim_pass("example.org"), dkim_fail("example.test")], spf=spf_pass("example.net"))
    assert (res.status, res.policy, res.reject, res.dkim_aligned, res.spf_aligned) == (
        DMARCStatus.fail, Policy.reject, True, False, False
    )
    spf_fail = SPFResult(SPFStatus.fail, Identity.mailfrom, "example.test", "a@example.test")
    assert (await evaluate(r, "example.test", spf=spf_fail)).status == DMARCStatus.fail


async def test_subdomain_and_nonexistent_policies(zone: DNSTestServer) -> None:
    r = zone.resolver()
    sub = await evaluate(r, "sub.example.test")
    assert (sub.status, sub.policy_domain, sub.policy, sub.reject) == (DMARCStatus.fail, "example.test", Policy.quarantine, True)
    # RFC 9989 np=: the author domain does not exist.
    ghost = await evaluate(r, "ghost.example.test")
    assert (ghost.status, ghost.policy) == (DMARCStatus.fail, Policy.reject)


async def test_p_none_never_rejects(zone: DNSTestServer) -> None:
    res = await evaluate(zone.resolver(), "none.example.test")
    assert (res.status, res.policy, res.reject) == (DMARCStatus.fail, Policy.none, False)


async def test_pct_selects_messages(zone: DNSTestServer) -> None:
    r = zone.resolver()
    assert (await evaluate(r, "half.example.test", rand=lambda: 0.49)).reject is True
    assert (await evaluate(r, "half.example.test", rand=lambda: 0.50)).reject is False


async def test_testing_mode_softens_the_policy(zone: DNSTestServer) -> None:
    res = await evaluate(zone.resolver(), "testing.example.test")
    # t=y: reject is applied as quarantine, which the pipeline still counts as reject.
    assert (res.status, res.policy, res.reject) == (DMARCStatus.fail, Policy.reject, True)


async def test_none_permerror_and_temperror(zone: DNSTestServer) -> None:
    zone.servfail("_dmarc.broken.example.test")
    r = zone.resolver()
    assert (await evaluate(r, "example.org")).status == DMARCStatus.none
    assert (await evaluate(r, "other.example.test", dkim=[dkim_pass("x.org")])).status == DMARCStatus.fail  # falls to parent
    bad = await evaluate(r, "bad.example.test")
    assert (bad.status, bad.error) == (DMARCStatus.permerror, "_dmarc.bad.example.test: bad p= policy 'bogus'")
    two = await evaluate(r, "two.example.test")
    assert (two.status, two.error) == (DMARCStatus.none, "_dmarc.two.example.test: multiple DMARC records")
    broken = await evaluate(r, "broken.example.test", dkim=[dkim_pass("broken.example.test")])
    assert broken.status == DMARCStatus.temperror
    assert (await evaluate(r, "")).status == DMARCStatus.none


async def test_temperror_during_alignment_is_temperror(zone: DNSTestServer) -> None:
    zone.add("_dmarc.example.org", "TXT", "v=DMARC1; p=reject")
    zone.servfail("_dmarc.mail.example.org")
    res = await evaluate(zone.resolver(), "example.org", dkim=[dkim_pass("mail.example.org")])
    assert res.status == DMARCStatus.temperror
    # A strictly aligned signature needs no further lookups: pass.
    res = await evaluate(zone.resolver(), "example.org", dkim=[dkim_pass("example.org"), dkim_pass("mail.example.org")])
    assert res.status == DMARCStatus.pass_


def test_treewalk_names_are_at_most_eight() -> None:
    assert treewalk_names("a.b.c") == ["a.b.c", "b.c", "c"]
    long = "l1.l2.l3.l4.l5.l6.l7.l8.l9.example.test"
    assert treewalk_names(long) == [
        long,
        "l5.l6.l7.l8.l9.example.test",
        "l6.l7.l8.l9.example.test",
        "l7.l8.l9.example.test",
        "l8.l9.example.test",
        "l9.example.test",
        "example.test",
        "test",
    ]


async def test_treewalk_finds_the_policy_in_at_most_eight_queries(zone: DNSTestServer) -> None:
    long = "l1.l2.l3.l4.l5.l6.l7.l8.l9.example.test"
    status, domain, record, _ = await discover_policy(zone.resolver(), long)
    assert (status, domain) == (DMARCStatus.pass_, "example.test")
    assert record is not None and record.policy == Policy.reject
    assert [q for q in zone.queries] == [
        ("_dmarc." + long, "TXT"),
        ("_dmarc.l5.l6.l7.l8.l9.example.test", "TXT"),
        ("_dmarc.l6.l7.l8.l9.example.test", "TXT"),
        ("_dmarc.l7.l8.l9.example.test", "TXT"),
        ("_dmarc.l8.l9.example.test", "TXT"),
        ("_dmarc.l9.example.test", "TXT"),
        ("_dmarc.example.test", "TXT"),
    ]


async def test_psl_mode_looks_at_the_domain_and_its_organizational_domain(zone: DNSTestServer) -> None:
    status, domain, _, _ = await discover_policy(zone.resolver(), "a.b.sub.example.test", OrgMethod.psl)
    assert (status, domain) == (DMARCStatus.pass_, "example.test")
    assert zone.queries == [("_dmarc.a.b.sub.example.test", "TXT"), ("_dmarc.example.test", "TXT")]


async def test_a_private_public_suffix_with_a_record_is_found_only_by_the_tree_walk(dns_server: DNSTestServer) -> None:
    # blogspot.com is a public suffix (private section of the PSL): RFC 7489 never
    # looks above x.blogspot.com; RFC 9989's walk finds the record at blogspot.com.
    dns_server.add("_dmarc.blogspot.com", "TXT", "v=DMARC1; p=reject")
    r = dns_server.resolver()
    assert (await evaluate(r, "x.blogspot.com", method=OrgMethod.psl)).status == DMARCStatus.none
    walked = await evaluate(r, "x.blogspot.com", method=OrgMethod.treewalk)
    assert (walked.status, walked.policy_domain, walked.reject) == (DMARCStatus.fail, "blogspot.com", True)


async def test_psd_y_makes_the_organizational_domain_one_label_below(dns_server: DNSTestServer) -> None:
    dns_server.add("_dmarc.bank", "TXT", "v=DMARC1; p=reject; psd=y")
    dns_server.add("_dmarc.example.bank", "TXT", "v=DMARC1; p=reject")
    r = dns_server.resolver()
    # evil.bank and example.bank are separate organizations under a PSD.
    assert (await evaluate(r, "example.bank", dkim=[dkim_pass("evil.bank")])).status == DMARCStatus.fail
    assert (await evaluate(r, "mail.example.bank", dkim=[dkim_pass("example.bank")])).status == DMARCStatus.pass_


async def test_without_psd_the_fewest_labels_with_a_record_win(dns_server: DNSTestServer) -> None:
    dns_server.add("_dmarc.bank", "TXT", "v=DMARC1; p=reject")
    dns_server.add("_dmarc.example.bank", "TXT", "v=DMARC1; p=reject")
    r = dns_server.resolver()
    assert (await evaluate(r, "example.bank", dkim=[dkim_pass("evil.bank")])).status == DMARCStatus.pass_


async def test_psd_n_stops_the_walk(dns_server: DNSTestServer) -> None:
    dns_server.add("_dmarc.bank", "TXT", "v=DMARC1; p=reject")
    dns_server.add("_dmarc.example.bank", "TXT", "v=DMARC1; p=reject; psd=n")
    r = dns_server.resolver()
    assert (await evaluate(r, "example.bank", dkim=[dkim_pass("evil.bank")])).status == DMARCStatus.fail


async def test_a_parent_without_a_record_does_not_align_siblings(dns_server: DNSTestServer) -> None:
    # RFC 9989: with no record above, each subdomain is its own organizational domain.
    dns_server.add("_dmarc.a.example.test", "TXT", "v=DMARC1; p=reject")
    r = dns_server.resolver()
    assert (await evaluate(r, "a.example.test", dkim=[dkim_pass("b.example.test")])).status == DMARCStatus.fail
    # With the public suffix list they share example.test.
    assert (await evaluate(r, "a.example.test", dkim=[dkim_pass("b.example.test")], method=OrgMethod.psl)).status == DMARCStatus.pass_
