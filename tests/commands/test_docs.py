from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import load_command_class

DOCS = (Path(__file__).resolve().parents[2] / "docs" / "commands.md").read_text()
ROOT = Path(__file__).resolve().parents[2]
# Every management command of ours, found on disk, so a new command without docs fails.
COMMANDS = sorted(
    (path.parts[-4], path.stem)
    for path in ROOT.glob("*/management/commands/*.py")
    if path.stem != "__init__" and not path.parts[-4].startswith(".")
)


def test_it_finds_our_commands():
    assert ("moxweb", "runmail") in COMMANDS and ("mailqueue", "queue") in COMMANDS


@pytest.mark.parametrize(("app", "name"), COMMANDS)
def test_it_documents_every_command_with_its_help_text(app, name):
    command = load_command_class(app, name)
    assert f"### {name}\n" in DOCS
    assert command.help in DOCS
