from __future__ import annotations

from django.apps import AppConfig


class MoxwebConfig(AppConfig):
    name = "moxweb"
    verbose_name = "moxweb"

    def ready(self) -> None:
        from moxweb import checks  # noqa: F401  (registers the system checks)
