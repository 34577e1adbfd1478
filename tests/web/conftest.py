"""Personas for the web pages: the admin (pytest-django's admin_client, a staff user
"admin"), alice and bob logged into their account pages, and anonymous (client)."""
from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone


@pytest.fixture(autouse=True)
def _hostname(settings):  # type: ignore[no-untyped-def]
    settings.MOX_HOSTNAME = "mail.example.org"
    settings.MOX_IMAPS_PORT = 993
    settings.MOX_SUBMISSIONS_PORT = 465


@pytest.fixture(autouse=True)
def _fresh_login_limiter(monkeypatch):  # type: ignore[no-untyped-def]
    """Every test starts with no failed logins counted in the process-wide limiter."""
    monkeypatch.setattr("mailcore.ratelimit._shared_auth_failures", None)
    monkeypatch.setattr("accounts.weblogin._user_failures", None)


def account_client(email: str, password: str) -> Client:
    c = Client()
    resp = c.post("/account/login/", {"email": email, "password": password})
    assert resp.status_code == 302, resp.content
    return c


@pytest.fixture
def alice_client(alice):  # type: ignore[no-untyped-def]
    return account_client("alice@example.test", "alicepassword")


@pytest.fixture
def bob_client(bob):  # type: ignore[no-untyped-def]
    return account_client("bob@example.test", "bobpassword")


@pytest.fixture
def make_queued(db):  # type: ignore[no-untyped-def]
    from mailqueue.models import QueuedMessage

    def make(recipient: str = "carol@remote.example", sender: str = "alice@example.test", **kw: object) -> QueuedMessage:
        rl, _, rd = recipient.rpartition("@")
        sl, _, sd = sender.rpartition("@")
        fields = dict(
            sender_localpart=sl, sender_domain=sd, recipient_localpart=rl, recipient_domain=rd,
            next_attempt=timezone.now(), size=100, path="queue/1",
        )
        fields.update(kw)
        return QueuedMessage.objects.create(**fields)

    return make
