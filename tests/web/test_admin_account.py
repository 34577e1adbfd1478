from __future__ import annotations

from django.test import Client

from accounts.actions import authenticate
from accounts.models import Address


def test_it_shows_the_account(admin_client, alice):
    resp = admin_client.get(f"/admin/accounts/{alice.pk}/")
    assert resp.status_code == 200
    assert "<h1>Account alice</h1>" in resp.text
    assert "<td>alice@example.test</td><td>Inbox</td>" in resp.text
    assert "<dt>Password</dt><dd>set</dd>" in resp.text


def test_it_sets_the_password(admin_client, alice):
    resp = admin_client.post(f"/admin/accounts/{alice.pk}/password/", {"password": "newalicepassword"})
    assert resp.status_code == 302
    assert authenticate("alice@example.test", "newalicepassword") == alice
    assert authenticate("alice@example.test", "alicepassword") is None


def test_it_refuses_a_short_password(admin_client, alice):
    resp = admin_client.post(f"/admin/accounts/{alice.pk}/password/", {"password": "short"})
    assert resp.status_code == 400
    assert "Ensure this value has at least 8 characters (it has 5)." in resp.text
    assert authenticate("alice@example.test", "alicepassword") == alice


def test_it_adds_an_address_with_a_mailbox(admin_client, alice):
    resp = admin_client.post(f"/admin/accounts/{alice.pk}/addresses/", {"address": "Sales@example.test", "mailbox": "Sales"})
    assert resp.status_code == 302
    a = Address.objects.get(localpart="sales")
    assert (a.account_id, a.mailbox) == (alice.pk, "Sales")


def test_it_adds_the_catchall(admin_client, alice):
    admin_client.post(f"/admin/accounts/{alice.pk}/addresses/", {"address": "@example.test", "mailbox": "Inbox"})
    assert Address.objects.get(localpart="").account_id == alice.pk
    resp = admin_client.get(f"/admin/accounts/{alice.pk}/")
    assert '@example.test <span class="tag">catchall</span>' in resp.text


def test_it_refuses_an_address_with_the_separator(admin_client, alice):
    resp = admin_client.post(f"/admin/accounts/{alice.pk}/addresses/", {"address": "a+b@example.test", "mailbox": "Inbox"})
    assert resp.status_code == 400
    assert "contains the domain&#x27;s catchall separator" in resp.text
    assert not Address.objects.filter(localpart="a+b").exists()


def test_it_removes_an_address(admin_client, alice):
    extra = Address.objects.create(account=alice, domain=alice.domain, localpart="extra")
    resp = admin_client.post(f"/admin/accounts/{alice.pk}/addresses/{extra.pk}/remove/")
    assert resp.status_code == 302
    assert not Address.objects.filter(pk=extra.pk).exists()


def test_it_keeps_the_last_address(admin_client, alice):
    only = alice.addresses.get()
    resp = admin_client.post(f"/admin/accounts/{alice.pk}/addresses/{only.pk}/remove/", follow=True)
    assert "an account needs at least one address" in resp.text
    assert Address.objects.filter(pk=only.pk).exists()


def test_it_does_not_remove_another_accounts_address_through_this_account(admin_client, alice, bob):
    bobs = bob.addresses.get()
    resp = admin_client.post(f"/admin/accounts/{alice.pk}/addresses/{bobs.pk}/remove/")
    assert resp.status_code == 404
    assert Address.objects.filter(pk=bobs.pk).exists()


def test_it_refuses_get_on_state_changes(admin_client, alice):
    assert admin_client.get(f"/admin/accounts/{alice.pk}/password/").status_code == 405
    assert admin_client.get(f"/admin/accounts/{alice.pk}/addresses/").status_code == 405


def test_it_requires_csrf_for_changes(admin_user, alice):
    c = Client(enforce_csrf_checks=True)
    c.force_login(admin_user)
    resp = c.post(f"/admin/accounts/{alice.pk}/password/", {"password": "newalicepassword"})
    assert resp.status_code == 403
    assert authenticate("alice@example.test", "alicepassword") == alice


def test_it_refuses_changes_from_anonymous(client, alice):
    resp = client.post(f"/admin/accounts/{alice.pk}/password/", {"password": "newalicepassword"})
    assert resp.status_code == 302
    assert authenticate("alice@example.test", "alicepassword") == alice
