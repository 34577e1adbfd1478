from __future__ import annotations

from django.apps import AppConfig


class WellknownConfig(AppConfig):
    name = "wellknown"
    verbose_name = "Well-known endpoints"
