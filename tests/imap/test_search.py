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


B64 = (
    "Subject: =?utf-8?b?w4lUw4k=?= 50% off_now\r\nX-Tag: first\r\nX-Tag: second\r\n"
    "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    + __import__("base64").b64encode("Grüße AUS Köln\r\nzweite Zeile\r\n".encode()).decode() + "\r\n"
).encode()

TEXT_CASES = [
    ('BODY "köln"', "2"),  # base64 top-level body, decoded, UTF-8 case-folded
    ('BODY "GRÜSSE"', ""),  # lower-casing, not case folding (ß stays ß)
    ('BODY "grüße"', "2"),
    ('BODY "köln zweite"', ""),  # a line break is not a space
    ('SUBJECT "été"', "2"),  # encoded-word subject decoded
    ('SUBJECT "50% off_now"', "2"),  # no pattern characters: % and _ are literal
    ('SUBJECT "50_ off"', ""),
    ('SUBJECT "%"', "2"),
    ('HEADER X-Tag ""', "2"),  # present field, empty needle
    ('HEADER X-Other ""', ""),
    ("HEADER X-Tag second", "2"),
    ("HEADER X-Tag first", "2"),
    ("HEADER Subject x-tag", ""),  # a needle that spans fields does not match
    ('TEXT "x-tag:"', ""),
    ("TEXT second", "2"),
    ("TEXT PIZZA", "1"),
    ("TEXT remote.test", "1"),
    ("NOT TEXT pizza", "2"),
    ('OR BODY "köln" FROM carol', "1 2"),
    ("NOT SENTBEFORE 1-Jan-2030", "2"),  # no Date: never matches SENT*, so NOT matches
    ("SENTBEFORE 1-Jan-2030", "1"),
    ('UID 2 BODY "köln"', "2"),
    ('1 BODY "köln"', ""),
]


@pytest.mark.parametrize("stored", [True, False], ids=["columns", "files"])
def test_text_keys_match_decoded_case_insensitive_substrings(raw_alice, alice, stored):
    from mailstore.models import Message

    deliver_bytes(alice, "Inbox", msg("Lunch", "pizza tonight?"))
    deliver_bytes(alice, "Inbox", B64)
    if not stored:
        # Rows made before the search columns existed are searched from their files.
        Message.objects.update(search_body=None, search_header=None)
    raw_alice.cmd("a0 SELECT Inbox")
    got = {}
    for i, (key, _) in enumerate(TEXT_CASES):
        lines = raw_alice.cmd(f"b{i} SEARCH CHARSET UTF-8 {key}")
        assert lines[-1] == f"b{i} OK SEARCH done", (key, lines)
        got[key] = lines[0].removeprefix("* SEARCH").strip()
    assert got == dict(TEXT_CASES)
    # The file path stored what it computed: the columns are filled again.
    assert not Message.objects.filter(search_body__isnull=True).exists()
    assert Message.objects.get(uid=2).search_header.startswith("\nsubject:été 50% off_now\nx-tag:first\nx-tag:second")


def dated(date_header: str) -> bytes:
    return f"From: carol@remote.test\r\nSubject: x\r\nDate: {date_header}\r\n\r\nbody\r\n".encode()


def test_sent_keys_take_the_date_as_written_in_the_header(raw_alice, alice):
    # RFC 9051 6.4.4: SENT* compare the Date header's date "disregarding time and
    # timezone": 23:30 -0800 on 3 January is 4 January in UTC but is sent on the 3rd.
    deliver_bytes(alice, "Inbox", dated("Tue, 03 Jan 2023 23:30:00 -0800"))
    deliver_bytes(alice, "Inbox", dated("Wed, 04 Jan 2023 00:30:00 +1400"))  # 3 January 10:30 UTC
    deliver_bytes(alice, "Inbox", dated("Mon, 20 Feb 2023 12:00:00 +0000"))
    deliver_bytes(alice, "Inbox", dated("not a date"))
    raw_alice.cmd("a0 SELECT Inbox")
    cases = {
        "SENTON 3-Jan-2023": "1",
        "SENTON 4-Jan-2023": "2",
        "SENTBEFORE 4-Jan-2023": "1",
        "SENTSINCE 4-Jan-2023": "2 3",
        "SENTSINCE 20-Feb-2023": "3",
        "SENTBEFORE 21-Feb-2023": "1 2 3",
        "NOT SENTON 3-Jan-2023": "2 3 4",
        "OR SENTON 3-Jan-2023 SENTON 20-Feb-2023": "1 3",
    }
    got = {key: raw_alice.cmd(f"b SEARCH {key}")[0].removeprefix("* SEARCH").strip() for key in cases}
    assert got == cases
