"""django-q2 tasks of the reports app.

- `send_tls_reports`: run hourly by the Schedule row of migration 0003; sends the
  previous UTC day's TLS reports that were not sent yet (reports.tlsrptsend).
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from django.conf import settings

from reports.tlsrptsend import send_reports


def send_tls_reports() -> int:
    if not settings.MOX_TLSRPT_SEND:
        return 0
    yesterday = (datetime.now(timezone.utc) - timedelta(days=1)).date()
    return len(send_reports(yesterday))
