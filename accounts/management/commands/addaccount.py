"""`manage.py addaccount NAME ADDRESS`: create an account."""
from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from accounts.actions import AccountError, create_account


class Command(BaseCommand):
    help = (
        "Create account NAME with its first address ADDRESS (localpart@domain, the domain must "
        "exist) and the default mailboxes (Inbox, Sent, Archive, Trash, Drafts, Junk). "
        "Set its password afterwards with setaccountpassword."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("name", help="account name (logins use its addresses; commands use the name)")
        parser.add_argument("address", help="first email address of the account")
        parser.add_argument("--mailbox", default="Inbox", help="mailbox for mail to ADDRESS (default Inbox)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            account = create_account(options["name"], options["address"], mailbox=options["mailbox"])
        except AccountError as exc:
            raise CommandError(str(exc)) from exc
        address = account.addresses.get()
        self.stdout.write(f"account {account.name} created with address {address}")
        self.stdout.write(f"set its password with: manage.py setaccountpassword {account.name}")
