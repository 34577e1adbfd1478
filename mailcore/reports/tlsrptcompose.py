"""Composing outgoing SMTP TLS reports (RFC 8460): the JSON report of section 4 and the
report message of section 5.3. Pure: counts in, bytes out."""
from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from mailcore.reports.tlsrpt import FailureDetails, PolicyResult, Report


def _utc(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def report_json(report: Report) -> dict[str, Any]:
    """The report as RFC 8460 section 4.4 spells its fields."""

    def failure(f: FailureDetails) -> dict[str, Any]:
        out: dict[str, Any] = {"result-type": f.result_type, "failed-session-count": f.failed_session_count}
        for key, value in (
            ("sending-mta-ip", f.sending_mta_ip), ("receiving-mx-hostname", f.receiving_mx_hostname),
            ("receiving-mx-helo", f.receiving_mx_helo), ("receiving-ip", f.receiving_ip),
            ("additional-information", f.additional_information), ("failure-reason-code", f.failure_reason_code),
        ):
            if value:
                out[key] = value
        return out

    def policy(p: PolicyResult) -> dict[str, Any]:
        details: dict[str, Any] = {"policy-type": p.policy.policy_type, "policy-domain": p.policy.policy_domain}
        if p.policy.policy_strings:
            details["policy-string"] = list(p.policy.policy_strings)
        if p.policy.mx_host:
            details["mx-host"] = list(p.policy.mx_host)
        out: dict[str, Any] = {
            "policy": details,
            "summary": {"total-successful-session-count": p.successful, "total-failure-session-count": p.failed},
        }
        if p.failure_details:
            out["failure-details"] = [failure(f) for f in p.failure_details]
        return out

    return {
        "organization-name": report.organization_name,
        "date-range": {"start-datetime": _utc(report.start), "end-datetime": _utc(report.end)},
        "contact-info": report.contact_info,
        "report-id": report.report_id,
        "policies": [policy(p) for p in report.policies],
    }


def report_filename(submitter: str, policy_domain: str, start: datetime, end: datetime) -> str:
    """Section 5.3: sender domain, policy domain, begin and end as Unix seconds."""
    return f"{submitter}!{policy_domain}!{int(start.timestamp())}!{int(end.timestamp())}.json.gz"


def gzipped_report(report: Report) -> bytes:
    data = json.dumps(report_json(report), indent=1, sort_keys=False).encode()
    return gzip.compress(data, mtime=0)


@dataclass(frozen=True)
class ReportMessage:
    data: bytes  # CRLF line ends
    message_id: str


def compose_message(report: Report, submitter: str, from_address: str, recipients: list[str],
                    now: datetime) -> ReportMessage:
    """Section 5.3: a multipart/report; report-type="tlsrpt" with a human-readable part
    and the gzipped JSON as application/tlsrpt+gzip, with the TLS-Report-Domain and
    TLS-Report-Submitter header fields."""
    policy_domain = report.policies[0].policy.policy_domain if report.policies else ""
    msg = EmailMessage()
    msg["From"] = from_address
    msg["To"] = ", ".join(recipients)
    msg["Subject"] = f"Report Domain: {policy_domain} Submitter: {submitter} Report-ID: <{report.report_id}>"
    msg["Date"] = format_datetime(now)
    message_id = make_msgid(domain=submitter)
    msg["Message-ID"] = message_id
    msg["TLS-Report-Domain"] = policy_domain
    msg["TLS-Report-Submitter"] = submitter
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to it
    failed = sum(p.failed for p in report.policies)
    succeeded = sum(p.successful for p in report.policies)
    msg.set_content(
        f"This is an SMTP TLS report (RFC 8460) from {submitter} for mail to {policy_domain},\n"
        f"covering {_utc(report.start)} to {_utc(report.end)}: {succeeded} TLS sessions succeeded,\n"
        f"{failed} failed. The attached file has the details.\n",
        cte="7bit",
    )
    msg.add_attachment(
        gzipped_report(report), maintype="application", subtype="tlsrpt+gzip",
        filename=report_filename(submitter, policy_domain, report.start, report.end),
    )
    msg.set_type("multipart/report")
    msg.set_param("report-type", "tlsrpt")
    data = msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))
    return ReportMessage(data, message_id)
