"""The pure command parser (mailcore.imap): exact values, and only ParseError escapes."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailcore.imap import utf7
from mailcore.imap.command import parse_command
from mailcore.imap.errors import ParseError
from mailcore.imap.fetchatt import FetchAtt, Section
from mailcore.imap.numset import NumSet, compact
from mailcore.imap.reader import literal_request


def test_it_parses_literals_quoted_strings_and_literal_plus():
    cmd = parse_command(b'a1 LOGIN {5}\r\nalice "pa\\"ss"')
    assert (cmd.tag, cmd.name, cmd.args) == ("a1", "LOGIN", {"username": "alice", "password": 'pa"ss'})
    cmd = parse_command(b"a2 APPEND Inbox {3+}\r\nabc")
    assert cmd.args["messages"][0].data == b"abc"


def test_it_parses_append_with_flags_date_literal8_and_multiappend():
    cmd = parse_command(b'a APPEND Drafts (\\Seen $x) " 5-Feb-2020 10:00:00 -0130" ~{3}\r\na\x00c {1}\r\nz')
    m1, m2 = cmd.args["messages"]
    assert (m1.flags, m1.data, m1.binary) == (["\\Seen", "$x"], b"a\x00c", True)
    assert m1.date == datetime(2020, 2, 5, 10, 0, tzinfo=timezone(-timedelta(hours=1, minutes=30)))
    assert (m2.flags, m2.date, m2.data) == ([], None, b"z")


def test_it_refuses_nul_in_a_normal_literal():
    with pytest.raises(ParseError):
        parse_command(b"a APPEND Inbox {3}\r\na\x00c")


def test_it_recognizes_literal_announcements_at_line_end():
    assert literal_request(b"a APPEND Inbox {12}") == (12, True, False)
    assert literal_request(b"a APPEND Inbox {12+}") == (12, False, False)
    assert literal_request(b"a APPEND Inbox ~{7}") == (7, True, True)
    assert literal_request(b'a LOGIN "{3}"') is None


def test_it_parses_sequence_sets_with_star_and_dollar():
    cmd = parse_command(b"a UID FETCH 4:*,1,2:3 FLAGS")
    ns = cmd.args["set"]
    assert (cmd.uid, ns.ranges) == (True, ((4, None), (1, 1), (2, 3)))
    assert ns.select([1, 2, 3, 5, 9], 9) == [1, 2, 3, 5, 9]
    assert NumSet(((7, None),)).select([1, 2, 3], 3) == [3]  # "n:*" always includes the highest
    # (position, number): for a view's UIDs, (sequence number, UID).
    assert ns.select_positions([1, 2, 3, 5, 9], 9) == [(1, 1), (2, 2), (3, 3), (4, 5), (5, 9)]
    assert NumSet(((4, 8), (1, 1))).select_positions([1, 3, 5, 8, 20], 20) == [(1, 1), (3, 5), (4, 8)]
    assert NumSet(((7, None),)).select_positions([], 0) == []
    assert parse_command(b"a FETCH $ UID").args["set"].search_result
    assert compact([5, 1, 2, 3, 9, 10]) == "1:3,5,9:10"
    with pytest.raises(ParseError):
        parse_command(b"a FETCH 0 FLAGS")


def test_it_parses_fetch_attributes_and_macros():
    req = parse_command(b"a FETCH 1 (BODY.PEEK[1.2.HEADER.FIELDS (From To)]<10.20> BINARY.SIZE[2] RFC822)").args["request"]
    assert req.atts == [
        FetchAtt("BODY[]", peek=True, section=Section((1, 2), "HEADER.FIELDS", ("From", "To")), partial=(10, 20)),
        FetchAtt("BINARY.SIZE", section=Section((2,))),
        FetchAtt("RFC822"),
    ]
    assert req.atts[0].response_name() == "BODY[1.2.HEADER.FIELDS (From To)]<10>"
    assert [a.name for a in parse_command(b"a FETCH 1 ALL").args["request"].atts] == [
        "FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"
    ]
    req = parse_command(b"a FETCH 1:* (FLAGS) (CHANGEDSINCE 12345)").args["request"]
    assert req.changedsince == 12345
    with pytest.raises(ParseError):
        parse_command(b"a FETCH 1 (BODY[MIME])")


def test_it_parses_search_keys_and_return_options():
    req = parse_command(
        b'a UID SEARCH RETURN (MIN COUNT SAVE) CHARSET UTF-8 OR UNSEEN (FROM "x y" SINCE 1-Feb-2020) '
        b'NOT UID 4:* HEADER List-Id {3}\r\nabc LARGER 10'
    ).args["request"]
    assert req.return_opts == ["MIN", "COUNT", "SAVE"] and req.charset == "UTF-8" and req.save
    assert req.key == ("AND", [
        ("OR", ("FLAG", "\\Seen", False), ("AND", [("HEADER", "From", "x y"), ("SINCE", date(2020, 2, 1))])),
        ("NOT", ("UID", NumSet(((4, None),)))),
        ("HEADER", "List-Id", "abc"),
        ("LARGER", 10),
    ])
    with pytest.raises(ParseError):
        parse_command(b"a SEARCH FROBNICATE")


def test_it_parses_store_with_unchangedsince_and_silent():
    cmd = parse_command(b"a UID STORE 1:3 (UNCHANGEDSINCE 7) -FLAGS.SILENT (\\Deleted $Junk)")
    assert cmd.args == {"set": NumSet(((1, 3),)), "unchangedsince": 7, "silent": True, "mode": "remove",
                        "flags": ["\\Deleted", "$Junk"]}
    assert parse_command(b"a STORE 1 FLAGS \\Seen").args["flags"] == ["\\Seen"]


def test_it_parses_list_extended_and_select_qresync():
    cmd = parse_command(b'a LIST (SUBSCRIBED RECURSIVEMATCH) "" ("Inbox" %/x*) RETURN (CHILDREN STATUS (MESSAGES UNSEEN))')
    assert cmd.args["patterns"] == ["Inbox", "%/x*"]
    assert cmd.args["status"] == ["MESSAGES", "UNSEEN"]
    cmd = parse_command(b"a SELECT Inbox (CONDSTORE QRESYNC (67890007 20050715194045000 41:211,214:541))")
    assert cmd.args["condstore"] and cmd.args["qresync"] == (67890007, 20050715194045000, NumSet(((41, 211), (214, 541))))


def test_it_reports_the_tag_with_a_parse_error():
    with pytest.raises(ParseError) as exc:
        parse_command(b"t7 SELECT")
    assert exc.value.tag == "t7"
    with pytest.raises(ParseError) as exc:
        parse_command(b"t8 NOSUCHTHING")
    assert (exc.value.tag, exc.value.code) == ("t8", "UNKNOWN")


def test_it_round_trips_modified_utf7():
    assert utf7.encode("Entwürfe") == "Entw&APw-rfe"
    assert utf7.encode("a&b") == "a&-b"
    assert utf7.decode("Entw&APw-rfe") == "Entwürfe"
    assert utf7.decode("&ZeVnLIqe-") == "日本語"
    for bad in ("&Jjo", "&AGE-", "&Jj!-", "a\x7fb"):
        with pytest.raises(ParseError):
            utf7.decode(bad)


@given(st.text())
def test_it_round_trips_any_text_through_modified_utf7(text):
    if all(0x20 <= ord(c) <= 0x7E or ord(c) > 0x7F for c in text) and not any(0xD800 <= ord(c) <= 0xDFFF for c in text):
        assert utf7.decode(utf7.encode(text)) == text


COMMAND_WORDS = [b"FETCH", b"UID", b"SEARCH", b"STORE", b"APPEND", b"LIST", b"SELECT", b"LOGIN", b"STATUS",
                 b"(", b")", b"[", b"]", b"<", b">", b"{3}\r\n", b"{2+}\r\n", b"~{1}\r\n", b"*", b"$", b"1:*",
                 b'"', b"\\", b" ", b"BODY[", b"HEADER.FIELDS", b"RETURN", b"OR", b"NOT", b"\x00", b"\xff", b"0"]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(COMMAND_WORDS), st.binary(max_size=6)), max_size=14))
def test_only_parse_error_escapes_the_parser(parts):
    buf = b"a " + b"".join(parts)
    try:
        parse_command(buf)
    except ParseError:
        pass


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=60))
def test_only_parse_error_escapes_for_random_bytes(data):
    try:
        parse_command(data)
    except ParseError:
        pass
    literal_request(data)


def test_sequence_sets_with_many_ranges_stay_fast():
    import time

    ns = parse_command(b"a FETCH " + b",".join(str(i).encode() for i in range(1, 40000, 2)) + b" UID").args["set"]
    started = time.monotonic()
    assert len(ns.select(range(1, 100001), 100000)) == 20000
    assert ns.contains(39999, 100000) and not ns.contains(40000, 100000)
    # A guard against quadratic matching (which takes minutes here), not a benchmark.
    assert time.monotonic() - started < 10


@given(st.lists(st.tuples(st.integers(1, 50), st.one_of(st.none(), st.integers(1, 50))), min_size=1, max_size=8),
       st.integers(0, 60))
def test_numset_select_matches_a_naive_reading(ranges, largest):
    ns = NumSet(tuple((a, b if b is not None else None) for a, b in ranges))
    naive = set()
    for a, b in ranges:
        hi = largest if b is None else b
        lo, hi = min(a, hi), max(a, hi)
        naive.update(range(lo, hi + 1))
    numbers = list(range(1, 61))
    assert ns.select(numbers, largest) == sorted(naive & set(numbers))
    assert all(ns.contains(n, largest) == (n in naive) for n in numbers)
