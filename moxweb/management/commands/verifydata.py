"""`manage.py verifydata [DIR]`: check that message rows and message files agree."""
from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from mailstore.files import sweep_temp_files
from mailstore.verify import VerifyError, quarantine_orphans, verify_data


class Command(BaseCommand):
    help = (
        "Verify a data directory (default: MOX_DATA_DIR) or a backup made by the backup command: "
        "every message row has its file, every file under accounts/*/msg/ has a row, sizes match "
        "(prefix + file), account store sizes add up, and SQLite's integrity check passes. Prints "
        "each problem and exits non-zero when there is any. Read-only unless --remove-orphans; "
        "safe while serving."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("dir", nargs="?", default=None, help="data or backup directory")
        parser.add_argument(
            "--remove-orphans", action="store_true",
            help="move message files without a row, older than 10 minutes (left by a crash between "
            "writing a file and committing its row), to orphans/<time>/ under the directory, and "
            "remove temp files of processes that no longer run",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        data_dir = Path(options["dir"] or settings.DATA_DIR)
        if options["remove_orphans"] and data_dir.is_dir() and data_dir.resolve() == Path(settings.DATA_DIR).resolve():
            swept = sweep_temp_files()
            if swept:
                self.stdout.write(f"removed {swept} temp files of processes that no longer run")
        try:
            report = verify_data(data_dir)
        except VerifyError as exc:
            raise CommandError(str(exc)) from exc
        if options["remove_orphans"]:
            for rel, target in quarantine_orphans(report):
                self.stdout.write(f"moved orphan file {rel} to {target}")
        for line in report.problems:
            self.stdout.write(line)
        for line in report.notes:
            self.stdout.write(f"note: {line}")
        self.stdout.write(
            f"verified {report.messages} messages and {report.files} files in {data_dir} "
            f"({report.database}): {len(report.problems)} problems"
        )
        if report.problems:
            raise CommandError(f"verifydata found {len(report.problems)} problems")
