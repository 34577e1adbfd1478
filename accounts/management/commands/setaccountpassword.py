"""`manage.py setaccountpassword ACCOUNT`: set an account's password."""
from __future__ import annotations

import getpass
import sys
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from accounts.actions import AccountError, set_password
from accounts.lookup import find_account


class Command(BaseCommand):
    help = (
        "Set the password of an account, named by account name or one of its addresses. "
        "Prompts twice without echo, or reads one line from standard input with --stdin. "
        "All secrets (web login, SCRAM-SHA-1/256, CRAM-MD5) are derived from it; the password "
        "itself is not stored. At least 8 characters."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("account", help="account name or email address")
        parser.add_argument("--stdin", action="store_true", help="read the password from standard input")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            account = find_account(options["account"])
        except AccountError as exc:
            raise CommandError(str(exc)) from exc
        if options["stdin"]:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            try:
                password = getpass.getpass("new password: ")
                again = getpass.getpass("repeat password: ")
            except (EOFError, KeyboardInterrupt) as exc:
                raise CommandError("no password given") from exc
            if password != again:
                raise CommandError("passwords do not match")
        try:
            set_password(account, password)
        except AccountError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"password of account {account.name} changed")
