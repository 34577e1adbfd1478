"""Account pages to import mail (uploaded, run in the background, progress polled as
JSON by webadmin/static/webadmin/import-progress.js) and to export it (streamed)."""
from __future__ import annotations

from django.contrib import messages
from django.core.handlers.asgi import ASGIRequest
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.http import content_disposition_header
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from accounts import mailexport, mailimport
from accounts.forms import ExportForm, ImportForm
from accounts.models import Account
from accounts.views import account_required
from mailstore.importexport import ImportExportError
from mailstore.models import Mailbox


def _account(request: HttpRequest) -> Account:
    return request.account  # type: ignore[attr-defined, no-any-return]


@account_required
def import_page(request: HttpRequest) -> HttpResponse:
    account = _account(request)
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            job = mailimport.start_import(account, upload, upload.name, form.cleaned_data["format"], form.cleaned_data["mailbox"])
        except mailimport.ImportRefused as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Importing {job.filename}.")
            return redirect(f"{request.path}?job={job.id}")
    job = mailimport.load_job(request.GET.get("job", ""), account)
    ctx = {"account": account, "form": form, "job": job, "jobs": mailimport.account_jobs(account)}
    return render(request, "accounts/import.html", ctx, status=400 if request.method == "POST" else 200)


@require_POST
@account_required
def import_abort(request: HttpRequest, job: str) -> HttpResponse:
    """Stop a running import before its next message; the page then shows how many
    messages came in."""
    found = mailimport.load_job(job, _account(request))
    if found is None:
        raise Http404("no such import")
    if mailimport.request_abort(found):
        messages.info(request, f"Stopping the import of {found.filename}.")
    else:
        messages.error(request, f"The import of {found.filename} already ended.")
    return redirect(f"{reverse('accounts:import')}?job={found.id}")


@require_GET
@account_required
def import_progress(request: HttpRequest, job: str) -> JsonResponse:
    found = mailimport.load_job(job, _account(request))
    if found is None:
        raise Http404("no such import")
    return JsonResponse(found.public(), headers={"Cache-Control": "no-store"})


def _mailbox_names(account: Account) -> list[str]:
    return list(Mailbox.objects.filter(account=account).order_by("name").values_list("name", flat=True))


@require_GET
@account_required
def export_page(request: HttpRequest) -> HttpResponse:
    account = _account(request)
    form = ExportForm(initial={"format": "mbox", "archive": "zip"}, mailboxes=_mailbox_names(account))
    return render(request, "accounts/export.html", {"account": account, "form": form})


@require_GET
@account_required
def export_download(request: HttpRequest) -> HttpResponse:
    account = _account(request)
    form = ExportForm(request.GET, mailboxes=_mailbox_names(account))
    if not form.is_valid():
        messages.error(request, "Choose a format, an archive and a mailbox.")
        return redirect("accounts:export")
    data = form.cleaned_data
    try:
        stream = mailexport.ExportStream(account, data["format"], data["archive"], data["mailbox"] or None)
    except ImportExportError as exc:
        messages.error(request, str(exc))
        return redirect("accounts:export")
    # Under ASGI (runmail) an async iterator; Django would otherwise read a sync one whole.
    content = stream.__aiter__() if isinstance(request, ASGIRequest) else iter(stream)
    content_type = "application/zip" if data["archive"] == "zip" else "application/gzip"
    response = StreamingHttpResponse(content, content_type=content_type)
    filename = mailexport.export_filename(account, data["format"], data["archive"], data["mailbox"] or None)
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename)
    response["Cache-Control"] = "no-store"
    return response
