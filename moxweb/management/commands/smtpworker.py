"""`manage.py smtpworker`: one more process serving incoming SMTP, started by runmail and
localserve when MOX_SMTP_PROCESSES is more than 1 (moxweb/serve.py, `smtp_workers`)."""
from __future__ import annotations

import asyncio
import os
import socket
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = (
        "Serve incoming SMTP (port 25) beside runmail or localserve: the connections their main "
        "process accepts, admits and hands over through the socket given; they start it when "
        "MOX_SMTP_PROCESSES is more than 1."
    )
    requires_migrations_checks = False
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--handoff-fd", type=int, required=True, metavar="FD",
                            help="the Unix socket (inherited descriptor) the main process hands connections over")

    def handle(self, *args: Any, **options: Any) -> None:
        from moxweb.serve import serve_smtp_worker

        fd = options["handoff_fd"]
        try:
            os.fstat(fd)
        except OSError as exc:
            raise CommandError(f"--handoff-fd {fd}: {exc.strerror}") from exc
        asyncio.run(serve_smtp_worker(socket.socket(fileno=fd)))
