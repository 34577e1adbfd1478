"""Bad input never takes a session down nor hits a server bug: random command lines
built from IMAP words, sent to a live, selected session."""
from __future__ import annotations

import random

import pytest

from tests.fixtures_imap import imap_db

from mailstore.actions import deliver_bytes
from tests.imap.test_structure import NESTED

pytestmark = imap_db

WORDS = [
    "FETCH", "UID", "SEARCH", "STORE", "COPY", "MOVE", "EXPUNGE", "LIST", "LSUB", "STATUS", "SELECT", "EXAMINE",
    "CREATE", "RENAME", "DELETE", "SUBSCRIBE", "ENABLE", "ID", "NOOP", "CHECK", "SORT", "THREAD", "NAMESPACE",
    "GETQUOTAROOT", "1", "2", "3:*", "*", "$", "0", "4294967296", "1:2,7", "(", ")", "[", "]", "<0.5>", "BODY[1.2]",
    "BODY.PEEK[HEADER.FIELDS (From)]", "BINARY[2]", "BINARY.SIZE[1]", "BODY[1.MIME]", "ENVELOPE", "BODYSTRUCTURE",
    "FLAGS", "+FLAGS", "-FLAGS.SILENT", "(\\Seen)", "\\Deleted", "$Junk", "Inbox", "\"Archive\"", "Trash", "\"\"",
    "%", "*", "NOT", "OR", "SUBJECT", "HEADER", "BODY", "TEXT", "SINCE", "1-Jan-2020", "LARGER", "RETURN",
    "(MIN MAX)", "CHARSET", "UTF-8", "(MESSAGES UNSEEN)", "(CHANGEDSINCE 1)", "(UNCHANGEDSINCE 1)", "ALL",
    "&Jjo-", "Entw&APw-rfe", "a/b", "REFERENCES", "ORDEREDSUBJECT", "(SUBJECT)", "\"x\\\"y\"",
]


def test_random_commands_get_an_answer_and_no_server_bug(raw_alice, alice):
    deliver_bytes(alice, "Inbox", NESTED)
    deliver_bytes(alice, "Inbox", NESTED)
    raw_alice.cmd("s SELECT Inbox")
    rng = random.Random(9051)
    for i in range(250):
        words = [rng.choice(WORDS) for _ in range(rng.randint(1, 6))]
        if words[0] in ("SELECT", "EXAMINE") or words[:2] == ["UID", "EXPUNGE"] or words[0] == "DELETE":
            words[0] = "NOOP"
        tag = f"r{i}"
        lines = raw_alice.cmd(f"{tag} {' '.join(words)}")
        assert lines[-1].split(" ")[1] in ("OK", "NO", "BAD"), lines
        assert not any("SERVERBUG" in line for line in lines), (words, lines)
    assert raw_alice.cmd("z NOOP")[-1] == "z OK NOOP done"
