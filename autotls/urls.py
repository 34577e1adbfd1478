"""Included at the site root: path("", include("autotls.urls"))."""
from __future__ import annotations

from django.urls import path

from autotls import views

app_name = "autotls"

urlpatterns = [
    path(".well-known/acme-challenge/<str:token>", views.acme_challenge, name="acme_challenge"),
]
