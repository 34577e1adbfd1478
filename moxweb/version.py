"""moxweb's version, and the versions it runs on."""
from __future__ import annotations

import platform
import subprocess
from pathlib import Path

import django

VERSION = "0.1.0.dev0"
# mox release whose behaviour moxweb reproduces.
MOX_MODEL = "v0.0.5"


def git_commit() -> str:
    """The source checkout's commit (with -dirty for local changes), or "" outside git."""
    root = Path(__file__).resolve().parent.parent
    try:
        proc = subprocess.run(
            ["git", "-C", str(root), "describe", "--always", "--dirty", "--abbrev=12"],
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return proc.stdout.strip() if proc.returncode == 0 else ""


def version_lines() -> list[str]:
    commit = git_commit()
    return [
        f"moxweb {VERSION}" + (f" ({commit})" if commit else ""),
        f"functional model: mox {MOX_MODEL}",
        f"Django {django.get_version()}",
        f"Python {platform.python_version()}",
    ]
