"""SMTP TLS report parsing (RFC 8460 section 4) from report messages (section 5.3)."""
from __future__ import annotations

import gzip
import json
from datetime import datetime, timezone

import pytest

from mailcore.reports import ParseError, tlsrpt
from mailcore.reports.mime import MAX_REPORT_SIZE
from mailcore.reports.tlsrpt import FailureDetails, PolicyDetails
from tests.reports import samples


@pytest.mark.parametrize("gzipped", [True, False])
def test_it_reads_a_report_message(gzipped):
    r = tlsrpt.parse_report_message(samples.tls_message(samples.tls_report(), gzipped=gzipped))
    assert (r.organization_name, r.report_id, r.contact_info) == (
        "Google Inc.", "2025-11-25T00:00:00Z_example.test", "smtp-tls-reporting@google.com")
    assert (r.start, r.end) == (datetime(2025, 11, 25, tzinfo=timezone.utc),
                                datetime(2025, 11, 25, 23, 59, 59, tzinfo=timezone.utc))
    [p] = r.policies
    assert p.policy == PolicyDetails("sts", "example.test", ("version: STSv1", "mode: enforce",
                                                             "mx: mail.example.test", "max_age: 86400"),
                                     ("mail.example.test",))
    assert (p.successful, p.failed) == (40, 2)
    assert p.failure_details == (FailureDetails("certificate-expired", 2, sending_mta_ip="209.85.220.41",
                                                receiving_mx_hostname="mail.example.test",
                                                receiving_ip="192.0.2.25"),)
    assert r.policy_domains() == ["example.test"]


def test_it_reads_microsoft_dates_without_a_time_zone():
    report = samples.tls_report(start="2025-11-25T00:00:00", end="2025-11-25T23:59:59.5")
    r = tlsrpt.parse_report_json(json.dumps(report).encode())
    assert r.start == datetime(2025, 11, 25, tzinfo=timezone.utc)
    assert r.end == datetime(2025, 11, 25, 23, 59, 59, 500000, tzinfo=timezone.utc)


def test_it_takes_null_for_optional_lists():
    report = samples.tls_report(failures=0)
    report["policies"][0]["policy"].update({"policy-string": None, "mx-host": "mail.example.test"})
    report["policies"][0]["failure-details"] = None
    [p] = tlsrpt.parse_report_json(json.dumps(report).encode()).policies
    assert (p.policy.policy_strings, p.policy.mx_host, p.failure_details) == ((), ("mail.example.test",), ())


def test_to_json_round_trips_the_fields():
    d = tlsrpt.parse_report_json(json.dumps(samples.tls_report()).encode()).to_json()
    assert d["start"] == "2025-11-25T00:00:00+00:00"
    assert d["policies"][0]["policy"]["mx_host"] == ["mail.example.test"]


def _err(data: bytes) -> str:
    with pytest.raises(ParseError) as exc:
        tlsrpt.parse_report_json(data)
    return str(exc.value)


def test_it_names_what_is_wrong():
    assert _err(b"{").startswith("malformed JSON: ")
    assert _err(b"[]") == "report: expected an object"
    r = samples.tls_report()
    del r["report-id"]
    assert _err(json.dumps(r).encode()) == "report/report-id: missing"
    r = samples.tls_report()
    r["policies"][0]["summary"]["total-successful-session-count"] = -1
    assert _err(json.dumps(r).encode()) == (
        "report/policies[0]/summary/total-successful-session-count: expected a non-negative integer")
    r = samples.tls_report()
    r["policies"][0]["policy"]["policy-type"] = "dane"
    assert _err(json.dumps(r).encode()) == "report/policies[0]/policy/policy-type: unknown 'dane'"
    assert _err(json.dumps(samples.tls_report(start="yesterday")).encode()) == (
        "report/date-range/start-datetime: invalid date-time 'yesterday'")
    r = samples.tls_report(org="Evil\u0000Corp")
    assert _err(json.dumps(r).encode()) == "report/organization-name: NUL character in string"
    assert _err(json.dumps(samples.tls_report(org="\ud800")).encode()) == (
        "report/organization-name: invalid unicode in string")
    assert _err(b"[" * 100_000 + b"]" * 100_000).startswith("malformed JSON: ")


def test_it_refuses_a_gzip_bomb_and_a_message_without_report():
    bomb = gzip.compress(b" " * (MAX_REPORT_SIZE + 1))
    with pytest.raises(ParseError, match=f"^decompressed report larger than {MAX_REPORT_SIZE} bytes$"):
        tlsrpt.parse_report_message(samples.tls_message(bomb, gzipped=False).replace(
            b"application/tlsrpt+json", b"application/tlsrpt+gzip"))
    with pytest.raises(ParseError, match=r"^no TLS report found in message \(no application/tlsrpt\+json"):
        tlsrpt.parse_report_message(samples.google_dmarc(samples.feedback_xml()))
