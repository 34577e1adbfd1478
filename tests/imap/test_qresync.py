"""CONDSTORE and QRESYNC (RFC 7162): HIGHESTMODSEQ, MODSEQ, VANISHED."""
from __future__ import annotations

import pytest

from mailstore.actions import deliver_bytes
from mailstore.models import Mailbox, Message
from tests.fixtures_imap import MESSAGE, imap_db, other_session

pytestmark = imap_db


def test_it_resynchronizes_with_qresync(raw_alice, alice, imap):
    for _ in range(4):
        deliver_bytes(alice, "Inbox", MESSAGE)
    inbox = Mailbox.objects.get(account=alice, name="Inbox")
    modseq = inbox.highest_modseq
    other = other_session(imap)
    other.cmd("b2 STORE 2 +FLAGS.SILENT (\\Deleted)")
    other.cmd("b3 EXPUNGE")
    other.cmd("b4 UID STORE 3 +FLAGS.SILENT (\\Seen)")
    m3 = Message.objects.get(mailbox=inbox, uid=3)
    inbox.refresh_from_db()
    assert raw_alice.cmd("a1 ENABLE QRESYNC") == ["* ENABLED QRESYNC", "a1 OK ENABLE done"]
    lines = raw_alice.cmd(f"a2 SELECT Inbox (QRESYNC ({inbox.uidvalidity} {modseq} 1:4))")
    assert lines[-4:] == [
        '* LIST () "/" Inbox',
        "* VANISHED (EARLIER) 2",
        f"* 2 FETCH (UID 3 FLAGS (\\Seen) MODSEQ ({m3.modseq}))",
        "a2 OK [READ-WRITE] x",
    ]
    assert f"* OK [HIGHESTMODSEQ {inbox.highest_modseq}] x" in lines
    assert raw_alice.cmd(f"a3 UID FETCH 1:* (FLAGS) (CHANGEDSINCE {modseq} VANISHED)") == [
        "* VANISHED (EARLIER) 2",
        f"* 2 FETCH (UID 3 FLAGS (\\Seen) MODSEQ ({m3.modseq}))",
        "a3 OK UID FETCH done",
    ]
    other.cmd("b5 STORE 1 +FLAGS.SILENT (\\Deleted)")
    other.cmd("b6 EXPUNGE")
    lines = raw_alice.cmd("a4 NOOP")
    assert lines == ["* VANISHED 1", "a4 OK NOOP done"]
    assert raw_alice.cmd("a5 STATUS Inbox (HIGHESTMODSEQ MESSAGES)") == [
        f"* STATUS Inbox (HIGHESTMODSEQ {Mailbox.objects.get(pk=inbox.pk).highest_modseq} MESSAGES 2)",
        "a5 OK STATUS done",
    ]
    other.close()


def test_it_searches_and_fetches_modseqs_with_condstore(raw_alice, alice):
    for _ in range(3):
        deliver_bytes(alice, "Inbox", MESSAGE)
    raw_alice.cmd("a1 ENABLE CONDSTORE")
    raw_alice.cmd("a2 SELECT Inbox")
    raw_alice.cmd("a3 STORE 2 +FLAGS.SILENT (\\Answered)")
    m2 = Message.objects.get(account=alice, uid=2)
    assert raw_alice.cmd(f"a4 SEARCH MODSEQ {m2.modseq}") == [f"* SEARCH 2 (MODSEQ {m2.modseq})", "a4 OK SEARCH done"]
    assert raw_alice.cmd("a5 FETCH 2 (MODSEQ)") == [f"* 2 FETCH (MODSEQ ({m2.modseq}))", "a5 OK FETCH done"]
