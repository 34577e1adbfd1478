"""`manage.py clientconfig DOMAIN`: the settings a mail client needs (mox clientconfig)."""
from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from moxweb.management.lookupcommand import domain_argument
from wellknown.clientconfig import Server, imap_server, submission_server


def _describe(kind: str, server: Server) -> str:
    security = "TLS from the start (implicit TLS)" if server.socket_type == "SSL" else "STARTTLS"
    return f"{kind:<11} {server.hostname} port {server.port}, {security}"


class Command(BaseCommand):
    help = (
        "Print the IMAP and submission settings for mail clients of addresses in DOMAIN, the same "
        "ones autoconfig and autodiscover hand out: implicit TLS ports when enabled, else STARTTLS, "
        "with the email address as username."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("domain")

    def handle(self, *args: Any, **options: Any) -> None:
        domain = domain_argument(options["domain"])
        lines = [
            _describe("IMAP", imap_server()),
            _describe("submission", submission_server()),
            f"username    the full email address (e.g. you@{domain.name})",
            "password    the account's password",
        ]
        if settings.MOX_IMAPS_PORT and settings.MOX_IMAP_PORT:
            lines.append(f"also        IMAP port {settings.MOX_IMAP_PORT} with STARTTLS")
        if settings.MOX_SUBMISSIONS_PORT and settings.MOX_SUBMISSION_PORT:
            lines.append(f"also        submission port {settings.MOX_SUBMISSION_PORT} with STARTTLS")
        for line in lines:
            self.stdout.write(line)
