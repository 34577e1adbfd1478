"""reports.ingest.evaluate: mox's acceptance rules for reports at a reporting address
(mox-v0.0.5 section 1.1.11 analyze steps 3 and 4), with verdicts measured against the
test DNS zone."""
from __future__ import annotations

import dataclasses
import time

from prometheus_client import REGISTRY

from mailcore.authn.dmarc import DMARCStatus
from reports.ingest import evaluate, tlsrpt_signed
from reports.models import DMARCReport, TLSReport
from tests.reports import samples
from tests.reports.conftest import signed, verdicts_for


def _dmarc_message(**kw) -> bytes:  # type: ignore[no-untyped-def]
    return signed(samples.google_dmarc(samples.feedback_xml(**kw)), "google.com", "mail")


def test_it_ignores_other_recipients(reporting, reporters):
    msg = _dmarc_message()
    assert evaluate("alice", "example.test", msg, verdicts_for(reporters, msg)) is None
    assert evaluate("dmarc-reports", "other.test", msg, verdicts_for(reporters, msg)) is None


def test_it_accepts_a_dmarc_report_with_dmarc_pass(reporting, reporters):
    msg = _dmarc_message()
    v = verdicts_for(reporters, msg)
    assert v.dmarc.status == DMARCStatus.pass_
    pending = evaluate("DMARC-Reports+google", "EXAMPLE.test", msg, v)
    assert pending is not None
    assert (pending.kind, pending.valid, pending.reason, pending.mailbox) == ("dmarc", True, "", "DMARC")
    assert pending.report.report_metadata.org_name == "google.com"


def test_it_refuses_a_dmarc_report_without_dmarc_pass(reporting, reporters):
    msg = samples.google_dmarc(samples.feedback_xml())  # From google.com, unsigned, SPF for another domain
    v = verdicts_for(reporters, msg, mail_from="noreply@spoofed.example")
    pending = evaluate("dmarc-reports", "example.test", msg, v)
    assert (pending.kind, pending.valid, pending.reason) == ("dmarc", False, "dmarc fail for the report message")


def test_it_refuses_a_dmarc_report_for_a_domain_not_ours(reporting, reporters):
    msg = _dmarc_message(domain="not-ours.example")
    pending = evaluate("dmarc-reports", "example.test", msg, verdicts_for(reporters, msg))
    assert (pending.valid, pending.reason) == (False, "policy domain not-ours.example is not ours")


def test_it_allows_an_end_date_at_most_60_seconds_ahead(reporting, reporters):
    now = time.time()
    msg = _dmarc_message(begin=int(now) - 86400, end=int(now) + 60)
    v = verdicts_for(reporters, msg)
    assert evaluate("dmarc-reports", "example.test", msg, v, now=now).valid is True
    late = _dmarc_message(begin=int(now) - 86400, end=int(now) + 61)
    pending = evaluate("dmarc-reports", "example.test", late, verdicts_for(reporters, late), now=now)
    assert (pending.valid, pending.reason) == (False, "report end date is in the future")


def test_it_refuses_an_unreadable_dmarc_report(reporting, reporters):
    msg = signed(samples.plain_dmarc(b"<feedback>"), "reporter.example", "mail")
    msg = msg.replace(b"dmarc@reporter.example", b"dmarc@reporter.example")
    pending = evaluate("dmarc-reports", "example.test", msg, verdicts_for(reporters, msg))
    assert pending.valid is False
    assert pending.reason.startswith("parsing dmarc report: malformed XML: ")


def _tls(selector: str = "tls", domain: str = "google.com", **kw) -> bytes:  # type: ignore[no-untyped-def]
    return signed(samples.tls_message(samples.tls_report(**kw)), domain, selector)


def test_it_accepts_a_tls_report_signed_with_a_key_for_all_services(reporting, reporters):
    msg = _tls()
    pending = evaluate("tls-reports", "example.test", msg, verdicts_for(reporters, msg))
    assert (pending.kind, pending.valid, pending.reason, pending.mailbox) == ("tlsrpt", True, "", "TLSRPT")
    assert pending.our_domains == ["example.test"]


def test_it_accepts_a_key_without_services(reporting, reporters):
    msg = _tls("all")
    assert evaluate("tls-reports", "example.test", msg, verdicts_for(reporters, msg)).valid is True


def test_it_refuses_a_key_for_email_only(reporting, reporters):
    msg = _tls("mail")
    v = verdicts_for(reporters, msg)
    assert [r.passed for r in v.dkim] == [True]
    pending = evaluate("tls-reports", "example.test", msg, v)
    assert (pending.valid, pending.reason) == (
        False, "no passing DKIM signature of the From domain for service tlsrpt")


def test_a_key_for_tlsrpt_only_does_not_verify(reporting, reporters):
    msg = _tls("tlsonly")
    v = verdicts_for(reporters, msg)
    assert [(r.status, r.error) for r in v.dkim] == [("permerror", "key not for email service")]
    assert evaluate("tls-reports", "example.test", msg, v).valid is False


def test_it_refuses_a_signature_of_another_domain(reporting, reporters):
    msg = _tls(domain="reporter.example")  # From is google.com
    v = verdicts_for(reporters, msg)
    assert [(r.passed, r.signature.domain) for r in v.dkim] == [(True, "reporter.example")]
    assert evaluate("tls-reports", "example.test", msg, v).valid is False


def test_it_refuses_a_signature_with_a_body_length(reporting, reporters):
    msg = _tls()
    v = verdicts_for(reporters, msg)
    assert tlsrpt_signed(v) is True
    [good] = v.dkim
    with_l = dataclasses.replace(good, signature=dataclasses.replace(good.signature, length=100))
    assert tlsrpt_signed(dataclasses.replace(v, dkim=[with_l])) is False


def test_it_refuses_a_tls_report_about_other_domains(reporting, reporters):
    msg = _tls(domains=("elsewhere.example",))
    pending = evaluate("tls-reports", "example.test", msg, verdicts_for(reporters, msg))
    assert (pending.valid, pending.reason) == (False, "report mentions none of our policy domains")


def test_an_invalid_report_stores_nothing_and_is_counted(reporting, reporters):
    invalid = REGISTRY.get_sample_value("mox_reports_received_total", {"kind": "tlsrpt", "result": "invalid"}) or 0
    msg = _tls("mail")
    evaluate("tls-reports", "example.test", msg, verdicts_for(reporters, msg)).store(None, None)
    assert not TLSReport.objects.exists() and not DMARCReport.objects.exists()
    assert REGISTRY.get_sample_value("mox_reports_received_total",
                                     {"kind": "tlsrpt", "result": "invalid"}) == invalid + 1
