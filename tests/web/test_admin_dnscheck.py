from __future__ import annotations

import socket

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from accounts.models import DKIMKey

ED25519_SECRET = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
ED25519_PUBLIC_B64 = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="

# The mail host is 127.0.0.1, so the TLS section connects to a real listener there.
HOST_ZONE = """
$ORIGIN example.org.
mail    A    127.0.0.1
mail    TXT  "v=spf1 a -all"
1.0.0.127.in-addr.arpa.  PTR  mail.example.org.
"""

GOOD_ZONE = f"""
$ORIGIN example.test.
@                   MX   10 mail.example.org.
@                   TXT  "v=spf1 mx ~all"
2026a._domainkey    TXT  "v=DKIM1; k=ed25519; p={ED25519_PUBLIC_B64}"
_dmarc              TXT  "v=DMARC1; p=reject; rua=mailto:dmarc-reports@example.test!10m"
mta-sts             CNAME mail.example.org.
_mta-sts            TXT  "v=STSv1; id=e76728b8f26755a9c797"
_smtp._tls          TXT  "v=TLSRPTv1; rua=mailto:tls-reports@example.test"
autoconfig          CNAME mail.example.org.
_autodiscover._tcp  SRV  0 1 443 autoconfig.example.test.
_imaps._tcp         SRV  0 1 993 mail.example.org.
_submissions._tcp   SRV  0 1 465 mail.example.org.
_imap._tcp          SRV  0 1 143 .
_submission._tcp    SRV  0 1 587 .
_pop3._tcp          SRV  0 1 110 .
_pop3s._tcp         SRV  0 1 995 .
"""


@pytest.fixture(autouse=True)
def no_smtp_listener(settings):  # type: ignore[no-untyped-def]
    """MX connections go to a closed port unless a test starts a listener (`starttls_mx`)."""
    settings.MOX_QUEUE_SMTP_PORT = closed_tcp_port()


def closed_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def starttls_mx(loop_thread, settings, tmp_path):  # type: ignore[no-untyped-def]
    """An SMTP server with STARTTLS at 127.0.0.1 whose certificate (from a test CA the
    check trusts) is for mail.example.org, or for the names given."""
    from tests.listeners import TLSFiles, bound_socket
    from tests.queue.conftest import start_sink

    def start(*names: str, starttls: bool = True) -> None:
        tls = TLSFiles(tmp_path, names or ("mail.example.org",))
        sink = start_sink(loop_thread, bound_socket(), tls_context=tls.server_context() if starttls else None)
        settings.MOX_QUEUE_SMTP_PORT = sink.port
        settings.MOX_QUEUE_CA_FILE = str(tls.ca_path)

    return start


@pytest.fixture
def dkim_key(domain):  # type: ignore[no-untyped-def]
    pem = ed25519.Ed25519PrivateKey.from_private_bytes(ED25519_SECRET).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return DKIMKey.objects.create(domain=domain, selector="2026a", algorithm="ed25519", private_key_pem=pem.decode())


def _sections(resp):  # type: ignore[no-untyped-def]
    return {s.name: s for s in resp.context["sections"]}


def test_it_finds_nothing_wrong_with_a_complete_setup(admin_client, dns_settings, dkim_key, starttls_mx):
    starttls_mx()
    dns_settings.add_zone(HOST_ZONE)
    dns_settings.add_zone(GOOD_ZONE)
    resp = admin_client.get("/admin/domains/example.test/dnscheck/")
    assert resp.status_code == 200
    assert "No errors found." in resp.text
    sections = _sections(resp)
    assert list(sections) == [
        "IPRev", "MX", "TLS", "SPF", "DKIM", "DMARC", "TLSRPT", "MTA-STS",
        "SRV records for client configuration", "Autoconfig", "Autodiscover",
    ]
    assert {n: (s.errors, s.warnings, s.instructions) for n, s in sections.items()} == {n: ([], [], []) for n in sections}
    assert "<h2>MX: OK</h2>" in resp.text


def test_it_reports_missing_records_with_instructions(admin_client, dns_settings, domain):
    dns_settings.add_zone(HOST_ZONE)
    resp = admin_client.get("/admin/domains/example.test/dnscheck/")
    s = _sections(resp)
    assert "Errors found: see the sections below." in resp.text
    assert s["MX"].errors == ["no MX records for example.test: mail is delivered to the domain's own address, if any"]
    assert s["MX"].instructions == ["example.test. IN MX 10 mail.example.org."]
    assert s["SPF"].errors == ["no SPF record for example.test"]
    assert s["SPF"].instructions == ['example.test. IN TXT "v=spf1 mx ~all"']
    assert s["DKIM"].errors == ["no DKIM keys are configured for this domain: outgoing mail is not signed"]
    assert s["DMARC"].instructions == [
        '_dmarc.example.test. IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc-reports@example.test!10m"'
    ]
    assert s["TLSRPT"].errors == ["no TLSRPT record at _smtp._tls.example.test"]
    assert s["MTA-STS"].errors == [
        "no MTA-STS record at _mta-sts.example.test",
        "mta-sts.example.test does not resolve (nxdomain)",
    ]
    assert s["SRV records for client configuration"].warnings[0] == "no SRV record at _submissions._tcp.example.test"
    assert s["SRV records for client configuration"].instructions[:2] == [
        "_submissions._tcp.example.test. IN SRV 0 1 465 mail.example.org.",
        "_imaps._tcp.example.test. IN SRV 0 1 993 mail.example.org.",
    ]
    assert s["Autoconfig"].instructions == ["autoconfig.example.test. IN CNAME mail.example.org."]
    assert s["Autodiscover"].errors == ["no SRV record at _autodiscover._tcp.example.test"]
    assert "<h2>MX: error</h2>" in resp.text
    assert "example.test. IN MX 10 mail.example.org.\n" in resp.text


def test_it_reports_wrong_values(admin_client, dns_settings, dkim_key):
    dns_settings.add_zone(HOST_ZONE)
    dns_settings.add_zone(
        GOOD_ZONE.replace("MX   10 mail.example.org.", "MX   10 mx.elsewhere.example.")
        .replace('"v=spf1 mx ~all"', '"v=spf1 -all"')
        .replace(f"p={ED25519_PUBLIC_B64}", "p=AAAA")
        .replace("p=reject; rua=mailto:dmarc-reports@example.test!10m", "p=none")
        .replace("id=e76728b8f26755a9c797", "id=20240101")
        .replace("SRV  0 1 993 mail.example.org.", "SRV  0 1 143 mail.example.org.")
    )
    dns_settings.add("mx.elsewhere.example", "A", "198.51.100.7")
    s = _sections(admin_client.get("/admin/domains/example.test/dnscheck/"))
    assert s["MX"].errors == ["MX host mx.elsewhere.example has IPs 198.51.100.7, none of them ours (127.0.0.1)"]
    assert s["SPF"].errors == ["SPF for example.test gives fail for our IP 127.0.0.1, not pass"]
    assert s["DKIM"].errors == ["the DKIM record at 2026a._domainkey.example.test does not hold the configured public key"]
    assert s["DMARC"].warnings == [
        "the DMARC policy is p=none: mail failing DMARC is still accepted",
        "no rua= address: you get no DMARC aggregate reports",
    ]
    assert s["MTA-STS"].warnings == [
        "the published policy id 20240101 differs from the current policy's e76728b8f26755a9c797: "
        "senders keep a cached older policy until it changes"
    ]
    assert s["SRV records for client configuration"].errors == [
        "the SRV record at _imaps._tcp.example.test has port 143 at mail.example.org, expected port 993 at mail.example.org"
    ]


def test_it_reports_a_missing_ptr(admin_client, dns_settings, domain):
    dns_settings.add_zone(HOST_ZONE.replace("1.0.0.127.in-addr.arpa.  PTR  mail.example.org.", ""))
    s = _sections(admin_client.get("/admin/domains/example.test/dnscheck/"))
    assert s["IPRev"].errors == ["127.0.0.1 has no PTR record"]
    assert s["IPRev"].instructions == ["127.0.0.1 PTR mail.example.org.  (set by whoever provides the IP address)"]


def test_it_reports_a_wrong_ptr(admin_client, dns_settings, domain):
    dns_settings.add_zone(HOST_ZONE.replace("PTR  mail.example.org.", "PTR  host-10.provider.example."))
    s = _sections(admin_client.get("/admin/domains/example.test/dnscheck/"))
    assert s["IPRev"].errors == ["the PTR record of 127.0.0.1 is host-10.provider.example, not mail.example.org"]


def test_it_reports_temporary_dns_failures(admin_client, dns_settings, domain):
    dns_settings.add_zone(HOST_ZONE)
    dns_settings.servfail("example.test")
    s = _sections(admin_client.get("/admin/domains/example.test/dnscheck/"))
    assert len(s["MX"].errors) == 1 and s["MX"].errors[0].startswith("looking up MX records for example.test: ")


def test_it_refuses_anonymous(client, domain):
    assert client.get("/admin/domains/example.test/dnscheck/").status_code == 302


def _tls_errors(admin_client) -> list[str]:  # type: ignore[no-untyped-def]
    return _sections(admin_client.get("/admin/domains/example.test/dnscheck/"))["TLS"].errors


def test_the_tls_check_refuses_a_certificate_for_another_name(admin_client, dns_settings, dkim_key, starttls_mx):
    starttls_mx("other.example.net")
    dns_settings.add_zone(HOST_ZONE)
    dns_settings.add_zone(GOOD_ZONE)
    port = settings_port()
    assert _tls_errors(admin_client) == [
        f"STARTTLS at MX host mail.example.org (127.0.0.1) port {port}: TLS certificate not valid for mail.example.org: "
        "Hostname mismatch, certificate is not valid for 'mail.example.org'."
    ]


def test_the_tls_check_refuses_an_mx_without_starttls(admin_client, dns_settings, dkim_key, starttls_mx):
    starttls_mx(starttls=False)
    dns_settings.add_zone(HOST_ZONE)
    dns_settings.add_zone(GOOD_ZONE)
    assert _tls_errors(admin_client) == [
        f"STARTTLS at MX host mail.example.org (127.0.0.1) port {settings_port()}: does not offer STARTTLS"
    ]


def test_the_tls_check_reports_an_mx_it_cannot_reach(admin_client, dns_settings, dkim_key):
    dns_settings.add_zone(HOST_ZONE)
    dns_settings.add_zone(GOOD_ZONE)
    [error] = _tls_errors(admin_client)
    assert error.startswith(f"STARTTLS at MX host mail.example.org (127.0.0.1) port {settings_port()}: SMTPConnectError: ")


def settings_port() -> int:
    from django.conf import settings

    return int(settings.MOX_QUEUE_SMTP_PORT)
