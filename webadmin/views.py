"""Admin console pages: plain views, every change through an app's actions verb."""
from __future__ import annotations

import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth import views as auth_views
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from accounts import actions
from deliverylog.models import DeliveryAttempt
from webadmin import actions as console
from accounts.models import Account, Address, DKIMKey, Domain
from accounts.weblogin import login_blocked, login_failed, login_succeeded
from mailqueue import queueops
from mailqueue.models import QueuedMessage
from mailstore.models import Message
from webadmin.domaincheck import run_check
from webadmin.dnsrecords import domain_records, zone_text
from webadmin.forms import AccountCreateForm, AccountLimitsForm, AddressAddForm, DomainAddForm, SetPasswordForm
from webadmin.queuechart import queue_chart
from webadmin.queuelist import queue_rows
from webadmin.refusals import REFUSED, recent_refusals
from webadmin.today import today

log = logging.getLogger(__name__)

QUEUE_PAGE_SIZE = 100
RECENT_DELIVERIES = 100
ACCOUNTS_PAGE_SIZE = 100


def staff_required(view):  # type: ignore[no-untyped-def]
    return staff_member_required(view, login_url="webadmin:login")


def audit(request: HttpRequest, action: str, **details: object) -> None:
    """Admin actions are recorded in the log, with who did them."""
    log.info("admin action", extra={"admin": request.user.get_username(), "action": action, **details})


class LoginView(auth_views.LoginView):
    template_name = "webadmin/login.html"
    authentication_form = AdminAuthenticationForm
    next_page = "webadmin:dashboard"

    def dispatch(self, request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        # Only staff skip the form: sending a logged-in non-staff user on would loop
        # between the login page and the page that refused them.
        if request.user.is_active and request.user.is_staff:
            return redirect(self.get_success_url())
        return super().dispatch(request, *args, **kwargs)

    def post(self, request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        return login_blocked(request, request.POST.get("username", "")) or super().post(request, *args, **kwargs)

    def form_invalid(self, form: AdminAuthenticationForm) -> HttpResponse:
        login_failed(self.request, form.data.get("username", ""))
        log.info("admin login failed", extra={"username": form.data.get("username", "")})
        return super().form_invalid(form)

    def form_valid(self, form: AdminAuthenticationForm) -> HttpResponse:
        login_succeeded(self.request, form.get_user().get_username())
        return super().form_valid(form)


class LogoutView(auth_views.LogoutView):
    next_page = "webadmin:login"


@require_GET
@staff_required
def dashboard(request: HttpRequest) -> HttpResponse:
    # One pass over the queue for its three figures.
    queue = QueuedMessage.objects.aggregate(
        total=Count("id"), held=Count("id", filter=Q(hold=True)), failing=Count("id", filter=~Q(last_error=""))
    )
    ctx = {
        "domain_count": Domain.objects.count(),
        "account_count": Account.objects.count(),
        "message_count": Message.objects.count(),
        "queue_count": queue["total"],
        "queue_held": queue["held"],
        "queue_failing": queue["failing"],
        "certificates": _certificates(),
        "chart": queue_chart(timezone.now()),
        "today": today(timezone.now()),
    }
    return render(request, "webadmin/dashboard.html", ctx)


def _certificates() -> list[object]:
    """ACME certificates per managed name (state, expiry, last error); empty without ACME."""
    if not settings.MOX_ACME_DIRECTORY:
        return []
    from autotls import manager

    return list(manager.status())


@staff_required
def domains(request: HttpRequest) -> HttpResponse:
    form = DomainAddForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            domain = console.add_domain(form.cleaned_data["name"], form.cleaned_data["catchall_separator"])
        except console.ConsoleError as exc:
            form.add_error("name", str(exc))
        else:
            audit(request, "domain added", domain=domain.ascii)
            messages.success(request, f"Domain {domain.name} added with DKIM keys. Create the DNS records below.")
            return redirect("webadmin:domain", name=domain.ascii)
    # Two grouped counts rather than one query joining accounts and addresses (a product).
    n_accounts = dict(Account.objects.values_list("domain").annotate(n=Count("id")).order_by())
    n_addresses = dict(Address.objects.values_list("domain").annotate(n=Count("id")).order_by())
    rows = list(Domain.objects.order_by("name"))
    for d in rows:
        d.n_accounts = n_accounts.get(d.pk, 0)  # type: ignore[attr-defined]
        d.n_addresses = n_addresses.get(d.pk, 0)  # type: ignore[attr-defined]
    return render(request, "webadmin/domains.html", {"domains": rows, "form": form})


@require_GET
@staff_required
def domain(request: HttpRequest, name: str) -> HttpResponse:
    d = get_object_or_404(Domain, ascii=name)
    groups = domain_records(d)
    ctx = {
        "domain": d,
        "addresses": Address.objects.filter(domain=d).select_related("account").order_by("localpart"),
        "dkim_keys": DKIMKey.objects.filter(domain=d).order_by("selector"),
        "records": zone_text(groups),
    }
    return render(request, "webadmin/domain.html", ctx)


@staff_required
def domain_remove(request: HttpRequest, name: str) -> HttpResponse:
    d = get_object_or_404(Domain, ascii=name)
    if request.method == "POST":
        try:
            console.remove_domain(d)
        except console.ConsoleError as exc:
            messages.error(request, f"Cannot remove: {exc}.")
            return redirect("webadmin:domain", name=d.ascii)
        audit(request, "domain removed", domain=d.ascii)
        messages.success(request, f"Domain {d.name} removed, with its DKIM keys. Remove its DNS records too.")
        return redirect("webadmin:domains")
    users = Account.objects.filter(Q(domain=d) | Q(addresses__domain=d)).distinct().order_by("name")
    return render(request, "webadmin/domain_remove.html", {"domain": d, "users": users})


@require_GET
@staff_required
def domain_dnscheck(request: HttpRequest, name: str) -> HttpResponse:
    d = get_object_or_404(Domain, ascii=name)
    sections = run_check(d)
    ctx = {"domain": d, "sections": sections, "ok": not any(s.errors for s in sections)}
    return render(request, "webadmin/dnscheck.html", ctx)


@require_GET
@staff_required
def domain_records_txt(request: HttpRequest, name: str) -> HttpResponse:
    d = get_object_or_404(Domain, ascii=name)
    return HttpResponse(zone_text(domain_records(d)), content_type="text/plain; charset=utf-8")


@staff_required
def accounts(request: HttpRequest) -> HttpResponse:
    form = AccountCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            account = actions.create_account(data["name"], data["address"], data["password"] or None)
        except actions.AccountError as exc:
            form.add_error(None, str(exc))
        else:
            audit(request, "account created", account=account.name)
            messages.success(request, f"Account {account.name} created.")
            return redirect("webadmin:account", pk=account.pk)
    rows = Account.objects.select_related("domain").annotate(n_addresses=Count("addresses")).order_by("name")
    q = request.GET.get("q", "").strip()
    if q:
        rows = rows.filter(Q(name__icontains=q) | Q(addresses__localpart__icontains=q)).distinct()
    page = Paginator(rows, ACCOUNTS_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "webadmin/accounts.html", {"page": page, "q": q, "form": form})


def _account_page(request: HttpRequest, account: Account, status: int = 200, **forms: object) -> HttpResponse:
    ctx = {
        "account": account,
        "addresses": account.addresses.select_related("domain").order_by("domain__name", "localpart"),
        "password_form": forms.get("password_form") or SetPasswordForm(),
        "limits_form": forms.get("limits_form") or AccountLimitsForm(instance=account),
        "address_form": forms.get("address_form") or AddressAddForm(),
        "has_password": hasattr(account, "credential"),
        "message_count": Message.objects.filter(account=account).count(),
    }
    return render(request, "webadmin/account.html", ctx, status=status)


@require_GET
@staff_required
def account(request: HttpRequest, pk: int) -> HttpResponse:
    return _account_page(request, get_object_or_404(Account, pk=pk))


@require_POST
@staff_required
def account_password(request: HttpRequest, pk: int) -> HttpResponse:
    acc = get_object_or_404(Account, pk=pk)
    form = SetPasswordForm(request.POST)
    if form.is_valid():
        try:
            actions.set_password(acc, form.cleaned_data["password"])
        except actions.AccountError as exc:
            form.add_error("password", str(exc))
        else:
            audit(request, "password set", account=acc.name)
            messages.success(request, "Password set.")
            return redirect("webadmin:account", pk=acc.pk)
    return _account_page(request, acc, status=400, password_form=form)


@require_POST
@staff_required
def account_limits(request: HttpRequest, pk: int) -> HttpResponse:
    acc = get_object_or_404(Account, pk=pk)
    form = AccountLimitsForm(request.POST, instance=Account.objects.get(pk=pk))
    if form.is_valid():
        console.set_account_limits(acc, **form.cleaned_data)
        audit(request, "account limits set", account=acc.name, **form.cleaned_data)
        messages.success(request, "Limits saved.")
        return redirect("webadmin:account", pk=acc.pk)
    return _account_page(request, acc, status=400, limits_form=form)


@require_POST
@staff_required
def address_add(request: HttpRequest, pk: int) -> HttpResponse:
    acc = get_object_or_404(Account, pk=pk)
    form = AddressAddForm(request.POST)
    if form.is_valid():
        try:
            addr = actions.add_address(acc, form.cleaned_data["address"], mailbox=form.cleaned_data["mailbox"])
        except actions.AccountError as exc:
            form.add_error("address", str(exc))
        else:
            audit(request, "address added", account=acc.name, address=str(addr))
            messages.success(request, f"Address {addr} added.")
            return redirect("webadmin:account", pk=acc.pk)
    return _account_page(request, acc, status=400, address_form=form)


@require_POST
@staff_required
def address_remove(request: HttpRequest, pk: int, address_pk: int) -> HttpResponse:
    acc = get_object_or_404(Account, pk=pk)
    addr = get_object_or_404(Address, pk=address_pk, account=acc)
    try:
        actions.remove_address(addr)
    except actions.AccountError as exc:
        messages.error(request, str(exc))
    else:
        audit(request, "address removed", account=acc.name, address=str(addr))
        messages.success(request, f"Address {addr} removed.")
    return redirect("webadmin:account", pk=acc.pk)


@staff_required
def account_delete(request: HttpRequest, pk: int) -> HttpResponse:
    acc = get_object_or_404(Account, pk=pk)
    if request.method == "POST":
        name = acc.name
        actions.delete_account(acc)
        audit(request, "account deleted", account=name)
        messages.success(request, f"Account {name} deleted, with all its messages.")
        return redirect("webadmin:accounts")
    ctx = {"account": acc, "message_count": Message.objects.filter(account=acc).count()}
    return render(request, "webadmin/account_delete.html", ctx)


@require_GET
@staff_required
def queue(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()
    rows = queue_rows(q)
    page = Paginator(rows, QUEUE_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "webadmin/queue.html", {"page": page, "q": q, "now": timezone.now()})


QUEUE_OPS = {"hold": queueops.hold, "release": queueops.release, "drop": queueops.drop}


@require_POST
@staff_required
def queue_op(request: HttpRequest, pk: int, op: str) -> HttpResponse:
    qm = get_object_or_404(QueuedMessage, pk=pk)
    verb = QUEUE_OPS.get(op)
    if verb is None:
        return HttpResponse("unknown queue operation", status=400, content_type="text/plain")
    try:
        verb(qm)
    except queueops.QueueOpError as exc:
        messages.error(request, f"Message {pk} to {qm.recipient}: {exc}.")
    else:
        audit(request, f"queue {op}", queue_id=pk, recipient=qm.recipient)
        messages.success(request, f"Message {pk} to {qm.recipient}: {op} done.")
    return redirect("webadmin:queue")


@require_GET
@staff_required
def queue_message(request: HttpRequest, pk: int) -> HttpResponse:
    qm = get_object_or_404(QueuedMessage.objects.select_related("account"), pk=pk)
    try:
        data, truncated = queueops.read_message(qm)
        error = ""
    except queueops.QueueOpError as exc:
        data, truncated, error = b"", False, str(exc)
    ctx = {
        "m": qm,
        "text": data.decode("utf-8", errors="replace"),
        "truncated": truncated,
        "error": error,
        "delivering": qm.claimed_until is not None and qm.claimed_until > timezone.now(),
    }
    return render(request, "webadmin/queue_message.html", ctx)


@require_GET
@staff_required
def deliveries(request: HttpRequest) -> HttpResponse:
    """The latest incoming deliveries (messages that came in over SMTP), incoming mail
    refused after DATA (kept in Rejects), and outgoing delivery attempts, with their results."""
    incoming = (
        Message.objects.exclude(remote_ip="")
        .exclude(REFUSED)
        .select_related("account", "mailbox")
        .only(
            "received", "mail_from", "rcpt_to", "remote_ip", "ehlo_domain", "junk", "validations", "size",
            "account__name", "mailbox__name", "account", "mailbox",
        )
        .order_by("-received", "-id")[:RECENT_DELIVERIES]
    )
    outgoing = DeliveryAttempt.objects.all()[:RECENT_DELIVERIES]
    ctx = {"incoming": incoming, "refused": recent_refusals(RECENT_DELIVERIES), "outgoing": outgoing, "n": RECENT_DELIVERIES}
    return render(request, "webadmin/deliveries.html", ctx)
