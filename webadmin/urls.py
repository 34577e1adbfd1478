from __future__ import annotations

from django.urls import path

from webadmin import routing, status, views

app_name = "webadmin"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("domains/", views.domains, name="domains"),
    path("domains/<str:name>/", views.domain, name="domain"),
    path("domains/<str:name>/remove/", views.domain_remove, name="domain_remove"),
    path("domains/<str:name>/dnscheck/", views.domain_dnscheck, name="domain_dnscheck"),
    path("domains/<str:name>/records.txt", views.domain_records_txt, name="domain_records_txt"),
    path("accounts/", views.accounts, name="accounts"),
    path("accounts/<int:pk>/", views.account, name="account"),
    path("accounts/<int:pk>/password/", views.account_password, name="account_password"),
    path("accounts/<int:pk>/limits/", views.account_limits, name="account_limits"),
    path("accounts/<int:pk>/addresses/", views.address_add, name="address_add"),
    path("accounts/<int:pk>/addresses/<int:address_pk>/remove/", views.address_remove, name="address_remove"),
    path("accounts/<int:pk>/delete/", views.account_delete, name="account_delete"),
    path("queue/", views.queue, name="queue"),
    path("queue/<int:pk>/", views.queue_message, name="queue_message"),
    path("queue/<int:pk>/<str:op>/", views.queue_op, name="queue_op"),
    path("deliveries/", views.deliveries, name="deliveries"),
    path("transports/", routing.transports, name="transports"),
    path("transports/add/", routing.transport_edit, name="transport_add"),
    path("transports/<int:pk>/", routing.transport_edit, name="transport_edit"),
    path("transports/<int:pk>/delete/", routing.transport_delete, name="transport_delete"),
    path("routes/", routing.routes, name="routes"),
    path("routes/add/", routing.route_edit, name="route_add"),
    path("routes/<int:pk>/", routing.route_edit, name="route_edit"),
    path("routes/<int:pk>/delete/", routing.route_delete, name="route_delete"),
    path("mtasts/", status.mtasts_policies, name="mtasts_policies"),
    path("dnsbl/", status.dnsbl_status, name="dnsbl_status"),
    path("loglevels/", status.log_levels, name="log_levels"),
]
