"""Set the admin console password (user "admin"), read from the terminal or stdin."""
from __future__ import annotations

import getpass
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from webadmin.actions import AdminPasswordError, set_admin_password


class Command(BaseCommand):
    help = 'Set the password of the admin console user "admin", creating it if needed. ' "Reads the password from stdin when it is not a terminal."

    def handle(self, *args: Any, **options: Any) -> None:
        if sys.stdin.isatty():
            password = getpass.getpass("admin password: ")
            if getpass.getpass("repeat password: ") != password:
                raise CommandError("passwords do not match")
        else:
            password = sys.stdin.readline().rstrip("\r\n")
        try:
            set_admin_password(password)
        except AdminPasswordError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write("admin password set")
