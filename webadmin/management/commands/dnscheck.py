"""`manage.py dnscheck DOMAIN`: check a domain's DNS as the admin console does."""
from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from moxweb.management.lookupcommand import domain_argument
from webadmin.domaincheck import run_check


class Command(BaseCommand):
    help = (
        "Check DOMAIN's DNS: IP reverse names, MX, STARTTLS on port 25 of each MX (certificate verified "
        "for the MX name), SPF, DKIM, DMARC, TLSRPT, MTA-STS (the records, and the policy fetched from "
        "https://mta-sts.DOMAIN as senders fetch it, compared with ours and with the MX records), SRV, "
        "autoconfig (the name, and TLS on port 443 verified for it) and autodiscover. Prints errors, "
        "warnings and what to do; exits 1 when there are errors."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("domain")

    def handle(self, *args: Any, **options: Any) -> None:
        domain = domain_argument(options["domain"])
        sections = run_check(domain)
        errors = 0
        for section in sections:
            status = "error" if section.errors else "warning" if section.warnings else "ok"
            self.stdout.write(f"{section.name}: {status}")
            for line in section.errors:
                self.stdout.write(f"  error: {line}")
            for line in section.warnings:
                self.stdout.write(f"  warning: {line}")
            for line in section.instructions:
                self.stdout.write(f"  to do: {line}")
            errors += len(section.errors)
        if errors:
            raise CommandError(f"{errors} error(s) in the DNS of {domain.ascii}", returncode=1)
