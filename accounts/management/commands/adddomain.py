"""`manage.py adddomain DOMAIN [ACCOUNT [LOCALPART]]`: accept mail for a domain."""
from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from accounts.actions import AccountError
from accounts.setup import add_domain


class Command(BaseCommand):
    help = (
        "Add DOMAIN with fresh DKIM keys (Ed25519 and RSA-2048). With ACCOUNT, also add "
        "LOCALPART@DOMAIN (LOCALPART defaults to the account name) to that account, creating the "
        "account if it does not exist. `dkim list DOMAIN` prints the DKIM records; the admin console "
        "lists every DNS record to create."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("domain", help="domain name, Unicode or IDNA")
        parser.add_argument("account", nargs="?", default="", help="account to give an address at the domain")
        parser.add_argument("localpart", nargs="?", default="", help="localpart of that address")
        parser.add_argument(
            "--catchall-separator", default="", help='e.g. "+": user+tag@domain reaches user@domain'
        )
        parser.add_argument("--case-sensitive", action="store_true", help="localparts are case-sensitive")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            setup = add_domain(
                options["domain"],
                options["account"],
                options["localpart"],
                catchall_separator=options["catchall_separator"],
                case_sensitive=options["case_sensitive"],
            )
        except AccountError as exc:
            raise CommandError(str(exc)) from exc
        selectors = ", ".join(f"{k.selector} ({k.algorithm})" for k in setup.keys)
        self.stdout.write(f"domain {setup.domain.name} added, DKIM selectors {selectors}")
        if setup.account is not None:
            verb = "created with" if setup.account_created else "now has"
            self.stdout.write(f"account {setup.account.name} {verb} address {setup.address}")
            if setup.account_created:
                self.stdout.write(f"set its password with: manage.py setaccountpassword {setup.account.name}")
