"""manage.py acme [status|renew]: the certificates' state, or renew what is due now."""
from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from autotls import manager


class Command(BaseCommand):
    help = "Show ACME certificate status, or request the certificates that are missing or due."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", nargs="?", choices=["status", "renew"], default="status")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        if not manager.acme_enabled():
            self.stdout.write("ACME is off (MOX_ACME_DIRECTORY is empty)")
            return
        if action == "renew":
            self.stdout.write(manager.renew_due().summary())
        for s in manager.status():
            expires = s.not_after.isoformat() if s.not_after else "-"
            line = f"{s.hostname}: {s.state}, expires {expires}"
            if s.failures:
                retry = s.next_attempt.isoformat() if s.next_attempt else "-"
                line += f", {s.failures} failures, last: {s.last_error}, next attempt {retry}"
            self.stdout.write(line)
