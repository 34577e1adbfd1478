"""Helpers shared by the command tests."""
from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from mailstore import files
from mailstore.models import Message


def run(*args: Any, **options: Any) -> list[str]:
    """Run a command in-process; its stdout as lines."""
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO(), **options)
    return out.getvalue().splitlines()


def fails(*args: Any, stdout_lines: list[str] | None = None, **options: Any) -> str:
    """Run a command that must fail; its CommandError message. Its output lines are
    appended to `stdout_lines` when given."""
    out = io.StringIO()
    with pytest.raises(CommandError) as info:
        call_command(*args, stdout=out, stderr=io.StringIO(), **options)
    if stdout_lines is not None:
        stdout_lines.extend(out.getvalue().splitlines())
    return str(info.value)


def stored(account: Any, mailbox: str) -> list[tuple[bytes, list[str]]]:
    """(bytes as IMAP serves them, flags) of a mailbox's messages in UID order."""
    out = []
    for m in Message.objects.filter(account=account, mailbox__name=mailbox).order_by("uid"):
        out.append((files.read_message(m.path, bytes(m.prefix)), m.flag_list()))
    return out
