from __future__ import annotations

from accounts.actions import authenticate
from accounts.models import Account, Address


def test_it_lists_accounts(admin_client, alice, bob):
    resp = admin_client.get("/admin/accounts/")
    assert resp.status_code == 200
    assert f'<tr><td><a href="/admin/accounts/{alice.pk}/">alice</a></td><td>example.test</td><td>1</td></tr>' in resp.text
    assert f'<tr><td><a href="/admin/accounts/{bob.pk}/">bob</a></td><td>example.test</td><td>1</td></tr>' in resp.text


def test_it_creates_an_account_with_a_password(admin_client, domain):
    resp = admin_client.post(
        "/admin/accounts/", {"name": "carol", "address": "Carol@example.test", "password": "carolpassword"}
    )
    carol = Account.objects.get(name="carol")
    assert resp.status_code == 302
    assert resp["Location"] == f"/admin/accounts/{carol.pk}/"
    assert [str(a) for a in Address.objects.filter(account=carol)] == ["carol@example.test"]
    assert authenticate("carol@example.test", "carolpassword") == carol
    assert carol.mailboxes.filter(name="Inbox").exists()


def test_it_creates_an_account_without_a_password(admin_client, domain):
    admin_client.post("/admin/accounts/", {"name": "carol", "address": "carol@example.test", "password": ""})
    carol = Account.objects.get(name="carol")
    assert not hasattr(carol, "credential")
    assert "not set: the account cannot log in" in admin_client.get(f"/admin/accounts/{carol.pk}/").text


def test_it_refuses_an_unknown_domain(admin_client, domain):
    resp = admin_client.post("/admin/accounts/", {"name": "carol", "address": "carol@other.example", "password": ""})
    assert resp.status_code == 200
    assert "domain other.example is not configured" in resp.text
    assert not Account.objects.filter(name="carol").exists()


def test_it_refuses_a_short_password_and_creates_nothing(admin_client, domain):
    resp = admin_client.post("/admin/accounts/", {"name": "carol", "address": "carol@example.test", "password": "short"})
    assert resp.status_code == 200
    assert "password must be at least 8 characters" in resp.text
    assert not Account.objects.filter(name="carol").exists()
    assert not Address.objects.filter(localpart="carol").exists()


def test_it_refuses_a_taken_address(admin_client, alice):
    resp = admin_client.post("/admin/accounts/", {"name": "alice2", "address": "alice@example.test", "password": ""})
    assert "address alice@example.test already exists" in resp.text
    assert not Account.objects.filter(name="alice2").exists()


def test_it_filters_by_name_or_localpart(admin_client, alice, bob):
    from accounts.actions import add_address

    add_address(bob, "sales@example.test")
    resp = admin_client.get("/admin/accounts/?q=sal")
    assert [a.name for a in resp.context["page"].object_list] == ["bob"]
    assert "No accounts match “nobody”." in admin_client.get("/admin/accounts/?q=nobody").text


def test_it_pages_through_many_accounts(admin_client, domain):
    from webadmin.views import ACCOUNTS_PAGE_SIZE

    Account.objects.bulk_create([Account(name=f"user{i:03d}", domain=domain) for i in range(ACCOUNTS_PAGE_SIZE + 1)])
    first = admin_client.get("/admin/accounts/")
    assert len(first.context["page"].object_list) == ACCOUNTS_PAGE_SIZE
    assert "page 1 of 2" in first.text
    second = admin_client.get("/admin/accounts/?page=2")
    assert [a.name for a in second.context["page"].object_list] == [f"user{ACCOUNTS_PAGE_SIZE:03d}"]
