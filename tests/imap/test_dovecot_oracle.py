"""ENVELOPE, BODYSTRUCTURE and BODY[section] of tricky messages (tests/imap/corpus/)
compared with Dovecot's answers for the same bytes: Debian's Dovecot, started on a loopback port by
bench/dovecot_peer.py, is the oracle.

Compared after the normalization RFC 9051 allows (media types, subtypes, encodings,
disposition types and parameter names are case-insensitive; parameter order carries no
meaning). Where we differ on purpose the difference is listed in DIFFERENCES with the
reason, and the test checks that it is exactly that difference.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.dovecot_peer import Dovecot
from mailstore.actions import deliver_bytes
from tests.fixtures_imap import imap_db
from tests.imap.imapdata import Wire, fetch_items

pytestmark = imap_db

CORPUS = sorted((Path(__file__).parent / "corpus").glob("*.eml"))


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _params(params: Any) -> Any:
    if not isinstance(params, list):
        return params
    return sorted((params[i].lower(), params[i + 1]) for i in range(0, len(params), 2))


def _disposition(disp: Any) -> Any:
    return [disp[0].lower(), _params(disp[1])] if isinstance(disp, list) else disp


def normalize_body(body: list[Any]) -> Any:
    """A BODYSTRUCTURE with case-insensitive tokens lower-cased and parameters sorted."""
    if isinstance(body[0], list):
        i = 0
        while i < len(body) and isinstance(body[i], list):
            i += 1
        parts = [normalize_body(p) for p in body[:i]]
        rest = body[i:]
        out: list[Any] = [parts, _lower(rest[0])]
        if len(rest) > 1:
            out += [_params(rest[1]), _disposition(rest[2]) if len(rest) > 2 else None, *rest[3:]]
        return out
    out = [_lower(body[0]), _lower(body[1]), _params(body[2]), body[3], body[4], _lower(body[5]), body[6]]
    rest = body[7:]
    if out[0] == "message" and out[1] in ("rfc822", "global"):
        out += [rest[0], normalize_body(rest[1]), rest[2]]
        rest = rest[3:]
    elif out[0] == "text":
        out.append(rest[0])
        rest = rest[1:]
    if rest:
        out += [rest[0], _disposition(rest[1]) if len(rest) > 1 else None, *rest[2:]]
    return out


def answers(host: str, port: int, user: str, password: str, count: int) -> list[dict[str, Any]]:
    wire = Wire(host, port)
    try:
        wire.command("a1", f"LOGIN {user} {password}")
        wire.command("a2", "SELECT INBOX")
        lines = wire.command("a3", f"FETCH 1:{count} (ENVELOPE BODYSTRUCTURE)")
    finally:
        wire.close()
    items = [fetch_items(line) for line in lines]
    return [{"ENVELOPE": i["ENVELOPE"], "BODYSTRUCTURE": normalize_body(i["BODYSTRUCTURE"])} for i in items]


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    with Dovecot({"alice": "alicepassword"}) as dc:
        dc.fill_maildir("alice", [p.read_bytes() for p in CORPUS])
        yield dc


@pytest.fixture
def dovecot_answers(dovecot) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    return answers(dovecot.host, dovecot.port, "alice", "alicepassword", len(CORPUS))


# Sections whose numbering or boundaries are easy to get wrong (RFC 9051 section 6.4.5):
# nested multiparts, an encapsulated message, a digest, a message without a body.
SECTIONS = {
    "01-nested-multipart.eml": ["1", "1.1", "1.2", "1.2.1", "1.2.2", "1.2.2.MIME", "2", "2.MIME", "TEXT",
                                "HEADER.FIELDS (From Subject)", "HEADER.FIELDS.NOT (To Cc)"],
    "03-missing-headers.eml": ["1", "TEXT", "HEADER"],
    "08-message-rfc822.eml": ["1", "2", "2.HEADER", "2.TEXT", "2.1", "2.2", "2.MIME", "2.1.MIME"],
    "11-digest.eml": ["1", "1.HEADER", "1.TEXT", "1.1", "2", "2.MIME"],
    "12-header-only.eml": ["HEADER", "TEXT", "1"],
}


def sections(host: str, port: int, user: str, password: str) -> dict[tuple[str, str], Any]:
    names = [p.name for p in CORPUS]
    wire = Wire(host, port)
    out = {}
    try:
        wire.command("s1", f"LOGIN {user} {password}")
        wire.command("s2", "EXAMINE INBOX")
        for name, wanted in SECTIONS.items():
            for section in wanted:
                (line,) = wire.command("s3", f"FETCH {names.index(name) + 1} (BODY.PEEK[{section}])")
                items = fetch_items(line)
                out[(name, section)] = next(v for k, v in items.items() if k.startswith("BODY["))
    finally:
        wire.close()
    return out


def test_body_sections_match_dovecot(dovecot, imap, alice):
    for path in CORPUS:
        deliver_bytes(alice, "Inbox", path.read_bytes())
    ours = sections(imap.host, imap.port, "alice@example.test", "alicepassword")
    theirs = sections(dovecot.host, dovecot.port, "alice", "alicepassword")
    # A multipart part directly followed by the enclosing boundary: Dovecot adds the CRLF
    # before that boundary to the part; RFC 2046 section 5.1.1 gives it to the boundary
    # (as in BODYSTRUCTURE above, file 08).
    for key in [("01-nested-multipart.eml", "1"), ("01-nested-multipart.eml", "1.2"), ("08-message-rfc822.eml", "2"),
                ("08-message-rfc822.eml", "2.TEXT")]:
        assert theirs[key] == ours[key] + "\r\n", key
        theirs[key] = ours[key]
    assert {k: v for k, v in ours.items() if theirs[k] != v} == {}


# (file, item, path into the normalized answer, ours, Dovecot's, why we differ).
DIFFERENCES: list[tuple[str, str, tuple[int, ...], Any, Any, str]] = [
    ("06-boundary-not-found.eml", "BODYSTRUCTURE", (),
     ["text", "plain", [("charset", "us-ascii")], None, None, "7bit", "11", "1", None, None, None, None],
     [[["text", "plain", [("charset", "us-ascii")], None, None, "7bit", "0", "0", None, None, None, None]], "mixed",
      [("boundary", "nothere")], None, None, None],
     "A multipart whose boundary never occurs has no parts (RFC 2046 section 5.1.1). Dovecot shows an empty "
     "part, leaving the text reachable only through BODY[TEXT]; we show the body as one text/plain part, so "
     "clients display it."),
    ("07-bad-content-type.eml", "BODYSTRUCTURE", (1,), "plain", "",
     "RFC 2045 section 5.2: an invalid Content-Type (here 'text' without a subtype) means text/plain; "
     "Dovecot keeps the type and answers an empty subtype."),
    ("08-message-rfc822.eml", "BODYSTRUCTURE", (0, 1, 6), "276", "278",
     "RFC 2046 section 5.1.1: the CRLF before a boundary delimiter belongs to the delimiter, so the "
     "message/rfc822 part ends right after its own close-delimiter '--in--'. Dovecot counts that CRLF into "
     "the part (2 octets)..."),
    ("08-message-rfc822.eml", "BODYSTRUCTURE", (0, 1, 9), "15", "16", "...and one line more."),
    ("13-weird-addresses.eml", "ENVELOPE", (9,), "<id-with-spaces@example.org>",
     "<id-with-spaces@example.org>  ", "We trim white space around header values; Dovecot keeps it after."),
]


def _at(value: Any, path: tuple[int, ...]) -> Any:
    for i in path:
        value = value[i]
    return value


def _put(value: Any, path: tuple[int, ...], new: Any) -> Any:
    if not path:
        return new
    _at(value, path[:-1])[path[-1]] = new
    return value


def test_envelope_and_bodystructure_match_dovecot(dovecot_answers, imap, alice):
    for path in CORPUS:
        deliver_bytes(alice, "Inbox", path.read_bytes())
    ours = answers(imap.host, imap.port, "alice@example.test", "alicepassword", len(CORPUS))
    names = [p.name for p in CORPUS]
    for name, item, where, mine, theirs, _why in DIFFERENCES:
        i = names.index(name)
        # The difference is exactly the one documented; the rest must then agree.
        assert (_at(ours[i][item], where), _at(dovecot_answers[i][item], where)) == (mine, theirs), (name, item)
        ours[i][item] = _put(ours[i][item], where, "<documented difference>")
        dovecot_answers[i][item] = _put(dovecot_answers[i][item], where, "<documented difference>")
    for name, mine, theirs in zip(names, ours, dovecot_answers):
        assert mine == theirs, name


def _thread_message(n: int, subject: str, day: int, msgid: str | None, refs: str = "", irt: str = "") -> bytes:
    date = f"{day:02d} Jan 2024 10:00:00 +0000"
    head = f"From: t{n}@example.org\r\nSubject: {subject}\r\nDate: Mon, {date}\r\n"
    if msgid:
        head += f"Message-ID: {msgid}\r\n"
    if refs:
        head += f"References: {refs}\r\n"
    if irt:
        head += f"In-Reply-To: {irt}\r\n"
    return f"{head}\r\nbody {n}\r\n".encode()


# RFC 5256 section 4's cases: missing parents (dummies), a dummy root with several
# children, In-Reply-To without References, a reply arriving before its parent, a loop,
# duplicate and missing Message-IDs, roots merged by base subject (reply under
# original, two originals under a dummy), equal dates ordered by sequence number.
THREAD_CORPUS = [
    _thread_message(1, "Plans", 3, "<a@x>"),
    _thread_message(2, "Other", 1, "<b@x>"),
    _thread_message(3, "Re: plans", 4, "<c@x>", "<a@x>"),
    _thread_message(4, "Re: Re: Plans", 5, "<d@x>", "<a@x> <c@x>"),
    _thread_message(5, "Changed subject", 6, "<e@x>", "<a@x>"),
    _thread_message(6, "Re: lost", 7, "<f@x>", "<gone@x> <gone2@x>"),
    _thread_message(7, "Re: lost", 8, "<g@x>", "<gone@x>"),
    _thread_message(8, "Re: Other", 9, "<h@x>", "", "<b@x> <zzz@x>"),
    _thread_message(9, "Early reply", 2, "<i@x>", "<j@x>"),
    _thread_message(10, "Late parent", 10, "<j@x>"),
    _thread_message(11, "Loop A", 11, "<k@x>", "<l@x>"),
    _thread_message(12, "Loop B", 11, "<l@x>", "<k@x>"),
    _thread_message(13, "Dup", 12, "<a@x>"),
    _thread_message(14, "No id", 12, None, "<b@x>"),
    _thread_message(15, "Fwd: Plans", 13, "<m@x>"),
    _thread_message(16, "Plans", 2, "<n@x>"),
    _thread_message(17, "[list] Topic (fwd)", 14, "<o@x>"),
    _thread_message(18, "Topic", 14, "<p@x>"),
    _thread_message(19, "Orphans", 15, "<q@x>", "<gone3@x>"),
    _thread_message(20, "Orphans", 15, "<r@x>", "<gone4@x>"),
    _thread_message(21, "RE:", 16, "<s@x>"),
    _thread_message(22, "", 16, "<t@x>", "<s@x>"),
]


def _first_lines(host: str, port: int, user: str, password: str, mailbox: str, commands: list[str]) -> list[bytes]:
    """The first response line of each command, run in `mailbox` (EXAMINEd)."""
    wire = Wire(host, port)
    try:
        wire.command("t1", f"LOGIN {user} {password}")
        wire.command("t2", f"EXAMINE {mailbox}")
        return [wire.command(f"t{i}", cmd)[0] for i, cmd in enumerate(commands, 3)]
    finally:
        wire.close()


THREAD_COMMANDS = [
    "THREAD REFERENCES UTF-8 ALL", "THREAD ORDEREDSUBJECT UTF-8 ALL",
    "THREAD REFERENCES UTF-8 NOT SUBJECT plans", "UID THREAD REFERENCES UTF-8 SINCE 8-Jan-2020",
    # SORT's SUBJECT is the same base subject (RFC 5256 section 2.1).
    "SORT (SUBJECT) UTF-8 ALL", "SORT (REVERSE SUBJECT DATE) UTF-8 ALL",
]


def _sort_message(n: int, day: int, head: str) -> bytes:
    return f"{head}Subject: s{n}\r\nDate: Mon, {day:02d} Jan 2024 10:00:00 +0000\r\n\r\nbody {n}\r\n".encode()


# SORT's address criteria (RFC 5256 section 3): the first address's mailbox part only (a
# group's name for a group), i;ascii-casemap ("_" sorts after the letters), a missing
# field sorting first as the empty string, ties by sequence number.
SORT_CORPUS = [
    _sort_message(1, 5, "From: Zed <alpha@z.example>\r\nTo: bob@x.example\r\nCc: Yann <y@x.example>\r\n"),
    _sort_message(2, 4, "From: adam@b.example\r\nTo: undisclosed-recipients:;\r\n"),
    _sort_message(3, 3, 'From: "Bob" <Carl@a.example>, other@a.example\r\nTo: Ann <ann@x.example>\r\n'),
    _sort_message(4, 2, "From: =?utf-8?q?=C3=89mile?= <emile@x.example>\r\nTo: friends: zoe@x.example;\r\n"),
    _sort_message(5, 1, "To: _under@x.example\r\nCc: a@x.example\r\n"),
    _sort_message(6, 6, "From: _under@x.example\r\nTo: ALAN@x.example\r\nCc: B@x.example\r\n"),
    _sort_message(7, 7, "From: ADAM@c.example\r\nTo: bob@y.example\r\n"),
]


SORT_COMMANDS = [
    "SORT (FROM) UTF-8 ALL", "SORT (TO) UTF-8 ALL", "SORT (CC) UTF-8 ALL", "SORT (REVERSE FROM) UTF-8 ALL",
    "SORT (FROM DATE) UTF-8 ALL", "UID SORT (TO REVERSE DATE) UTF-8 ALL",
]


@pytest.mark.parametrize("mailbox, corpus, commands, first", [
    ("Threads", THREAD_CORPUS, THREAD_COMMANDS, b"* THREAD (2 (8)(14))((16)(1 (3 4)(5))(15))"),
    ("Sorts", SORT_CORPUS, SORT_COMMANDS, b"* SORT 5 2 7 1 3 4 6"),
], ids=["thread", "sort"])
def test_thread_and_sort_match_dovecot(dovecot, imap, alice, mailbox, corpus, commands, first):
    for data in corpus:
        deliver_bytes(alice, mailbox, data)
    dovecot.fill_maildir("alice", corpus, mailbox=mailbox)
    ours = _first_lines(imap.host, imap.port, "alice@example.test", "alicepassword", mailbox, commands)
    theirs = _first_lines(dovecot.host, dovecot.port, "alice", "alicepassword", mailbox, commands)
    assert ours == theirs
    assert ours[0].startswith(first)
