"""`manage.py removedomain DOMAIN`: remove a domain (mox config domain rm)."""
from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from moxweb.management.lookupcommand import domain_argument
from webadmin.actions import ConsoleError, remove_domain


class Command(BaseCommand):
    help = (
        "Remove DOMAIN with its DKIM keys and routes. Refused while an account still has an address "
        "in it or belongs to it: remove those addresses or accounts first."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("domain")

    def handle(self, *args: Any, **options: Any) -> None:
        domain = domain_argument(options["domain"])
        try:
            remove_domain(domain)
        except ConsoleError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"domain {domain.name} removed")
