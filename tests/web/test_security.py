"""Security of the pages: CSRF on every POST, the Content-Security-Policy, cookie flags
over HTTPS, and which persona may see which page."""
from __future__ import annotations

import pytest
from django.test import Client

from webadmin.security import CONTENT_SECURITY_POLICY


def test_it_sends_a_content_security_policy_without_inline_scripts(client):
    resp = client.get("/account/login/")
    assert resp["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "script-src 'self';" in CONTENT_SECURITY_POLICY
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
    assert resp["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize(
    "url,data",
    [
        ("/account/login/", {"email": "alice@example.test", "password": "alicepassword"}),
        ("/admin/login/", {"username": "admin", "password": "password"}),
    ],
)
def test_a_login_post_without_csrf_token_is_refused(url, data, alice, admin_user):
    c = Client(enforce_csrf_checks=True)
    resp = c.post(url, data)
    assert resp.status_code == 403
    assert b"CSRF verification failed" in resp.content
    assert "moxweb_account_id" not in c.session
    assert "_auth_user_id" not in c.session


def test_an_admin_action_without_csrf_token_is_refused(admin_user, alice):
    c = Client(enforce_csrf_checks=True)
    c.force_login(admin_user)
    resp = c.post(f"/admin/accounts/{alice.pk}/delete/")
    assert resp.status_code == 403
    assert type(alice).objects.filter(pk=alice.pk).exists()


def test_an_account_post_without_csrf_token_is_refused(alice):
    c = Client(enforce_csrf_checks=True)
    page = c.get("/account/login/")
    token = page.context["csrf_token"]
    assert c.post("/account/login/", {"email": "alice@example.test", "password": "alicepassword", "csrfmiddlewaretoken": token}).status_code == 302
    resp = c.post("/account/password/", {"current": "alicepassword", "new": "something new", "repeat": "something new"})
    assert resp.status_code == 403
    from accounts.actions import authenticate

    assert authenticate("alice@example.test", "alicepassword") == alice


def test_cookies_are_secure_over_https_and_not_over_http(alice):
    https = Client()
    resp = https.post("/account/login/", {"email": "alice@example.test", "password": "alicepassword"}, secure=True)
    assert resp.status_code == 302
    cookie = resp.cookies["sessionid"]
    assert (cookie["secure"], cookie["httponly"], cookie["samesite"]) == (True, True, "Lax")
    http = Client()
    resp = http.post("/account/login/", {"email": "alice@example.test", "password": "alicepassword"})
    assert resp.cookies["sessionid"]["secure"] == ""
    csrf = Client().get("/account/login/", secure=True).cookies["csrftoken"]
    assert (csrf["secure"], csrf["httponly"], csrf["samesite"]) == (True, True, "Lax")


ADMIN_PAGES = ["/admin/", "/admin/domains/", "/admin/accounts/", "/admin/queue/", "/admin/routes/", "/admin/transports/", "/admin/deliveries/"]


@pytest.mark.parametrize("url", ADMIN_PAGES)
def test_an_account_holder_cannot_reach_the_admin_pages(alice_client, url):
    resp = alice_client.get(url)
    assert resp.status_code == 302
    assert resp["Location"].startswith("/admin/login/")


@pytest.mark.parametrize("url", ADMIN_PAGES)
def test_anonymous_cannot_reach_the_admin_pages(client, url):
    resp = client.get(url)
    assert resp.status_code == 302
    assert resp["Location"].startswith("/admin/login/")


@pytest.mark.parametrize("url", ["/account/", "/account/rulesets/", "/account/junk/", "/account/import/", "/account/export/"])
def test_anonymous_cannot_reach_the_account_pages(client, url):
    resp = client.get(url)
    assert resp.status_code == 302
    assert resp["Location"] == "/account/login/"
