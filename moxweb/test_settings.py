"""Settings for the test suite: a fresh temporary data directory per run."""
from __future__ import annotations

import os
import tempfile

os.environ.setdefault("MOX_DATA_DIR", tempfile.mkdtemp(prefix="moxweb-test-"))

from moxweb.settings import *  # noqa: E402,F403

# Tests hash many passwords; argon2's production cost (~110 ms each) only slows them.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
Q_CLUSTER = {**Q_CLUSTER, "sync": True}  # noqa: F405
