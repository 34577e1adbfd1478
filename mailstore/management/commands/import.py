"""`manage.py import mbox|maildir ACCOUNT MAILBOX PATH`: import mail into an account."""
from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from accounts.actions import AccountError
from accounts.lookup import find_account
from mailstore.actions import StoreError
from mailstore.importexport import ImportExportError, import_mailboxes
from moxweb.progress import ProgressPrinter


class Command(BaseCommand):
    help = (
        'Import messages into ACCOUNT from PATH: an mbox file (mboxrd or mboxo), a maildir (a '
        'directory with cur/ and new/), or a directory, .zip or .tgz holding several. A lone mbox '
        'or maildir goes into MAILBOX; several get their names from their paths (Sent Items, '
        'Spam, Deleted Items... mapped to Sent, Junk, Trash), placed under MAILBOX, or at the top '
        'level when MAILBOX is "/". Flags come from Status/X-Status/X-Keywords headers (mbox) or '
        'the maildir info and dovecot-keywords. Bare LF becomes CRLF. A Google Takeout mbox is '
        "filed by each message's X-Gmail-Labels (Trash, Spam as Junk, Drafts, Inbox, Sent, else "
        'the first label of your own, else Archive; a copy to each further label of your own, '
        'except from Trash and Spam; Opened/Unread as \\Seen, Starred as \\Flagged), under MAILBOX '
        'or at the top level for "/" (mailstore/gmaillabels.py). Messages are stored 64 at a time '
        '(or each half second): their files are fsynced together and their rows committed in one '
        'transaction, with one modseq and one change-log entry per mailbox, as a COPY; an import '
        'that stops or fails keeps the whole messages of the batches it committed and removes the '
        'files of a batch that failed. Shows progress; the running server sees the new messages '
        'at once.'
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("format", choices=["mbox", "maildir"], help="mbox or maildir")
        parser.add_argument("account", help="account name or email address")
        parser.add_argument("mailbox", help='destination mailbox (created if missing), or "/" for names from PATH')
        parser.add_argument("path", help="mbox file, maildir, directory, .zip or .tgz")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            account = find_account(options["account"])
        except AccountError as exc:
            raise CommandError(str(exc)) from exc
        printer = ProgressPrinter(self.stdout, "import")
        try:
            result = import_mailboxes(account, options["format"], options["mailbox"], Path(options["path"]), printer)
        except (ImportExportError, StoreError) as exc:
            raise CommandError(str(exc)) from exc
        finally:
            printer.finish()
        for name, count in result.counts.items():
            self.stdout.write(f"{name}: {count} messages imported")
        for path in result.skipped:
            self.stdout.write(f"skipped {path}: not a {options['format']} mailbox")
        self.stdout.write(f"imported {result.total} messages into account {account.name}")
