from __future__ import annotations

from accounts.actions import add_address


def test_it_shows_the_dns_records(admin_client, domain):
    resp = admin_client.get("/admin/domains/example.test/")
    assert resp.status_code == 200
    for line in [
        "example.test. IN MX 10 mail.example.org.",
        "example.test. IN TXT &quot;v=spf1 mx ~all&quot;",
        "_dmarc.example.test. IN TXT &quot;v=DMARC1; p=reject; rua=mailto:dmarc-reports@example.test!10m&quot;",
        "mta-sts.example.test. IN CNAME mail.example.org.",
        "_smtp._tls.example.test. IN TXT &quot;v=TLSRPTv1; rua=mailto:tls-reports@example.test&quot;",
        "_submissions._tcp.example.test. IN SRV 0 1 465 mail.example.org.",
        "_imaps._tcp.example.test. IN SRV 0 1 993 mail.example.org.",
        "autoconfig.example.test. IN CNAME mail.example.org.",
        "example.test. IN CAA 0 issue &quot;letsencrypt.org&quot;",
    ]:
        assert line + "\n" in resp.text
    assert "No DKIM keys: outgoing mail from this domain is not DKIM-signed." in resp.text


def test_it_lists_the_addresses_of_the_domain(admin_client, alice):
    add_address(alice, "@example.test")
    resp = admin_client.get("/admin/domains/example.test/")
    assert "@example.test <span class=\"tag\">catchall</span>" in resp.text
    assert f'<td><a href="/admin/accounts/{alice.pk}/">alice</a></td><td>Inbox</td>' in resp.text


def test_it_serves_the_records_as_plain_text(admin_client, domain):
    resp = admin_client.get("/admin/domains/example.test/records.txt")
    assert resp.status_code == 200
    assert resp["Content-Type"] == "text/plain; charset=utf-8"
    assert "\nexample.test. IN MX 10 mail.example.org.\n" in resp.text


def test_it_returns_404_for_an_unknown_domain(admin_client, domain):
    assert admin_client.get("/admin/domains/nope.example/").status_code == 404
