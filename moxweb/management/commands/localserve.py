"""`manage.py localserve`: a local mail server for testing, as `mox localserve`."""
from __future__ import annotations

import asyncio
import os
import sys
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Serve SMTP (1025), submission (1587/1465), IMAP (1143/1993) and the web (1080/1443) "
        "on localhost for testing: mox@localhost / moxmoxmox receives every message."
    )
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--dir", default="", help="data directory (default: data/localserve in the project)")
        parser.add_argument("--ip", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
        parser.add_argument(
            "--port-offset", type=int, default=1000, help="added to the standard ports (default 1000: SMTP on 1025)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from moxweb.localserve import banner, localserve_environment, setup_localserve
        from moxweb.serve import ListenError, bind_all, listener_specs, serve

        data_dir = Path(options["dir"] or Path(settings.BASE_DIR) / "data" / "localserve").resolve()
        env = localserve_environment(data_dir, options["ip"], options["port_offset"])
        if os.environ.get("MOX_LOCALSERVE_CONFIGURED") != "1":
            # Settings are read at start-up: run again with localserve's environment.
            try:
                data_dir.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise CommandError(f"cannot create data directory {data_dir}: {exc.strerror}") from exc
            os.environ.update(env)
            os.environ["MOX_LOCALSERVE_CONFIGURED"] = "1"
            os.execv(sys.executable, [sys.executable, *sys.argv])
        call_command("check", fail_level="ERROR")
        try:
            bound = bind_all(listener_specs(), [options["ip"]])
        except ListenError as exc:
            raise CommandError(str(exc)) from exc
        call_command("migrate", interactive=False, verbosity=0)
        setup_localserve()
        ports = {k: int(v) for k, v in env.items() if k.endswith("_PORT")}
        try:
            asyncio.run(serve(bound, banner=banner(data_dir, options["ip"], ports)))
        except ListenError as exc:
            raise CommandError(str(exc)) from exc
