"""Our DMARC aggregate reports (RFC 7489 section 7.2; mox sends them from v0.0.8).

Incoming mail on port 25 whose From domain's DMARC record has `rua=` gets its
evaluation recorded (`record_evaluation`, one row). Once per UTC day, each policy
domain with evaluations gets one report: rows grouped by source IP and results,
mailed as a gzipped `feedback` XML to the record's current `rua=` addresses that
accept it (section 7.1: an address outside the policy domain's organization must
be authorized by a `<policy-domain>._report._dmarc.<its domain>` record; a size
limit `!10m` is honoured), from postmaster@<our host name's domain> with a null
reverse path, DKIM-signed with that domain's keys when it is ours."""
from __future__ import annotations

import asyncio
import logging
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from typing import Any

from django.conf import settings
from django.db import IntegrityError

from mailcore.authn.dmarc import discover_policy, psl_organizational_domain
from mailcore.authn.incoming import Verdicts
from mailcore.authn.spf import Identity
from mailcore.dns import Resolver
from mailcore.reports.dmarcrpt import (
    DateRange, DKIMAuthResult, Feedback, Identifiers, PolicyEvaluated, PolicyPublished, Reason, Record,
    ReportMetadata, Row, SPFAuthResult,
)
from mailcore.reports.dmarcrptcompose import compose_message, gzipped_feedback
from moxweb.resolver import get_resolver
from reports.models import DMARCEvaluation, OutgoingDMARCReport
from reports.outgoing import parse_rua, queue_report

log = logging.getLogger(__name__)

KEEP = timedelta(days=7)  # evaluations not reported within a week are dropped


def record_evaluation(remote_ip: str, mail_from_domain: str, v: Verdicts) -> DMARCEvaluation | None:
    """Keep the DMARC evaluation of an incoming message for the From domain's
    aggregate report, if its record asks for reports."""
    d = v.dmarc
    if d.record is None or not d.record.rua:
        return None
    reasons: list[list[str]] = []
    if d.status == "fail" and d.reject:
        disposition = "reject"
        if d.policy == "quarantine":
            reasons.append(["local_policy", "quarantine applied as reject"])
    elif d.status == "fail" and d.policy != "none":
        disposition = "none"
        reasons.append(["sampled_out", ""])  # pct= left this message out
    else:
        disposition = "none"
    r = d.record
    policy = {"p": str(r.policy), "sp": str(r.subdomain_policy or ""), "adkim": str(r.adkim),
              "aspf": str(r.aspf), "pct": r.pct, "fo": r.fo}
    dkim = [
        [res.signature.domain if res.signature else res.domain, res.signature.selector if res.signature else res.selector,
         str(res.status)]
        for res in v.dkim
    ]
    spf = [[v.spf.domain, "helo" if v.spf.identity == Identity.helo else "mfrom", str(v.spf.status)]]
    return DMARCEvaluation.objects.create(
        policy_domain=d.policy_domain, header_from=d.from_domain, envelope_from=mail_from_domain,
        source_ip=remote_ip, disposition=disposition, dkim_aligned=d.dkim_aligned, spf_aligned=d.spf_aligned,
        reasons=reasons, dkim_results=dkim, spf_results=spf, policy=policy,
    )


def _records(rows: list[DMARCEvaluation]) -> tuple[Record, ...]:
    counts: Counter[str] = Counter()
    keyed: dict[str, Record] = {}
    for e in rows:
        record = Record(
            row=Row(e.source_ip, 1, PolicyEvaluated(
                e.disposition, "pass" if e.dkim_aligned else "fail", "pass" if e.spf_aligned else "fail",
                tuple(Reason(t, c) for t, c in e.reasons))),
            identifiers=Identifiers(e.header_from, e.envelope_from),
            dkim=tuple(DKIMAuthResult(dom, res, sel) for dom, sel, res in e.dkim_results),
            spf=tuple(SPFAuthResult(dom, res, scope) for dom, scope, res in e.spf_results),
        )
        key = repr(record)
        counts[key] += 1
        keyed[key] = record
    out = []
    for key, record in keyed.items():
        r = record.row
        out.append(Record(Row(r.source_ip, counts[key], r.policy_evaluated), record.identifiers, record.dkim, record.spf))
    return tuple(sorted(out, key=lambda rec: (rec.row.source_ip, -rec.row.count)))


def build_feedback(policy_domain: str, day: date, rows: list[DMARCEvaluation], submitter: str) -> Feedback:
    begin = datetime.combine(day, datetime.min.time(), tzinfo=timezone.utc)
    p = rows[-1].policy
    return Feedback(
        version="1.0",
        report_metadata=ReportMetadata(
            org_name=submitter, email=f"postmaster@{submitter}", report_id=f"{day:%Y%m%d}.{policy_domain}@{submitter}",
            date_range=DateRange(int(begin.timestamp()), int((begin + timedelta(days=1)).timestamp()) - 1),
        ),
        policy_published=PolicyPublished(policy_domain, p.get("p", "none"), p.get("adkim", ""), p.get("aspf", ""),
                                         p.get("sp", ""), p.get("pct"), p.get("fo", "")),
        records=_records(rows),
    )


async def destination_allowed(resolver: Resolver, policy_domain: str, address: str) -> tuple[bool, str]:
    """Section 7.1: a report address outside the policy domain's organizational domain
    needs a "v=DMARC1" TXT record at <policy domain>._report._dmarc.<address domain>."""
    domain = address.rsplit("@", 1)[1].lower().rstrip(".")
    if psl_organizational_domain(domain) == psl_organizational_domain(policy_domain):
        return True, ""
    name = f"{policy_domain}._report._dmarc.{domain}"
    r = await resolver.lookup_txt(name)
    if r.temporary:
        return False, f"temporary DNS error verifying {name}"
    if any(t.decode("utf-8", "replace").replace(" ", "").lower().startswith("v=dmarc1") for t in r.records):
        return True, ""
    return False, f"{domain} does not accept reports for {policy_domain} (no v=DMARC1 record at {name})"


async def _destinations(resolver: Resolver, policy_domain: str, size: int) -> tuple[list[str], list[str]]:
    """(addresses to send to, rua URIs skipped with why), from the current record."""
    status, found_at, record, error = await discover_policy(resolver, policy_domain)
    if record is None or found_at != policy_domain:
        return [], [f"no DMARC record at _dmarc.{policy_domain} now ({error or status})"]
    send: list[str] = []
    skipped: list[str] = []
    for uri in record.rua:
        parsed = parse_rua(uri)
        if parsed is None:
            skipped.append(f"{uri}: not a usable mailto: URI")
            continue
        address, limit = parsed
        if limit is not None and size > limit:
            skipped.append(f"{uri}: the report ({size} bytes) is over its size limit")
            continue
        ok, why = await destination_allowed(resolver, policy_domain, address)
        if ok:
            send.append(address)
        else:
            skipped.append(f"{uri}: {why}")
    return send, skipped


def send_reports(day: date, *, now: datetime | None = None, resolver: Resolver | None = None) -> list[OutgoingDMARCReport]:
    """Send the reports for `day` not sent yet; returns the ones handled now."""
    now = now or datetime.now(timezone.utc)
    submitter = settings.MOX_HOSTNAME.lower().rstrip(".")
    resolver = resolver or get_resolver()
    begin = datetime.combine(day, datetime.min.time(), tzinfo=timezone.utc)
    rows_by_domain: dict[str, list[DMARCEvaluation]] = {}
    for e in DMARCEvaluation.objects.filter(created__gte=begin, created__lt=begin + timedelta(days=1)).order_by("id"):
        rows_by_domain.setdefault(e.policy_domain, []).append(e)
    done = set(OutgoingDMARCReport.objects.filter(day=day).values_list("policy_domain", flat=True))
    handled: list[OutgoingDMARCReport] = []
    for policy_domain, rows in sorted(rows_by_domain.items()):
        if policy_domain in done:
            continue
        fb = build_feedback(policy_domain, day, rows, submitter)
        attachment = gzipped_feedback(fb)
        addresses, skipped = asyncio.run(_destinations(resolver, policy_domain, len(attachment)))
        row = OutgoingDMARCReport(policy_domain=policy_domain, day=day, report_id=fb.report_metadata.report_id,
                                  recipients=addresses, skipped=skipped, messages=len(rows))
        try:
            row.save()  # first: a second run of the task stops here
        except IntegrityError:
            continue
        if addresses:
            data, message_id = compose_message(fb, submitter, f"postmaster@{submitter}", addresses, now, attachment)
            row.queue_ids = queue_report(data, message_id, addresses)
            row.save(update_fields=["queue_ids"])
        log.info("dmarc report", extra={"domain": policy_domain, "day": str(day), "messages": len(rows),
                                        "recipients": len(addresses), "skipped": "; ".join(skipped)})
        handled.append(row)
    DMARCEvaluation.objects.filter(created__lt=now - KEEP).delete()
    return handled


def summary_line(row: OutgoingDMARCReport) -> str:
    to = ", ".join(row.recipients) or "nobody"
    extra: Any = f" (skipped: {'; '.join(row.skipped)})" if row.skipped else ""
    return f"{row.report_id}: {row.messages} messages, to {to}{extra}"
