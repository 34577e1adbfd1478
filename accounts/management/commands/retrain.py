"""`manage.py retrain ACCOUNT`: rebuild an account's junk filter from its messages' flags
(mox retrain), with a progress bar on a terminal and progress lines otherwise."""
from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError, OutputWrapper

from accounts.models import Account
from mailstore.junk import JunkFilterDisabled, retrain_account

BAR_WIDTH = 40


class Progress:
    """A redrawn bar on a terminal; on a pipe or file one line per tenth of the work."""

    def __init__(self, out: OutputWrapper) -> None:
        self.out = out
        self.tty = out.isatty()
        self.shown = -1

    def __call__(self, done: int, total: int) -> None:
        if total == 0:
            return
        if self.tty:
            percent = done * 100 // total
            if percent == self.shown and done != total:
                return
            self.shown = percent
            filled = BAR_WIDTH * done // total
            bar = "#" * filled + "." * (BAR_WIDTH - filled)
            self.out.write(f"\r[{bar}] {percent:3d}% {done}/{total} messages", ending="\n" if done == total else "")
            self.out.flush()
            return
        step = done * 10 // total
        if step == 0 or step == self.shown:
            return
        self.shown = step
        self.out.write(f"trained {done}/{total} messages ({done * 100 // total}%)")


class Command(BaseCommand):
    help = "Rebuild an account's junk filter word counts from its messages' $Junk and $NotJunk flags."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("account", help="account name")

    def handle(self, *args: Any, **options: Any) -> None:
        account = Account.objects.filter(name=options["account"]).first()
        if account is None:
            raise CommandError(f"no account {options['account']!r}")
        try:
            result = retrain_account(account, progress=Progress(self.stdout))
        except JunkFilterDisabled as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"retrained account {account.name}: {result.messages} messages "
            f"({result.junk} junk, {result.ham} ham), {result.words} words"
        )
