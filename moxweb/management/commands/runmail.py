"""`manage.py runmail`: serve SMTP, submission, IMAP and the web, and run the delivery worker."""
from __future__ import annotations

import asyncio
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor


class Command(BaseCommand):
    help = (
        "Serve the configured listeners (SMTP 25, submission 587/465, IMAP 143/993, HTTP/HTTPS, "
        "metrics) and supervise the delivery worker; stops cleanly on SIGTERM. Settings: docs/configuration.md."
    )
    requires_migrations_checks = False

    def handle(self, *args: Any, **options: Any) -> None:
        from moxweb.serve import ListenError, bind_all, listener_specs, serve

        executor = MigrationExecutor(connection)
        if executor.migration_plan(executor.loader.graph.leaf_nodes()):
            raise CommandError("the database is not up to date: run `manage.py migrate` first")
        connection.close()
        try:
            bound = bind_all(listener_specs(), settings.MOX_LISTEN_IPS)
        except ListenError as exc:
            raise CommandError(str(exc)) from exc
        listening = ", ".join(f"{b.spec.name} {b.spec.port}" for b in bound)
        try:
            asyncio.run(serve(bound, banner=f"moxweb runmail: {settings.MOX_HOSTNAME}, listening: {listening}"))
        except ListenError as exc:
            raise CommandError(str(exc)) from exc
