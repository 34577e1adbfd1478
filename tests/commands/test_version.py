from __future__ import annotations

import platform

import django

from moxweb.version import VERSION, git_commit
from tests.commands.helpers import run


def test_it_prints_the_versions():
    commit = git_commit()
    assert run("version") == [
        f"moxweb {VERSION}" + (f" ({commit})" if commit else ""),
        "functional model: mox v0.0.5",
        f"Django {django.get_version()}",
        f"Python {platform.python_version()}",
    ]


def test_manage_py_version_names_moxweb_not_django() -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "moxweb.settings"}
    out = subprocess.run(
        [sys.executable, "manage.py", "version"], cwd=root, env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0
    assert out.stdout.splitlines()[0].startswith(f"moxweb {VERSION}")
