from __future__ import annotations

from django.apps import AppConfig


class MoxwebConfig(AppConfig):
    name = "moxweb"
    verbose_name = "moxweb"

    def ready(self) -> None:
        from moxweb import checks  # noqa: F401  (registers the system checks)

        # The delivery worker's processes pick up log level changes before each task.
        from django_q.signals import pre_execute

        pre_execute.connect(_apply_log_levels, dispatch_uid="moxweb-loglevels")


def _apply_log_levels(**kwargs: object) -> None:
    from moxweb import loglevels

    loglevels.apply_if_changed()
