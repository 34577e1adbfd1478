"""Sending our SMTP TLS reports (RFC 8460; mox does from v0.0.8): once per UTC day, for
each recipient domain we connected to that publishes a TLSRPT record, the counts of
TLS sessions that succeeded and failed (from mailqueue's TLSResult rows), mailed to
its `mailto:` addresses through the queue and POSTed to its `https:` URLs.

Like mox, a day with only successes is not reported unless MOX_TLSRPT_SEND_ALL_SUCCESS
is set, reports go from postmaster@<our host name's domain> with a null reverse path,
DKIM-signed with that domain's keys, and TLS results of report messages themselves
are left out (no reports about reports)."""
from __future__ import annotations

import asyncio
import logging
import ssl
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

from django.conf import settings
from django.db import IntegrityError

from mailcore.dns import Resolver
from mailcore.reports.tlsrpt import FailureDetails, PolicyDetails, PolicyResult, Report, record_rua, tlsrpt_records
from mailcore.reports.tlsrptcompose import compose_message, gzipped_report
from mailqueue.models import MTASTSPolicy, TLSResult
from moxweb.resolver import get_resolver
from reports.models import OutgoingTLSReport
from reports.outgoing import parse_rua, queue_report

log = logging.getLogger(__name__)

HTTPS_TIMEOUT = 30.0


@dataclass
class DomainDay:
    """What one policy domain's report for one day is made of."""

    domain: str
    policy_types: Counter[str] = field(default_factory=Counter)
    successful: int = 0
    failures: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # (result, mx host, ip) -> sessions
    mx_hosts: set[str] = field(default_factory=set)

    @property
    def failed(self) -> int:
        return sum(self.failures.values())


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=timezone.utc)
    return start, start + timedelta(days=1)


def collect(day: date) -> dict[str, DomainDay]:
    """The day's TLS results per policy domain, without those of our report messages."""
    start, end = day_bounds(day)
    own: set[int] = set()
    for ids in OutgoingTLSReport.objects.filter(day__gte=day - timedelta(days=2)).values_list("queue_ids", flat=True):
        own.update(ids)
    out: dict[str, DomainDay] = {}
    rows = TLSResult.objects.filter(created__gte=start, created__lt=end).values_list(
        "queue_id", "policy_domain", "policy_type", "result", "mx_host", "ip")
    for queue_id, domain, policy_type, result, mx_host, ip in rows.iterator():
        if queue_id in own:
            continue
        d = out.setdefault(domain, DomainDay(domain))
        d.policy_types[policy_type] += 1
        if mx_host:
            d.mx_hosts.add(mx_host)
        if result == "success":
            d.successful += 1
        else:
            d.failures[(result, mx_host, ip)] += 1
    return out


def build_report(d: DomainDay, day: date, submitter: str) -> Report:
    """One policy per report: the policy in force most of the day (RFC 8460 section 4.4;
    MTA-STS policies with their text, DANE ones without the TLSA records)."""
    start, end = day_bounds(day)
    policy_type = d.policy_types.most_common(1)[0][0] if d.policy_types else "no-policy-found"
    strings: tuple[str, ...] = ()
    mx: tuple[str, ...] = ()
    if policy_type == "sts":
        cached = MTASTSPolicy.objects.filter(domain=d.domain).first()
        if cached is not None:
            strings = tuple(line for line in cached.policy_text.splitlines() if line.strip())
            mx = tuple(cached.mx)
    failures = tuple(
        FailureDetails(result, n, receiving_mx_hostname=host, receiving_ip=ip)
        for (result, host, ip), n in sorted(d.failures.items())
    )
    return Report(
        organization_name=submitter,
        report_id=f"{day:%Y%m%d}.{d.domain}@{submitter}",
        start=start,
        end=end - timedelta(seconds=1),
        contact_info=f"postmaster@{submitter}",
        policies=(PolicyResult(PolicyDetails(policy_type, d.domain, strings, mx), d.successful, d.failed, failures),),
    )


async def rua_of(resolver: Resolver, domain: str) -> list[str]:
    """The reporting URIs of the domain's TLSRPT record (section 3), [] without one."""
    r = await resolver.lookup_txt(f"_smtp._tls.{domain}")
    records = tlsrpt_records([t.decode("utf-8", "replace") for t in r.records])
    return record_rua(records[0]) if len(records) == 1 else []


def _post(url: str, body: bytes, context: ssl.SSLContext) -> None:
    """Section 3: an HTTPS POST of the gzipped report."""
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/tlsrpt+gzip"})
    with urllib.request.urlopen(request, timeout=HTTPS_TIMEOUT, context=context) as resp:  # noqa: S310 - https only
        if resp.status >= 300:
            raise OSError(f"HTTP status {resp.status}")


def send_reports(day: date, *, now: datetime | None = None, resolver: Resolver | None = None,
                 https_context: ssl.SSLContext | None = None) -> list[OutgoingTLSReport]:
    """Send the reports for `day` not sent yet; returns the ones sent now."""
    from mailqueue.transports import verified_context

    now = now or datetime.now(timezone.utc)
    submitter = settings.MOX_HOSTNAME.lower().rstrip(".")
    resolver = resolver or get_resolver()
    context = https_context or verified_context()
    done = set(OutgoingTLSReport.objects.filter(day=day).values_list("policy_domain", flat=True))
    sent: list[OutgoingTLSReport] = []
    for domain, d in sorted(collect(day).items()):
        if domain in done or (not d.failed and not settings.MOX_TLSRPT_SEND_ALL_SUCCESS):
            continue
        uris = asyncio.run(rua_of(resolver, domain))
        if not uris:
            continue
        report = build_report(d, day, submitter)
        mailto = [parsed[0] for u in uris if (parsed := parse_rua(u)) is not None]
        https = [u for u in uris if u.lower().startswith("https://")]
        errors: list[str] = []
        row = OutgoingTLSReport(policy_domain=domain, day=day, report_id=report.report_id, recipients=uris,
                                successful=d.successful, failed=d.failed)
        try:
            row.save()  # first: a second run (the broker delivers at least once) stops here
        except IntegrityError:
            continue
        if mailto:
            msg = compose_message(report, submitter, f"postmaster@{submitter}", mailto, now)
            row.queue_ids = queue_report(msg.data, msg.message_id, mailto)
        body = gzipped_report(report) if https else b""
        for url in https:
            try:
                _post(url, body, context)
            except (OSError, ssl.SSLError, ValueError) as e:
                errors.append(f"{url}: {e}")
        row.error = "; ".join(errors)
        row.save(update_fields=["queue_ids", "error"])
        log.info("tls report sent", extra={"domain": domain, "day": str(day), "recipients": len(uris),
                                           "successful": d.successful, "failed": d.failed, "errors": row.error})
        sent.append(row)
    return sent
