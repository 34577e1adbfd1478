from __future__ import annotations

from django.test import Client

from tests.web.conftest import account_client


def test_it_shows_the_login_form(client):
    resp = client.get("/account/login/")
    assert resp.status_code == 200
    assert "Log in with your email address and password." in resp.text


def test_it_logs_in_with_the_email_address(client, alice):
    resp = client.post("/account/login/", {"email": "alice@example.test", "password": "alicepassword"})
    assert resp.status_code == 302
    assert resp["Location"] == "/account/"
    assert client.session["moxweb_account_id"] == alice.pk
    assert client.get("/account/").status_code == 200


def test_it_accepts_a_tagged_address(client, alice):
    resp = client.post("/account/login/", {"email": "Alice+news@example.test", "password": "alicepassword"})
    assert resp.status_code == 302


def test_it_refuses_a_wrong_password(client, alice):
    resp = client.post("/account/login/", {"email": "alice@example.test", "password": "bobpassword"})
    assert resp.status_code == 403
    assert "Invalid email address or password." in resp.text
    assert "moxweb_account_id" not in client.session


def test_it_refuses_an_unknown_address_the_same_way(client, alice):
    resp = client.post("/account/login/", {"email": "nobody@example.test", "password": "alicepassword"})
    assert resp.status_code == 403
    assert "Invalid email address or password." in resp.text


def test_it_changes_the_session_key_at_login(client, alice):
    client.get("/account/login/")
    client.cookies["sessionid"] = "fixated"
    client.post("/account/login/", {"email": "alice@example.test", "password": "alicepassword"})
    assert client.cookies["sessionid"].value != "fixated"


def test_it_requires_the_csrf_token(alice):
    c = Client(enforce_csrf_checks=True)
    resp = c.post("/account/login/", {"email": "alice@example.test", "password": "alicepassword"})
    assert resp.status_code == 403


def test_it_does_not_log_an_admin_into_account_pages(admin_client):
    resp = admin_client.get("/account/")
    assert resp.status_code == 302
    assert resp["Location"] == "/account/login/"


def test_it_logs_out(alice):
    c = account_client("alice@example.test", "alicepassword")
    resp = c.post("/account/logout/")
    assert resp["Location"] == "/account/login/"
    assert c.get("/account/").status_code == 302
