"""`manage.py spf check DOMAIN IP | lookup DOMAIN`, as mox's spf commands."""
from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand

from moxweb import lookups
from moxweb.management.lookupcommand import ip_argument, run_lookup


class Command(BaseCommand):
    help = (
        "SPF through the configured resolver. check DOMAIN IP: evaluate the domain's SPF policy "
        "for mail from IP (as postmaster@DOMAIN) and print the result (pass, fail, softfail, "
        "neutral, none, temperror, permerror). lookup DOMAIN: print the domain's SPF record."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        check = sub.add_parser("check", help="evaluate the SPF policy of DOMAIN for IP")
        check.add_argument("domain")
        check.add_argument("ip")
        lookup = sub.add_parser("lookup", help="print the SPF record of DOMAIN")
        lookup.add_argument("domain")

    def handle(self, *args: Any, **options: Any) -> None:
        domain = options["domain"]
        if options["action"] == "check":
            ip = ip_argument(options["ip"])
            run_lookup(self, lambda r: lookups.spf_check(r, domain, ip))
        else:
            run_lookup(self, lambda r: lookups.spf_lookup(r, domain))
