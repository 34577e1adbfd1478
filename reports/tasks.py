"""django-q2 tasks of the reports app.

- `send_tls_reports`: run hourly by the Schedule row of migration 0003; sends the
  previous UTC day's TLS reports that were not sent yet (reports.tlsrptsend).
- `send_dmarc_reports`: likewise for DMARC aggregate reports (migration 0004,
  reports.dmarcsend).
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from django.conf import settings

from reports import dmarcsend, tlsrptsend


def _yesterday() -> date:
    return (datetime.now(timezone.utc) - timedelta(days=1)).date()


def send_tls_reports() -> int:
    if not settings.MOX_TLSRPT_SEND:
        return 0
    return len(tlsrptsend.send_reports(_yesterday()))


def send_dmarc_reports() -> int:
    if not settings.MOX_DMARC_REPORTS_SEND:
        return 0
    return len(dmarcsend.send_reports(_yesterday()))
