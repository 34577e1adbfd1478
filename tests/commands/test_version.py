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
