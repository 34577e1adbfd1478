from __future__ import annotations

from django.urls import path

from webadmin import views

app_name = "webadmin"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("domains/", views.domains, name="domains"),
    path("domains/<str:name>/", views.domain, name="domain"),
    path("domains/<str:name>/dnscheck/", views.domain_dnscheck, name="domain_dnscheck"),
    path("domains/<str:name>/records.txt", views.domain_records_txt, name="domain_records_txt"),
    path("accounts/", views.accounts, name="accounts"),
    path("accounts/<int:pk>/", views.account, name="account"),
    path("accounts/<int:pk>/password/", views.account_password, name="account_password"),
    path("accounts/<int:pk>/addresses/", views.address_add, name="address_add"),
    path("accounts/<int:pk>/addresses/<int:address_pk>/remove/", views.address_remove, name="address_remove"),
    path("accounts/<int:pk>/delete/", views.account_delete, name="account_delete"),
    path("queue/", views.queue, name="queue"),
    path("queue/<int:pk>/", views.queue_message, name="queue_message"),
    path("queue/<int:pk>/<str:op>/", views.queue_op, name="queue_op"),
]
