"""`manage.py addaddress ADDRESS ACCOUNT`: deliver another address to an account."""
from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from accounts.actions import AccountError, add_address
from accounts.lookup import find_account


class Command(BaseCommand):
    help = (
        "Add ADDRESS (localpart@domain, or @domain for the domain's catchall) to ACCOUNT. "
        "The domain must exist; the address must not belong to any account yet."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("address", help="localpart@domain, or @domain for a catchall")
        parser.add_argument("account", help="account name or one of its addresses")
        parser.add_argument("--mailbox", default="Inbox", help="mailbox for mail to ADDRESS (default Inbox)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            account = find_account(options["account"])
            address = add_address(account, options["address"], mailbox=options["mailbox"])
        except AccountError as exc:
            raise CommandError(str(exc)) from exc
        kind = "catchall" if address.is_catchall else "address"
        self.stdout.write(f"{kind} {address} added to account {account.name}, mailbox {address.mailbox}")
