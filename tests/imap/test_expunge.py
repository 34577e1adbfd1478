"""EXPUNGE, UID EXPUNGE (RFC 4315), CLOSE, UNSELECT (RFC 3691) and sequence-number
bookkeeping with concurrent sessions (RFC 9051 7.5.1)."""
from __future__ import annotations

import pytest

from mailstore.actions import deliver_bytes
from mailstore.models import Message
from tests.fixtures_imap import MESSAGE, RawClient, imap_db

pytestmark = imap_db


def test_it_expunges_deleted_messages_and_keeps_sequence_numbers_right(raw_alice, alice, imap):
    for _ in range(5):
        deliver_bytes(alice, "Inbox", MESSAGE)
    other = RawClient(imap.host, imap.port)
    other.line()
    other.login()
    other.cmd("b1 SELECT Inbox")
    raw_alice.cmd("a1 SELECT Inbox")
    raw_alice.cmd("a2 STORE 2,4,5 +FLAGS.SILENT (\\Deleted)")
    assert raw_alice.cmd("a3 UID EXPUNGE 1:4") == ["* 4 EXPUNGE", "* 2 EXPUNGE", "a3 OK UID EXPUNGE done"]
    # The other session hears about the flags, then the expunges, before its tagged reply,
    # but not during FETCH (RFC 9051 7.5.1).
    assert other.cmd("b2 FETCH 5 UID") == ["* 5 FETCH (UID 5)", "b2 OK FETCH done"]
    assert other.cmd("b3 NOOP") == [
        # 2 and 4 are gone by now, so only their expunge is reported.
        "* 5 FETCH (UID 5 FLAGS (\\Deleted))",
        "* 4 EXPUNGE",
        "* 2 EXPUNGE",
        "b3 OK NOOP done",
    ]
    assert raw_alice.cmd("a4 EXPUNGE") == ["* 3 EXPUNGE", "a4 OK EXPUNGE done"]
    # RFC 2180 4.1.2: a message expunged elsewhere is left out of FETCH until it is reported.
    assert other.cmd("b4 FETCH 1:* UID") == ["* 1 FETCH (UID 1)", "* 2 FETCH (UID 3)", "b4 OK FETCH done"]
    assert other.cmd("b5 CHECK") == ["* 3 EXPUNGE", "b5 OK CHECK done"]
    assert sorted(Message.objects.filter(account=alice).values_list("uid", flat=True)) == [1, 3]
    other.close()


def test_close_expunges_silently_and_unselect_does_not(raw_alice, alice):
    for _ in range(2):
        deliver_bytes(alice, "Inbox", MESSAGE)
    raw_alice.cmd("a1 SELECT Inbox")
    raw_alice.cmd("a2 STORE 1 +FLAGS.SILENT (\\Deleted)")
    assert raw_alice.cmd("a3 UNSELECT") == ["a3 OK UNSELECT done"]
    assert Message.objects.filter(account=alice).count() == 2
    assert raw_alice.cmd("a4 FETCH 1 UID") == ["a4 NO FETCH not allowed in this connection state"]
    raw_alice.cmd("a5 SELECT Inbox")
    assert raw_alice.cmd("a6 CLOSE") == ["a6 OK CLOSE done"]
    assert list(Message.objects.filter(account=alice).values_list("uid", flat=True)) == [2]
    raw_alice.cmd("a7 EXAMINE Inbox")
    raw_alice.cmd("a8 EXAMINE Inbox")
    assert raw_alice.cmd("a9 EXPUNGE") == ["a9 NO [READ-ONLY] mailbox open in read-only mode"]
