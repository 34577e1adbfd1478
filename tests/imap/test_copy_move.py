"""COPY and MOVE (RFC 9051 6.4.7, RFC 6851) with COPYUID (RFC 4315)."""
from __future__ import annotations

import pytest

from mailstore import files
from mailstore.actions import deliver_bytes
from mailstore.models import Mailbox, Message
from tests.fixtures_imap import MESSAGE, imap_db

pytestmark = imap_db


def test_it_copies_and_moves_with_copyuid(raw_alice, alice):
    for _ in range(3):
        deliver_bytes(alice, "Inbox", MESSAGE)
    archive = Mailbox.objects.get(account=alice, name="Archive")
    junk = Mailbox.objects.get(account=alice, name="Junk")
    raw_alice.cmd("a1 SELECT Inbox")
    raw_alice.cmd("a2 STORE 2 +FLAGS.SILENT (\\Flagged)")
    assert raw_alice.cmd("a3 COPY 2:3 Archive") == [f"a3 OK [COPYUID {archive.uidvalidity} 2:3 1:2] COPY done"]
    assert raw_alice.cmd("a4 UID MOVE 1,3 Junk") == [
        f"* OK [COPYUID {junk.uidvalidity} 1,3 1:2] moved",
        "* 3 EXPUNGE",
        "* 1 EXPUNGE",
        "a4 OK UID MOVE done",
    ]
    assert raw_alice.cmd("a5 COPY 1 Nope") == ["a5 NO [TRYCREATE] mailbox does not exist"]
    assert raw_alice.cmd("a6 UID COPY 99 Archive") == ["a6 OK UID COPY done"]
    assert raw_alice.cmd("a7 COPY 1 Inbox") == [
        f"* 2 EXISTS", f"a7 OK [COPYUID {Mailbox.objects.get(account=alice, name='Inbox').uidvalidity} 2 4] COPY done"
    ]
    copied = Message.objects.get(mailbox=archive, uid=1)
    assert copied.flag_list() == ["\\Flagged", "$NotJunk"]
    assert files.read_message(copied.path) == MESSAGE
    assert [m.flag_list() for m in Message.objects.filter(mailbox=junk).order_by("uid")] == [["$Junk"], ["$Junk"]]
    assert raw_alice.cmd("a8 STATUS Junk (MESSAGES UIDNEXT)") == ["* STATUS Junk (MESSAGES 2 UIDNEXT 3)", "a8 OK STATUS done"]
