"""`manage.py deliver ACCOUNT < message`: deliver a message from standard input."""
from __future__ import annotations

import sys
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from mailstore.actions import StoreError
from mailstore.importexport import ImportExportError, deliver_stream


class Command(BaseCommand):
    help = (
        "Deliver the message on standard input into an account, named by account name (into "
        "Inbox) or by an address (into that address's mailbox), or into --mailbox. Lines ending "
        "in a bare LF get CRLF. The message is durable (file and directory fsynced, row "
        "committed) when the command exits 0. No filtering or junk checks are done."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("account", help="account name or email address")
        parser.add_argument("--mailbox", default=None, help="mailbox to deliver to (created if missing)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            message = deliver_stream(options["account"], sys.stdin.buffer, options["mailbox"])
        except (ImportExportError, StoreError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"delivered to account {message.account.name}, mailbox {message.mailbox.name}, "
            f"uid {message.uid}, {message.size} bytes"
        )
