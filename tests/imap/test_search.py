"""SEARCH (RFC 9051 6.4.4) with ESEARCH (RFC 4731) and SEARCHRES (RFC 5182)."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from tests.fixtures_imap import imap_db

from mailstore.actions import deliver_bytes
from tests.imap.test_structure import NESTED

pytestmark = imap_db


def msg(subject: str, body: str, sender: str = "carol@remote.test") -> bytes:
    return (
        f"From: {sender}\r\nTo: alice@example.test\r\nSubject: {subject}\r\n"
        f"Date: Tue, 03 Jan 2023 10:00:00 +0000\r\n\r\n{body}\r\n"
    ).encode()


def test_it_searches_with_all_kinds_of_keys(raw_alice, alice):
    deliver_bytes(alice, "Inbox", msg("Lunch", "pizza tonight?"),
                  received=datetime(2023, 1, 3, 12, tzinfo=timezone.utc))
    deliver_bytes(alice, "Inbox", msg("=?utf-8?q?Caf=C3=A9?=", "coffee", "dave@remote.test"),
                  received=datetime(2023, 2, 1, 12, tzinfo=timezone.utc))
    deliver_bytes(alice, "Inbox", NESTED, received=datetime(2023, 3, 1, 12, tzinfo=timezone.utc))
    raw_alice.cmd("a0 SELECT Inbox")
    raw_alice.cmd("a1 STORE 2 +FLAGS.SILENT (\\Flagged work)")
    assert raw_alice.cmd("a2 SEARCH ALL") == ["* SEARCH 1 2 3", "a2 OK SEARCH done"]
    assert raw_alice.cmd("a3 SEARCH FLAGGED") == ["* SEARCH 2", "a3 OK SEARCH done"]
    assert raw_alice.cmd("a4 SEARCH UNFLAGGED NOT KEYWORD work") == ["* SEARCH 1 3", "a4 OK SEARCH done"]
    assert raw_alice.cmd('a5 SEARCH SUBJECT "café"') == ["* SEARCH 2", "a5 OK SEARCH done"]
    assert raw_alice.cmd("a6 SEARCH FROM dave") == ["* SEARCH 2", "a6 OK SEARCH done"]
    assert raw_alice.cmd("a7 SEARCH BODY PIZZA") == ["* SEARCH 1", "a7 OK SEARCH done"]
    # Bodies are searched decoded: "caf=C3=A9" is quoted-printable for "café".
    assert raw_alice.cmd('a8 SEARCH CHARSET UTF-8 TEXT "café"') == ["* SEARCH 2 3", "a8 OK SEARCH done"]
    assert raw_alice.cmd("a9 SEARCH SINCE 1-Feb-2023 BEFORE 1-Mar-2023") == ["* SEARCH 2", "a9 OK SEARCH done"]
    assert raw_alice.cmd("a10 SEARCH OR ON 3-Jan-2023 LARGER 400") == ["* SEARCH 1 3", "a10 OK SEARCH done"]
    assert raw_alice.cmd("a11 SEARCH SENTON 3-Jan-2023 2:*") == ["* SEARCH 2", "a11 OK SEARCH done"]
    assert raw_alice.cmd("a12 UID SEARCH HEADER Message-ID <n@x>") == ["* SEARCH 3", "a12 OK UID SEARCH done"]
    assert raw_alice.cmd("a13 SEARCH CHARSET KOI8-R ALL") == ["a13 NO [BADCHARSET (US-ASCII UTF-8)] unsupported charset"]
    assert raw_alice.cmd("a14 SEARCH SEEN") == ["* SEARCH", "a14 OK SEARCH done"]


def test_it_answers_esearch_and_saves_results(raw_alice, alice):
    for i in range(5):
        deliver_bytes(alice, "Inbox", msg(f"m{i}", "x"))
    raw_alice.cmd("a0 SELECT Inbox")
    assert raw_alice.cmd("a1 SEARCH RETURN (MIN MAX COUNT ALL) 2:4") == [
        '* ESEARCH (TAG "a1") MIN 2 MAX 4 COUNT 3 ALL 2:4', "a1 OK SEARCH done"
    ]
    assert raw_alice.cmd("a2 UID SEARCH RETURN () SUBJECT m1") == ['* ESEARCH (TAG "a2") UID ALL 2', "a2 OK UID SEARCH done"]
    assert raw_alice.cmd("a3 SEARCH RETURN (COUNT) SUBJECT nothing") == ['* ESEARCH (TAG "a3") COUNT 0', "a3 OK SEARCH done"]
    assert raw_alice.cmd("a4 SEARCH RETURN (SAVE) 1,3,5") == ["a4 OK SEARCH done"]
    assert raw_alice.cmd("a5 FETCH $ UID") == ["* 1 FETCH (UID 1)", "* 3 FETCH (UID 3)", "* 5 FETCH (UID 5)", "a5 OK FETCH done"]
    assert raw_alice.cmd("a6 SEARCH $ 2:3") == ["* SEARCH 3", "a6 OK SEARCH done"]
    raw_alice.cmd("a7 ENABLE IMAP4rev2")
    assert raw_alice.cmd("a8 SEARCH 4") == ['* ESEARCH (TAG "a8") ALL 4', "a8 OK SEARCH done"]
    assert raw_alice.cmd("a9 SORT (REVERSE SUBJECT) UTF-8 ALL") == ["* SORT 5 4 3 2 1", "a9 OK SORT done"]
