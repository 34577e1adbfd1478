"""Console pages for transports (how to deliver) and routes (which transport, for which
messages): list, add, edit, delete (mox v0.0.5 routes and transports, reference 2.6)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from mailqueue.models import Route, Transport
from webadmin import actions as console
from webadmin.forms import RouteForm, TransportForm
from webadmin.views import audit, staff_required


@require_GET
@staff_required
def transports(request: HttpRequest) -> HttpResponse:
    rows = Transport.objects.annotate(n_routes=Count("routes")).order_by("name")
    return render(request, "webadmin/transports.html", {"transports": rows})


def _edit(
    request: HttpRequest, form: TransportForm | RouteForm, template: str, ctx: dict[str, object],
    save: Callable[[Any], Any], describe: Callable[[Any], str], back: str,
) -> HttpResponse:
    """The add/edit page of a transport or route: show the form, or save it through the
    console verb and go back to the list."""
    if request.method == "POST" and form.is_valid():
        saved = save(form.save(commit=False))
        audit(request, f"{describe(saved)} saved")
        messages.success(request, f"{describe(saved).capitalize()} saved.")
        return redirect(back)
    status = 400 if request.method == "POST" else 200
    return render(request, template, {"form": form, **ctx}, status=status)


@staff_required
def transport_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    instance = get_object_or_404(Transport, pk=pk) if pk is not None else Transport()
    form = TransportForm(request.POST or None, instance=instance)
    return _edit(
        request, form, "webadmin/transport_edit.html", {"transport": instance}, console.save_transport,
        lambda t: f"transport {t.name}", "webadmin:transports",
    )


def _delete(request: HttpRequest, obj: Any, delete: Callable[[Any], None], what: str, back: str) -> HttpResponse:
    try:
        delete(obj)
    except console.ConsoleError as exc:
        messages.error(request, f"Cannot delete: {exc}.")
    else:
        audit(request, f"{what} deleted")
        messages.success(request, f"{what.capitalize()} deleted.")
    return redirect(back)


@require_POST
@staff_required
def transport_delete(request: HttpRequest, pk: int) -> HttpResponse:
    t = get_object_or_404(Transport, pk=pk)
    return _delete(request, t, console.delete_transport, f"transport {t.name}", "webadmin:transports")


@require_GET
@staff_required
def routes(request: HttpRequest) -> HttpResponse:
    rows = Route.objects.select_related("account", "domain", "transport")
    # Shown in the order they are evaluated: account routes, domain routes, global ones.
    ordered = sorted(rows, key=lambda r: (0 if r.account_id else 1 if r.domain_id else 2, r.order, r.pk))
    return render(request, "webadmin/routes.html", {"routes": ordered, "has_transports": Transport.objects.exists()})


@staff_required
def route_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    instance = get_object_or_404(Route, pk=pk) if pk is not None else Route()
    form = RouteForm(request.POST or None, instance=instance)
    return _edit(
        request, form, "webadmin/route_edit.html", {"route": instance}, console.save_route,
        lambda r: f"route {r.pk}", "webadmin:routes",
    )


@require_POST
@staff_required
def route_delete(request: HttpRequest, pk: int) -> HttpResponse:
    return _delete(request, get_object_or_404(Route, pk=pk), console.delete_route, f"route {pk}", "webadmin:routes")
