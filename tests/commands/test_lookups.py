"""The DNS diagnostic commands (spf, dnsbl, mtasts, dkim lookup|verify, dmarc
lookup|verify, tlsrpt lookup) against the test DNS server, and mtasts against a
loopback HTTPS server with a trustme certificate."""
from __future__ import annotations

import io
import ssl
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import trustme

from mailcore.authn.dkimsign import SigningKey, dns_record, generate_ed25519_key, sign
from tests.commands.helpers import fails, run

MESSAGE = (
    b"From: Alice <alice@example.test>\r\nTo: bob@example.org\r\nSubject: hello\r\n"
    b"Date: Wed, 25 Nov 2026 10:00:00 +0000\r\nMessage-ID: <1@example.test>\r\n\r\nHello Bob.\r\n"
)


@pytest.fixture
def zone(dns_settings):  # type: ignore[no-untyped-def]
    dns_settings.add_zone(
        """
        $ORIGIN example.test.
        @        TXT "v=spf1 ip4:192.0.2.1 -all"
        _dmarc   TXT "v=DMARC1; p=reject; rua=mailto:dmarc@example.test"
        _smtp._tls TXT "v=TLSRPTv1; rua=mailto:tls@example.test,https://r.example.test/tls"
        """
    )
    return dns_settings


def test_spf_lookup_prints_the_record_and_refuses_none_two_and_servfail(zone):
    assert run("spf", "lookup", "example.test") == ["v=spf1 ip4:192.0.2.1 -all"]
    assert fails("spf", "lookup", "nothing.example.test") == "no SPF record for nothing.example.test"
    zone.add("two.example.test", "TXT", "v=spf1 -all")
    zone.add("two.example.test", "TXT", "v=spf1 +all")
    assert fails("spf", "lookup", "two.example.test") == (
        "2 SPF records for two.example.test (a permerror: RFC 7208 section 4.5 allows one)"
    )
    zone.servfail("broken.example.test")
    assert fails("spf", "lookup", "broken.example.test").startswith("temporary DNS error looking up TXT broken.example.test")


def test_spf_check_evaluates_the_policy_for_an_ip(zone):
    assert run("spf", "check", "example.test", "192.0.2.1")[0] == "status: pass"
    out = run("spf", "check", "example.test", "198.51.100.7")
    assert out[0] == "status: fail"
    assert out[1] == (
        "received-spf: Fail (unknown: domain of example.test does not designate 198.51.100.7 as permitted sender) "
        'client-ip=198.51.100.7; envelope-from="postmaster@example.test"; helo=example.test; receiver=unknown; '
        "mechanism=-all; identity=mailfrom"
    )
    assert run("spf", "check", "nothing.example.test", "192.0.2.1")[0] == "status: none"
    assert fails("spf", "check", "example.test", "192.0.2.300") == "'192.0.2.300' is not an IP address"


def test_dnsbl_check_and_checkhealth(zone):
    zone.add_zone(
        """
        $ORIGIN bl.example.test.
        2.0.0.127    A   127.0.0.2
        2.0.0.127    TXT "test entry"
        9.2.0.192    A   127.0.0.4
        """
    )
    assert run("dnsbl", "check", "bl.example.test", "192.0.2.9") == ["192.0.2.9 is listed in bl.example.test: 127.0.0.4"]
    assert run("dnsbl", "check", "bl.example.test", "192.0.2.10") == ["192.0.2.10 is not listed in bl.example.test"]
    assert run("dnsbl", "check", "bl.example.test", "127.0.0.2") == [
        "127.0.0.2 is listed in bl.example.test: 127.0.0.2", "explanation: test entry",
    ]
    assert run("dnsbl", "checkhealth", "bl.example.test") == ["bl.example.test is healthy"]
    assert fails("dnsbl", "checkhealth", "empty.example.test") == (
        "empty.example.test is unhealthy: 127.0.0.2 must be listed and 127.0.0.1 must not (RFC 5782 section 5)"
    )


def test_dkim_lookup_and_verify_a_signed_message(zone, tmp_path):
    pem = generate_ed25519_key()
    zone.add("sel1._domainkey.example.test", "TXT", dns_record(pem))
    out = run("dkim", "lookup", "sel1", "example.test")
    assert out[0] == dns_record(pem) and out[1] == "key: ed25519, 256 bits"
    assert fails("dkim", "lookup", "nope", "example.test") == "no DKIM record at nope._domainkey.example.test"

    signed = tmp_path / "signed.eml"
    signed.write_bytes(sign(MESSAGE, "example.test", [SigningKey("sel1", pem)]) + MESSAGE)
    assert run("dkim", "verify", str(signed)) == ["signature d=example.test s=sel1 a=ed25519-sha256: pass"]
    tampered = tmp_path / "tampered.eml"
    tampered.write_bytes(signed.read_bytes().replace(b"Hello Bob.", b"Hello Eve."))
    out = run("dkim", "verify", str(tampered))
    assert out[0].startswith("signature d=example.test s=sel1 a=ed25519-sha256: fail")
    plain = tmp_path / "plain.eml"
    plain.write_bytes(MESSAGE)
    assert run("dkim", "verify", str(plain)) == ["no DKIM-Signature header"]
    assert fails("dkim", "verify", str(tmp_path / "missing.eml")).endswith("cannot read: No such file or directory")


def test_dmarc_lookup_walks_up_to_the_organizational_record(zone):
    line = "p=reject adkim=r aspf=r pct=100 rua=mailto:dmarc@example.test"
    assert run("dmarc", "lookup", "example.test") == [f"_dmarc.example.test: {line}"]
    assert run("dmarc", "lookup", "mail.example.test") == [f"_dmarc.example.test (found at example.test): {line}"]
    assert fails("dmarc", "lookup", "example.invalid") == "no DMARC record for example.invalid"


def _stdin(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))


def test_dmarc_verify_passes_aligned_spf_and_rejects_a_stranger(zone, monkeypatch):
    _stdin(monkeypatch, MESSAGE)
    assert run("dmarc", "verify", "192.0.2.1", "alice@example.test", "mail.example.test") == [
        "spf: pass (mailfrom example.test)",
        "dkim: none",
        "dmarc: pass for example.test (policy p=reject at _dmarc.example.test)",
    ]
    _stdin(monkeypatch, MESSAGE)
    assert run("dmarc", "verify", "198.51.100.7", "alice@example.test", "mail.example.test") == [
        "spf: fail (mailfrom example.test)",
        "dkim: none",
        "dmarc: fail for example.test (policy p=reject at _dmarc.example.test)",
        "disposition: reject",
    ]
    assert fails("dmarc", "verify", "not-an-ip", "a@example.test", "h") == "'not-an-ip' is not an IP address"


def test_tlsrpt_lookup_prints_where_reports_go(zone):
    assert run("tlsrpt", "lookup", "example.test") == [
        "v=TLSRPTv1; rua=mailto:tls@example.test,https://r.example.test/tls",
        "reports to: mailto:tls@example.test",
        "reports to: https://r.example.test/tls",
    ]
    assert fails("tlsrpt", "lookup", "example.org") == "no TLSRPT record at _smtp._tls.example.org"


class _PolicyHandler(BaseHTTPRequestHandler):
    body = b"version: STSv1\r\nmode: enforce\r\nmx: mail.example.test\r\nmax_age: 86400\r\n"

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.path != "/.well-known/mta-sts.txt":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def policy_server(zone, settings, tmp_path) -> Iterator[int]:  # type: ignore[no-untyped-def]
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    settings.MOX_QUEUE_CA_FILE = str(ca_file)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("mta-sts.example.test").configure_cert(ctx)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _PolicyHandler)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.MOX_MTASTS_PORT = server.server_address[1]
    zone.add("mta-sts.example.test", "A", "127.0.0.1")
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_mtasts_lookup_prints_the_record_and_the_fetched_policy(zone, policy_server):
    zone.add("_mta-sts.example.test", "TXT", "v=STSv1; id=20261125T1")
    assert run("mtasts", "lookup", "example.test") == [
        "record: id=20261125T1",
        "policy: mode enforce, max_age 86400 s, mx mail.example.test",
        "",
        "version: STSv1",
        "mode: enforce",
        "mx: mail.example.test",
        "max_age: 86400",
    ]
    assert fails("mtasts", "lookup", "nothing.example.test") == (
        "no MTA-STS record at _mta-sts.nothing.example.test (exactly one v=STSv1 record is needed)"
    )


def test_mtasts_lookup_says_why_the_policy_could_not_be_fetched(zone, policy_server, settings):
    zone.add("_mta-sts.example.test", "TXT", "v=STSv1; id=1")
    settings.MOX_QUEUE_CA_FILE = ""  # the trustme CA is no longer trusted
    message = fails("mtasts", "lookup", "example.test")
    assert message.startswith("record id=1, but fetching the policy failed: ")
    assert "CERTIFICATE_VERIFY_FAILED" in message
