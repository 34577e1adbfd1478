"""`manage.py mtasts lookup DOMAIN`, as mox's mtasts command."""
from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from mailqueue.transports import verified_context
from moxweb import lookups
from moxweb.management.lookupcommand import run_lookup


class Command(BaseCommand):
    help = (
        "MTA-STS (RFC 8461) as the outgoing queue sees it. lookup DOMAIN: print the _mta-sts "
        "record and the policy fetched from https://mta-sts.DOMAIN/.well-known/mta-sts.txt over "
        "verified TLS (exits non-zero when either is missing or broken)."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        lookup = sub.add_parser("lookup", help="print the MTA-STS record and policy of DOMAIN")
        lookup.add_argument("domain")

    def handle(self, *args: Any, **options: Any) -> None:
        domain = options["domain"].lower().rstrip(".")
        context, port = verified_context(), int(settings.MOX_MTASTS_PORT)
        run_lookup(self, lambda r: lookups.mtasts_lookup(r, domain, context, port))
