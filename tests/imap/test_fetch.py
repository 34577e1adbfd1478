"""FETCH items (RFC 9051 6.4.5): ENVELOPE, BODYSTRUCTURE, BODY, BODY[section]<partial>,
HEADER.FIELDS(.NOT), MIME, TEXT, BINARY/BINARY.SIZE (RFC 3516), RFC822.*, INTERNALDATE."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from tests.fixtures_imap import imap_db, other_session

from mailstore.actions import deliver_bytes
from tests.imap.test_structure import NESTED

pytestmark = imap_db

BINARY = (
    b"From: a@example.org\r\nSubject: bin\r\nContent-Type: multipart/mixed; boundary=z\r\n\r\n"
    b"--z\r\nContent-Type: text/plain\r\n\r\nhi\r\n"
    b"--z\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nAAEC\r\n"
    b"--z--\r\n"
)


def literal_reply(client, command: str) -> tuple[str, bytes, list[str]]:
    """Send a command whose reply has one literal: (line before, literal data, rest)."""
    client.send(command)
    head = client.line()
    size = int(head[head.rindex("{") + 1 : -1])
    data = client.file.read(size)
    return head, data, client.until_tagged(command.split()[0])


def test_it_fetches_envelope_bodystructure_and_internaldate(raw_alice, alice):
    received = datetime(2024, 3, 5, 7, 8, 9, tzinfo=timezone.utc)
    deliver_bytes(alice, "Inbox", NESTED, prefix=b"Received: from x\r\n", received=received)
    raw_alice.cmd("a1 SELECT Inbox")
    assert raw_alice.cmd("a2 FETCH 1 (INTERNALDATE ENVELOPE)") == [
        '* 1 FETCH (INTERNALDATE " 5-Mar-2024 07:08:09 +0000" ENVELOPE (NIL "nested" '
        '(("=?utf-8?q?J=C3=B6rg?=" NIL "joerg" "example.org")) (("=?utf-8?q?J=C3=B6rg?=" NIL "joerg" "example.org")) '
        '(("=?utf-8?q?J=C3=B6rg?=" NIL "joerg" "example.org")) ((NIL NIL "a" "example.test")("B, C" NIL "bc" "example.test")) '
        'NIL NIL NIL "<n@x>"))',
        "a2 OK FETCH done",
    ]
    lines = raw_alice.cmd("a3 UID FETCH 1 (BODYSTRUCTURE BODY)")
    assert lines[0].startswith('* 1 FETCH (UID 1 BODYSTRUCTURE ((("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "QUOTED-PRINTABLE" 9 0 NIL NIL NIL NIL)')
    assert ' BODY ((("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "QUOTED-PRINTABLE" 9 0)' in lines[0]


def test_it_fetches_sections_partials_and_header_fields(raw_alice, alice):
    deliver_bytes(alice, "Inbox", NESTED, prefix=b"Received: from x\r\n")
    raw_alice.cmd("a1 SELECT Inbox")
    head, data, rest = literal_reply(raw_alice, "a2 FETCH 1 BODY.PEEK[HEADER.FIELDS (subject MESSAGE-ID)]")
    assert head == "* 1 FETCH (BODY[HEADER.FIELDS (subject MESSAGE-ID)] {38}"
    assert data == b"Subject: nested\r\nMessage-ID: <n@x>\r\n\r\n"
    head, data, rest = literal_reply(raw_alice, "a3 FETCH 1 BODY.PEEK[HEADER]")
    assert data.startswith(b"Received: from x\r\nFrom: ") and data.endswith(b"boundary=\"outer\"\r\n\r\n")
    _, data, _ = literal_reply(raw_alice, "a4 FETCH 1 BODY.PEEK[HEADER.FIELDS.NOT (From To Received Content-Type)]")
    assert data == b"Subject: nested\r\nMessage-ID: <n@x>\r\n\r\n"
    head, data, _ = literal_reply(raw_alice, "a5 FETCH 1 BODY.PEEK[1.1]")
    assert (head, data) == ("* 1 FETCH (BODY[1.1] {9}", b"caf=C3=A9")
    _, data, _ = literal_reply(raw_alice, "a6 FETCH 1 BODY.PEEK[1.1.MIME]")
    assert data == b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
    _, data, _ = literal_reply(raw_alice, "a7 FETCH 1 BODY.PEEK[2.HEADER]")
    assert data == b"Subject: inner\r\n\r\n"
    _, data, _ = literal_reply(raw_alice, "a8 FETCH 1 BODY.PEEK[2.TEXT]")
    assert data == b"body"
    head, data, _ = literal_reply(raw_alice, "a9 FETCH 1 BODY.PEEK[TEXT]<0.8>")
    assert (head, data) == ("* 1 FETCH (BODY[TEXT]<0> {8}", b"preamble")
    head, data, _ = literal_reply(raw_alice, "a10 FETCH 1 BINARY.PEEK[1.1]")
    assert (head, data) == ("* 1 FETCH (BINARY[1.1] {5}", "café".encode())
    assert raw_alice.cmd("a11 FETCH 1 (BINARY.SIZE[1.1] RFC822.SIZE)") == [
        f"* 1 FETCH (BINARY.SIZE[1.1] 5 RFC822.SIZE {len(NESTED) + 18})", "a11 OK FETCH done"
    ]
    assert raw_alice.cmd("a12 FETCH 1 BODY.PEEK[9]") == ['* 1 FETCH (BODY[9] "")', "a12 OK FETCH done"]
    head, data, rest = literal_reply(raw_alice, "a13 FETCH 1 RFC822.HEADER")
    assert head.startswith("* 1 FETCH (RFC822.HEADER {") and rest == [")", "a13 OK FETCH done"]


def test_it_fetches_binary_with_literal8(raw_alice, alice):
    deliver_bytes(alice, "Inbox", BINARY)
    raw_alice.cmd("a1 SELECT Inbox")
    raw_alice.send("a2 FETCH 1 BINARY[2]")
    assert raw_alice.line() == "* 1 FETCH (BINARY[2] ~{3}"
    assert raw_alice.file.read(3) == b"\x00\x01\x02"
    assert raw_alice.until_tagged("a2") == [" FLAGS (\\Seen))", "a2 OK FETCH done"]


def test_a_structure_from_an_older_parser_is_reparsed_once_and_saved(raw_alice, alice):
    from mailcore.message.structure import VERSION
    from mailstore.models import Message

    fresh = deliver_bytes(alice, "Inbox", NESTED)
    old = deliver_bytes(alice, "Inbox", NESTED)
    Message.objects.filter(pk=old.pk).update(parsed={"v": VERSION - 1})
    raw_alice.cmd("a1 SELECT Inbox")
    lines = raw_alice.cmd("a2 FETCH 1:2 (BODYSTRUCTURE)")
    assert lines[0].split(" ", 3)[3] == lines[1].split(" ", 3)[3]  # same answer for both
    assert Message.objects.get(pk=old.pk).parsed == Message.objects.get(pk=fresh.pk).parsed
    assert Message.objects.get(pk=old.pk).parsed["v"] == VERSION


def test_stored_envelopes_answer_as_the_structure_does(raw_alice, alice):
    """ENVELOPE comes from Message.envelope when its version tag is current; a row
    without it, or with another version's, is answered from the structure and the
    re-parsed structure's envelope is stored."""
    from mailcore.message.structure import VERSION
    from mailstore.models import Message

    for i in range(3):
        deliver_bytes(alice, "Inbox", NESTED if i == 1 else BINARY)
    assert bytes(Message.objects.get(uid=2).envelope).startswith(b"%d:(NIL \"nested\"" % VERSION)
    raw_alice.cmd("a1 SELECT Inbox")
    stored = raw_alice.cmd("a2 FETCH 1:3 (ENVELOPE FLAGS)")
    Message.objects.filter(uid=1).update(envelope=None)
    # An older parser's tree and envelope: parsed again, both stored again.
    Message.objects.filter(uid=3).update(envelope=b"1:(stale)", parsed={"v": 1})
    assert raw_alice.cmd("a3 FETCH 1:3 (ENVELOPE FLAGS)") == [line.replace("a2", "a3") for line in stored]
    assert raw_alice.cmd("a4 FETCH 1:3 (ENVELOPE BODY)")[:-1] == raw_alice.cmd("a5 FETCH 1:3 (ENVELOPE BODY)")[:-1]
    assert bytes(Message.objects.get(uid=3).envelope).startswith(b"%d:(NIL \"bin\"" % VERSION)
    assert Message.objects.get(uid=3).parsed["v"] == VERSION


def test_column_items_come_from_one_query(raw_alice, alice):
    for i in range(3):
        deliver_bytes(alice, "Inbox", BINARY, received=datetime(2024, 3, 5 + i, tzinfo=timezone.utc))
    raw_alice.cmd("a1 SELECT Inbox")
    raw_alice.cmd("a2 STORE 2 +FLAGS.SILENT (\\Seen $Junk custom)")
    assert raw_alice.cmd("a3 UID FETCH 2:3 (FLAGS INTERNALDATE RFC822.SIZE)") == [
        '* 2 FETCH (UID 2 FLAGS (\\Seen $Junk custom) INTERNALDATE " 6-Mar-2024 00:00:00 +0000" RFC822.SIZE 212)',
        '* 3 FETCH (UID 3 FLAGS () INTERNALDATE " 7-Mar-2024 00:00:00 +0000" RFC822.SIZE 212)',
        "a3 OK UID FETCH done",
    ]
    raw_alice.cmd("a5 STORE 3 +FLAGS.SILENT (\\Answered \\Flagged \\Deleted \\Draft $Forwarded $NotJunk "
                  "$Phishing $MDNSent)")
    assert raw_alice.cmd("a6 UID FETCH 1:* (FLAGS)") == [
        "* 1 FETCH (UID 1 FLAGS ())",
        "* 2 FETCH (UID 2 FLAGS (\\Seen $Junk custom))",
        "* 3 FETCH (UID 3 FLAGS (\\Answered \\Flagged \\Deleted \\Draft $Forwarded $NotJunk $Phishing $MDNSent))",
        "a6 OK UID FETCH done",
    ]
    assert raw_alice.cmd("a4 FETCH 1,3 (MODSEQ)") == [
        "* 1 FETCH (MODSEQ (8))", "* 3 FETCH (MODSEQ (12))", "a4 OK FETCH done",
    ]


def test_large_fetches_are_answered_in_chunks(raw_alice, alice, monkeypatch):
    from imapserver import selected

    monkeypatch.setattr(selected, "FETCH_CHUNK", 2)
    for i in range(5):
        deliver_bytes(alice, "Inbox", BINARY)
    raw_alice.cmd("a1 SELECT Inbox")
    assert raw_alice.cmd("a2 FETCH 1:* (FLAGS)") == [f"* {i} FETCH (FLAGS ())" for i in range(1, 6)] + [
        "a2 OK FETCH done"]
    assert raw_alice.cmd("a3 UID FETCH 1,3:5 (RFC822.SIZE)") == [
        f"* {i} FETCH (UID {i} RFC822.SIZE 212)" for i in (1, 3, 4, 5)] + ["a3 OK UID FETCH done"]
    # Setting \Seen is one change for the whole set, not one per chunk.
    lines = raw_alice.cmd("a4 FETCH 1:5 (BODY[HEADER.FIELDS (Subject)])")
    assert [line for line in lines if "FLAGS (\\Seen)" in line] and lines[-1] == "a4 OK FETCH done"
    assert raw_alice.cmd("a5 FETCH 1:* (MODSEQ)")[:5] == [f"* {i} FETCH (MODSEQ ({m}))" for i, m in
                                                         zip(range(1, 6), [13] * 5)]


def test_flags_of_a_view_with_a_message_expunged_elsewhere(raw_alice, alice, imap):
    # FETCH (FLAGS) numbers its lines by counting when the rows are exactly the view's;
    # a message expunged by another session but not yet reported, a sparse set and a
    # message delivered after SELECT must not shift a sequence number.
    for _ in range(5):
        deliver_bytes(alice, "Inbox", BINARY)
    raw_alice.cmd("a1 SELECT Inbox")
    raw_alice.cmd("a2 STORE 4 +FLAGS.SILENT (\\Flagged kw)")
    other = other_session(imap)
    other.cmd("b2 STORE 2 +FLAGS.SILENT (\\Deleted)")
    other.cmd("b3 EXPUNGE")
    other.close()
    deliver_bytes(alice, "Inbox", BINARY)
    assert raw_alice.cmd("a3 UID FETCH 1:* (FLAGS)") == [
        "* 1 FETCH (UID 1 FLAGS ())",
        "* 3 FETCH (UID 3 FLAGS ())",
        "* 4 FETCH (UID 4 FLAGS (\\Flagged kw))",
        "* 5 FETCH (UID 5 FLAGS ())",
        "a3 OK UID FETCH done",
    ]
    assert raw_alice.cmd("a4 FETCH 3,5 (FLAGS)") == [
        "* 3 FETCH (FLAGS ())", "* 5 FETCH (FLAGS ())", "a4 OK FETCH done"]
    assert raw_alice.cmd("a5 FETCH 4:5 (FLAGS)") == [
        "* 4 FETCH (FLAGS (\\Flagged kw))", "* 5 FETCH (FLAGS ())", "a5 OK FETCH done"]
    assert raw_alice.cmd("a6 NOOP") == ["* 2 EXPUNGE", "* 5 EXISTS", "a6 OK NOOP done"]
    assert raw_alice.cmd("a7 UID FETCH 1:* (FLAGS)") == [
        "* 1 FETCH (UID 1 FLAGS ())",
        "* 2 FETCH (UID 3 FLAGS ())",
        "* 3 FETCH (UID 4 FLAGS (\\Flagged kw))",
        "* 4 FETCH (UID 5 FLAGS ())",
        "* 5 FETCH (UID 6 FLAGS ())",
        "a7 OK UID FETCH done",
    ]


def test_flags_show_keywords_however_they_came(raw_alice, alice):
    # FETCH (FLAGS) leaves the keywords column unread while the mailbox lists none
    # (Mailbox.keywords): delivery, APPEND, COPY and STORE must each keep that list.
    deliver_bytes(alice, "Inbox", BINARY, keywords=["delivered"])
    raw_alice.send(f"a1 APPEND Inbox (appended) {{{len(BINARY)}+}}\r\n".encode() + BINARY + b"\r\n")
    assert raw_alice.until_tagged("a1")[-1].startswith("a1 OK")
    deliver_bytes(alice, "Other", BINARY)
    raw_alice.cmd("a2 SELECT Other")
    assert raw_alice.cmd("a3 UID FETCH 1:* (FLAGS)") == ["* 1 FETCH (UID 1 FLAGS ())", "a3 OK UID FETCH done"]
    raw_alice.cmd("a4 STORE 1 +FLAGS.SILENT (stored)")
    raw_alice.cmd("a5 SELECT Inbox")
    raw_alice.cmd("a6 COPY 1:2 Other")
    raw_alice.cmd("a7 SELECT Other")
    assert raw_alice.cmd("a8 UID FETCH 1:* (FLAGS)") == [
        # $NotJunk: COPY's automatic junk flag for a mailbox that is not Junk (mox's default).
        "* 1 FETCH (UID 1 FLAGS (stored))", "* 2 FETCH (UID 2 FLAGS ($NotJunk delivered))",
        "* 3 FETCH (UID 3 FLAGS ($NotJunk appended))", "a8 OK UID FETCH done"]
