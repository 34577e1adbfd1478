"""System checks: configuration problems are reported with an id, never a traceback.

Run by every management command (and `manage.py check`): runmail and localserve refuse
to start on an error.
"""
from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.core.checks import Error, Warning, register


@register()
def check_data_dir(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    data_dir = settings.DATA_DIR
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return [
            Error(
                f"data directory {data_dir} cannot be created: {exc.strerror}",
                hint="Set MOX_DATA_DIR to a writable directory.",
                id="moxweb.E001",
            )
        ]
    if not os.access(data_dir, os.W_OK | os.X_OK):
        return [
            Error(
                f"data directory {data_dir} is not writable",
                hint="Set MOX_DATA_DIR to a writable directory, or fix its owner and mode.",
                id="moxweb.E001",
            )
        ]
    return []


@register()
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[Error | Warning]:
    errors: list[Error | Warning] = []
    for problem in settings.INVALID_SETTINGS:
        errors.append(Error(f"invalid setting: {problem}", hint="See docs/configuration.md.", id="moxweb.E002"))
    for name in (
        "MOX_SMTP_PORT",
        "MOX_SUBMISSION_PORT",
        "MOX_SUBMISSIONS_PORT",
        "MOX_IMAP_PORT",
        "MOX_IMAPS_PORT",
        "MOX_HTTP_PORT",
        "MOX_HTTPS_PORT",
        "MOX_METRICS_PORT",
    ):
        port = getattr(settings, name)
        if not 0 <= port <= 65535:
            errors.append(Error(f"{name}={port} is not a port number (0-65535, 0 disables)", id="moxweb.E003"))
    if settings.MOX_DNS_RESOLVER:
        host, sep, port = settings.MOX_DNS_RESOLVER.rpartition(":")
        if not sep or not host or not port.isdigit():
            errors.append(
                Error(
                    f"MOX_DNS_RESOLVER={settings.MOX_DNS_RESOLVER!r} is not host:port",
                    hint="For example 127.0.0.1:53.",
                    id="moxweb.E004",
                )
            )
    if bool(settings.MOX_TLS_CERT) != bool(settings.MOX_TLS_KEY):
        errors.append(Error("MOX_TLS_CERT and MOX_TLS_KEY must be set together", id="moxweb.E005"))
    for name in ("MOX_TLS_CERT", "MOX_TLS_KEY"):
        path = getattr(settings, name)
        if path and not os.access(path, os.R_OK):
            errors.append(Error(f"{name}={path} cannot be read", id="moxweb.E006"))
    if settings.MOX_LOG_FORMAT not in ("text", "json"):
        errors.append(Error(f"MOX_LOG_FORMAT={settings.MOX_LOG_FORMAT!r} must be text or json", id="moxweb.E007"))
    if settings.MOX_MAX_MESSAGE_SIZE <= 0:
        errors.append(Error("MOX_MAX_MESSAGE_SIZE must be positive", id="moxweb.E008"))
    return errors
