from __future__ import annotations

import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import trustme
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
    """MX connections go to a closed port unless a test starts a listener (`starttls_mx`);
    HTTPS connections (MTA-STS policy, autoconfig) likewise (`https_host`)."""
    settings.MOX_QUEUE_SMTP_PORT = closed_tcp_port()
    settings.MOX_MTASTS_PORT = closed_tcp_port()


def closed_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def test_ca(settings, tmp_path):  # type: ignore[no-untyped-def]
    """One trustme CA for the test's SMTP and HTTPS servers, trusted by the check."""
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    settings.MOX_QUEUE_CA_FILE = str(tmp_path / "ca.pem")
    return ca


def _server_context(ca: trustme.CA, names: tuple[str, ...]) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert(*names).configure_cert(ctx)
    return ctx


@pytest.fixture
def starttls_mx(loop_thread, settings, test_ca):  # type: ignore[no-untyped-def]
    """An SMTP server with STARTTLS at 127.0.0.1 whose certificate (from the test CA) is
    for mail.example.org, or for the names given."""
    from tests.listeners import bound_socket
    from tests.queue.conftest import start_sink

    def start(*names: str, starttls: bool = True) -> None:
        ctx = _server_context(test_ca, names or ("mail.example.org",)) if starttls else None
        sink = start_sink(loop_thread, bound_socket(), tls_context=ctx)
        settings.MOX_QUEUE_SMTP_PORT = sink.port

    return start


class _WebHandler(BaseHTTPRequestHandler):
    """The HTTPS listener of mta-sts.example.test and autoconfig.example.test (both
    127.0.0.1 by the zone's CNAMEs): the MTA-STS policy, this server's own unless a
    test sets `policy`."""

    policy: bytes | None = None

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.path != "/.well-known/mta-sts.txt":
            self.send_error(404)
            return
        from wellknown.mtasts import current_policy

        body = self.policy if self.policy is not None else current_policy().text().encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def https_host(settings, test_ca):  # type: ignore[no-untyped-def]
    """Start the HTTPS listener with a certificate for the names given (default: both)."""
    servers: list[ThreadingHTTPServer] = []

    def start(*names: str, policy: bytes | None = None) -> None:
        handler = type("Handler", (_WebHandler,), {"policy": policy})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        ctx = _server_context(test_ca, names or ("mta-sts.example.test", "autoconfig.example.test"))
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        settings.MOX_MTASTS_PORT = server.server_address[1]

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def dkim_key(domain):  # type: ignore[no-untyped-def]
    pem = ed25519.Ed25519PrivateKey.from_private_bytes(ED25519_SECRET).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return DKIMKey.objects.create(domain=domain, selector="2026a", algorithm="ed25519", private_key_pem=pem.decode())


def _sections(resp):  # type: ignore[no-untyped-def]
    return {s.name: s for s in resp.context["sections"]}


def test_it_finds_nothing_wrong_with_a_complete_setup(admin_client, dns_settings, dkim_key, starttls_mx, https_host):
    starttls_mx()
    https_host()
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


def _mtasts_autoconfig(admin_client):  # type: ignore[no-untyped-def]
    s = _sections(admin_client.get("/admin/domains/example.test/dnscheck/"))
    return s["MTA-STS"], s["Autoconfig"]


def https_port() -> int:
    from django.conf import settings

    return int(settings.MOX_MTASTS_PORT)


def test_the_mtasts_policy_is_fetched_over_https_and_must_be_reachable(admin_client, dns_settings, dkim_key):
    dns_settings.add_zone(HOST_ZONE)
    dns_settings.add_zone(GOOD_ZONE)
    mtasts, autoconfig = _mtasts_autoconfig(admin_client)
    port = https_port()
    [error] = mtasts.errors
    assert error.startswith(
        "fetching the policy from https://mta-sts.example.test/.well-known/mta-sts.txt: connecting to mta-sts.example.test: "
    )
    assert mtasts.instructions == [
        "serve the policy at https://mta-sts.example.test/.well-known/mta-sts.txt: point mta-sts.example.test at "
        "mail.example.org (which serves it) with a TLS certificate for that name"
    ]
    [error] = autoconfig.errors
    assert error.startswith(f"HTTPS at autoconfig.example.test (127.0.0.1) port {port}: ConnectionRefusedError: ")
    assert autoconfig.instructions == ["get a TLS certificate for autoconfig.example.test (ACME does, when the name points here)"]


def test_certificates_must_be_valid_for_the_mtasts_and_autoconfig_names(admin_client, dns_settings, dkim_key, https_host):
    https_host("mta-sts.example.test")
    dns_settings.add_zone(HOST_ZONE)
    dns_settings.add_zone(GOOD_ZONE)
    mtasts, autoconfig = _mtasts_autoconfig(admin_client)
    assert (mtasts.errors, mtasts.warnings) == ([], [])
    assert autoconfig.errors == [
        f"HTTPS at autoconfig.example.test (127.0.0.1) port {https_port()}: TLS certificate not valid for "
        "autoconfig.example.test: Hostname mismatch, certificate is not valid for 'autoconfig.example.test'."
    ]


def test_a_policy_host_with_another_certificate_fails_the_fetch(admin_client, dns_settings, dkim_key, https_host):
    https_host("autoconfig.example.test")
    dns_settings.add_zone(HOST_ZONE)
    dns_settings.add_zone(GOOD_ZONE)
    mtasts, autoconfig = _mtasts_autoconfig(admin_client)
    [error] = mtasts.errors
    assert error.startswith("fetching the policy from https://mta-sts.example.test/.well-known/mta-sts.txt: ")
    assert "certificate verify failed: Hostname mismatch, certificate is not valid for 'mta-sts.example.test'" in error
    assert autoconfig.errors == []


def test_a_served_policy_is_checked_against_ours_and_the_mx_records(admin_client, dns_settings, dkim_key, https_host):
    https_host(policy=b"version: STSv1\r\nmode: testing\r\nmx: mx.other.example\r\nmax_age: 3600\r\n")
    dns_settings.add_zone(HOST_ZONE)
    dns_settings.add_zone(GOOD_ZONE)
    mtasts, _ = _mtasts_autoconfig(admin_client)
    assert mtasts.errors == [
        "the policy at https://mta-sts.example.test/.well-known/mta-sts.txt is not the one this server serves "
        "(id e76728b8f26755a9c797): is mta-sts.example.test answered by another web server?"
    ]
    assert mtasts.warnings == [
        "the policy's mode is testing: senders report failures but deliver without TLS",
        "the policy's max_age is 3600 seconds, under a day: senders refetch it often and a sender's cache gives little protection",
        "the policy's mx lines (mx.other.example) do not match our host mail.example.org",
        "MX host mail.example.org is not in the policy's mx lines: senders enforcing the policy will not deliver to it",
        "the policy's mx line mx.other.example matches no MX record of example.test",
    ]


def test_a_wildcard_policy_mx_line_covers_the_mx_host(admin_client, dns_settings, dkim_key, https_host, settings):
    settings.MOX_MTASTS_MODE = "none"
    https_host(policy=b"version: STSv1\r\nmode: none\r\nmx: *.example.org\r\nmax_age: 604800\r\n")
    dns_settings.add_zone(HOST_ZONE)
    dns_settings.add_zone(GOOD_ZONE)
    mtasts, _ = _mtasts_autoconfig(admin_client)
    assert "the policy's mode is none: senders do not require TLS to the MX hosts" in mtasts.warnings
    assert not [w for w in mtasts.warnings if "mx" in w]
