"""`manage.py loglevels [COMPONENT LEVEL] [--remove COMPONENT]`, as mox's loglevels."""
from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from moxweb import loglevels


class Command(BaseCommand):
    help = (
        "Print the log level of each component and where it comes from; with COMPONENT LEVEL, change "
        "it in every running process of this installation (within a second; kept in loglevels.json in "
        "the data directory, so it outlasts a restart); --remove COMPONENT drops a change, back to "
        "MOX_LOG_LEVELS or MOX_LOG_LEVEL. Levels: DEBUG, INFO, WARNING, ERROR, CRITICAL."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("component", nargs="?", help="e.g. smtpserver or mailqueue.delivery")
        parser.add_argument("level", nargs="?", help="DEBUG, INFO, WARNING, ERROR or CRITICAL")
        parser.add_argument("--remove", metavar="COMPONENT", help="drop the runtime change of COMPONENT")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["remove"]:
                loglevels.remove_level(options["remove"])
            elif options["component"]:
                if not options["level"]:
                    raise CommandError("give a LEVEL after the component")
                loglevels.set_level(options["component"], options["level"])
        except loglevels.LogLevelError as exc:
            raise CommandError(str(exc)) from exc
        for name, level, source in loglevels.effective():
            self.stdout.write(f"{name:<24} {level:<8} {source}")
