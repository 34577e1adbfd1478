"""The Authentication-Results header (RFC 8601), exact, from real checks against the
test DNS server: iprev, DKIM (RSA and Ed25519), SPF and DMARC."""
from __future__ import annotations

import asyncio

import pytest
import time_machine

from mailcore.authn import dkimsign, dmarc, iprev, spf
from mailcore.authn.authresults import authentication_results
from mailcore.authn.dkim import DKIMResult, DKIMStatus, verify
from mailcore.authn.dkimsign import SigningKey, sign
from tests.authn.keys import ED25519, RSA_2048
from tests.fixtures_dns import DNSTestServer

NOW = 1_700_000_000
MSG = (
    b"From: Alice <alice@example.test>\r\n"
    b"To: Bob <bob@moxweb.test>\r\n"
    b"Subject: lunch\r\n"
    b"Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
    b"Message-Id: <1@example.test>\r\n"
    b"\r\n"
    b"Shall we?\r\n"
)


@pytest.fixture
def world(dns_server: DNSTestServer):  # type: ignore[no-untyped-def]
    dns_server.add_zone(
        """
        $ORIGIN example.test.
        @       TXT  "v=spf1 ip4:192.0.2.0/24 -all"
        _dmarc  TXT  "v=DMARC1; p=reject; rua=mailto:dmarc@example.test"
        mail    A    192.0.2.10
        10.2.0.192.in-addr.arpa. PTR mail.example.test.
        """
    )
    dns_server.add("rsa._domainkey.example.test", "TXT", dkimsign.dns_record(RSA_2048))
    dns_server.add("ed._domainkey.example.test", "TXT", dkimsign.dns_record(ED25519))
    with time_machine.travel(NOW, tick=True):
        yield dns_server


async def judge(server: DNSTestServer, message: bytes, ip: str, mail_from: str, helo: str) -> str:
    r = server.resolver()
    rev, dk, sp = await asyncio.gather(
        iprev.lookup(r, ip), verify(r, message), spf.check_mailfrom(r, ip, mail_from, helo)
    )
    dm = await dmarc.evaluate(r, "example.test", dkim=dk, spf=sp)
    return authentication_results("mx.moxweb.test", iprev=rev, dkim=dk, spf=sp, dmarc=dm)


async def test_a_good_message_gets_all_passes(world: DNSTestServer) -> None:
    keys = [SigningKey("rsa", RSA_2048), SigningKey("ed", ED25519)]
    message = sign(MSG, "example.test", keys, now=NOW) + MSG
    header = await judge(world, message, "192.0.2.10", "alice@example.test", "mail.example.test")
    assert header == (
        "Authentication-Results: mx.moxweb.test;\r\n"
        "\tiprev=pass policy.iprev=192.0.2.10 (mail.example.test);\r\n"
        "\tdkim=pass (2048 bit rsa) header.d=example.test header.s=rsa\r\n"
        '\theader.a=rsa-sha256 header.b="APOXtWwhmh/l";\r\n'  # quoted: "/" is a tspecial
        "\tdkim=pass (256 bit ed25519) header.d=example.test header.s=ed\r\n"
        "\theader.a=ed25519-sha256 header.b=MhoQWj8yPQuJ;\r\n"
        "\tspf=pass smtp.mailfrom=alice@example.test;\r\n"
        "\tdmarc=pass header.from=example.test\r\n"
    )


async def test_a_forgery_gets_fails(world: DNSTestServer) -> None:
    message = sign(MSG, "example.test", [SigningKey("ed", ED25519)], now=NOW) + MSG
    tampered = message.replace(b"Shall we?", b"Send money")
    header = await judge(world, tampered, "203.0.113.5", "alice@example.test", "evil.example")
    assert header == (
        "Authentication-Results: mx.moxweb.test;\r\n"
        "\tiprev=permerror policy.iprev=203.0.113.5;\r\n"
        '\tdkim=fail (256 bit ed25519) reason="body hash mismatch" header.d=example.test\r\n'
        "\theader.s=ed header.a=ed25519-sha256 header.b=MhoQWj8yPQuJ;\r\n"
        "\tspf=fail smtp.mailfrom=alice@example.test;\r\n"
        "\tdmarc=fail header.from=example.test\r\n"
    )


async def test_unsigned_mail_from_the_null_sender(world: DNSTestServer) -> None:
    header = await judge(world, MSG, "192.0.2.10", "", "mail.example.test")
    assert header == (
        "Authentication-Results: mx.moxweb.test;\r\n"
        "\tiprev=pass policy.iprev=192.0.2.10 (mail.example.test);\r\n"
        "\tdkim=none;\r\n"
        "\tspf=none smtp.helo=mail.example.test;\r\n"
        "\tdmarc=fail header.from=example.test\r\n"
    )


def test_other_forms() -> None:
    assert authentication_results("mx.moxweb.test") == "Authentication-Results: mx.moxweb.test; none\r\n"
    assert authentication_results("mx.moxweb.test", auth_mailfrom="alice@example.test") == (
        "Authentication-Results: mx.moxweb.test;\r\n\tauth=pass smtp.mailfrom=alice@example.test\r\n"
    )
    broken = DKIMResult(DKIMStatus.permerror, error="malformed signature: missing required tag bh=", domain="example.test")
    assert authentication_results("mx", dkim=[broken]) == (
        "Authentication-Results: mx;\r\n"
        '\tdkim=permerror reason="malformed signature: missing required tag bh="\r\n'
        "\theader.d=example.test\r\n"
    )
