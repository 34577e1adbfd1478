"""Automatic junk flags on APPEND/COPY/MOVE (mox AutomaticJunkFlags) and junk-filter
training from $Junk/$NotJunk changes made over IMAP (issue 4, mox 1.2.8)."""
from __future__ import annotations

import pytest

from mailstore.actions import deliver_bytes
from mailstore.models import JunkWord, Message
from tests.fixtures_imap import MESSAGE, imap_db

pytestmark = imap_db


def totals(account) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    row = JunkWord.objects.filter(account=account, word="-").first()
    return (row.ham, row.spam) if row else (0, 0)


def test_flag_changes_moves_and_expunges_train_the_junk_filter(raw_alice, alice):
    deliver_bytes(alice, "Inbox", MESSAGE)
    deliver_bytes(alice, "Inbox", MESSAGE)
    raw_alice.cmd("a1 SELECT Inbox")
    assert totals(alice) == (0, 0)
    raw_alice.cmd("a2 STORE 1 +FLAGS.SILENT ($Junk)")
    assert totals(alice) == (0, 1)
    assert Message.objects.get(account=alice, uid=1).trained_junk is True
    raw_alice.cmd("a3 STORE 1 FLAGS.SILENT ($NotJunk)")
    assert totals(alice) == (1, 0)
    assert raw_alice.cmd("a4 MOVE 2 Junk")[-1] == "a4 OK MOVE done"
    assert totals(alice) == (1, 1)
    moved = Message.objects.get(account=alice, mailbox__name="Junk")
    assert (moved.junk, moved.notjunk, moved.trained_junk) == (True, False, True)
    raw_alice.cmd("a5 STORE 1 +FLAGS.SILENT (\\Deleted)")
    raw_alice.cmd("a6 EXPUNGE")
    assert totals(alice) == (0, 1)
