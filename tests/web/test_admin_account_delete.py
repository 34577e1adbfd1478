from __future__ import annotations

from accounts.models import Account, Address
from mailstore.actions import deliver_bytes
from mailstore.models import Message


def test_it_asks_for_confirmation(admin_client, alice):
    deliver_bytes(alice, "Inbox", b"Subject: hi\r\n\r\nhello\r\n")
    resp = admin_client.get(f"/admin/accounts/{alice.pk}/delete/")
    assert resp.status_code == 200
    assert "This removes the account, its 1 address and its 1 message. It cannot be undone." in resp.text
    assert Account.objects.filter(pk=alice.pk).exists()


def test_it_deletes_the_account_with_its_mail(admin_client, alice, bob):
    deliver_bytes(alice, "Inbox", b"Subject: hi\r\n\r\nhello\r\n")
    resp = admin_client.post(f"/admin/accounts/{alice.pk}/delete/")
    assert resp.status_code == 302
    assert resp["Location"] == "/admin/accounts/"
    assert list(Account.objects.values_list("name", flat=True)) == ["bob"]
    assert not Address.objects.filter(localpart="alice").exists()
    assert not Message.objects.exists()
    assert "Account alice deleted, with all its messages." in admin_client.get("/admin/accounts/").text


def test_it_refuses_anonymous(client, alice):
    resp = client.post(f"/admin/accounts/{alice.pk}/delete/")
    assert resp.status_code == 302
    assert Account.objects.filter(pk=alice.pk).exists()
