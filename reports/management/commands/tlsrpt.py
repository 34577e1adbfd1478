"""`manage.py tlsrpt parsereportmsg FILE...`: print SMTP TLS reports as JSON;
`tlsrpt lookup DOMAIN`: the domain's TLSRPT record."""
from __future__ import annotations

from typing import Any

from mailcore.reports import tlsrpt
from moxweb import lookups
from moxweb.management.lookupcommand import run_lookup
from reports.management.parsereport import ParseReportCommand


class Command(ParseReportCommand):
    help = ("parsereportmsg FILE...: parse each TLS report message (application/tlsrpt+json or "
            "+gzip part) and print the report as JSON; exits non-zero if any file has none. "
            "lookup DOMAIN: print the TLSRPT record at _smtp._tls.DOMAIN and where reports go.")
    kind = "TLS"

    @staticmethod
    def parse(message: bytes) -> Any:
        return tlsrpt.parse_report_message(message)

    def add_subcommands(self, sub: Any) -> None:
        lookup = sub.add_parser("lookup", help="print the TLSRPT record of DOMAIN")
        lookup.add_argument("domain")

    def handle_subcommand(self, options: dict[str, Any]) -> None:
        domain = options["domain"]
        run_lookup(self, lambda r: lookups.tlsrpt_lookup(r, domain))
