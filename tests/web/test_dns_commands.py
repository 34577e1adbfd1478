"""`manage.py dnscheck` and `manage.py dnsrecords`: the same checks and records as the console."""
from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.web.test_admin_dnscheck import (  # noqa: F401 (fixtures)
    GOOD_ZONE, HOST_ZONE, dkim_key, https_host, no_smtp_listener, starttls_mx, test_ca,
)
from webadmin.dnsrecords import domain_records, zone_text


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_dnsrecords_prints_the_consoles_zone_text(domain):
    assert run("dnsrecords", "example.test") == zone_text(domain_records(domain))
    assert "example.test. IN MX 10 " in run("dnsrecords", "EXAMPLE.test")


def test_dnsrecords_refuses_an_unknown_domain(db):
    with pytest.raises(CommandError, match="domain nowhere.test is not configured"):
        run("dnsrecords", "nowhere.test")


def test_dnscheck_passes_a_complete_setup(dns_settings, dkim_key, starttls_mx, https_host):
    starttls_mx()
    https_host()
    dns_settings.add_zone(HOST_ZONE)
    dns_settings.add_zone(GOOD_ZONE)
    out = run("dnscheck", "example.test")
    assert out.splitlines() == [
        "IPRev: ok", "MX: ok", "TLS: ok", "SPF: ok", "DKIM: ok", "DMARC: ok", "TLSRPT: ok", "MTA-STS: ok",
        "SRV records for client configuration: ok", "Autoconfig: ok", "Autodiscover: ok",
    ]


def test_dnscheck_reports_errors_with_what_to_do_and_fails(dns_settings, domain):
    dns_settings.add_zone(HOST_ZONE)
    out = StringIO()
    with pytest.raises(CommandError, match=r"\d+ error\(s\) in the DNS of example.test") as exc:
        call_command("dnscheck", "example.test", stdout=out)
    assert exc.value.returncode == 1
    text = out.getvalue()
    assert "MX: error" in text
    assert "  error: no MX records for example.test: mail is delivered to the domain's own address, if any" in text
    assert "  to do: example.test. IN MX 10 mail.example.org." in text
