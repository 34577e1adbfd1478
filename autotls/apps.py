from __future__ import annotations

from django.apps import AppConfig


class AutotlsConfig(AppConfig):
    name = "autotls"
    verbose_name = "Automatic TLS"
