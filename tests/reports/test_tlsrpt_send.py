"""Our outgoing SMTP TLS reports (RFC 8460): built from the day's TLS results, mailed
through the queue (DKIM-signed) and POSTed over HTTPS, once per domain and day."""
from __future__ import annotations

import asyncio
import gzip
import json
import ssl
import threading
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import trustme
from django.conf import settings

from accounts.dkimkeys import add_key, txt_record_line
from mailcore.authn import dkim
from mailcore.reports import tlsrpt
from mailqueue.models import MTASTSPolicy, QueuedMessage, TLSResult
from reports.models import OutgoingTLSReport
from reports.tlsrptsend import collect, send_reports

DAY = date(2026, 11, 24)
NOON = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)


def results(domain: str, policy: str, outcomes: list[tuple[str, str, str]], *, at: datetime = NOON,
            queue_id: int = 900_000) -> None:
    for result, mx, ip in outcomes:
        row = TLSResult.objects.create(queue_id=queue_id, policy_domain=domain, policy_type=policy, result=result,
                                       mx_host=mx, ip=ip)
        TLSResult.objects.filter(pk=row.pk).update(created=at)


class _Collector(BaseHTTPRequestHandler):
    posts: list[tuple[str, str, bytes]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.posts.append((self.path, self.headers["Content-Type"], body))
        self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[tuple[int, ssl.SSLContext]]:
    ca = trustme.CA()
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    _Collector.posts = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    server.socket = server_ctx.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    yield server.server_address[1], client_ctx
    server.shutdown()
    server.server_close()


@pytest.fixture
def setup(domain, dns_settings, settings, collector):  # type: ignore[no-untyped-def]
    settings.MOX_HOSTNAME = "example.test"
    key = add_key(domain, "ed25519", "tls1", sign=True)
    record = txt_record_line(key).split(" TXT ", 1)[1].strip()
    dns_settings.add("tls1._domainkey.example.test", "TXT", "".join(part for part in record.split('"')[1::2]))
    port, ctx = collector
    dns_settings.add("_smtp._tls.example.org", "TXT", f"v=TLSRPTv1; rua=mailto:tls@example.org,https://127.0.0.1:{port}/tlsrpt")
    dns_settings.add("_smtp._tls.example.net", "TXT", "v=TLSRPTv1; rua=mailto:tls@example.net")
    MTASTSPolicy.objects.create(domain="example.org", record_id="1", mode="enforce", mx=["mx.example.org"], max_age=86400,
                                policy_text="version: STSv1\r\nmode: enforce\r\nmx: mx.example.org\r\nmax_age: 86400\r\n",
                                fetched=NOON, valid_until=NOON + timedelta(days=1))
    results("example.org", "sts", [("success", "mx.example.org", "192.0.2.1")] * 3
            + [("certificate-expired", "mx.example.org", "192.0.2.1")] * 2)
    results("example.net", "no-policy-found", [("success", "mx.example.net", "192.0.2.2")])
    results("example.com", "no-policy-found", [("starttls-not-supported", "mx.example.com", "192.0.2.3")])  # no record
    results("example.org", "sts", [("certificate-expired", "mx.example.org", "192.0.2.1")], at=NOON + timedelta(days=1))
    return ctx


def _queued_bytes(q: QueuedMessage) -> bytes:
    return bytes(q.prefix) + (Path(settings.DATA_DIR) / q.path).read_bytes()


def test_the_days_failures_are_reported_by_mail_and_https_once(setup, dns_settings):
    sent = send_reports(DAY, now=NOON + timedelta(days=1), https_context=setup)
    assert [(r.policy_domain, r.successful, r.failed, r.error) for r in sent] == [("example.org", 3, 2, "")]
    row = sent[0]
    assert row.report_id == "20261124.example.org@example.test"

    [queued] = QueuedMessage.objects.filter(pk__in=row.queue_ids)
    assert (queued.sender, queued.recipient) == ("", "tls@example.org")
    data = _queued_bytes(queued)
    report = tlsrpt.parse_report_message(data)
    assert report.report_id == row.report_id and report.contact_info == "postmaster@example.test"
    assert (report.start, report.end) == (datetime(2026, 11, 24, tzinfo=timezone.utc),
                                          datetime(2026, 11, 24, 23, 59, 59, tzinfo=timezone.utc))
    [policy] = report.policies
    assert (policy.policy.policy_type, policy.policy.policy_domain, policy.successful, policy.failed) == ("sts", "example.org", 3, 2)
    assert policy.policy.policy_strings == ("version: STSv1", "mode: enforce", "mx: mx.example.org", "max_age: 86400")
    assert [(f.result_type, f.failed_session_count, f.receiving_mx_hostname, f.receiving_ip) for f in policy.failure_details] == [
        ("certificate-expired", 2, "mx.example.org", "192.0.2.1")]
    assert b"TLS-Report-Domain: example.org\r\n" in data and b'report-type="tlsrpt"' in data
    [signature] = asyncio.run(dkim.verify(dns_settings.resolver(), data))
    assert signature.passed and signature.signature.domain == "example.test"

    [(path, ctype, body)] = _Collector.posts
    assert (path, ctype) == ("/tlsrpt", "application/tlsrpt+gzip")
    assert json.loads(gzip.decompress(body))["report-id"] == row.report_id

    assert send_reports(DAY, now=NOON + timedelta(days=1), https_context=setup) == []
    assert OutgoingTLSReport.objects.count() == 1


def test_all_success_days_only_when_asked_and_no_reports_about_reports(setup, settings):
    settings.MOX_TLSRPT_SEND_ALL_SUCCESS = True
    sent = send_reports(DAY, now=NOON + timedelta(days=1), https_context=setup)
    assert sorted((r.policy_domain, r.successful, r.failed) for r in sent) == [("example.net", 1, 0), ("example.org", 3, 2)]
    report_queue_id = next(r for r in sent if r.policy_domain == "example.net").queue_ids[0]
    results("example.net", "no-policy-found", [("certificate-not-trusted", "mx.example.net", "192.0.2.2")],
            at=NOON + timedelta(days=1), queue_id=report_queue_id)
    assert sorted(collect(DAY + timedelta(days=1))) == ["example.org"]


def test_a_failing_https_endpoint_is_recorded_and_mail_still_goes(setup, dns_settings):
    dns_settings.add("_smtp._tls.example.com", "TXT", "v=TLSRPTv1; rua=https://127.0.0.1:9/nothing,mailto:tls@example.com")
    sent = {r.policy_domain: r for r in send_reports(DAY, now=NOON + timedelta(days=1), https_context=setup)}
    assert sent["example.com"].error.startswith("https://127.0.0.1:9/nothing: ")
    assert QueuedMessage.objects.filter(pk__in=sent["example.com"].queue_ids, recipient_domain="example.com").count() == 1


def test_the_sendreports_command_sends_a_days_reports(setup):
    from tests.commands.helpers import run

    lines = run("tlsrpt", "sendreports", "--day", "2026-11-24")
    # The command verifies HTTPS with the system's CAs, which do not know the test CA.
    assert lines[0].startswith("20261124.example.org@example.test: 3 successful, 2 failed sessions, to mailto:tls@example.org, https://127.0.0.1:")
    assert "(errors: https://127.0.0.1:" in lines[0]
    assert lines[1] == "1 TLS reports sent for 2026-11-24"
    assert run("tlsrpt", "sendreports", "--day", "2026-11-24") == ["0 TLS reports sent for 2026-11-24"]


def test_the_worker_runs_the_sender_hourly_and_it_can_be_turned_off(db, settings):
    from django_q.models import Schedule

    from reports.tasks import send_tls_reports

    s = Schedule.objects.get(name="reports send tls reports")
    assert (s.func, s.schedule_type, s.minutes, s.repeats) == ("reports.tasks.send_tls_reports", Schedule.MINUTES, 60, -1)
    settings.MOX_TLSRPT_SEND = False
    assert send_tls_reports() == 0
