from __future__ import annotations

from accounts.actions import create_domain
from accounts.dkimkeys import add_key
from accounts.models import DKIMKey, Domain


def test_it_asks_for_confirmation_before_removing(admin_client, db):
    d = create_domain("spare.example")
    resp = admin_client.get("/admin/domains/spare.example/remove/")
    assert resp.status_code == 200
    assert "<h1>Remove domain spare.example?</h1>" in resp.text
    assert '<button type="submit" class="danger">Remove domain spare.example</button>' in resp.text
    assert Domain.objects.filter(pk=d.pk).exists()


def test_it_removes_an_unused_domain_with_its_keys(admin_client, db):
    d = create_domain("spare.example")
    add_key(d, "ed25519")
    resp = admin_client.post("/admin/domains/spare.example/remove/")
    assert resp.status_code == 302
    assert resp["Location"] == "/admin/domains/"
    assert not Domain.objects.filter(ascii="spare.example").exists()
    assert DKIMKey.objects.count() == 0
    page = admin_client.get("/admin/domains/")
    assert "Domain spare.example removed, with its DKIM keys. Remove its DNS records too." in page.text


def test_it_refuses_while_an_account_uses_the_domain(admin_client, alice, bob):
    page = admin_client.get("/admin/domains/example.test/remove/")
    assert "cannot be removed while accounts use it" in page.text
    assert f'<li><a href="/admin/accounts/{alice.pk}/">alice</a></li>' in page.text
    resp = admin_client.post("/admin/domains/example.test/remove/")
    assert resp["Location"] == "/admin/domains/example.test/"
    assert Domain.objects.filter(ascii="example.test").exists()
    page = admin_client.get(resp["Location"])
    assert (
        "Cannot remove: domain example.test is still used by accounts alice, bob: "
        "remove their addresses in it (or the accounts) first." in page.text
    )


def test_an_address_of_another_accounts_domain_also_blocks_removal(admin_client, alice):
    from accounts.actions import add_address

    create_domain("other.example")
    add_address(alice, "alias@other.example")
    admin_client.post("/admin/domains/other.example/remove/")
    assert Domain.objects.filter(ascii="other.example").exists()
    alice.addresses.filter(domain__ascii="other.example").delete()
    admin_client.post("/admin/domains/other.example/remove/")
    assert not Domain.objects.filter(ascii="other.example").exists()
