from __future__ import annotations

import pytest
from django.test import Client

ADMIN_PAGES = ["/admin/", "/admin/domains/", "/admin/domains/example.test/", "/admin/accounts/", "/admin/queue/"]


@pytest.mark.parametrize("url", ADMIN_PAGES)
def test_it_sends_anonymous_to_the_login_page(client, domain, url):
    resp = client.get(url)
    assert resp.status_code == 302
    assert resp["Location"] == f"/admin/login/?next={url}"


@pytest.mark.parametrize("url", ADMIN_PAGES)
def test_it_refuses_an_account_session(alice_client, url):
    resp = alice_client.get(url)
    assert resp.status_code == 302
    assert resp["Location"].startswith("/admin/login/")


def test_it_logs_in_the_admin(client, admin_user):
    resp = client.post("/admin/login/", {"username": "admin", "password": "password"})
    assert resp.status_code == 302
    assert resp["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_it_follows_next_after_login(client, admin_user):
    resp = client.post("/admin/login/?next=/admin/queue/", {"username": "admin", "password": "password", "next": "/admin/queue/"})
    assert resp["Location"] == "/admin/queue/"


def test_it_rejects_a_wrong_password(client, admin_user):
    resp = client.post("/admin/login/", {"username": "admin", "password": "wrong"})
    assert resp.status_code == 200
    assert "Please enter the correct username and password for a staff account." in resp.text
    assert client.get("/admin/").status_code == 302


def test_it_rejects_a_user_without_staff(client, django_user_model):
    django_user_model.objects.create_user("carol", password="carolpassword")
    resp = client.post("/admin/login/", {"username": "carol", "password": "carolpassword"})
    assert resp.status_code == 200
    assert "for a staff account" in resp.text
    assert client.get("/admin/").status_code == 302


def test_it_requires_the_csrf_token(admin_user):
    c = Client(enforce_csrf_checks=True)
    resp = c.post("/admin/login/", {"username": "admin", "password": "password"})
    assert resp.status_code == 403


def test_it_logs_out(admin_client):
    resp = admin_client.post("/admin/logout/")
    assert resp.status_code == 302
    assert resp["Location"] == "/admin/login/"
    assert admin_client.get("/admin/").status_code == 302


def test_it_moves_djangos_admin_under_django(admin_client):
    resp = admin_client.get("/admin/django/")
    assert resp.status_code == 200
    assert "Transports" in resp.text and "Routes" in resp.text


def test_it_sends_a_logged_in_admin_on(admin_client):
    resp = admin_client.get("/admin/login/?next=/admin/queue/")
    assert resp.status_code == 302
    assert resp["Location"] == "/admin/queue/"


def test_it_shows_the_form_to_a_logged_in_non_staff_user(client, django_user_model):
    user = django_user_model.objects.create_user("carol", password="carolpassword")
    client.force_login(user)
    resp = client.get("/admin/login/?next=/admin/")
    assert resp.status_code == 200
    assert "<h1>Admin login</h1>" in resp.text


def test_it_refuses_an_outside_next(client, admin_user):
    resp = client.post("/admin/login/", {"username": "admin", "password": "password", "next": "https://evil.example/"})
    assert resp["Location"] == "/admin/"
