"""`manage.py version`: print the version."""
from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from moxweb.version import version_lines


class Command(BaseCommand):
    help = "Print moxweb's version (and git commit when run from a checkout), and the Django and Python versions."
    requires_system_checks: list[str] = []

    def handle(self, *args: Any, **options: Any) -> None:
        for line in version_lines():
            self.stdout.write(line)
