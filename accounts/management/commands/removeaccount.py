"""`manage.py removeaccount ACCOUNT`: remove an account and its mail (mox config account rm)."""
from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from accounts.actions import delete_account
from accounts.models import Account
from mailstore.models import Message


class Command(BaseCommand):
    help = (
        "Remove ACCOUNT (its exact name), its addresses, its mailboxes and every message file. "
        "Irreversible: export it first (manage.py export) to keep the mail."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("account", help="the account's name (not an address, to avoid surprises)")

    def handle(self, *args: Any, **options: Any) -> None:
        account = Account.objects.filter(name=options["account"]).first()
        if account is None:
            raise CommandError(f"no account named {options['account']!r}")
        messages = Message.objects.filter(account=account).count()
        delete_account(account)
        self.stdout.write(f"account {account.name} removed with its {messages} messages")
