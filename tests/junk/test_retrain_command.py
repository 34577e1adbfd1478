"""`manage.py retrain ACCOUNT`."""
from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from mailstore.actions import deliver_bytes
from mailstore.models import JunkWord


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def deliver_flagged(account) -> None:  # type: ignore[no-untyped-def]
    deliver_bytes(account, "Junk", b"Subject: cheap pills\r\n\r\ncheap pills winner\r\n", flags={"$Junk"})
    deliver_bytes(account, "Archive", b"Subject: lunch\r\n\r\nproject meeting\r\n", flags={"$NotJunk"})
    deliver_bytes(account, "Inbox", b"Subject: unflagged\r\n\r\nnot trained\r\n")


def test_it_retrains_with_progress_lines_when_not_a_terminal(alice) -> None:  # type: ignore[no-untyped-def]
    deliver_flagged(alice)
    out = io.StringIO()
    call_command("retrain", "alice", stdout=out)
    assert out.getvalue() == (
        "trained 1/2 messages (50%)\n"
        "trained 2/2 messages (100%)\n"
        "retrained account alice: 2 messages (1 junk, 1 ham), 8 words\n"
    )
    assert JunkWord.objects.get(account=alice, word="-").spam == 1
    assert JunkWord.objects.get(account=alice, word="-").ham == 1


def test_it_draws_a_progress_bar_on_a_terminal(alice) -> None:  # type: ignore[no-untyped-def]
    deliver_flagged(alice)
    out = Terminal()
    call_command("retrain", "alice", stdout=out)
    bar = "#" * 20 + "." * 20
    assert out.getvalue() == (
        f"\r[{'.' * 40}]   0% 0/2 messages"
        f"\r[{bar}]  50% 1/2 messages"
        f"\r[{'#' * 40}] 100% 2/2 messages\n"
        "retrained account alice: 2 messages (1 junk, 1 ham), 8 words\n"
    )


def test_it_prints_one_line_per_tenth_for_many_messages(alice) -> None:  # type: ignore[no-untyped-def]
    from accounts.management.commands.retrain import Progress

    out = io.StringIO()
    from django.core.management.base import OutputWrapper

    progress = Progress(OutputWrapper(out))
    for done in range(0, 201):
        progress(done, 200)
    lines = out.getvalue().splitlines()
    assert lines[0] == "trained 20/200 messages (10%)"
    assert lines[-1] == "trained 200/200 messages (100%)"
    assert len(lines) == 10


def test_it_reports_nothing_to_do(alice) -> None:  # type: ignore[no-untyped-def]
    out = io.StringIO()
    call_command("retrain", "alice", stdout=out)
    assert out.getvalue() == "retrained account alice: 0 messages (0 junk, 0 ham), 0 words\n"


def test_it_refuses_unknown_accounts_and_accounts_without_filter(alice) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(CommandError, match="no account 'nobody'"):
        call_command("retrain", "nobody", stdout=io.StringIO())
    alice.junk_filter = {}
    alice.save()
    with pytest.raises(CommandError, match="account alice has no junk filter"):
        call_command("retrain", "alice", stdout=io.StringIO())
