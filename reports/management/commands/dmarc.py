"""`manage.py dmarc parsereportmsg FILE...`: print DMARC aggregate reports as JSON."""
from __future__ import annotations

from typing import Any

from mailcore.reports import dmarcrpt
from reports.management.parsereport import ParseReportCommand


class Command(ParseReportCommand):
    help = ("parsereportmsg FILE...: parse each DMARC aggregate report message (XML, gzip or zip "
            "attachment) and print the report as JSON; exits non-zero if any file has none.")
    kind = "DMARC aggregate"

    @staticmethod
    def parse(message: bytes) -> Any:
        return dmarcrpt.parse_report_message(message)
