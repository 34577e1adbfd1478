"""`manage.py dnsbl check ZONE IP | checkhealth ZONE`, as mox's dnsbl commands."""
from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand

from moxweb import lookups
from moxweb.management.lookupcommand import ip_argument, run_lookup


class Command(BaseCommand):
    help = (
        "DNS block lists (RFC 5782) through the configured resolver. check ZONE IP: is IP listed "
        "in ZONE, with the list's explanation. checkhealth ZONE: does the zone list its test entry "
        "127.0.0.2 and not 127.0.0.1 (exits non-zero when it does not)."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        check = sub.add_parser("check", help="is IP listed in ZONE")
        check.add_argument("zone")
        check.add_argument("ip")
        health = sub.add_parser("checkhealth", help="does ZONE answer its test entries correctly")
        health.add_argument("zone")

    def handle(self, *args: Any, **options: Any) -> None:
        zone = options["zone"]
        if options["action"] == "check":
            ip = ip_argument(options["ip"])
            run_lookup(self, lambda r: lookups.dnsbl_check(r, zone, ip))
        else:
            run_lookup(self, lambda r: lookups.dnsbl_checkhealth(r, zone))
