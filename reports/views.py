"""Admin pages for received DMARC and TLS reports (mox-v0.0.5 sections 1.3.2 and 6):
30-day summaries per domain with a chart, report lists and details, and the form for a
domain's reporting addresses. Admin login required, as every webadmin page."""
from __future__ import annotations

import logging
from datetime import timedelta
from datetime import timezone as dt_timezone

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q, Sum
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from accounts.actions import AccountError, find_domain
from accounts.models import Address, Domain
from reports import actions, summary
from reports.chart import daily_chart
from reports.forms import ReportingAddressForm
from reports.models import DMARCReport, OutgoingDMARCReport, OutgoingTLSReport, ReportingAddress, ReportKind, TLSReport
from webadmin.views import staff_required

log = logging.getLogger(__name__)

_PASS = Q(records__dkim="pass") | Q(records__spf="pass")
PAGE_SIZE = 100  # reports per list page


def _with_dmarc_totals(qs):  # type: ignore[no-untyped-def]
    totals = qs.annotate(messages=Sum("records__count"), passed=Sum("records__count", filter=_PASS))
    return totals.order_by("-end", "-id")  # aggregate queries drop Meta.ordering


def _with_tls_totals(qs):  # type: ignore[no-untyped-def]
    totals = qs.annotate(successful=Sum("policies__successful"), failed=Sum("policies__failed"))
    return totals.order_by("-end", "-id")


def _domain_or_404(name: str) -> Domain:
    """Our domain by either form: reports may name it in Unicode."""
    d = find_domain(name)
    if d is None:
        raise Http404(f"no domain {name}")
    return d


@require_GET
@staff_required
def index(request: HttpRequest) -> HttpResponse:
    domains = list(Domain.objects.order_by("name"))
    figures = summary.index_summaries(domains)
    rows = [{"domain": d, "dmarc": figures[d.pk][0], "tls": figures[d.pk][1]} for d in domains]
    return render(request, "reports/index.html", {"rows": rows})


def _domain_page(request: HttpRequest, d: Domain, forms: dict[str, ReportingAddressForm] | None = None,
                 status: int = 200) -> HttpResponse:
    today = timezone.now().astimezone(dt_timezone.utc).date()
    dmarc, dmarc_daily = summary.dmarc_summary(d)
    tls, tls_daily = summary.tls_summary(d)
    current = {ra.kind: ra for ra in ReportingAddress.objects.filter(domain=d).select_related("account")}
    # The address may have been removed on the account page since: mail to it bounces.
    present = set(Address.objects.filter(domain=d, localpart__in=[ra.localpart for ra in current.values()])
                  .values_list("localpart", "account_id"))
    for ra in current.values():
        ra.missing = (ra.localpart, ra.account_id) not in present  # type: ignore[attr-defined]
    forms = forms or {}
    address_forms = [
        (kind, current.get(kind.value), forms.get(kind.value) or ReportingAddressForm.for_kind(kind, current.get(kind.value)))
        for kind in ReportKind
    ]
    ctx = {
        "domain": d,
        "dmarc": dmarc,
        "tls": tls,
        "dmarc_chart": daily_chart(dmarc_daily, today, pass_label="DMARC pass", fail_label="DMARC fail"),
        "tls_chart": daily_chart(tls_daily, today, pass_label="successful sessions", fail_label="failed sessions"),
        "dmarc_reports": _with_dmarc_totals(summary.dmarc_reports(d)),
        "tls_reports": _with_tls_totals(summary.tls_reports(d)),
        "address_forms": address_forms,
    }
    return render(request, "reports/domain.html", ctx, status=status)


@require_GET
@staff_required
def domain(request: HttpRequest, name: str) -> HttpResponse:
    return _domain_page(request, _domain_or_404(name))


@require_POST
@staff_required
def set_address(request: HttpRequest, name: str, kind: str) -> HttpResponse:
    d = _domain_or_404(name)
    try:
        report_kind = ReportKind(kind)
    except ValueError:
        return HttpResponse("unknown report kind", status=400, content_type="text/plain")
    current = ReportingAddress.objects.filter(domain=d, kind=report_kind).first()
    form = ReportingAddressForm.for_kind(report_kind, current, request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            ra = actions.set_reporting_address(d, report_kind, data["localpart"], data["account"], data["mailbox"])
        except AccountError as exc:
            form.add_error(None, str(exc))
        else:
            log.info("admin action", extra={"admin": request.user.get_username(), "action": "reporting address set",
                                            "domain": d.ascii, "kind": ra.kind})
            messages.success(request, f"{report_kind.label} reports for {d.name} go to "
                                      f"{ra.localpart}@{d.name}, mailbox {ra.mailbox} of account {ra.account.name}.")
            return redirect("reports:domain", name=d.ascii)
    return _domain_page(request, d, {report_kind.value: form}, status=400)


@require_POST
@staff_required
def remove_address(request: HttpRequest, name: str, kind: str) -> HttpResponse:
    d = _domain_or_404(name)
    ra = get_object_or_404(ReportingAddress, domain=d, kind=kind)
    actions.remove_reporting_address(ra)
    messages.success(request, f"{ra.get_kind_display()} reporting address {ra.localpart}@{d.name} removed.")
    return redirect("reports:domain", name=d.ascii)


@require_GET
@staff_required
def dmarc_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(_with_dmarc_totals(summary.dmarc_reports()), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "reports/dmarc_list.html", {"reports": page, "page": page})


@require_GET
@staff_required
def dmarc_report(request: HttpRequest, pk: int) -> HttpResponse:
    report = get_object_or_404(DMARCReport, pk=pk)
    records = list(report.records.all())
    passed, failed = summary.report_totals(records)
    ctx = {"report": report, "records": records, "passed": passed, "failed": failed}
    return render(request, "reports/dmarc_report.html", ctx)


@require_GET
@staff_required
def tls_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(_with_tls_totals(summary.tls_reports()), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "reports/tls_list.html", {"reports": page, "page": page})


@require_GET
@staff_required
def tls_report(request: HttpRequest, pk: int) -> HttpResponse:
    report = get_object_or_404(TLSReport, pk=pk)
    return render(request, "reports/tls_report.html", {"report": report, "policies": list(report.policies.all())})


@require_GET
@staff_required
def sent(request: HttpRequest) -> HttpResponse:
    """The DMARC and TLS reports we sent in the last 30 days, and where to."""
    since = timezone.now().date() - timedelta(days=30)
    ctx = {
        "dmarc": OutgoingDMARCReport.objects.filter(day__gte=since),
        "tls": OutgoingTLSReport.objects.filter(day__gte=since),
    }
    return render(request, "reports/sent.html", ctx)
