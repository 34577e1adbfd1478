"""`manage.py tlsrpt parsereportmsg FILE...`: print SMTP TLS reports as JSON;
`tlsrpt lookup DOMAIN`: the domain's TLSRPT record."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

from mailcore.reports import tlsrpt
from moxweb import lookups
from moxweb.management.lookupcommand import run_lookup
from reports.management.parsereport import ParseReportCommand
from reports.tlsrptsend import send_reports


class Command(ParseReportCommand):
    help = ("parsereportmsg FILE...: parse each TLS report message (application/tlsrpt+json or "
            "+gzip part) and print the report as JSON; exits non-zero if any file has none. "
            "lookup DOMAIN: print the TLSRPT record at _smtp._tls.DOMAIN and where reports go. "
            "sendreports [--day YYYY-MM-DD]: send our TLS reports for that UTC day (default yesterday) "
            "that were not sent yet, as the worker does every day.")
    kind = "TLS"

    @staticmethod
    def parse(message: bytes) -> Any:
        return tlsrpt.parse_report_message(message)

    def add_subcommands(self, sub: Any) -> None:
        lookup = sub.add_parser("lookup", help="print the TLSRPT record of DOMAIN")
        lookup.add_argument("domain")
        send = sub.add_parser("sendreports", help="send our TLS reports for a UTC day")
        send.add_argument("--day", type=date.fromisoformat, default=None, help="YYYY-MM-DD, default yesterday (UTC)")

    def handle_subcommand(self, options: dict[str, Any]) -> None:
        if options["action"] == "sendreports":
            day = options["day"] or (datetime.now(timezone.utc) - timedelta(days=1)).date()
            sent = send_reports(day)
            for row in sent:
                where = ", ".join(row.recipients)
                line = f"{row.report_id}: {row.successful} successful, {row.failed} failed sessions, to {where}"
                self.stdout.write(line + (f" (errors: {row.error})" if row.error else ""))
            self.stdout.write(f"{len(sent)} TLS reports sent for {day}")
            return
        domain = options["domain"]
        run_lookup(self, lambda r: lookups.tlsrpt_lookup(r, domain))
