"""`manage.py tlsrpt parsereportmsg FILE...`: print SMTP TLS reports as JSON."""
from __future__ import annotations

from typing import Any

from mailcore.reports import tlsrpt
from reports.management.parsereport import ParseReportCommand


class Command(ParseReportCommand):
    help = ("parsereportmsg FILE...: parse each TLS report message (application/tlsrpt+json or "
            "+gzip part) and print the report as JSON; exits non-zero if any file has none.")
    kind = "TLS"

    @staticmethod
    def parse(message: bytes) -> Any:
        return tlsrpt.parse_report_message(message)
