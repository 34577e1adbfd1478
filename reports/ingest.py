"""Reports arriving at a domain's reporting address, as mox's SMTP analysis treats them
(mox-v0.0.5 section 1.1.11 analyze steps 3, 4 and 6; section 6).

The SMTP pipeline calls, per recipient, in a database thread:

    pending = evaluate(rcpt_localpart, rcpt_domain, data, verdicts)

`None` means the recipient is not a reporting address. Otherwise `pending.valid` says
whether the report is accepted (then it counts as a reason to accept the message even
without reputation, and the message is delivered Seen), and after delivery
`pending.store(account, message)` saves the parsed report.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from accounts.actions import canonical_localpart, find_domain
from mailcore.authn.dkim import DKIMStatus
from mailcore.authn.dmarc import DMARCStatus
from mailcore.reports import ParseError, dmarcrpt, tlsrpt
from reports import metrics
from reports.models import ReportingAddress, ReportKind

log = logging.getLogger(__name__)

FUTURE_SLACK = 60  # seconds a DMARC report's end date may lie in the future


@dataclass
class PendingReport:
    kind: str  # "dmarc" or "tlsrpt"
    valid: bool
    address: ReportingAddress
    reason: str = ""  # why not valid, for logs
    report: dmarcrpt.Feedback | tlsrpt.Report | None = None
    from_domain: str = ""
    mail_from: str = ""
    our_domains: list[str] = field(default_factory=list)  # policy domains we have

    @property
    def mailbox(self) -> str:
        return self.address.mailbox

    def store(self, account: Any, message: Any) -> None:
        """Persist the report (synchronous; after delivery). Does nothing when invalid;
        a report already stored (same reporter and report id) is kept as it is."""
        from reports.actions import store_dmarc_report, store_tls_report

        if not self.valid or self.report is None:
            return
        if isinstance(self.report, dmarcrpt.Feedback):
            store_dmarc_report(self.report, from_domain=self.from_domain, account=account, message=message)
        else:
            store_tls_report(self.report, our_domains=self.our_domains, from_domain=self.from_domain,
                             mail_from=self.mail_from, account=account, message=message)


def reporting_address(rcpt_localpart: str, rcpt_domain: str) -> ReportingAddress | None:
    domain = find_domain(rcpt_domain)
    if domain is None:
        return None
    localpart = canonical_localpart(domain, rcpt_localpart)
    for ra in ReportingAddress.objects.select_related("domain", "account").filter(domain=domain):
        if canonical_localpart(domain, ra.localpart) == localpart:
            return ra
    return None


def configured(domains: list[str]) -> list[str]:
    """The names among `domains` (any form) that are domains of ours, as given."""
    return [d for d in domains if find_domain(d) is not None]


def evaluate(rcpt_localpart: str, rcpt_domain: str, data: bytes, verdicts: Any,
             *, now: float | None = None) -> PendingReport | None:
    ra = reporting_address(rcpt_localpart, rcpt_domain)
    if ra is None:
        return None
    if ra.kind == ReportKind.dmarc:
        pending = _evaluate_dmarc(ra, data, verdicts, time.time() if now is None else now)
    else:
        pending = _evaluate_tlsrpt(ra, data, verdicts)
    if not pending.valid:
        metrics.REPORTS_RECEIVED.labels(pending.kind, "invalid").inc()
        log.info("report not accepted", extra={"kind": pending.kind, "reason": pending.reason})
    return pending


def _evaluate_dmarc(ra: ReportingAddress, data: bytes, verdicts: Any, now: float) -> PendingReport:
    pending = PendingReport(ReportKind.dmarc.value, False, ra, from_domain=verdicts.from_domain)
    if verdicts.dmarc.status != DMARCStatus.pass_:
        pending.reason = f"dmarc {verdicts.dmarc.status} for the report message"
        return pending
    try:
        feedback = dmarcrpt.parse_report_message(data)
    except ParseError as e:
        pending.reason = f"parsing dmarc report: {e}"
        return pending
    pending.report = feedback
    if not configured([feedback.policy_published.domain]):
        pending.reason = f"policy domain {feedback.policy_published.domain} is not ours"
    elif feedback.report_metadata.date_range.end > now + FUTURE_SLACK:
        pending.reason = "report end date is in the future"
    else:
        pending.valid = True
    return pending


def tlsrpt_signed(verdicts: Any) -> bool:
    """A DKIM signature passes for the From domain, without l=, and its key record allows
    service "tlsrpt" (RFC 8460 section 3: reports SHOULD be DKIM-signed, key s=tlsrpt)."""
    for r in verdicts.dkim:
        sig, rec = r.signature, r.record
        if r.status != DKIMStatus.pass_ or sig is None or rec is None:
            continue
        if sig.domain != verdicts.from_domain or sig.length is not None:
            continue
        if "*" in rec.services or "tlsrpt" in rec.services:
            return True
    return False


def _evaluate_tlsrpt(ra: ReportingAddress, data: bytes, verdicts: Any) -> PendingReport:
    pending = PendingReport(ReportKind.tlsrpt.value, False, ra, from_domain=verdicts.from_domain,
                            mail_from=getattr(verdicts.spf, "sender", "") or "")
    if not tlsrpt_signed(verdicts):
        pending.reason = "no passing DKIM signature of the From domain for service tlsrpt"
        return pending
    try:
        report = tlsrpt.parse_report_message(data)
    except ParseError as e:
        pending.reason = f"parsing tls report: {e}"
        return pending
    pending.report = report
    pending.our_domains = configured(report.policy_domains())
    if not pending.our_domains:
        pending.reason = "report mentions none of our policy domains"
    else:
        pending.valid = True
    return pending
