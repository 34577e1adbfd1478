"""`manage.py export mbox|maildir ACCOUNT DEST [MAILBOX]`: export an account's mail."""
from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from accounts.actions import AccountError
from accounts.lookup import find_account
from mailstore.importexport import ImportExportError, export_mailboxes
from moxweb.progress import ProgressPrinter


class Command(BaseCommand):
    help = (
        "Export the mailboxes of ACCOUNT (or only MAILBOX) to DEST: a new or empty directory, or "
        "a .zip or .tgz file. mbox: one <mailbox>.mbox per mailbox (mboxrd, LF line endings, "
        "flags in Status/X-Status/X-Keywords); maildir: <mailbox>/cur/ files with the stored "
        "bytes and flags in their names (keywords in dovecot-keywords). Import reads both back. "
        "Safe while the server runs; shows progress."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("format", choices=["mbox", "maildir"], help="mbox or maildir")
        parser.add_argument("account", help="account name or email address")
        parser.add_argument("dest", help="directory (new or empty), or a file ending in .zip, .tgz or .tar.gz")
        parser.add_argument("mailbox", nargs="?", default=None, help="export only this mailbox")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            account = find_account(options["account"])
        except AccountError as exc:
            raise CommandError(str(exc)) from exc
        printer = ProgressPrinter(self.stdout, "export")
        try:
            result = export_mailboxes(account, options["format"], Path(options["dest"]), options["mailbox"], printer)
        except ImportExportError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            printer.finish()
        for name, count in result.counts.items():
            self.stdout.write(f"{name}: {count} messages exported")
        self.stdout.write(f"exported {result.total} messages of account {account.name} to {options['dest']}")
