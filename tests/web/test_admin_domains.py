from __future__ import annotations

from accounts.models import Domain


def test_it_lists_domains_with_counts(admin_client, alice, bob):
    resp = admin_client.get("/admin/domains/")
    assert resp.status_code == 200
    assert '<tr><td><a href="/admin/domains/example.test/">example.test</a></td><td>2</td><td>2</td></tr>' in resp.text


def test_it_shows_an_empty_list(admin_client):
    resp = admin_client.get("/admin/domains/")
    assert "No domains yet." in resp.text


def test_it_adds_a_domain(admin_client):
    resp = admin_client.post("/admin/domains/", {"name": "Example.ORG", "catchall_separator": "+"})
    assert resp.status_code == 302
    assert resp["Location"] == "/admin/domains/example.org/"
    d = Domain.objects.get()
    assert (d.name, d.ascii, d.localpart_catchall_separator) == ("example.org", "example.org", "+")
    page = admin_client.get(resp["Location"])
    assert "Domain example.org added with DKIM keys. Create the DNS records below." in page.text
    # The four quickstart keys: two signing (Ed25519 and RSA), two published for a rotation.
    keys = sorted(d.dkim_keys.values_list("selector", "algorithm", "sign"))
    year = keys[0][0][:4]
    assert keys == [(f"{year}a", "ed25519", True), (f"{year}b", "rsa", True), (f"{year}c", "ed25519", False), (f"{year}d", "rsa", False)]
    for selector, *_ in keys:
        assert f"{selector}._domainkey.example.org. IN TXT" in page.text


def test_it_adds_an_idna_domain(admin_client):
    resp = admin_client.post("/admin/domains/", {"name": "bücher.example"})
    assert resp["Location"] == "/admin/domains/xn--bcher-kva.example/"


def test_it_refuses_a_duplicate_domain(admin_client, domain):
    resp = admin_client.post("/admin/domains/", {"name": "example.test"})
    assert resp.status_code == 200
    assert "domain example.test already exists" in resp.text
    assert Domain.objects.count() == 1


def test_it_refuses_an_invalid_domain(admin_client):
    resp = admin_client.post("/admin/domains/", {"name": "-bad-.example"})
    assert resp.status_code == 200
    assert "invalid domain name" in resp.text
    assert not Domain.objects.exists()
