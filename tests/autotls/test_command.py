"""manage.py acme, and the system checks of the ACME settings."""
from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from autotls import checks, store


@pytest.mark.django_db
def test_it_shows_status_and_renews_through_the_command(acme_settings, pebble, loop) -> None:
    from tests.autotls.servers import django_web

    acme_settings.MOX_ACME_CHALLENGES = ["http-01"]
    out = io.StringIO()
    call_command("acme", stdout=out)
    assert out.getvalue() == "mail.example.test: missing, expires -\n"

    out = io.StringIO()
    with django_web(loop, pebble.http_port):
        call_command("acme", "renew", stdout=out)
    expires = store.read_cert("mail.example.test").not_after.isoformat()  # type: ignore[union-attr]
    assert out.getvalue() == (
        "obtained=mail.example.test failed=- backing_off=- not_due=0\n"
        f"mail.example.test: valid, expires {expires}\n"
    )


def test_it_says_when_acme_is_off(settings) -> None:
    settings.MOX_ACME_DIRECTORY = ""
    out = io.StringIO()
    call_command("acme", stdout=out)
    assert out.getvalue() == "ACME is off (MOX_ACME_DIRECTORY is empty)\n"


def test_it_checks_the_acme_settings(settings) -> None:
    settings.MOX_ACME_DIRECTORY = "http://ca.example/dir"
    settings.MOX_ACME_CHALLENGES = ["dns-01", "http-01"]
    settings.MOX_HOSTNAME = "localhost"
    assert [m.id for m in checks.acme_settings()] == ["autotls.E001", "autotls.E002", "autotls.W001"]
    settings.MOX_ACME_DIRECTORY = "letsencrypt"
    settings.MOX_ACME_CHALLENGES = ["tls-alpn-01"]
    settings.MOX_HOSTNAME = "mail.example.test"
    assert checks.acme_settings() == []
