"""Console status pages mox's admin has beside its configuration (reference 1.3.2):
the MTA-STS policies the queue has cached for recipient domains, and whether our own
IPs are listed in the configured DNS block lists."""
from __future__ import annotations

import asyncio
import ipaddress
from dataclasses import dataclass

from asgiref.sync import async_to_sync
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from mailcore.authn import dnsbl
from mailcore.dns import Resolver
from mailqueue.models import MTASTSPolicy
from moxweb.resolver import get_resolver
from webadmin.dnscheck import our_ips
from webadmin.views import staff_required


@require_GET
@staff_required
def mtasts_policies(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    rows = [
        {"policy": p, "expired": p.valid_until <= now}
        for p in MTASTSPolicy.objects.order_by("domain")
    ]
    return render(request, "webadmin/mtasts_policies.html", {"rows": rows})


@dataclass(frozen=True)
class ListingRow:
    ip: str
    zone: str
    status: str  # pass, fail or temperror (RFC 5782 lookups)
    detail: str


async def listings(resolver: Resolver, ips: list[str], zones: list[str]) -> list[ListingRow]:
    """Every (IP, zone) pair looked up concurrently."""
    pairs = [(ip, zone) for ip in ips for zone in zones]
    results = await asyncio.gather(*(dnsbl.lookup(resolver, zone, ip) for ip, zone in pairs))
    rows = []
    for (ip, zone), r in zip(pairs, results):
        if r.status == dnsbl.DNSBLStatus.fail:
            detail = ", ".join(r.addresses) + (f": {r.explanation}" if r.explanation else "")
        else:
            detail = r.error
        rows.append(ListingRow(ip, zone, str(r.status), detail))
    return rows


@require_GET
@staff_required
def dnsbl_status(request: HttpRequest) -> HttpResponse:
    zones = list(settings.MOX_DNSBL_ZONES)
    resolver = get_resolver()

    async def check() -> tuple[list[str], list[ListingRow]]:
        ips = sorted(await our_ips(resolver, list(settings.MOX_LISTEN_IPS), settings.MOX_HOSTNAME),
                     key=lambda ip: (ipaddress.ip_address(ip).version, ipaddress.ip_address(ip)))
        return ips, await listings(resolver, ips, zones)

    ips, rows = async_to_sync(check)()
    return render(request, "webadmin/dnsbl_status.html", {"zones": zones, "ips": ips, "rows": rows})


@staff_required
def log_levels(request: HttpRequest) -> HttpResponse:
    """See and change the log levels of every process (mox's admin log levels page)."""
    from django.contrib import messages
    from django.shortcuts import redirect

    from moxweb import loglevels
    from moxweb.logging import LEVELS
    from webadmin.views import audit

    if request.method == "POST":
        component = request.POST.get("component", "").strip()
        try:
            if "remove" in request.POST:
                loglevels.remove_level(component)
                audit(request, "log level change removed", component=component)
                messages.success(request, f"{component} is back to its configured level.")
            else:
                level = request.POST.get("level", "")
                loglevels.set_level(component, level)
                audit(request, "log level set", component=component, level=level.upper())
                messages.success(request, f"{component} logs at {level.upper()} now.")
        except loglevels.LogLevelError as exc:
            messages.error(request, str(exc))
        return redirect("webadmin:log_levels")
    return render(request, "webadmin/log_levels.html", {"rows": loglevels.effective(), "levels": LEVELS})
