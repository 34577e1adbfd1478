"""Pure client helpers: IP order (mox dialHost), SASL choice, xtext, paths."""
from __future__ import annotations

from mailcore.smtpclient import choose_mechanism, order_ips, smtp_path, xtext_encode


def test_first_attempt_keeps_the_resolver_order():
    assert order_ips(["192.0.2.1", "2001:db8::1"], []) == ["192.0.2.1", "2001:db8::1"]


def test_second_attempt_retries_the_same_ip_for_greylisting():
    ips = ["192.0.2.1", "192.0.2.2", "2001:db8::1"]
    assert order_ips(ips, ["192.0.2.2"]) == ["192.0.2.2", "192.0.2.1", "2001:db8::1"]


def test_after_two_attempts_in_a_family_the_other_family_goes_first():
    ips = ["192.0.2.1", "2001:db8::1", "2001:db8::2"]
    assert order_ips(ips, ["192.0.2.1", "192.0.2.1"]) == ["2001:db8::1", "2001:db8::2", "192.0.2.1"]


def test_single_family_hosts_keep_the_previous_ip_first():
    assert order_ips(["192.0.2.1", "192.0.2.2"], ["192.0.2.2", "192.0.2.2"]) == ["192.0.2.2", "192.0.2.1"]


def test_the_strongest_common_mechanism_wins():
    assert choose_mechanism(["PLAIN", "CRAM-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256"], None, tls=True) == "SCRAM-SHA-256"
    assert choose_mechanism(["PLAIN", "CRAM-MD5", "SCRAM-SHA-1"], None, tls=True) == "SCRAM-SHA-1"
    assert choose_mechanism(["PLAIN", "LOGIN", "CRAM-MD5"], None, tls=True) == "CRAM-MD5"
    assert choose_mechanism(["PLAIN", "LOGIN"], None, tls=True) == "PLAIN"
    assert choose_mechanism(["PLAIN", "LOGIN"], None, tls=False) is None
    assert choose_mechanism(["SCRAM-SHA-256", "PLAIN"], ["plain"], tls=True) == "PLAIN"


def test_xtext_and_paths():
    assert xtext_encode("a+b=c d\u00e9") == "a+2Bb+3Dc+20d+C3+A9"
    assert smtp_path("", "") == "<>"
    assert smtp_path("john..doe", "example.org") == '<"john..doe"@example.org>'
    assert smtp_path('a"b', "example.org") == '<"a\\"b"@example.org>'
    assert smtp_path("zoë", "example.org") == "<zoë@example.org>"


def test_the_source_address_is_the_one_specific_listen_ip_of_the_family(settings):
    from mailqueue.delivery import source_ip

    settings.MOX_LISTEN_IPS = ["0.0.0.0", "198.51.100.5", "2001:db8::5", "127.0.0.1"]
    assert source_ip("192.0.2.1") == "198.51.100.5"
    assert source_ip("2001:db8:1::1") == "2001:db8::5"
    assert source_ip("127.0.0.1") is None
    settings.MOX_LISTEN_IPS = ["198.51.100.5", "198.51.100.6"]
    assert source_ip("192.0.2.1") is None
