"""Running manage.py and small scripts as real processes against the test database."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def database_url(name: str | None = None) -> str:
    sd = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite://{name or sd['NAME']}"
    auth = sd["USER"] + (f":{sd['PASSWORD']}" if sd["PASSWORD"] else "")
    return f"postgresql://{auth}@{sd['HOST']}:{sd['PORT'] or 5432}/{name or sd['NAME']}"


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a process sharing this test's database and data directory."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOX_") and k != "DATABASE_URL"}
    # The test settings: the same database and data directory (from the environment) and
    # the test suite's fast password hasher, so this process can check what the child set.
    env.update(
        DJANGO_SETTINGS_MODULE="moxweb.test_settings",
        MOX_DATA_DIR=str(settings.DATA_DIR),
        DATABASE_URL=database_url(),
        MOX_LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def manage(*args: str, input: bytes | None = None, env: dict[str, str] | None = None, **kw: Any) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env or child_env(),
        input=input,
        capture_output=True,
        timeout=120,
        **kw,
    )
