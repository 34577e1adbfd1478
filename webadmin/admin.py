"""Django's admin (at /admin/django/) for plain editing of routes and transports."""
from __future__ import annotations

from django.contrib import admin

from mailqueue.models import Route, Transport


@admin.register(Transport)
class TransportAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "host", "port"]


@admin.register(Route)
class RouteAdmin(admin.ModelAdmin):
    list_display = ["id", "order", "account", "domain", "transport", "minimum_attempts"]
