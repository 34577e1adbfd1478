"""The once-per-process check that the names to get certificates for point at us."""
from __future__ import annotations

import logging

import pytest

from autotls import startup


@pytest.fixture(autouse=True)
def fresh_process():  # type: ignore[no-untyped-def]
    startup.reset()
    yield
    startup.reset()


def test_it_warns_about_names_that_do_not_resolve_to_us(caplog) -> None:
    addresses = {
        "mail.example.test": ["192.0.2.10"],
        "mta-sts.example.test": ["192.0.2.10", "198.51.100.7"],
        "autoconfig.example.test": [],
    }
    caplog.set_level(logging.WARNING, logger="moxweb.autotls")
    warnings = startup.check_hostnames(addresses, lambda host: addresses[host], ["192.0.2.10", "::"])
    assert warnings == [
        "mta-sts.example.test: resolves to 198.51.100.7, which we do not listen on (192.0.2.10); "
        "certificate requests are likely to fail",
        "autoconfig.example.test: has no A or AAAA record; certificate requests will fail until it points at us",
    ]
    assert caplog.messages == ["acme hostname check: " + w for w in warnings]


def test_it_compares_addresses_only_for_specific_listen_addresses() -> None:
    assert startup.check_hostnames(["mail.example.test"], lambda h: ["203.0.113.1"], ["0.0.0.0"]) == []


def test_it_reports_lookup_failures() -> None:
    def fail(host: str) -> list[str]:
        raise TimeoutError("no answer")

    assert startup.check_hostnames(["mail.example.test"], fail, ["0.0.0.0"]) == [
        "mail.example.test: DNS lookup failed (no answer); certificate requests will fail"
    ]


def test_it_checks_once_per_process_through_the_configured_dns(settings, dns_server) -> None:
    dns_server.add_zone("""
        $ORIGIN example.test.
        mail       A     127.0.0.1
        elsewhere  A     192.0.2.99
        elsewhere  AAAA  2001:db8::1
    """)
    dns_server.servfail("broken.example.test")
    settings.MOX_DNS_RESOLVER = dns_server.address
    settings.MOX_LISTEN_IPS = ["127.0.0.1"]
    names = ["mail.example.test", "elsewhere.example.test", "missing.example.test", "broken.example.test"]
    first = startup.check_hostnames_once(names)
    assert first[:2] == [
        "elsewhere.example.test: resolves to 192.0.2.99, 2001:db8::1, which we do not listen on (127.0.0.1); "
        "certificate requests are likely to fail",
        "missing.example.test: has no A or AAAA record; certificate requests will fail until it points at us",
    ]
    assert first[2].startswith("broken.example.test: DNS lookup failed (")
    assert len(first) == 3
    asked = len(dns_server.queries)
    assert startup.check_hostnames_once(names) == []
    assert len(dns_server.queries) == asked  # the second call asks nothing
