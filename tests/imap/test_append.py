"""APPEND (RFC 9051 6.3.12) with APPENDUID (RFC 4315), LITERAL+ (RFC 7888), MULTIAPPEND
(RFC 3502), TRYCREATE and refused oversized literals."""
from __future__ import annotations

import pytest
from imapclient import IMAPClient

from mailstore import files
from mailstore.models import Mailbox, Message
from tests.fixtures_imap import MESSAGE, imap_db

pytestmark = imap_db


def test_it_appends_durably_with_flags_date_and_appenduid(raw_alice, alice):
    inbox = Mailbox.objects.get(account=alice, name="Inbox")
    raw_alice.send(f'a1 APPEND Inbox (\\Seen $Label) "02-Jan-2023 11:00:00 +0100" {{{len(MESSAGE)}}}')
    assert raw_alice.line() == "+ ok"
    raw_alice.send(MESSAGE + b"\r\n")
    assert raw_alice.until_tagged("a1") == [f"a1 OK [APPENDUID {inbox.uidvalidity} 1] APPEND done"]
    m = Message.objects.get(account=alice)
    assert files.read_message(m.path, m.prefix) == MESSAGE
    assert (m.seen, m.keywords, m.received.isoformat()) == (True, ["$label"], "2023-01-02T10:00:00+00:00")
    raw_alice.send(b"a2 APPEND Inbox {3+}\r\nabc {4+}\r\ndefg")
    assert raw_alice.until_tagged("a2") == [f"a2 OK [APPENDUID {inbox.uidvalidity} 2:3] APPEND done"]
    assert raw_alice.cmd("a3 APPEND Nope {1+}\r\nx") == ["a3 NO [TRYCREATE] mailbox does not exist"]
    raw_alice.cmd("a4 SELECT Inbox")
    assert raw_alice.cmd("a5 STATUS Inbox (MESSAGES UIDNEXT)") == [
        "* STATUS Inbox (MESSAGES 3 UIDNEXT 4)", "a5 OK STATUS done"
    ]


def test_it_refuses_an_oversized_literal_without_reading_it(raw_alice):
    raw_alice.send("a1 APPEND Inbox {999999999999}")
    assert raw_alice.line() == "a1 NO [TOOBIG] literal too big"
    assert raw_alice.cmd("a2 NOOP") == ["a2 OK NOOP done"]


def test_it_appends_to_junk_with_automatic_flags_via_imapclient(imap, alice):
    with IMAPClient(imap.host, port=imap.port, ssl=False, timeout=10) as c:
        c.login("alice@example.test", "alicepassword")
        result = c.append("Junk", MESSAGE, flags=[b"\\Flagged"])
        assert result.endswith(b"APPEND done")
        c.append("Archive", MESSAGE)
    assert Message.objects.get(mailbox__name="Junk").flag_list() == ["\\Flagged", "$Junk"]
    assert Message.objects.get(mailbox__name="Archive").flag_list() == ["$NotJunk"]


def test_it_spools_a_large_message_to_a_file_and_stores_it_exactly(raw_alice, alice):
    big = MESSAGE + b"".join(b"line %07d of a long message body\r\n" % i for i in range(30000))
    temp_before = set(files.tmp_dir().iterdir())
    raw_alice.send(f"a1 APPEND Inbox (\\Seen) {{{len(big)}}}")
    assert raw_alice.line() == "+ ok"
    raw_alice.sock.sendall(big + b" {5+}\r\nsmall\r\n")
    lines = raw_alice.until_tagged("a1")
    assert lines[-1].endswith("1:2] APPEND done")
    first, second = Message.objects.filter(account=alice).order_by("uid")
    assert files.read_message(first.path) == big and first.size == len(big) and first.seen
    assert files.read_message(second.path) == b"small"
    assert set(files.tmp_dir().iterdir()) == temp_before
