"""authenticate(): every check of one incoming message against a test DNS zone with
SPF, DKIM and DMARC records, and the exact headers it produces."""
from __future__ import annotations

import pytest
import time_machine

from mailcore.authn import dkimsign
from mailcore.authn.dkim import DKIMStatus
from mailcore.authn.dkimsign import SigningKey, sign
from mailcore.authn.dmarc import DMARCStatus
from mailcore.authn.incoming import authenticate, from_domain
from mailcore.authn.iprev import IPRevStatus
from mailcore.authn.spf import Identity, SPFStatus
from tests.authn.keys import ED25519
from tests.fixtures_dns import DNSTestServer

NOW = 1_700_000_000
MSG = (
    b"From: Alice <alice@example.test>\r\n"
    b"To: Bob <bob@moxweb.test>\r\n"
    b"Subject: lunch\r\n"
    b"\r\n"
    b"Shall we?\r\n"
)


@pytest.fixture
def world(dns_server: DNSTestServer):  # type: ignore[no-untyped-def]
    dns_server.add_zone(
        """
        $ORIGIN example.test.
        @       TXT  "v=spf1 ip4:192.0.2.0/24 -all"
        _dmarc  TXT  "v=DMARC1; p=reject"
        mail    A    192.0.2.10
        mail    TXT  "v=spf1 a -all"
        10.2.0.192.in-addr.arpa. PTR mail.example.test.
        """
    )
    dns_server.add("ed._domainkey.example.test", "TXT", dkimsign.dns_record(ED25519))
    with time_machine.travel(NOW, tick=True):
        yield dns_server


async def test_it_measures_a_good_message(world: DNSTestServer) -> None:
    message = sign(MSG, "example.test", [SigningKey("ed", ED25519)], now=NOW) + MSG
    v = await authenticate(
        world.resolver(), message, ip="192.0.2.10", helo="mail.example.test",
        mail_from="alice@example.test", authserv_id="mx.moxweb.test", check_helo=True,
    )
    assert (v.iprev.status, [d.status for d in v.dkim], v.spf.status, v.dmarc.status, v.from_domain) == (
        IPRevStatus.pass_, [DKIMStatus.pass_], SPFStatus.pass_, DMARCStatus.pass_, "example.test"
    )
    assert v.spf_helo is not None and (v.spf_helo.identity, v.spf_helo.status) == (Identity.helo, SPFStatus.pass_)
    assert v.headers == (
        "Authentication-Results: mx.moxweb.test;\r\n"
        "\tiprev=pass policy.iprev=192.0.2.10 (mail.example.test);\r\n"
        "\tdkim=pass (256 bit ed25519) header.d=example.test header.s=ed\r\n"
        '\theader.a=ed25519-sha256 header.b="Bef/9neQ2iNn";\r\n'
        "\tspf=pass smtp.mailfrom=alice@example.test;\r\n"
        "\tdmarc=pass header.from=example.test\r\n"
        "Received-SPF: Pass (mx.moxweb.test: domain of example.test designates\r\n"
        "\t192.0.2.10 as permitted sender) client-ip=192.0.2.10;\r\n"
        '\tenvelope-from="alice@example.test"; helo=mail.example.test;\r\n'
        '\treceiver=mx.moxweb.test; mechanism="ip4:192.0.2.0/24"; identity=mailfrom\r\n'
    )


async def test_it_measures_a_spoof(world: DNSTestServer) -> None:
    v = await authenticate(
        world.resolver(), MSG, ip="203.0.113.9", helo="evil.example",
        mail_from="ceo@example.test", authserv_id="mx.moxweb.test",
    )
    assert (v.iprev.status, v.dkim, v.spf.status, v.dmarc.status, v.dmarc.reject) == (
        IPRevStatus.permerror, [], SPFStatus.fail, DMARCStatus.fail, True
    )
    assert v.authentication_results == (
        "Authentication-Results: mx.moxweb.test;\r\n"
        "\tiprev=permerror policy.iprev=203.0.113.9;\r\n"
        "\tdkim=none;\r\n"
        "\tspf=fail smtp.mailfrom=ceo@example.test;\r\n"
        "\tdmarc=fail header.from=example.test\r\n"
    )


async def test_dns_trouble_never_becomes_a_failure(world: DNSTestServer) -> None:
    world.servfail("_dmarc.example.test")
    world.servfail("example.test")
    world.servfail("10.2.0.192.in-addr.arpa")
    v = await authenticate(
        world.resolver(), MSG, ip="192.0.2.10", helo="mail.example.test",
        mail_from="alice@example.test", authserv_id="mx.moxweb.test",
    )
    assert (v.iprev.status, v.spf.status, v.dmarc.status, v.dmarc.reject) == (
        IPRevStatus.temperror, SPFStatus.temperror, DMARCStatus.temperror, False
    )


async def test_it_gives_dmarc_none_without_a_usable_from(world: DNSTestServer) -> None:
    msg = b"From: a@example.test, b@example.test\r\nSubject: x\r\n\r\nhi\r\n"
    v = await authenticate(
        world.resolver(), msg, ip="192.0.2.10", helo="mail.example.test",
        mail_from="alice@example.test", authserv_id="mx.moxweb.test",
    )
    assert (v.dmarc.status, v.from_domain) == (DMARCStatus.none, "")
    assert v.authentication_results.endswith("\tspf=pass smtp.mailfrom=alice@example.test;\r\n\tdmarc=none\r\n")


@pytest.mark.parametrize(
    ("header", "domain"),
    [
        (b"From: Alice <alice@Example.TEST>\r\n", "example.test"),
        (b"From: alice@example.test.\n", "example.test"),
        ("From: Jörg <j@bücher.example>\r\n".encode(), "xn--bcher-kva.example"),
        (b"From: =?utf-8?q?J=C3=B6rg?= <j@example.test>\r\n", "example.test"),
        (b"From: a@x.test, b@y.test\r\n", ""),
        (b"From: a@x.test\r\nFrom: b@x.test\r\n", ""),
        (b"Subject: no from\r\n", ""),
        (b"From: undisclosed-recipients:;\r\n", ""),
        (b"From: \xff\xfe@\xff\r\n", ""),
    ],
)
def test_from_domain(header: bytes, domain: str) -> None:
    assert from_domain(header + b"\r\nbody\r\n") == domain


async def test_it_asks_for_the_dmarc_record_beside_the_other_lookups(dns_server: DNSTestServer) -> None:
    # SPF needs two rounds (the record, then its include) and iprev two (PTR, then A):
    # the DMARC record is asked for in the first round, not after all of them.
    dns_server.add_zone(
        """
        $ORIGIN example.test.
        @       TXT  "v=spf1 include:_spf.example.test -all"
        _spf    TXT  "v=spf1 ip4:192.0.2.0/24 -all"
        _dmarc  TXT  "v=DMARC1; p=reject"
        mail    A    192.0.2.10
        10.2.0.192.in-addr.arpa. PTR mail.example.test.
        """
    )
    v = await authenticate(
        dns_server.resolver(), MSG, ip="192.0.2.10", helo="mail.example.test",
        mail_from="alice@example.test", authserv_id="mx.moxweb.test",
    )
    assert (v.iprev.status, v.spf.status, v.dmarc.status) == (IPRevStatus.pass_, SPFStatus.pass_, DMARCStatus.pass_)
    queries = dns_server.queries
    dmarc_at = queries.index(("_dmarc.example.test", "TXT"))
    assert dmarc_at < queries.index(("_spf.example.test", "TXT"))
    assert dmarc_at < queries.index(("mail.example.test", "A"))
    assert queries.count(("_dmarc.example.test", "TXT")) == 1
