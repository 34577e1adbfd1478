"""URLs: the admin console under /admin/ (Django's own admin under /admin/django/ for
plain editing of routes and transports), account pages under /account/, and the
well-known client-configuration and MTA-STS endpoints."""
from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from wellknown.views import apple_profile

urlpatterns = [
    path("admin/django/", admin.site.urls),
    path("admin/reports/", include("reports.urls")),
    path("admin/", include("webadmin.urls")),
    path("account/apple.mobileconfig", apple_profile, name="apple_profile"),
    path("account/", include("accounts.urls")),
    path("", include("wellknown.urls")),
    path("", include("autotls.urls")),  # ACME HTTP-01 answers
]
