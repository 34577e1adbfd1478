from __future__ import annotations

from django.apps import AppConfig


class AutotlsConfig(AppConfig):
    name = "autotls"
    verbose_name = "Automatic TLS"

    def ready(self) -> None:
        from autotls import checks  # noqa: F401  (registers the system checks)
