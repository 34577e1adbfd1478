"""Client configuration (Thunderbird autoconfig, Microsoft autodiscover) and the
MTA-STS policy (RFC 8461 section 3.2), for configured domains only."""
from __future__ import annotations

import logging
from xml.etree import ElementTree

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from accounts.actions import domain_forms_safe, find_domain
from accounts.models import Domain
from wellknown.appleprofile import profile
from wellknown.clientconfig import imap_server, submission_server
from wellknown.mtasts import current_policy

log = logging.getLogger(__name__)

XML = "application/xml; charset=utf-8"


def _bad_request(text: str) -> HttpResponse:
    return HttpResponse(text + "\n", status=400, content_type="text/plain; charset=utf-8")


def _host_domain(request: HttpRequest, prefix: str) -> Domain | None:
    """The domain named by a Host header like `<prefix><domain>[:port]`."""
    host = request.get_host().rsplit(":", 1)[0].lower() if request.get_host() else ""
    if not host.startswith(prefix):
        return None
    return find_domain(host[len(prefix) :])


@require_GET
def autoconfig(request: HttpRequest) -> HttpResponse:
    """Thunderbird autoconfig: GET with ?emailaddress=; without it, the domain comes from
    the Host header (autoconfig.<domain>)."""
    email = request.GET.get("emailaddress", "")
    if email:
        _, at, domain_name = email.rpartition("@")
        domain = find_domain(domain_name) if at else None
    else:
        domain = _host_domain(request, "autoconfig.")
    if domain is None:
        return _bad_request("unknown or missing domain")
    ctx = {
        "domain": domain,
        "email": email or "%EMAILADDRESS%",
        "imap": imap_server(),
        "smtp": submission_server(),
    }
    return render(request, "wellknown/autoconfig.xml", ctx, content_type=XML)


def _email_from_autodiscover(body: bytes) -> str | None:
    # Entity declarations are refused outright: nothing legitimate needs them here.
    if b"<!" in body.upper().replace(b"<![CDATA[", b""):
        return None
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return None
    for el in root.iter():
        if el.tag.rsplit("}", 1)[-1] == "EMailAddress" and el.text:
            return el.text.strip()
    return None


@csrf_exempt
@require_POST
def autodiscover(request: HttpRequest) -> HttpResponse:
    """Microsoft autodiscover (Outlook "POX" schema 2006): POST with an XML request."""
    email = _email_from_autodiscover(request.body)
    if email is None:
        return _bad_request("request must be XML with an EMailAddress element")
    _, at, domain_name = email.rpartition("@")
    domain = find_domain(domain_name) if at else None
    if domain is None:
        return _bad_request("unknown domain")
    ctx = {"email": email, "imap": imap_server(), "smtp": submission_server()}
    return render(request, "wellknown/autodiscover.xml", ctx, content_type=XML)


@never_cache
@require_GET
def mta_sts_policy(request: HttpRequest) -> HttpResponse:
    """Served for host mta-sts.<domain> (RFC 8461 section 3.3), 404 for other hosts."""
    domain = _host_domain(request, "mta-sts.")
    if domain is None:
        return HttpResponse("no MTA-STS policy for this host\n", status=404, content_type="text/plain; charset=utf-8")
    return HttpResponse(current_policy().text(), content_type="text/plain; charset=utf-8")


@require_GET
def apple_profile(request: HttpRequest) -> HttpResponse:
    """The logged-in account's configuration profile for one of its addresses
    (?address=, default its first), served under /account/."""
    from accounts.views import session_account

    account = session_account(request)
    if account is None:
        return redirect("accounts:login")
    addresses = [str(a) for a in account.addresses.select_related("domain").order_by("id") if not a.is_catchall]
    wanted = request.GET.get("address", "")
    address = wanted if wanted else (addresses[0] if addresses else "")
    if address not in addresses:
        return HttpResponse("not an address of this account\n", status=404, content_type="text/plain; charset=utf-8")
    body = profile(address, account.full_name or account.name, domain_forms_safe(settings.MOX_HOSTNAME))
    resp = HttpResponse(body, content_type="application/x-apple-aspen-config")
    resp["Content-Disposition"] = f'attachment; filename="{address}.mobileconfig"'
    return resp
