from __future__ import annotations

from django.urls import path

from reports import views

app_name = "reports"

urlpatterns = [
    path("", views.index, name="index"),
    path("domains/<str:name>/", views.domain, name="domain"),
    path("domains/<str:name>/addresses/<str:kind>/", views.set_address, name="set_address"),
    path("domains/<str:name>/addresses/<str:kind>/remove/", views.remove_address, name="remove_address"),
    path("dmarc/", views.dmarc_list, name="dmarc_list"),
    path("dmarc/<int:pk>/", views.dmarc_report, name="dmarc_report"),
    path("tls/", views.tls_list, name="tls_list"),
    path("tls/<int:pk>/", views.tls_report, name="tls_report"),
    path("sent/", views.sent, name="sent"),
]
