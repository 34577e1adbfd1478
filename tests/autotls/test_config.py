"""Settings to ACME configuration, and the names that get certificates."""
from __future__ import annotations

import pytest

from autotls import acmeclient, manager


def test_it_maps_the_lets_encrypt_aliases(settings) -> None:
    settings.MOX_ACME_DIRECTORY = "letsencrypt-staging"
    settings.MOX_ACME_CHALLENGES = ["tls-alpn-01", "dns-01"]
    config = acmeclient.config_from_settings()
    assert config is not None
    assert config.directory == "https://acme-staging-v02.api.letsencrypt.org/directory"
    assert config.challenges == ("tls-alpn-01",)
    settings.MOX_ACME_DIRECTORY = "letsencrypt"
    assert acmeclient.config_from_settings().directory == "https://acme-v02.api.letsencrypt.org/directory"  # type: ignore[union-attr]
    settings.MOX_ACME_DIRECTORY = "https://ca.example/dir"
    assert acmeclient.config_from_settings().directory == "https://ca.example/dir"  # type: ignore[union-attr]
    settings.MOX_ACME_DIRECTORY = ""
    assert acmeclient.config_from_settings() is None


@pytest.mark.django_db
def test_it_manages_the_mail_host_and_each_domains_mta_sts_and_autoconfig_names(settings) -> None:
    from accounts.actions import create_domain

    settings.MOX_HOSTNAME = "Mail.Example.Test"
    settings.MOX_ACME_HOSTNAMES = ["webmail.example.test", "localhost"]
    create_domain("example.test")
    create_domain("bücher.example")
    assert manager.managed_hostnames() == [
        "mail.example.test",
        "webmail.example.test",
        "mta-sts.example.test",
        "autoconfig.example.test",
        "mta-sts.xn--bcher-kva.example",
        "autoconfig.xn--bcher-kva.example",
    ]


def test_it_backs_off_exponentially_up_to_a_day() -> None:
    assert [manager.backoff(n).total_seconds() / 60 for n in (1, 2, 3)] == [5, 10, 20]
    assert manager.backoff(20).total_seconds() == 24 * 3600


@pytest.mark.django_db
def test_it_schedules_renewal_hourly_for_the_worker(settings) -> None:
    from django_q.models import Schedule

    from autotls.tasks import renew

    schedule = Schedule.objects.get(name="autotls renew")
    assert (schedule.func, schedule.schedule_type, schedule.minutes) == ("autotls.tasks.renew", "I", 60)
    settings.MOX_ACME_DIRECTORY = ""
    assert renew() == "obtained=- failed=- backing_off=- not_due=0"
