"""Web logins share the failed-login limiter with SMTP and IMAP (10 failures a minute
per IPv4 address, reference 1.1.9); test clients come from 127.0.0.1."""
from __future__ import annotations

import pytest

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


@pytest.fixture
def frozen_user_limiter(monkeypatch):  # type: ignore[no-untyped-def]
    """Fixed windows start over each minute: a test must not straddle one."""
    from accounts import weblogin

    monkeypatch.setattr(weblogin, "_user_failures", weblogin.UserFailures(clock=lambda: 1_000_020.0))


def test_one_user_is_limited_across_remote_addresses(client, alice, frozen_user_limiter):
    """Per user name: ten failures from ten addresses block the next try from an eleventh."""
    for i in range(10):
        resp = client.post(
            "/account/login/", {"email": "Alice@example.test", "password": "wrong"}, REMOTE_ADDR=f"10.{i}.0.1"
        )
        assert resp.status_code == 403
    resp = client.post("/account/login/", {"email": "alice@example.test", "password": "alicepassword"}, REMOTE_ADDR="10.99.0.1")
    assert resp.status_code == 429
    # Another user from that address is not affected.
    other = client.post("/account/login/", {"email": "bob@example.test", "password": "wrong"}, REMOTE_ADDR="10.99.0.1")
    assert other.status_code == 403


def test_the_admin_user_is_limited_across_remote_addresses(client, admin_user, frozen_user_limiter):
    for i in range(10):
        resp = client.post("/admin/login/", {"username": "admin", "password": "wrong"}, REMOTE_ADDR=f"10.{i}.0.1")
        assert resp.status_code == 200
    resp = client.post("/admin/login/", {"username": "admin", "password": "password"}, REMOTE_ADDR="10.99.0.1")
    assert resp.status_code == 429
    assert client.get("/admin/").status_code == 302


def test_the_user_limit_is_per_minute_and_per_day():
    from accounts.weblogin import UserFailures

    now = [1_000_020.0]
    limiter = UserFailures(clock=lambda: now[0])
    for _ in range(10):
        limiter.add("alice@example.test")
    assert limiter.blocked("alice@example.test")
    assert not limiter.blocked("bob@example.test")
    now[0] += 60
    assert not limiter.blocked("alice@example.test")
    for _ in range(40):
        now[0] += 60
        limiter.add("alice@example.test")
    assert limiter.blocked("alice@example.test")  # 50 in the day
    limiter.reset("alice@example.test")
    assert not limiter.blocked("alice@example.test")


def test_each_failed_web_login_is_logged_with_user_and_address(client, alice, admin_user, caplog):
    with caplog.at_level("INFO", logger="accounts.weblogin"):
        _fail_account_logins(client, 1)
        client.post("/admin/login/", {"username": "admin", "password": "wrong"})
    failures = [(r.username, r.mechanism, r.remote_ip) for r in caplog.records if r.getMessage() == "failed authentication attempt"]
    assert failures == [("alice@example.test", "web", "127.0.0.1"), ("admin", "web", "127.0.0.1")]
