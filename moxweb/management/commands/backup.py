"""`manage.py backup DIR`: a consistent backup of the database and message files."""
from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from mailstore.backup import BackupError, backup


class Command(BaseCommand):
    help = (
        "Back up the database and the message files into DIR (new or empty, outside the data "
        "directory) while the server keeps running. SQLite: an online snapshot into DIR/moxweb.db, "
        "so DIR is a complete data directory; PostgreSQL: pg_dump into DIR/moxweb.pgdump. Then the "
        "message files of that snapshot are hard-linked (same file system) or copied, with the "
        "secret key and TLS files. Check the result with: manage.py verifydata DIR."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("dir", help="destination directory (new or empty)")
        parser.add_argument("--copy", action="store_true", help="copy message files instead of hard-linking them")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = backup(Path(options["dir"]), copy=options["copy"], progress=self.stdout.write)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        for rel in result.missing:
            self.stdout.write(f"warning: message file {rel} disappeared before it was copied (expunged meanwhile?)")
        self.stdout.write(
            f"backup of {result.messages} messages in {result.dest} "
            f"({result.linked} files linked, {result.copied} copied)"
        )
        if result.database == "sqlite":
            self.stdout.write(f"restore: stop the server, then use {result.dest} as MOX_DATA_DIR")
        else:
            self.stdout.write(
                f"restore: createdb NEW; pg_restore --no-owner -d NEW {result.database_file}; then "
                f"DATABASE_URL=postgresql://.../NEW with MOX_DATA_DIR={result.dest}"
            )
