"""System checks for the ACME settings (manage.py check, and at start)."""
from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register

from autotls.acmeclient import DIRECTORY_ALIASES, SUPPORTED_CHALLENGES


@register()
def acme_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    out: list[CheckMessage] = []
    directory = settings.MOX_ACME_DIRECTORY.strip()
    unknown = [c for c in settings.MOX_ACME_CHALLENGES if c not in SUPPORTED_CHALLENGES]
    if unknown:
        out.append(
            Error(
                f"MOX_ACME_CHALLENGES has unsupported types {unknown}",
                hint=f"use {', '.join(SUPPORTED_CHALLENGES)}",
                id="autotls.E001",
            )
        )
    if directory and directory not in DIRECTORY_ALIASES and not directory.startswith("https://"):
        out.append(
            Error(
                f"MOX_ACME_DIRECTORY={directory!r} is neither an https URL nor one of {sorted(DIRECTORY_ALIASES)}",
                id="autotls.E002",
            )
        )
    if directory and "." not in settings.MOX_HOSTNAME:
        out.append(
            Warning(
                f"MOX_HOSTNAME={settings.MOX_HOSTNAME!r} is not a fully qualified name; no CA will issue for it",
                id="autotls.W001",
            )
        )
    return out
