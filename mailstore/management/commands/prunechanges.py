"""`manage.py prunechanges [--keep N] [--account NAME]`: prune the change log."""
from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from mailstore.changeprune import keep_default, prune_account, prune_all


class Command(BaseCommand):
    help = (
        "Delete old rows of the change log that drives IMAP updates and QRESYNC, keeping the "
        "newest --keep rows per account (default MOX_CHANGE_LOG_KEEP, 10000). IMAP listeners "
        "also do this every hour. Clients resynchronizing from before the oldest kept change "
        "get a full VANISHED list instead of an exact one (RFC 7162 section 3.2.5.2)."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--keep", type=int, default=None, help="rows to keep per account (at least 1)")
        parser.add_argument("--account", default=None, help="only this account (by name)")

    def handle(self, *args: Any, **options: Any) -> None:
        from accounts.models import Account

        keep = options["keep"] if options["keep"] is not None else keep_default()
        if keep < 1:
            raise CommandError("--keep must be at least 1")
        if options["account"]:
            account = Account.objects.filter(name=options["account"]).first()
            if account is None:
                raise CommandError(f"no account {options['account']!r}")
            removed = prune_account(account.pk, keep)
        else:
            removed = prune_all(keep)
        self.stdout.write(f"removed {removed} change log rows, keeping {keep} per account")
