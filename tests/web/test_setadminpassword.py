from __future__ import annotations

import io
import sys

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command


def _run(monkeypatch, stdin: str) -> str:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    out = io.StringIO()
    call_command("setadminpassword", stdout=out)
    return out.getvalue()


def test_it_creates_the_admin_user(db, monkeypatch):
    assert _run(monkeypatch, "moxadmin1\n") == "admin password set\n"
    user = authenticate(username="admin", password="moxadmin1")
    assert user is not None and user.is_staff and user.is_superuser


def test_it_changes_the_password(db, monkeypatch, django_user_model):
    _run(monkeypatch, "moxadmin1\n")
    _run(monkeypatch, "moxadmin2\n")
    assert django_user_model.objects.filter(username="admin").count() == 1
    assert authenticate(username="admin", password="moxadmin1") is None
    assert authenticate(username="admin", password="moxadmin2") is not None


def test_it_refuses_a_short_password(db, monkeypatch, django_user_model):
    with pytest.raises(CommandError, match="password must be at least 8 characters"):
        _run(monkeypatch, "short\n")
    assert not django_user_model.objects.exists()


def test_the_password_logs_into_the_console(db, client, monkeypatch):
    _run(monkeypatch, "moxadmin1\n")
    resp = client.post("/admin/login/", {"username": "admin", "password": "moxadmin1"})
    assert resp["Location"] == "/admin/"
