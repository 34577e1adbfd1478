"""Storing accepted reports: rows, deduplication by (reporter, report id), metrics."""
from __future__ import annotations

import json
from datetime import datetime, timezone

from prometheus_client import REGISTRY

from mailcore.reports import dmarcrpt, tlsrpt
from reports.actions import store_dmarc_report, store_tls_report
from reports.models import DMARCRecord, DMARCReport, TLSPolicyResult, TLSReport
from tests.reports import samples


def _metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_it_stores_a_dmarc_report_with_its_records(alice, django_capture_on_commit_callbacks):
    fb = dmarcrpt.parse_report_xml(samples.feedback_xml())
    before = _metric("mox_dmarcdb_policy_evaluated_total", domain="example.test", disposition="reject",
                     dkim="fail", spf="fail")
    with django_capture_on_commit_callbacks(execute=True):
        report, created = store_dmarc_report(fb, from_domain="google.com", account=alice)
    assert created is True
    row = DMARCReport.objects.get()
    assert (row.org_name, row.report_id, row.domain, row.from_domain, row.account, row.begin, row.end) == (
        "google.com", "11811442233355566677", "example.test", "google.com", alice,
        datetime(2025, 11, 25, tzinfo=timezone.utc), datetime(2025, 11, 25, 23, 59, 59, tzinfo=timezone.utc))
    assert row.policy == {"domain": "example.test", "adkim": "r", "aspf": "r", "p": "reject", "sp": "reject",
                          "pct": 100, "fo": ""}
    assert [(r.source_ip, r.count, r.disposition, r.dkim, r.spf, r.passed) for r in row.records.all()] == [
        ("192.0.2.10", 12, "none", "pass", "pass", True),
        ("198.51.100.7", 3, "none", "pass", "fail", True),
        ("203.0.113.9", 5, "reject", "fail", "fail", False),
    ]
    assert row.records.all()[0].dkim_results == [{"domain": "example.test", "selector": "2025a", "result": "pass"}]
    assert row.records.all()[2].spf_results == [{"domain": "spoofer.example", "scope": "", "result": "softfail"}]
    assert _metric("mox_dmarcdb_policy_evaluated_total", domain="example.test", disposition="reject",
                   dkim="fail", spf="fail") == before + 5


def test_it_stores_a_dmarc_report_once(alice):
    fb = dmarcrpt.parse_report_xml(samples.feedback_xml())
    first, created = store_dmarc_report(fb, from_domain="google.com", account=alice)
    again, created_again = store_dmarc_report(fb, from_domain="google.com", account=alice)
    assert (created, created_again, again.pk) == (True, False, first.pk)
    assert (DMARCReport.objects.count(), DMARCRecord.objects.count()) == (1, 3)
    other = dmarcrpt.parse_report_xml(samples.feedback_xml(report_id="other"))
    assert store_dmarc_report(other, from_domain="google.com")[1] is True
    same_id_other_reporter = dmarcrpt.parse_report_xml(samples.feedback_xml(org="yahoo.com"))
    assert store_dmarc_report(same_id_other_reporter, from_domain="yahoo.com")[1] is True
    assert DMARCReport.objects.count() == 3


def test_it_stores_a_tls_report_once_and_counts_sessions(alice, django_capture_on_commit_callbacks):
    report = tlsrpt.parse_report_json(json.dumps(samples.tls_report(domains=("other.example", "example.test"))).encode())
    success = _metric("mox_tlsrptdb_session_total", type="success")
    expired = _metric("mox_tlsrptdb_session_total", type="certificate-expired")
    with django_capture_on_commit_callbacks(execute=True):
        row, created = store_tls_report(report, our_domains=["example.test"], from_domain="google.com",
                                        mail_from="noreply@google.com", account=alice)
    assert created is True
    assert (row.org_name, row.domain, row.from_domain, row.mail_from) == (
        "Google Inc.", "example.test", "google.com", "noreply@google.com")
    assert [(p.policy_domain, p.policy_type, p.successful, p.failed, p.failure_details[0]["result_type"])
            for p in TLSPolicyResult.objects.order_by("id")] == [
        ("other.example", "sts", 40, 2, "certificate-expired"), ("example.test", "sts", 40, 2, "certificate-expired")]
    assert _metric("mox_tlsrptdb_session_total", type="success") == success + 80
    assert _metric("mox_tlsrptdb_session_total", type="certificate-expired") == expired + 4
    with django_capture_on_commit_callbacks(execute=True):
        assert store_tls_report(report, our_domains=["example.test"], from_domain="google.com")[1] is False
    assert (TLSReport.objects.count(), TLSPolicyResult.objects.count()) == (1, 2)
    assert _metric("mox_tlsrptdb_session_total", type="success") == success + 80
