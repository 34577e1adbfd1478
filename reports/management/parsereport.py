"""The `parsereportmsg` subcommand shared by `manage.py dmarc` and `manage.py tlsrpt`."""
from __future__ import annotations

import json
from argparse import ArgumentParser
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from mailcore.reports import ParseError


class ParseReportCommand(BaseCommand):
    kind = ""  # "DMARC aggregate" or "TLS"
    requires_system_checks: list[str] = []  # a parser of files: needs neither database nor URLs

    @staticmethod
    def parse(message: bytes) -> Any:  # returns an object with to_json()
        raise NotImplementedError

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        p = sub.add_parser("parsereportmsg", help=f"print the {self.kind} report in each message file as JSON")
        p.add_argument("files", nargs="+", metavar="FILE", help="a report message (RFC 5322, as received)")
        self.add_subcommands(sub)

    def add_subcommands(self, sub: Any) -> None:
        """More subcommands of the command (DNS lookups)."""

    def handle_subcommand(self, options: dict[str, Any]) -> None:
        raise CommandError(f"unknown subcommand {options['action']}")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] != "parsereportmsg":
            self.handle_subcommand(options)
            return
        failed = parse_files(options["files"], type(self).parse, self.stdout.write, self.stderr.write)
        if failed:
            raise CommandError(f"{failed} of {len(options['files'])} file(s) had no readable {self.kind} report")


def parse_files(files: list[str], parse: Callable[[bytes], Any], out: Callable[[str], Any],
                err: Callable[[str], Any]) -> int:
    """Print each file's report as JSON; errors name the file. Returns the failure count."""
    failed = 0
    for name in files:
        try:
            data = Path(name).read_bytes()
            out(json.dumps(parse(data).to_json(), indent=2, ensure_ascii=False))
        except OSError as e:
            err(f"{name}: cannot read: {e.strerror or e}")
            failed += 1
        except ParseError as e:
            err(f"{name}: {e}")
            failed += 1
    return failed
