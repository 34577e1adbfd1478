"""The site root as the web engineer wires it: autotls's HTTP-01 answers included."""
from __future__ import annotations

from django.urls import include, path

urlpatterns = [path("", include("autotls.urls"))]
