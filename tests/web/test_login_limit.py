"""Web logins share the failed-login limiter with SMTP and IMAP (10 failures a minute
per IPv4 address, reference 1.1.9); test clients come from 127.0.0.1."""
from __future__ import annotations

from mailcore.ratelimit import shared_auth_failures


def _fail_account_logins(client, n: int) -> list[int]:  # type: ignore[no-untyped-def]
    return [
        client.post("/account/login/", {"email": "alice@example.test", "password": "wrong"}).status_code
        for _ in range(n)
    ]


def test_it_answers_429_after_ten_failed_account_logins(client, alice):
    assert _fail_account_logins(client, 10) == [403] * 10
    resp = client.post("/account/login/", {"email": "alice@example.test", "password": "alicepassword"})
    assert resp.status_code == 429
    assert resp.text == "429 - too many auth attempts\n"
    assert "moxweb_account_id" not in client.session


def test_account_failures_also_block_the_admin_login(client, alice, admin_user):
    _fail_account_logins(client, 10)
    resp = client.post("/admin/login/", {"username": "admin", "password": "password"})
    assert resp.status_code == 429
    assert client.get("/admin/").status_code == 302


def test_admin_failures_count_too(client, alice, admin_user):
    for _ in range(10):
        assert client.post("/admin/login/", {"username": "admin", "password": "wrong"}).status_code == 200
    assert client.post("/account/login/", {"email": "alice@example.test", "password": "alicepassword"}).status_code == 429


def test_failures_counted_by_smtp_or_imap_block_web_logins(client, alice):
    for _ in range(10):
        shared_auth_failures().add("127.0.0.1")
    assert client.post("/account/login/", {"email": "alice@example.test", "password": "alicepassword"}).status_code == 429


def test_a_successful_login_forgets_earlier_failures(client, alice):
    _fail_account_logins(client, 9)
    assert client.post("/account/login/", {"email": "alice@example.test", "password": "alicepassword"}).status_code == 302
    assert _fail_account_logins(client, 10) == [403] * 10


def test_showing_the_form_is_not_limited(client, alice):
    _fail_account_logins(client, 10)
    assert client.get("/account/login/").status_code == 200
