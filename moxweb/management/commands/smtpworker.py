"""`manage.py smtpworker`: one more process serving incoming SMTP, started by runmail and
localserve when MOX_SMTP_PROCESSES is more than 1 (moxweb/serve.py, `smtp_workers`)."""
from __future__ import annotations

import asyncio
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = (
        "Serve incoming SMTP (port 25) beside runmail or localserve, on the addresses given, "
        "shared with them through SO_REUSEPORT; they start it when MOX_SMTP_PROCESSES is more than 1."
    )
    requires_migrations_checks = False
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--listen", action="append", required=True, metavar="IP:PORT",
                            help="an address runmail's SMTP listener is bound to (repeat for each)")

    def handle(self, *args: Any, **options: Any) -> None:
        from moxweb.serve import Bound, ListenerSpec, ListenError, bind_all, serve_smtp_worker

        bound: list[Bound] = []
        try:
            for address in options["listen"]:
                ip, _, port = address.rpartition(":")
                if not ip or not port.isdigit():
                    raise CommandError(f"--listen {address!r}: expected IP:PORT")
                bound += bind_all([ListenerSpec("smtp", int(port))], [ip.strip("[]")], reuse_port=("smtp",))
        except ListenError as exc:
            for b in bound:
                for sock in b.sockets:
                    sock.close()
            raise CommandError(str(exc)) from exc
        asyncio.run(serve_smtp_worker(bound))
