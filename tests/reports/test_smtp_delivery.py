"""End to end: report messages signed by reporters in the test DNS zone, sent with
smtplib to port 25 (the real listener, not localserve), land in the reporting mailbox,
marked seen, and in the report tables (mox-v0.0.5 section 1.1.11 step 7f)."""
from __future__ import annotations

import smtplib

import pytest

from mailstore.models import Message
from reports.models import DMARCReport, TLSReport
from tests.reports import samples
from tests.reports.conftest import signed

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def listener(smtp_listener, reporters, reporting):  # type: ignore[no-untyped-def]
    return smtp_listener(localserve=False, hostname="mail.example.test")


def _send(listener, sender: str, rcpt: str, data: bytes) -> None:  # type: ignore[no-untyped-def]
    with smtplib.SMTP(listener.host, listener.port, local_hostname="client.example.org", timeout=30) as c:
        c.sendmail(sender, [rcpt], data)


def test_a_dmarc_report_lands_in_the_dmarc_mailbox_and_the_tables(listener, alice):
    data = signed(samples.google_dmarc(samples.feedback_xml()), "google.com", "mail")
    _send(listener, "noreply-dmarc-support@google.com", "dmarc-reports@example.test", data)
    [msg] = Message.objects.filter(account=alice)
    assert (msg.mailbox.name, msg.seen) == ("DMARC", True)
    [report] = DMARCReport.objects.all()
    assert (report.org_name, report.domain, report.from_domain, report.account, report.message_id) == (
        "google.com", "example.test", "google.com", alice, msg.pk)
    assert sorted(report.records.values_list("source_ip", "count")) == [
        ("192.0.2.10", 12), ("198.51.100.7", 3), ("203.0.113.9", 5)]
    # The same report again: delivered, stored once.
    _send(listener, "noreply-dmarc-support@google.com", "dmarc-reports@example.test", data)
    assert (Message.objects.filter(account=alice, mailbox__name="DMARC").count(), DMARCReport.objects.count()) == (2, 1)


def test_a_tls_report_lands_in_the_tlsrpt_mailbox_and_the_tables(listener, alice):
    data = signed(samples.tls_message(samples.tls_report()), "google.com", "tls")
    _send(listener, "noreply-smtp-tls-reporting@google.com", "tls-reports@example.test", data)
    [msg] = Message.objects.filter(account=alice)
    assert (msg.mailbox.name, msg.seen) == ("TLSRPT", True)
    [report] = TLSReport.objects.all()
    assert (report.org_name, report.domain, report.from_domain, report.mail_from, report.message_id) == (
        "Google Inc.", "example.test", "google.com", "noreply-smtp-tls-reporting@google.com", msg.pk)
    assert list(report.policies.values_list("policy_domain", "successful", "failed")) == [("example.test", 40, 2)]


def test_a_report_signed_with_an_email_only_key_is_plain_mail(listener, alice):
    data = signed(samples.tls_message(samples.tls_report()), "google.com", "mail")
    _send(listener, "noreply-smtp-tls-reporting@google.com", "tls-reports@example.test", data)
    [msg] = Message.objects.filter(account=alice)
    assert (msg.mailbox.name, msg.seen) == ("TLSRPT", False)
    assert not TLSReport.objects.exists()
