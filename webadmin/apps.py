from __future__ import annotations

from django.apps import AppConfig


class WebadminConfig(AppConfig):
    name = "webadmin"
    verbose_name = "Admin console"
