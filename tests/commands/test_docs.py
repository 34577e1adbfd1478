from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import load_command_class

DOCS = (Path(__file__).resolve().parents[2] / "docs" / "commands.md").read_text()
COMMANDS = [
    ("moxweb", "quickstart"), ("moxweb", "configtest"), ("moxweb", "version"), ("moxweb", "backup"),
    ("moxweb", "verifydata"), ("accounts", "adddomain"), ("accounts", "addaccount"), ("accounts", "addaddress"),
    ("accounts", "setaccountpassword"), ("accounts", "dkim"), ("mailstore", "deliver"), ("mailstore", "import"), ("mailstore", "export"),
]


@pytest.mark.parametrize(("app", "name"), COMMANDS)
def test_it_documents_every_command_with_its_help_text(app, name):
    command = load_command_class(app, name)
    assert f"### {name}\n" in DOCS
    assert command.help in DOCS
