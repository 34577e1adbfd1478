"""Our outgoing DMARC aggregate reports (RFC 7489 section 7.2): evaluations recorded for
From domains whose record has rua=, one report per domain and day to the addresses
that accept it (section 7.1), sizes limits honoured, mailed through the queue."""
from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from django.conf import settings

from mailcore.authn.incoming import authenticate
from mailcore.reports import dmarcrpt
from mailqueue.models import QueuedMessage
from reports.dmarcsend import parse_rua, record_evaluation, send_reports
from reports.models import DMARCEvaluation, OutgoingDMARCReport

DAY = date(2026, 11, 24)
NOON = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)
MESSAGE = b"From: Alice <alice@example.org>\r\nTo: bob@example.test\r\nSubject: hi\r\n\r\nHello.\r\n"


@pytest.fixture
def zone(dns_settings, settings, db):  # type: ignore[no-untyped-def]
    settings.MOX_HOSTNAME = "mail.example.test"
    dns_settings.add_zone(
        """
        $ORIGIN example.org.
        @       TXT "v=spf1 ip4:192.0.2.1 -all"
        _dmarc  TXT "v=DMARC1; p=reject; rua=mailto:dmarc@example.org,mailto:agg@reports.example.net,mailto:far@other.example,mailto:tiny@example.org!1"
        """
    )
    dns_settings.add("example.org._report._dmarc.reports.example.net", "TXT", "v=DMARC1")
    dns_settings.add("example.net", "TXT", "v=spf1 -all")
    dns_settings.add("_dmarc.example.net", "TXT", "v=DMARC1; p=none")  # no rua: nothing recorded
    return dns_settings


def evaluate(zone, ip: str, message: bytes = MESSAGE, mail_from: str = "alice@example.org"):  # type: ignore[no-untyped-def]
    v = asyncio.run(authenticate(zone.resolver(), message, ip=ip, helo="mail.example.org", mail_from=mail_from,
                                 authserv_id="mail.example.test"))
    row = record_evaluation(ip, mail_from.rpartition("@")[2], v)
    if row is not None:
        DMARCEvaluation.objects.filter(pk=row.pk).update(created=NOON)
    return row


def test_evaluations_are_grouped_into_one_report_to_the_accepting_addresses(zone):
    for _ in range(3):
        assert evaluate(zone, "192.0.2.1") is not None
    failed = evaluate(zone, "198.51.100.7")
    assert (failed.disposition, failed.spf_aligned, failed.dkim_aligned) == ("reject", False, False)
    assert evaluate(zone, "192.0.2.9", MESSAGE.replace(b"example.org>", b"example.net>"), "x@example.net") is None

    [row] = send_reports(DAY, now=NOON + timedelta(days=1))
    assert (row.policy_domain, row.messages, row.report_id) == ("example.org", 4, "20261124.example.org@mail.example.test")
    assert row.recipients == ["dmarc@example.org", "agg@reports.example.net"]
    assert row.skipped[0] == ("mailto:far@other.example: other.example does not accept reports for example.org "
                              "(no v=DMARC1 record at example.org._report._dmarc.other.example)")
    assert row.skipped[1].startswith("mailto:tiny@example.org!1: the report (") and row.skipped[1].endswith("bytes) is over its size limit")

    queued = list(QueuedMessage.objects.filter(pk__in=row.queue_ids).order_by("recipient_domain"))
    assert [(q.sender, q.recipient) for q in queued] == [("", "dmarc@example.org"), ("", "agg@reports.example.net")]
    data = bytes(queued[0].prefix) + (Path(settings.DATA_DIR) / queued[0].path).read_bytes()
    assert b"Subject: Report Domain: example.org Submitter: mail.example.test" in data
    fb = dmarcrpt.parse_report_message(data)
    assert (fb.report_metadata.org_name, fb.report_metadata.email) == ("mail.example.test", "postmaster@mail.example.test")
    assert (fb.report_metadata.date_range.begin, fb.report_metadata.date_range.end) == (
        int(datetime(2026, 11, 24, tzinfo=timezone.utc).timestamp()), int(datetime(2026, 11, 25, tzinfo=timezone.utc).timestamp()) - 1)
    assert (fb.policy_published.domain, fb.policy_published.p, fb.policy_published.pct) == ("example.org", "reject", 100)
    rows = [(r.row.source_ip, r.row.count, r.row.policy_evaluated.disposition, r.row.policy_evaluated.dkim,
             r.row.policy_evaluated.spf, r.identifiers.header_from, [(s.domain, s.scope, s.result) for s in r.spf])
            for r in fb.records]
    assert rows == [
        ("192.0.2.1", 3, "none", "fail", "pass", "example.org", [("example.org", "mfrom", "pass")]),
        ("198.51.100.7", 1, "reject", "fail", "fail", "example.org", [("example.org", "mfrom", "fail")]),
    ]
    assert send_reports(DAY, now=NOON + timedelta(days=1)) == []
    assert OutgoingDMARCReport.objects.count() == 1


def test_old_evaluations_are_dropped_after_a_week(zone):
    evaluate(zone, "192.0.2.1")
    send_reports(DAY + timedelta(days=9), now=NOON + timedelta(days=10))
    assert DMARCEvaluation.objects.count() == 0


def test_rua_uris_with_size_limits():
    assert parse_rua("mailto:a@example.org") == ("a@example.org", None)
    assert parse_rua("mailto:a@example.org!10m") == ("a@example.org", 10 * 1024 * 1024)
    assert parse_rua("mailto:a%40b@example.org!512") == ("a@b@example.org", 512)
    assert parse_rua("mailto:a@example.org!x") is None
    assert parse_rua("https://example.org/r") is None
    assert parse_rua("mailto:nobody") is None


def test_the_command_and_the_schedule(zone, settings):
    from django_q.models import Schedule

    from reports.tasks import send_dmarc_reports
    from tests.commands.helpers import run

    evaluate(zone, "192.0.2.1")
    lines = run("dmarc", "sendreports", "--day", "2026-11-24")
    assert lines[0].startswith("20261124.example.org@mail.example.test: 1 messages, to dmarc@example.org, agg@reports.example.net (skipped: ")
    assert lines[-1] == "1 DMARC reports for 2026-11-24"
    s = Schedule.objects.get(name="reports send dmarc reports")
    assert (s.func, s.minutes, s.repeats) == ("reports.tasks.send_dmarc_reports", 60, -1)
    settings.MOX_DMARC_REPORTS_SEND = False
    assert send_dmarc_reports() == 0


@pytest.mark.django_db(transaction=True)
def test_mail_arriving_on_port_25_gets_its_evaluation_recorded(smtp_listener, dns_server, alice):
    import smtplib

    dns_server.add_zone(
        """
        $ORIGIN example.org.
        @       TXT "v=spf1 ip4:127.0.0.1 -all"
        _dmarc  TXT "v=DMARC1; p=quarantine; rua=mailto:dmarc@example.org"
        """
    )
    listener = smtp_listener(localserve=False, hostname="mail.example.test")
    with smtplib.SMTP(listener.host, listener.port, local_hostname="mail.example.org", timeout=30) as c:
        c.sendmail("alice@example.org", ["alice@example.test"], MESSAGE.replace(b"bob@", b"alice@"))
    [e] = DMARCEvaluation.objects.all()
    assert (e.policy_domain, e.header_from, e.envelope_from, e.source_ip) == ("example.org", "example.org", "example.org", "127.0.0.1")
    assert (e.disposition, e.spf_aligned, e.dkim_aligned, e.spf_results) == ("none", True, False, [["example.org", "mfrom", "pass"]])
    assert e.policy == {"p": "quarantine", "sp": "", "adkim": "r", "aspf": "r", "pct": 100, "fo": "0"}


def test_the_sent_reports_page_lists_both_kinds(admin_client, zone, client):
    from reports.models import OutgoingTLSReport

    evaluate(zone, "192.0.2.1")
    send_reports(DAY, now=NOON + timedelta(days=1))
    OutgoingDMARCReport.objects.update(day=datetime.now(timezone.utc).date())
    OutgoingTLSReport.objects.create(policy_domain="example.net", day=datetime.now(timezone.utc).date(),
                                     report_id="r1", recipients=["mailto:tls@example.net"], successful=5, failed=1)
    page = admin_client.get("/admin/reports/sent/").text
    assert "<td>20261124.example.org@mail.example.test</td><td>1</td><td>dmarc@example.org, agg@reports.example.net</td>" in page
    assert "<td>example.net</td><td>r1</td><td>5</td><td>1</td><td>mailto:tls@example.net</td>" in page
    assert client.get("/admin/reports/sent/").status_code == 302
