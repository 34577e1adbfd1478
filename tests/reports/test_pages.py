"""The report pages under /admin/reports/ through Django's test client: summaries,
lists, details, the chart's bars, and the reporting-address form."""
from __future__ import annotations

import json
import re
import time
from datetime import datetime, timezone

import pytest

from mailcore.reports import dmarcrpt, tlsrpt
from reports.actions import store_dmarc_report, store_tls_report
from reports.models import ReportingAddress
from tests.reports import samples

DAY = 86400


def _day(ts: int) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%d")


@pytest.fixture
def stored(alice):  # type: ignore[no-untyped-def]
    """Two DMARC reports (3 and 1 days ago) and a TLS report (2 days ago) for example.test,
    and an old DMARC report (40 days ago) outside the 30 days."""
    today = int(time.time()) // DAY * DAY
    d3, d1, d2, old = today - 3 * DAY, today - DAY, today - 2 * DAY, today - 40 * DAY
    r1, _ = store_dmarc_report(dmarcrpt.parse_report_xml(samples.feedback_xml(begin=d3, end=d3 + DAY - 1)),
                               from_domain="google.com", account=alice)
    one = [("192.0.2.99", 7, "quarantine", "fail", "fail", [], [("example.test", "fail")],
            ("sampled_out", "pct=50"))]
    r2, _ = store_dmarc_report(dmarcrpt.parse_report_xml(samples.feedback_xml(
        org="yahoo.com", report_id="y-1", begin=d1, end=d1 + DAY - 1, records=one)), from_domain="yahoo.com")
    store_dmarc_report(dmarcrpt.parse_report_xml(samples.feedback_xml(report_id="old", begin=old, end=old + 10)),
                       from_domain="google.com")
    t = samples.tls_report(start=f"{_day(d2)}T00:00:00Z", end=f"{_day(d2)}T23:59:59Z")
    t1, _ = store_tls_report(tlsrpt.parse_report_json(json.dumps(t).encode()), our_domains=["example.test"],
                             from_domain="google.com")
    return {"dmarc": (r1, r2), "tls": t1, "days": (_day(d3), _day(d2), _day(d1))}


def _rows(html: str, table_id: str) -> list[list[str]]:
    body = html.split(f'<table id="{table_id}">', 1)[1].split("</table>", 1)[0]
    return [[re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", body.split("<tbody>", 1)[1], re.S)]


def _bars(html: str, svg_id: str) -> list[tuple[str, str, str]]:
    svg = html.split(f'<svg id="{svg_id}"', 1)[1].split("</svg>", 1)[0]
    return re.findall(r'<rect class="(\w+)" data-day="([\d-]+)" data-count="(\d+)"', svg)


def test_the_index_summarises_each_domain(admin_client, stored):
    resp = admin_client.get("/admin/reports/")
    assert resp.status_code == 200
    assert _rows(resp.text, "summary") == [["example.test", "2", "27", "15", "12", "7", "5", "7", "1", "40", "2"]]


def test_the_domain_page_shows_stats_chart_and_lists(admin_client, stored):
    d3, d2, d1 = stored["days"]
    html = admin_client.get("/admin/reports/domains/example.test/").text
    assert _bars(html, "dmarc-chart") == [("pass", d3, "15"), ("fail", d3, "5"), ("fail", d1, "7")]
    assert _bars(html, "tls-chart") == [("pass", d2, "40"), ("fail", d2, "2")]
    assert [r[:2] + r[3:] for r in _rows(html, "dmarc-reports")] == [
        ["yahoo.com", "y-1", "7", "0"], ["google.com", "11811442233355566677", "20", "15"]]
    assert [r[:2] + r[3:] for r in _rows(html, "tls-reports")] == [
        ["Google Inc.", "2025-11-25T00:00:00Z_example.test", "40", "2"]]
    assert "<code>certificate-expired</code> 2" in html


def test_the_report_details(admin_client, stored):
    r1, _ = stored["dmarc"]
    html = admin_client.get(f"/admin/reports/dmarc/{r1.pk}/").text
    assert _rows(html, "records") == [
        ["192.0.2.10", "12", "none", "pass", "pass", "", "example.test", "example.test (2025a): pass",
         "example.test: pass"],
        ["198.51.100.7", "3", "none", "pass", "fail", "", "example.test", "example.test (2025a): pass",
         "bounce.example: fail"],
        ["203.0.113.9", "5", "reject", "fail", "fail", "", "example.test", "", "spoofer.example: softfail"],
    ]
    yahoo = admin_client.get(f"/admin/reports/dmarc/{stored['dmarc'][1].pk}/").text
    assert _rows(yahoo, "records")[0][:6] == ["192.0.2.99", "7", "quarantine", "fail", "fail", "sampled_out: pct=50"]
    assert "<dd>15 pass, 5 fail</dd>" in html
    html = admin_client.get(f"/admin/reports/tls/{stored['tls'].pk}/").text
    assert _rows(html, "policies") == [["example.test", "sts", "mail.example.test", "40", "2"]]
    assert _rows(html, "failures") == [["example.test", "certificate-expired", "2", "209.85.220.41",
                                        "mail.example.test", "192.0.2.25", ""]]
    assert [r[1] for r in _rows(admin_client.get("/admin/reports/dmarc/").text, "dmarc-reports")] == [
        "yahoo.com", "google.com"]
    assert len(_rows(admin_client.get("/admin/reports/tls/").text, "tls-reports")) == 1


def test_the_form_sets_and_removes_a_reporting_address(admin_client, alice):
    resp = admin_client.post("/admin/reports/domains/example.test/addresses/dmarc/",
                             {"dmarc-kind": "dmarc", "dmarc-localpart": "rua", "dmarc-account": "alice",
                              "dmarc-mailbox": ""}, follow=True)
    assert "DMARC reports for example.test go to rua@example.test, mailbox DMARC of account alice." in resp.text
    assert "Now: rua@example.test → account alice, mailbox DMARC" in resp.text
    resp = admin_client.post("/admin/reports/domains/example.test/addresses/tlsrpt/",
                             {"tlsrpt-kind": "tlsrpt", "tlsrpt-localpart": "alice", "tlsrpt-account": "alice"})
    assert resp.status_code == 400
    assert "address alice@example.test already exists" in resp.text
    from accounts.models import Address

    Address.objects.filter(localpart="rua").delete()  # as the account page's address removal does
    assert ("The address rua@example.test no longer exists for account alice: reports to it are refused. "
            "Set it again.") in admin_client.get("/admin/reports/domains/example.test/").text
    admin_client.post("/admin/reports/domains/example.test/addresses/dmarc/remove/")
    assert not ReportingAddress.objects.exists()


def test_the_domain_page_takes_either_form_of_the_name(admin_client, db):
    from accounts.actions import create_domain

    create_domain("bücher.example")
    assert "<h1>Reports for bücher.example</h1>" in admin_client.get("/admin/reports/domains/bücher.example/").text
    assert "<h1>Reports for bücher.example</h1>" in admin_client.get(
        "/admin/reports/domains/xn--bcher-kva.example/").text
    assert admin_client.get("/admin/reports/domains/nope.example/").status_code == 404


def test_it_needs_the_admin_login(client, stored):
    for url in ("/admin/reports/", "/admin/reports/domains/example.test/", "/admin/reports/dmarc/",
                f"/admin/reports/dmarc/{stored['dmarc'][0].pk}/"):
        resp = client.get(url)
        assert (resp.status_code, resp.url.split("?")[0]) == (302, "/admin/login/")
    client.post("/admin/reports/domains/example.test/addresses/dmarc/",
                {"dmarc-kind": "dmarc", "dmarc-localpart": "rua", "dmarc-account": "alice"})
    assert not ReportingAddress.objects.exists()


def test_the_form_names_the_account_and_refuses_an_unknown_one(admin_client, alice):
    resp = admin_client.post("/admin/reports/domains/example.test/addresses/dmarc/",
                             {"dmarc-kind": "dmarc", "dmarc-localpart": "rua", "dmarc-account": "nobody"})
    assert resp.status_code == 400
    assert "no account named &#x27;nobody&#x27;" in resp.text
    assert '<input type="text" name="dmarc-account" value="nobody"' in resp.text


def test_the_report_lists_are_paged(admin_client, stored, monkeypatch):
    monkeypatch.setattr("reports.views.PAGE_SIZE", 1)
    first = admin_client.get("/admin/reports/dmarc/").text
    assert "Page 1 of 2 (2 reports)" in first and '<a href="?page=2">Older</a>' in first
    assert len(_rows(first, "dmarc-reports")) == 1
    second = admin_client.get("/admin/reports/dmarc/?page=2").text
    assert len(_rows(second, "dmarc-reports")) == 1 and '<a href="?page=1">Newer</a>' in second
    assert _rows(first, "dmarc-reports")[0][2] != _rows(second, "dmarc-reports")[0][2]
    assert "Page" not in admin_client.get("/admin/reports/tls/").text.split("<table")[1]
