"""`manage.py removeaddress ADDRESS`: stop delivering an address (mox config address rm)."""
from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from accounts.actions import AccountError, remove_address
from accounts.lookup import find_address


class Command(BaseCommand):
    help = (
        "Remove ADDRESS (localpart@domain, or @domain for the domain's catchall) from its account; "
        "mail to it is refused from then on (unless a catchall takes it). An account's last address "
        "cannot be removed: remove the account instead."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("address", help="localpart@domain, or @domain for a catchall")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            address = find_address(options["address"])
            account = address.account
            remove_address(address)
        except AccountError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"address {options['address']} removed from account {account.name}")
