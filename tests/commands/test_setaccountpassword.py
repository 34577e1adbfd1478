from __future__ import annotations

import getpass

import pytest

from accounts.actions import authenticate
from tests.commands.helpers import fails, run
from tests.commands.procs import manage


@pytest.mark.slow
def test_it_reads_the_password_from_stdin_in_a_real_process(transactional_db, alice):
    proc = manage("setaccountpassword", "--stdin", "alice@example.test", input=b"new secret pass\n")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.decode() == "password of account alice changed\n"
    assert authenticate("alice@example.test", "new secret pass") == alice
    assert authenticate("alice@example.test", "alicepassword") is None


def test_it_prompts_twice_without_echo(alice, monkeypatch):
    answers = iter(["prompted password", "prompted password"])
    prompts: list[str] = []
    monkeypatch.setattr(getpass, "getpass", lambda prompt: prompts.append(prompt) or next(answers))
    assert run("setaccountpassword", "alice") == ["password of account alice changed"]
    assert prompts == ["new password: ", "repeat password: "]
    assert authenticate("alice@example.test", "prompted password") == alice


def test_it_rejects_different_repeats_short_passwords_and_unknown_accounts(alice, monkeypatch):
    answers = iter(["first password", "other password"])
    monkeypatch.setattr(getpass, "getpass", lambda prompt: next(answers))
    assert fails("setaccountpassword", "alice") == "passwords do not match"
    short = iter(["short", "short"])
    monkeypatch.setattr(getpass, "getpass", lambda prompt: next(short))
    assert fails("setaccountpassword", "alice") == "password must be at least 8 characters"
    assert fails("setaccountpassword", "nobody@example.test") == (
        "no account 'nobody@example.test' (give an account name or one of its addresses)"
    )
    assert authenticate("alice@example.test", "alicepassword") == alice
