"""Account self-service pages. An account logs in with one of its email addresses and
its password; the session holds the account id (not a Django user) and a digest of the
password hash, so changing the password ends every other session of the account."""
from __future__ import annotations

import functools
import logging
from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.hashers import check_password
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.crypto import constant_time_compare, salted_hmac
from django.views.decorators.http import require_GET, require_POST

from accounts import actions
from accounts.forms import AccountLoginForm, PasswordChangeForm
from accounts.models import Account, Credential
from accounts.weblogin import login_blocked, login_failed, login_succeeded
from mailstore.models import JunkWord, Mailbox

log = logging.getLogger(__name__)

SESSION_ACCOUNT = "moxweb_account_id"
SESSION_HASH = "moxweb_account_hash"


def _session_hash(account: Account) -> str:
    cred = Credential.objects.filter(account=account).only("password_hash").first()
    return salted_hmac("moxweb.accounts.session", cred.password_hash if cred else "").hexdigest()


def _login(request: HttpRequest, account: Account) -> None:
    # A fresh session key on login prevents session fixation.
    request.session.cycle_key()
    request.session[SESSION_ACCOUNT] = account.pk
    request.session[SESSION_HASH] = _session_hash(account)


def session_account(request: HttpRequest) -> Account | None:
    pk = request.session.get(SESSION_ACCOUNT)
    if pk is None:
        return None
    account = Account.objects.filter(pk=pk).first()
    if account is None or not constant_time_compare(request.session.get(SESSION_HASH, ""), _session_hash(account)):
        request.session.pop(SESSION_ACCOUNT, None)
        request.session.pop(SESSION_HASH, None)
        return None
    return account


def account_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        account = session_account(request)
        if account is None:
            return redirect("accounts:login")
        request.account = account  # type: ignore[attr-defined]
        return view(request, *args, **kwargs)

    return wrapper


def login(request: HttpRequest) -> HttpResponse:
    form = AccountLoginForm(request.POST or None)
    if request.method == "POST" and (blocked := login_blocked(request, request.POST.get("email", ""))):
        return blocked
    if request.method == "POST" and form.is_valid():
        account = actions.authenticate(form.cleaned_data["email"], form.cleaned_data["password"])
        if account is None:
            login_failed(request, form.cleaned_data["email"])
            log.info("account web login failed", extra={"username": form.cleaned_data["email"]})
            form.add_error(None, "Invalid email address or password.")
            return render(request, "accounts/login.html", {"form": form}, status=403)
        login_succeeded(request, form.cleaned_data["email"])
        _login(request, account)
        return redirect("accounts:overview")
    return render(request, "accounts/login.html", {"form": form})


@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    request.session.pop(SESSION_ACCOUNT, None)
    request.session.pop(SESSION_HASH, None)
    request.session.cycle_key()
    return redirect("accounts:login")


@require_GET
@account_required
def overview(request: HttpRequest) -> HttpResponse:
    account: Account = request.account  # type: ignore[attr-defined]
    totals = JunkWord.objects.filter(account=account, word="-").first()
    ctx = {
        "account": account,
        "addresses": account.addresses.select_related("domain").order_by("domain__name", "localpart"),
        "mailboxes": Mailbox.objects.filter(account=account).order_by("name"),
        "junk_enabled": bool(account.junk_filter),
        "junk_threshold": account.junk_filter.get("threshold"),
        "junk_ham": totals.ham if totals else 0,
        "junk_spam": totals.spam if totals else 0,
        "junk_words": JunkWord.objects.filter(account=account).exclude(word="-").count(),
    }
    return render(request, "accounts/overview.html", ctx)


@account_required
def password(request: HttpRequest) -> HttpResponse:
    account: Account = request.account  # type: ignore[attr-defined]
    form = PasswordChangeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        cred = Credential.objects.filter(account=account).first()
        if cred is None or not check_password(form.cleaned_data["current"], cred.password_hash):
            form.add_error("current", "The current password is not correct.")
        else:
            try:
                actions.set_password(account, form.cleaned_data["new"])
            except actions.AccountError as exc:
                form.add_error("new", str(exc))
            else:
                # Keep this session; every other session of the account now fails its hash check.
                request.session[SESSION_HASH] = _session_hash(account)
                request.session.cycle_key()
                messages.success(request, "Password changed, for the web, IMAP and SMTP alike.")
                return redirect("accounts:overview")
    status = 400 if request.method == "POST" else 200
    return render(request, "accounts/password.html", {"account": account, "form": form}, status=status)
