"""The reporting world: our domain example.test with reporting addresses, and reporters
in the test DNS zone whose DKIM keys allow service tlsrpt, email only, or everything."""
from __future__ import annotations

import asyncio
import time

import pytest

from mailcore.authn import dkimsign
from mailcore.authn.dkimsign import SigningKey, sign
from mailcore.authn.incoming import Verdicts, authenticate
from tests.authn.keys import ED25519, RSA_1024
from tests.fixtures_dns import DNSTestServer

REPORTER_IP = "192.0.2.10"


def add_reporter_zone(dns: DNSTestServer) -> None:
    for domain in ("google.com", "microsoft.com", "reporter.example"):
        dns.add_zone(
            f"""
            $ORIGIN {domain}.
            @       TXT  "v=spf1 ip4:192.0.2.0/24 ip4:127.0.0.1 -all"
            @       MX   10 mail
            _dmarc  TXT  "v=DMARC1; p=reject"
            mail    A    {REPORTER_IP}
            """
        )
        # s=tlsrpt alone is not enough: DKIM verification itself needs service email
        # (RFC 6376 section 3.6.1), as mox's does. (s=email:tlsrpt would be the precise
        # record, but dkimpy 1.1.8 compares the whole s= value and drops such a key.)
        dns.add(f"tls._domainkey.{domain}", "TXT", dkimsign.dns_record(ED25519) + ";s=*")
        dns.add(f"tlsonly._domainkey.{domain}", "TXT", dkimsign.dns_record(ED25519) + ";s=tlsrpt")
        dns.add(f"mail._domainkey.{domain}", "TXT", dkimsign.dns_record(ED25519) + ";s=email")
        dns.add(f"all._domainkey.{domain}", "TXT", dkimsign.dns_record(RSA_1024))
    dns.add("10.2.0.192.in-addr.arpa", "PTR", "mail.google.com.")


@pytest.fixture
def reporters(dns_server: DNSTestServer) -> DNSTestServer:
    add_reporter_zone(dns_server)
    return dns_server


def signed(message: bytes, domain: str, selector: str = "tls") -> bytes:
    pem = RSA_1024 if selector == "all" else ED25519
    return sign(message, domain, [SigningKey(selector, pem)], now=time.time()) + message


def verdicts_for(dns: DNSTestServer, message: bytes, mail_from: str = "") -> Verdicts:
    return asyncio.run(authenticate(
        dns.resolver(), message, ip=REPORTER_IP, helo="mail.google.com",
        mail_from=mail_from, authserv_id="mail.example.test",
    ))


@pytest.fixture
def reporting(alice):  # type: ignore[no-untyped-def]
    """example.test's DMARC and TLSRPT reporting addresses, to alice's account."""
    from reports.actions import set_reporting_address

    domain = alice.domain
    return (set_reporting_address(domain, "dmarc", "dmarc-reports", alice),
            set_reporting_address(domain, "tlsrpt", "tls-reports", alice))
