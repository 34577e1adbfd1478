"""STORE (RFC 9051 6.4.6) with +/-FLAGS, .SILENT and UNCHANGEDSINCE (RFC 7162 3.1.3),
and the FETCH FLAGS update another session gets."""
from __future__ import annotations

import pytest

from mailstore.actions import deliver_bytes
from mailstore.models import Message
from tests.fixtures_imap import MESSAGE, RawClient, imap_db

pytestmark = imap_db


def test_it_stores_flags_and_keywords_and_tells_other_sessions(raw_alice, alice, imap):
    for _ in range(3):
        deliver_bytes(alice, "Inbox", MESSAGE)
    other = RawClient(imap.host, imap.port)
    other.line()
    other.login()
    other.cmd("b1 SELECT Inbox")
    raw_alice.cmd("a1 SELECT Inbox")
    flags_line = (
        "* FLAGS (\\Seen \\Answered \\Flagged \\Deleted \\Draft $Forwarded $Junk $NotJunk $Phishing $MDNSent $important)"
    )
    assert raw_alice.cmd("a2 STORE 1:2 +FLAGS (\\Flagged $Important)") == [
        flags_line,
        "* 1 FETCH (FLAGS (\\Flagged $important))",
        "* 2 FETCH (FLAGS (\\Flagged $important))",
        "a2 OK STORE done",
    ]
    assert raw_alice.cmd("a3 UID STORE 2 -FLAGS.SILENT (\\Flagged)") == ["a3 OK UID STORE done"]
    assert raw_alice.cmd("a4 STORE 3 FLAGS (\\Seen \\Answered $Junk)") == [
        "* 3 FETCH (FLAGS (\\Seen \\Answered $Junk))",
        "a4 OK STORE done",
    ]
    assert raw_alice.cmd("a5 STORE 1 +FLAGS (\\Bogus)") == ["a5 BAD unknown system flag \\Bogus"]
    assert raw_alice.cmd("a6 STORE 4 +FLAGS (\\Seen)") == ["a6 BAD invalid sequence number"]
    assert other.cmd("b2 NOOP") == [
        flags_line,
        "* 1 FETCH (UID 1 FLAGS (\\Flagged $important))",
        "* 2 FETCH (UID 2 FLAGS ($important))",
        "* 3 FETCH (UID 3 FLAGS (\\Seen \\Answered $Junk))",
        "b2 OK NOOP done",
    ]
    assert other.cmd("b3 SELECT Inbox")[1] == flags_line
    m = Message.objects.get(account=alice, uid=3)
    assert (m.seen, m.answered, m.junk, m.flagged, m.keywords) == (True, True, True, False, [])
    other.close()


def test_it_refuses_conditional_stores_on_changed_messages(raw_alice, alice):
    deliver_bytes(alice, "Inbox", MESSAGE)
    deliver_bytes(alice, "Inbox", MESSAGE)
    raw_alice.cmd("a1 SELECT Inbox (CONDSTORE)")
    m1, m2 = Message.objects.filter(account=alice).order_by("uid")
    lines = raw_alice.cmd("a2 STORE 2 +FLAGS.SILENT (\\Seen)")
    modseq = Message.objects.get(pk=m2.pk).modseq
    assert lines == [f"* 2 FETCH (MODSEQ ({modseq}))", "a2 OK STORE done"]
    assert raw_alice.cmd(f"a3 STORE 1:2 (UNCHANGEDSINCE {m1.modseq}) +FLAGS (\\Flagged)") == [
        f"* 1 FETCH (MODSEQ ({modseq + 1}) FLAGS (\\Flagged))",
        "a3 OK [MODIFIED 2] conditional store did not change all messages",
    ]
    assert raw_alice.cmd("a4 UID FETCH 1:* (FLAGS) (CHANGEDSINCE " + str(modseq) + ")") == [
        f"* 1 FETCH (UID 1 FLAGS (\\Flagged) MODSEQ ({modseq + 1}))",
        "a4 OK UID FETCH done",
    ]


def test_it_refuses_store_in_a_read_only_mailbox(raw_alice, alice):
    deliver_bytes(alice, "Inbox", MESSAGE)
    raw_alice.cmd("a1 EXAMINE Inbox")
    assert raw_alice.cmd("a2 STORE 1 +FLAGS (\\Seen)") == ["a2 NO [READ-ONLY] mailbox open in read-only mode"]
    assert raw_alice.cmd("a3 FETCH 1 BODY[TEXT]")[-1] == "a3 OK FETCH done"
    assert not Message.objects.get(account=alice).seen
