"""`manage.py dnsrecords DOMAIN`: the DNS records to create for a domain, as zone text."""
from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand

from moxweb.management.lookupcommand import domain_argument
from webadmin.dnsrecords import domain_records, zone_text


class Command(BaseCommand):
    help = (
        "Print the DNS records to create for DOMAIN (MX, SPF, DKIM, DMARC, MTA-STS, TLSRPT, SRV, "
        "autoconfig, CAA) in zone-file syntax, ready to paste."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("domain")

    def handle(self, *args: Any, **options: Any) -> None:
        domain = domain_argument(options["domain"])
        self.stdout.write(zone_text(domain_records(domain)), ending="")
