"""State changes for reports: a domain's reporting addresses, and storing received
reports (deduplicated by reporter and report id)."""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any

from django.db import IntegrityError, transaction

from accounts.actions import AccountError, canonical_localpart
from accounts.models import Account, Address, Domain
from mailcore.reports import dmarcrpt, tlsrpt
from reports import metrics
from reports.models import DEFAULT_MAILBOX, DMARCRecord, DMARCReport, ReportingAddress, ReportKind, \
    TLSPolicyResult, TLSReport

log = logging.getLogger(__name__)


@transaction.atomic
def set_reporting_address(domain: Domain, kind: str, localpart: str, account: Account,
                          mailbox: str = "") -> ReportingAddress:
    """Make localpart@domain the domain's `kind` ("dmarc"/"tlsrpt") reporting address,
    delivered to `mailbox` (default "DMARC"/"TLSRPT") of `account`, replacing an
    earlier one. The address becomes an accounts.Address so delivery finds it."""
    kind = ReportKind(kind)
    localpart = localpart.strip()
    mailbox = mailbox.strip() or DEFAULT_MAILBOX[kind]
    if not localpart:
        raise AccountError("a reporting address needs a localpart")
    sep = domain.localpart_catchall_separator
    if sep and sep in localpart:
        raise AccountError(f"localpart {localpart!r} contains the domain's catchall separator {sep!r}")
    localpart = canonical_localpart(domain, localpart)
    existing = ReportingAddress.objects.select_for_update().filter(domain=domain, kind=kind).first()
    if existing is not None:
        _remove_address(existing)
    other = ReportingAddress.objects.filter(domain=domain, localpart=localpart).exclude(kind=kind).first()
    if other is not None:
        raise AccountError(f"{localpart}@{domain.name} is already the {other.get_kind_display()} reporting address")
    if Address.objects.filter(domain=domain, localpart=localpart).exists():
        raise AccountError(f"address {localpart}@{domain.name} already exists")
    Address.objects.create(account=account, domain=domain, localpart=localpart, mailbox=mailbox)
    if existing is None:
        ra = ReportingAddress.objects.create(domain=domain, kind=kind, localpart=localpart, account=account,
                                             mailbox=mailbox)
    else:
        ra = existing
        ra.localpart, ra.account, ra.mailbox = localpart, account, mailbox
        ra.save()
    log.info("reporting address set", extra={"domain": domain.ascii, "kind": kind.value, "account": account.name})
    return ra


def _remove_address(ra: ReportingAddress) -> None:
    Address.objects.filter(domain=ra.domain, localpart=ra.localpart, account=ra.account).delete()


@transaction.atomic
def remove_reporting_address(ra: ReportingAddress) -> None:
    _remove_address(ra)
    ra.delete()


def _utc(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, tz=timezone.utc)


def store_dmarc_report(feedback: dmarcrpt.Feedback, *, from_domain: str, account: Account | None = None,
                       message: Any = None) -> tuple[DMARCReport, bool]:
    """Save a DMARC aggregate report with its records; (report, created). A report
    with the same org_name and report_id is not stored twice."""
    md = feedback.report_metadata
    org_name, report_id = md.org_name[:255], md.report_id[:255]
    found = DMARCReport.objects.filter(org_name=org_name, report_id=report_id).first()
    if found is not None:
        metrics.REPORTS_RECEIVED.labels("dmarc", "duplicate").inc()
        return found, False
    try:
        with transaction.atomic():
            report = DMARCReport.objects.create(
                org_name=org_name, report_id=report_id, email=md.email[:255],
                begin=_utc(md.date_range.begin), end=_utc(md.date_range.end),
                domain=feedback.policy_published.domain[:255], from_domain=from_domain[:255],
                policy=_policy_json(feedback.policy_published), feedback=feedback.to_json(),
                account=account, message_id=getattr(message, "pk", None),
            )
            DMARCRecord.objects.bulk_create([_dmarc_record(report, r) for r in feedback.records])
    except IntegrityError:
        # Stored concurrently by another delivery of the same report.
        metrics.REPORTS_RECEIVED.labels("dmarc", "duplicate").inc()
        return DMARCReport.objects.get(org_name=org_name, report_id=report_id), False
    transaction.on_commit(lambda: _count_dmarc(feedback))
    return report, True


def _policy_json(p: dmarcrpt.PolicyPublished) -> dict[str, Any]:
    return {"domain": p.domain, "adkim": p.adkim, "aspf": p.aspf, "p": p.p, "sp": p.sp, "pct": p.pct, "fo": p.fo}


def _dmarc_record(report: DMARCReport, r: dmarcrpt.Record) -> DMARCRecord:
    pe = r.row.policy_evaluated
    return DMARCRecord(
        report=report, source_ip=r.row.source_ip[:64], count=min(r.row.count, 2**31 - 1),
        disposition=pe.disposition[:16], dkim=pe.dkim[:8], spf=pe.spf[:8],
        header_from=r.identifiers.header_from[:255], envelope_from=r.identifiers.envelope_from[:255],
        reasons=[{"type": x.type, "comment": x.comment} for x in pe.reasons],
        dkim_results=[{"domain": d.domain, "selector": d.selector, "result": d.result} for d in r.dkim],
        spf_results=[{"domain": s.domain, "scope": s.scope, "result": s.result} for s in r.spf],
    )


def _count_dmarc(feedback: dmarcrpt.Feedback) -> None:
    metrics.REPORTS_RECEIVED.labels("dmarc", "stored").inc()
    domain = feedback.policy_published.domain
    for r in feedback.records:
        pe, n = r.row.policy_evaluated, r.row.count
        metrics.DMARC_POLICY_EVALUATED.labels(domain, pe.disposition, pe.dkim, pe.spf).inc(n)
        for d in r.dkim:
            metrics.DMARC_DKIM_RESULT.labels(d.result).inc(n)
        for s in r.spf:
            metrics.DMARC_SPF_RESULT.labels(s.result).inc(n)


def store_tls_report(report: tlsrpt.Report, *, our_domains: list[str], from_domain: str, mail_from: str = "",
                     account: Account | None = None, message: Any = None) -> tuple[TLSReport, bool]:
    """Save a TLS report with its policy results; (report, created), deduplicated by
    organization-name and report-id."""
    org_name, report_id = report.organization_name[:255], report.report_id[:255]
    found = TLSReport.objects.filter(org_name=org_name, report_id=report_id).first()
    if found is not None:
        metrics.REPORTS_RECEIVED.labels("tlsrpt", "duplicate").inc()
        return found, False
    domain = our_domains[0] if our_domains else (report.policy_domains() or [""])[0]
    try:
        with transaction.atomic():
            row = TLSReport.objects.create(
                org_name=org_name, report_id=report_id, contact=report.contact_info[:255],
                begin=report.start, end=report.end, domain=domain[:255], from_domain=from_domain[:255],
                mail_from=mail_from[:255], report=report.to_json(), account=account,
                message_id=getattr(message, "pk", None),
            )
            TLSPolicyResult.objects.bulk_create([_tls_policy(row, p) for p in report.policies])
    except IntegrityError:
        metrics.REPORTS_RECEIVED.labels("tlsrpt", "duplicate").inc()
        return TLSReport.objects.get(org_name=org_name, report_id=report_id), False
    transaction.on_commit(lambda: _count_tls(report))
    return row, True


def _tls_policy(row: TLSReport, p: tlsrpt.PolicyResult) -> TLSPolicyResult:
    return TLSPolicyResult(
        report=row, policy_type=p.policy.policy_type, policy_domain=p.policy.policy_domain[:255],
        policy_strings=list(p.policy.policy_strings), mx_host=list(p.policy.mx_host),
        successful=p.successful, failed=p.failed,
        failure_details=[
            {"result_type": f.result_type, "failed_session_count": f.failed_session_count,
             "sending_mta_ip": f.sending_mta_ip, "receiving_mx_hostname": f.receiving_mx_hostname,
             "receiving_mx_helo": f.receiving_mx_helo, "receiving_ip": f.receiving_ip,
             "additional_information": f.additional_information, "failure_reason_code": f.failure_reason_code}
            for f in p.failure_details
        ],
    )


def _count_tls(report: tlsrpt.Report) -> None:
    metrics.REPORTS_RECEIVED.labels("tlsrpt", "stored").inc()
    for p in report.policies:
        if p.successful:
            metrics.TLSRPT_SESSIONS.labels("success").inc(p.successful)
        for f in p.failure_details:
            metrics.TLSRPT_SESSIONS.labels(f.result_type).inc(f.failed_session_count)
