"""Account pages for delivery rulesets and the junk filter."""
from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts import selfservice
from accounts.forms import JunkFilterForm, RulesetForm
from accounts.models import Account, Address
from accounts.views import account_required
from mailcore.junk import TOTALS_WORD
from mailstore.models import JunkWord, Mailbox, Message
from mailstore.rulesets import address_key


def _account(request: HttpRequest) -> Account:
    return request.account  # type: ignore[attr-defined, no-any-return]


def _address_choices(account: Account) -> list[tuple[str, str]]:
    """The account's addresses as a ruleset names them (value) and as people read them."""
    return [
        (address_key(a.localpart, a.domain.ascii), str(a))
        for a in Address.objects.filter(account=account).select_related("domain")
    ]


def _rulesets_page(request: HttpRequest, form: RulesetForm | None = None, status: int = 200) -> HttpResponse:
    account = _account(request)
    version = selfservice.rulesets_version(account.rulesets)
    addresses = _address_choices(account)
    labels = dict(addresses)
    ctx = {
        "account": account,
        "rulesets": [
            {
                **rs,
                "headers_text": RulesetForm.headers_text(rs.get("headers_regexp") or {}),
                "address_label": labels.get(rs.get("address") or "", rs.get("address") or ""),
            }
            for rs in account.rulesets or []
        ],
        "version": version,
        "form": form or RulesetForm(initial={"version": version, "mailbox": "Inbox"}, addresses=addresses),
        "mailboxes": Mailbox.objects.filter(account=account).order_by("name").values_list("name", flat=True),
    }
    return render(request, "accounts/rulesets.html", ctx, status=status)


def _save(request: HttpRequest, new: list[dict[str, Any]], version: str, done: str) -> str | None:
    """Save through the verb; the error text, or None after adding a success message."""
    try:
        selfservice.save_rulesets(_account(request), new, version)
    except selfservice.SelfServiceError as exc:
        return str(exc)
    messages.success(request, done)
    return None


@account_required
def rulesets(request: HttpRequest) -> HttpResponse:
    """The list, and a form that adds a ruleset at the end."""
    if request.method != "POST":
        return _rulesets_page(request)
    form = RulesetForm(request.POST, addresses=_address_choices(_account(request)))
    if form.is_valid():
        new = [*(_account(request).rulesets or []), form.ruleset()]
        error = _save(request, new, form.cleaned_data["version"], "Ruleset added.")
        if error is None:
            return redirect("accounts:rulesets")
        form.add_error(None, error)
    return _rulesets_page(request, form, status=400)


def _index(account: Account, n: int) -> int:
    if not 1 <= n <= len(account.rulesets or []):
        raise Http404("no such ruleset")
    return n - 1


@account_required
def ruleset_edit(request: HttpRequest, n: int) -> HttpResponse:
    account = _account(request)
    i = _index(account, n)
    version = selfservice.rulesets_version(account.rulesets)
    form = RulesetForm(
        request.POST or None,
        initial=RulesetForm.initial_for(account.rulesets[i], version),
        addresses=_address_choices(account),
    )
    if request.method == "POST" and form.is_valid():
        new = list(account.rulesets)
        new[i] = form.ruleset()
        error = _save(request, new, form.cleaned_data["version"], f"Ruleset {n} saved.")
        if error is None:
            return redirect("accounts:rulesets")
        form.add_error(None, error)
    ctx = {
        "account": account, "form": form, "n": n,
        "mailboxes": Mailbox.objects.filter(account=account).order_by("name").values_list("name", flat=True),
    }
    return render(request, "accounts/ruleset_edit.html", ctx, status=400 if request.method == "POST" else 200)


@require_POST
@account_required
def ruleset_op(request: HttpRequest, n: int, op: str) -> HttpResponse:
    """Delete a ruleset or move it up or down (the first match wins, so order matters)."""
    account = _account(request)
    i = _index(account, n)
    new = list(account.rulesets)
    if op == "delete":
        del new[i]
        done = f"Ruleset {n} deleted."
    elif op in ("up", "down"):
        j = i - 1 if op == "up" else i + 1
        if not 0 <= j < len(new):
            return redirect("accounts:rulesets")
        new[i], new[j] = new[j], new[i]
        done = f"Ruleset {n} moved {op}."
    else:
        raise Http404("unknown operation")
    error = _save(request, new, request.POST.get("version", ""), done)
    if error is not None:
        messages.error(request, f"Not changed: {error}.")
    return redirect("accounts:rulesets")


def junk_statistics(account: Account) -> dict[str, int]:
    """Trained messages (from the totals row and the messages' training state), the
    words counted, and the messages flagged now."""
    totals = JunkWord.objects.filter(account=account, word=TOTALS_WORD).first()
    words = JunkWord.objects.filter(account=account).exclude(word=TOTALS_WORD).aggregate(
        words=Count("id"), ham_words=Count("id", filter=Q(ham__gt=0)), spam_words=Count("id", filter=Q(spam__gt=0))
    )
    msgs = Message.objects.filter(account=account).aggregate(
        trained_ham=Count("id", filter=Q(trained_junk=False)),
        trained_spam=Count("id", filter=Q(trained_junk=True)),
        flagged_junk=Count("id", filter=Q(junk=True)),
        flagged_notjunk=Count("id", filter=Q(notjunk=True)),
    )
    return {"ham": totals.ham if totals else 0, "spam": totals.spam if totals else 0, **words, **msgs}


@account_required
def junk(request: HttpRequest) -> HttpResponse:
    account = _account(request)
    initial = JunkFilterForm.initial_for(account.junk_filter, account.automatic_junk_flags or {}, account.keep_rejects)
    form = JunkFilterForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        selfservice.set_junk_settings(account, form.params(), form.automatic_flags(),
                                      keep_rejects=form.cleaned_data["keep_rejects"])
        messages.success(request, "Junk filter settings saved.")
        return redirect("accounts:junk")
    ctx = {"account": account, "form": form, "stats": junk_statistics(account), "enabled": bool(account.junk_filter)}
    return render(request, "accounts/junk.html", ctx, status=400 if request.method == "POST" else 200)
