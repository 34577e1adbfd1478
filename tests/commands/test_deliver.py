from __future__ import annotations

import io
import sys

import pytest

from mailstore import files
from mailstore.models import Message
from tests.commands.helpers import fails, run
from tests.commands.procs import manage


class FakeStdin:
    def __init__(self, data: bytes) -> None:
        self.buffer = io.BytesIO(data)


def test_it_delivers_stdin_to_an_address_mailbox_with_crlf(alice, monkeypatch):
    from accounts.actions import add_address

    add_address(alice, "lists@example.test", mailbox="Lists")
    monkeypatch.setattr(sys, "stdin", FakeStdin(b"Subject: hi\n\nbody\n"))
    assert run("deliver", "lists@example.test") == ["delivered to account alice, mailbox Lists, uid 1, 21 bytes"]
    message = Message.objects.get(account=alice)
    assert files.read_message(message.path, bytes(message.prefix)) == b"Subject: hi\r\n\r\nbody\r\n"


def test_it_delivers_to_an_account_name_and_a_chosen_mailbox(alice, monkeypatch):
    monkeypatch.setattr(sys, "stdin", FakeStdin(b"Subject: x\r\n\r\ny\r\n"))
    assert run("deliver", "alice", "--mailbox", "Notes") == ["delivered to account alice, mailbox Notes, uid 1, 17 bytes"]


def test_it_refuses_empty_input_and_unknown_accounts(alice, monkeypatch):
    monkeypatch.setattr(sys, "stdin", FakeStdin(b""))
    assert fails("deliver", "alice") == "empty message on standard input"
    monkeypatch.setattr(sys, "stdin", FakeStdin(b"Subject: x\r\n\r\n"))
    assert fails("deliver", "nobody@nowhere.test") == (
        "no account 'nobody@nowhere.test' (give an account name or one of its addresses)"
    )
    assert Message.objects.count() == 0
    assert list(files.tmp_dir().iterdir()) == []


@pytest.mark.slow
def test_it_delivers_durably_from_a_real_process(transactional_db, alice):
    proc = manage("deliver", "alice@example.test", input=b"Subject: piped\n\nfrom a pipe\n")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.decode() == "delivered to account alice, mailbox Inbox, uid 1, 31 bytes\n"
    message = Message.objects.get(account=alice)
    assert files.message_path(message.path).read_bytes() == b"Subject: piped\r\n\r\nfrom a pipe\r\n"
    proc = manage("deliver", "nobody", input=b"x\n")
    assert proc.returncode == 1
    assert proc.stderr.decode() == "CommandError: no account 'nobody' (give an account name or one of its addresses)\n"
