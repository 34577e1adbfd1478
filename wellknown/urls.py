from __future__ import annotations

from django.urls import path

from wellknown import views

app_name = "wellknown"

urlpatterns = [
    path("mail/config-v1.1.xml", views.autoconfig, name="autoconfig"),
    path(".well-known/autoconfig/mail/config-v1.1.xml", views.autoconfig),
    path("autodiscover/autodiscover.xml", views.autodiscover, name="autodiscover"),
    # Outlook asks with this spelling.
    path("Autodiscover/Autodiscover.xml", views.autodiscover),
    path(".well-known/mta-sts.txt", views.mta_sts_policy, name="mta_sts"),
]
