from __future__ import annotations

from accounts.models import Account


def test_the_account_page_shows_the_limits_form(admin_client, alice):
    resp = admin_client.get(f"/admin/accounts/{alice.pk}/")
    assert '<dd id="limits">1000 messages, 200 first-time recipients</dd>' in resp.text
    assert '<dd id="quota">none</dd>' in resp.text
    assert 'name="max_outgoing_messages_per_day" value="1000"' in resp.text


def test_it_saves_the_limits(admin_client, alice):
    resp = admin_client.post(
        f"/admin/accounts/{alice.pk}/limits/",
        {"max_outgoing_messages_per_day": "50", "max_first_time_recipients_per_day": "5", "quota_bytes": "1048576"},
    )
    assert resp.status_code == 302
    a = Account.objects.get(pk=alice.pk)
    assert (a.max_outgoing_messages_per_day, a.max_first_time_recipients_per_day, a.quota_bytes, a.first_time_sender_delay) == (50, 5, 1048576, False)
    page = admin_client.get(resp["Location"])
    assert '<dd id="limits">50 messages, 5 first-time recipients</dd>' in page.text
    assert '<dd id="quota">1.0\xa0MB</dd>' in page.text
    assert "Limits saved." in page.text


def test_it_refuses_bad_limits(admin_client, alice):
    resp = admin_client.post(
        f"/admin/accounts/{alice.pk}/limits/",
        {"max_outgoing_messages_per_day": "-1", "max_first_time_recipients_per_day": "x", "quota_bytes": "-5", "first_time_sender_delay": "on"},
    )
    assert resp.status_code == 400
    assert "Ensure this value is greater than or equal to 0." in resp.text
    assert "Enter a whole number." in resp.text
    assert "The quota cannot be negative (0 means no quota)." in resp.text
    a = Account.objects.get(pk=alice.pk)
    assert (a.max_outgoing_messages_per_day, a.max_first_time_recipients_per_day, a.quota_bytes) == (1000, 200, 0)
