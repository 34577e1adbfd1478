"""`manage.py configtest`: validate the configuration, as `mox config test`."""
from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from moxweb.configtest import config_test


class Command(BaseCommand):
    help = (
        "Validate everything: system checks of the settings (docs/configuration.md), the host name, "
        "the database reachable and migrated, the data directory writable, the TLS certificate and key "
        "loadable, current and naming the host name (or ACME on), Redis answering when configured, every "
        "account with a password and an address, DKIM keys loadable. Prints ok/warning/error lines; "
        "exits non-zero when there is an error."
    )
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def handle(self, *args: Any, **options: Any) -> None:
        findings = config_test()
        for line in findings.ok:
            self.stdout.write(f"ok: {line}")
        for line in findings.warnings:
            self.stdout.write(f"warning: {line}")
        for line in findings.errors:
            self.stdout.write(f"error: {line}")
        if findings.errors:
            raise CommandError(f"configuration has {len(findings.errors)} errors")
        self.stdout.write("configuration ok")
