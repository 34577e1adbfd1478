"""RFC 2231 parameter continuations and charsets in BODYSTRUCTURE (RFC 9051 section
7.5.2: servers decode continuations). Extended values stay in their encoded form under
`name*`, as Dovecot answers them."""
from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from mailcore.imap.mimeparams import merge_continuations
from mailcore.message.structure import parse_structure
from mailstore.actions import deliver_bytes
from tests.fixtures_imap import imap_db

pytestmark = imap_db

MESSAGE = (
    b"From: a@example.org\r\nSubject: attachments\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: multipart/mixed; boundary=xx\r\n\r\n"
    b"--xx\r\nContent-Type: text/plain\r\n\r\nhi\r\n"
    b"--xx\r\nContent-Type: application/octet-stream; name*0*=utf-8''%E2%82%AC%20rate; name*1*=%20x;"
    b' name*2=".pdf"\r\n'
    b"Content-Disposition: attachment; filename*=utf-8''%E2%82%AC.pdf; size=3\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\nYWJj\r\n"
    b'--xx\r\nContent-Type: text/plain; charset="us-ascii"; title*0="long "; title*1="name"; Format=Flowed\r\n'
    b'Content-Disposition: inline;\r\n filename*0="a \\"q\\" ";\r\n filename*1=b.txt\r\n\r\nx\r\n'
    b"--xx--\r\n"
)


def test_it_merges_plain_continuations() -> None:
    assert merge_continuations([["CHARSET", "us-ascii"], ["TITLE*0", "long "], ["TITLE*1", "name"],
                                ["FORMAT", "flowed"]]) == [
        ("CHARSET", "us-ascii"), ("TITLE", "long name"), ("FORMAT", "flowed"),
    ]
    # Out of order on the wire, merged by number.
    assert merge_continuations([["NAME*1", "b"], ["NAME*0", "a"], ["NAME*2", "c"]]) == [("NAME", "abc")]


def test_it_keeps_charset_values_encoded_under_the_starred_name() -> None:
    assert merge_continuations([["NAME*0*", "utf-8''%E2%82%AC%20rate"], ["NAME*1*", "%20x"], ["NAME*2", ".p df"]]) == [
        ("NAME*", "utf-8''%E2%82%AC%20rate%20x.p%20df"),
    ]
    assert merge_continuations([["FILENAME*", "utf-8'en'%E2%82%AC.pdf"]]) == [("FILENAME*", "utf-8'en'%E2%82%AC.pdf")]
    # A charset-less first segment gets empty charset and language.
    assert merge_continuations([["NAME*0", "a b"], ["NAME*1*", "%41"]]) == [("NAME*", "''a%20b%41")]


def test_it_tolerates_broken_numbering() -> None:
    # A gap ends the value; without segment 0 there is no value at all.
    assert merge_continuations([["NAME*0", "a"], ["NAME*2", "c"], ["X", "1"]]) == [("NAME", "a"), ("X", "1")]
    assert merge_continuations([["NAME*1", "b"], ["X", "1"]]) == [("X", "1")]
    # Repeated numbers: the first wins. A plain name beside continuations stays.
    assert merge_continuations([["NAME", "plain"], ["NAME*0", "a"], ["NAME*0", "z"], ["NAME*1", "b"]]) == [
        ("NAME", "plain"), ("NAME", "ab"),
    ]


def test_the_parser_keeps_spaces_and_escaped_quotes_inside_quoted_values() -> None:
    tree = parse_structure(MESSAGE)
    assert tree["parts"][2]["p"] == [["CHARSET", "us-ascii"], ["TITLE*0", "long "], ["TITLE*1", "name"],
                                     ["FORMAT", "Flowed"]]
    assert tree["parts"][2]["disp"] == ["INLINE", [["FILENAME*0", 'a "q" '], ["FILENAME*1", "b.txt"]]]


def test_bodystructure_over_the_wire(raw_alice, alice):
    deliver_bytes(alice, "Inbox", MESSAGE)
    raw_alice.cmd("a1 SELECT Inbox")
    assert raw_alice.cmd("a2 FETCH 1 BODYSTRUCTURE") == [
        '* 1 FETCH (BODYSTRUCTURE (("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 2 0 NIL NIL NIL NIL)'
        '("APPLICATION" "OCTET-STREAM" ("NAME*" "utf-8\'\'%E2%82%AC%20rate%20x.pdf") NIL NIL "BASE64" 4 NIL'
        ' ("ATTACHMENT" ("FILENAME*" "utf-8\'\'%E2%82%AC.pdf" "SIZE" "3")) NIL NIL)'
        '("TEXT" "PLAIN" ("CHARSET" "us-ascii" "TITLE" "long name" "FORMAT" "Flowed") NIL NIL "7BIT" 1 0 NIL'
        ' ("INLINE" ("FILENAME" "a \\"q\\" b.txt")) NIL NIL) "MIXED" ("BOUNDARY" "xx") NIL NIL NIL))',
        "a2 OK FETCH done",
    ]


@given(st.lists(st.tuples(st.sampled_from(["NAME", "NAME*", "NAME*0", "NAME*0*", "NAME*1", "NAME*1*", "NAME*2",
                                           "X", "X*9", "*", "*0", "N*A*0"]),
                          st.text(alphabet="ab %'\"*=;\u20ac", max_size=6)), max_size=8))
def test_merging_never_fails_and_keeps_plain_parameters(params: list[tuple[str, str]]) -> None:
    out = merge_continuations([list(p) for p in params])
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in out)
    # Parameters that are not continuation segments come out unchanged, in order; at most
    # one merged parameter per segmented name is added.
    plain = [p for p in params if re.fullmatch(r".+?\*\d{1,4}\*?", p[0]) is None]
    rest = iter(out)
    assert all(any(p == q for q in rest) for p in plain)
    bases = {re.sub(r"\*\d+\*?$", "", k).lower() for k, _ in params if re.fullmatch(r".+?\*\d{1,4}\*?", k)}
    assert len(out) - len(plain) <= len(bases)
