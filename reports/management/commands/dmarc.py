"""`manage.py dmarc parsereportmsg FILE...`: print DMARC aggregate reports as JSON;
`dmarc lookup DOMAIN` and `dmarc verify REMOTEIP MAILFROM HELO < MESSAGE`."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

from django.core.management.base import CommandError

from mailcore.reports import dmarcrpt
from moxweb import lookups
from moxweb.management.lookupcommand import ip_argument, read_message_file, run_lookup
from reports import dmarcsend
from reports.management.parsereport import ParseReportCommand


class Command(ParseReportCommand):
    help = ("parsereportmsg FILE...: parse each DMARC aggregate report message (XML, gzip or zip "
            "attachment) and print the report as JSON; exits non-zero if any file has none. "
            "lookup DOMAIN: the DMARC record that applies to mail from DOMAIN (DNS tree walk). "
            "verify REMOTEIP MAILFROM HELO < MESSAGE: SPF, DKIM and DMARC of a message as the SMTP "
            "server would evaluate it coming from REMOTEIP (MAILFROM empty for a null sender). "
            "sendreports [--day YYYY-MM-DD]: send our aggregate reports for that UTC day (default "
            "yesterday) that were not sent yet, as the worker does every day.")
    kind = "DMARC aggregate"

    @staticmethod
    def parse(message: bytes) -> Any:
        return dmarcrpt.parse_report_message(message)

    def add_subcommands(self, sub: Any) -> None:
        lookup = sub.add_parser("lookup", help="print the DMARC record that applies to DOMAIN")
        lookup.add_argument("domain")
        verify = sub.add_parser("verify", help="evaluate SPF, DKIM and DMARC of a message on stdin")
        verify.add_argument("remoteip")
        verify.add_argument("mailfrom", help="the MAIL FROM address, '' for <>")
        verify.add_argument("helo", help="the EHLO/HELO name")
        send = sub.add_parser("sendreports", help="send our aggregate reports for a UTC day")
        send.add_argument("--day", type=date.fromisoformat, default=None, help="YYYY-MM-DD, default yesterday (UTC)")

    def handle_subcommand(self, options: dict[str, Any]) -> None:
        if options["action"] == "sendreports":
            day = options["day"] or (datetime.now(timezone.utc) - timedelta(days=1)).date()
            sent = dmarcsend.send_reports(day)
            for row in sent:
                self.stdout.write(dmarcsend.summary_line(row))
            self.stdout.write(f"{len(sent)} DMARC reports for {day}")
            return
        if options["action"] == "lookup":
            domain = options["domain"]
            run_lookup(self, lambda r: lookups.dmarc_lookup(r, domain))
            return
        ip, mail_from, helo = ip_argument(options["remoteip"]), options["mailfrom"], options["helo"]
        if mail_from and "@" not in mail_from:
            raise CommandError(f"{mail_from!r} is not an email address")
        message = read_message_file("-")
        run_lookup(self, lambda r: lookups.dmarc_verify(r, ip, mail_from, helo, message))
