"""The console's MTA-STS policies and DNSBL status pages."""
from __future__ import annotations

import re
from datetime import timedelta

from django.utils import timezone

from mailqueue.models import MTASTSPolicy


def _rows(html: str, table: str) -> list[list[str]]:
    body = html.split(f'<table id="{table}">')[1].split("</table>")[0]
    return [
        [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td>(.*?)</td>", row, re.S)]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body.split("<tbody>")[1], re.S)
    ]


def test_mtasts_page_lists_cached_policies_and_marks_expired_ones(admin_client, db):
    now = timezone.now()
    MTASTSPolicy.objects.create(domain="b.example", record_id="2026", mode="enforce", mx=["mx1.b.example", "*.b.example"],
                                max_age=86400, policy_text="...", fetched=now, valid_until=now + timedelta(days=1))
    MTASTSPolicy.objects.create(domain="a.example", record_id="1", mode="testing", mx=["mx.a.example"],
                                max_age=60, policy_text="...", fetched=now - timedelta(hours=1), valid_until=now - timedelta(minutes=59))
    page = admin_client.get("/admin/mtasts/")
    assert page.status_code == 200
    rows = _rows(page.text, "mtasts")
    assert [r[:5] for r in rows] == [
        ["a.example", "testing", "mx.a.example", "60 s", "1"],
        ["b.example", "enforce", "mx1.b.example, *.b.example", "86400 s", "2026"],
    ]
    assert rows[0][6].endswith("(expired)") and not rows[1][6].endswith("(expired)")


def test_mtasts_page_without_policies(admin_client, db):
    assert "No policies cached yet" in admin_client.get("/admin/mtasts/").text


def test_status_pages_are_for_admins_only(client, alice_client, db):
    for url in ("/admin/mtasts/", "/admin/dnsbl/"):
        for c in (client, alice_client):
            resp = c.get(url)
            assert resp.status_code == 302 and resp["Location"].startswith("/admin/login/"), url


def test_dnsbl_page_looks_up_every_outgoing_ip_in_every_zone(admin_client, db, dns_settings, settings):
    dns_settings.add_zone(
        """
        $ORIGIN example.org.
        mail          A   192.0.2.10
        """
    )
    dns_settings.add_zone(
        """
        $ORIGIN bl.example.test.
        9.2.0.192     A   127.0.0.2
        9.2.0.192     TXT "listed for spam, see https://bl.example.test/192.0.2.9"
        """
    )
    dns_settings.servfail("10.2.0.192.broken.example.test")
    settings.MOX_LISTEN_IPS = ["0.0.0.0", "192.0.2.9"]
    settings.MOX_DNSBL_ZONES = ["bl.example.test", "broken.example.test"]
    page = admin_client.get("/admin/dnsbl/")
    assert page.status_code == 200
    rows = _rows(page.text, "dnsbl")
    assert [r[:3] for r in rows] == [
        ["192.0.2.9", "bl.example.test", "listed"],
        ["192.0.2.9", "broken.example.test", "not listed"],
        ["192.0.2.10", "bl.example.test", "not listed"],
        ["192.0.2.10", "broken.example.test", "temporary error"],
    ]
    assert rows[0][3] == "127.0.0.2: listed for spam, see https://bl.example.test/192.0.2.9"


def test_dnsbl_page_without_zones(admin_client, db, settings):
    settings.MOX_DNSBL_ZONES = []
    assert "No block lists configured" in admin_client.get("/admin/dnsbl/").text


def test_log_levels_page_sets_and_removes_a_change(admin_client, db, settings, tmp_path):
    from moxweb import loglevels

    settings.DATA_DIR = tmp_path
    settings.MOX_LOG_LEVEL = "INFO"
    settings.MOX_LOG_LEVELS = {}
    try:
        page = admin_client.get("/admin/loglevels/").text
        assert '<tr id="level-smtpserver"><td>smtpserver</td><td>INFO</td><td>MOX_LOG_LEVEL</td>' in page
        resp = admin_client.post("/admin/loglevels/", {"component": "smtpserver.connection", "level": "debug"})
        assert (resp.status_code, resp["Location"]) == (302, "/admin/loglevels/")
        page = admin_client.get("/admin/loglevels/").text
        assert '<td>smtpserver.connection</td><td>DEBUG</td><td>changed at runtime</td>' in page
        assert "smtpserver.connection logs at DEBUG now." in page
        admin_client.post("/admin/loglevels/", {"component": "smtpserver.connection", "remove": ""})
        assert "<td>smtpserver.connection</td>" not in admin_client.get("/admin/loglevels/").text
        resp = admin_client.post("/admin/loglevels/", {"component": "nginx", "level": "DEBUG"}, follow=True)
        assert "&#x27;nginx&#x27; is not one of moxweb" in resp.text
    finally:
        loglevels.apply({})
