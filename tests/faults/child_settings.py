"""Settings of runmail/worker processes started by fault tests: production settings (a
real django-q2 broker) with the test suite's fast password hasher, so accounts created
by the test process can log in."""
from __future__ import annotations

import os as _os

from moxweb.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# A short SQLite busy timeout for tests that lock the database (default 20 s).
if _os.environ.get("MOX_TEST_SQLITE_TIMEOUT") and DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    DATABASES["default"]["OPTIONS"]["timeout"] = float(_os.environ["MOX_TEST_SQLITE_TIMEOUT"])  # type: ignore[index]  # noqa: F405
