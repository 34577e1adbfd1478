"""The issue 2 slice over real sockets: greeting, CAPABILITY, LOGIN, LIST, SELECT,
FETCH (FLAGS, UID, RFC822.SIZE, BODY[], BODY.PEEK[]) and IDLE seeing a delivery."""
from __future__ import annotations

import imaplib
import threading
import time

import pytest
from imapclient import IMAPClient

from mailstore.actions import deliver_bytes
from tests.fixtures_imap import MESSAGE, imap_db

pytestmark = imap_db

CAPS = (
    "IMAP4rev2 IMAP4rev1 ENABLE LITERAL+ IDLE SASL-IR BINARY UNSELECT UIDPLUS ESEARCH SEARCHRES MOVE "
    "UTF8=ACCEPT LIST-EXTENDED SPECIAL-USE LIST-STATUS AUTH=SCRAM-SHA-256 AUTH=SCRAM-SHA-1 AUTH=CRAM-MD5 "
    "ID APPENDLIMIT=104857600 NAMESPACE CONDSTORE QRESYNC MULTIAPPEND STATUS=SIZE CREATE-SPECIAL-USE QUOTA "
    "QUOTA=RES-STORAGE SORT THREAD=ORDEREDSUBJECT THREAD=REFERENCES"
)
FLAGS = "\\Seen \\Answered \\Flagged \\Deleted \\Draft $Forwarded $Junk $NotJunk $Phishing $MDNSent"


def test_it_greets_with_capabilities_and_answers_capability_noop_logout(imap):
    from tests.fixtures_imap import RawClient

    c = RawClient(imap.host, imap.port)
    assert c.line() == f"* OK [CAPABILITY {CAPS} AUTH=PLAIN] mox imap"
    assert c.cmd("a1 CAPABILITY") == [f"* CAPABILITY {CAPS} AUTH=PLAIN", "a1 OK CAPABILITY done"]
    assert c.cmd("a2 NOOP") == ["a2 OK NOOP done"]
    assert c.cmd("a3 LOGOUT") == ["* BYE thanks", "a3 OK LOGOUT done"]
    assert c.file.readline() == b""
    c.close()


def test_it_says_bye_to_a_first_command_that_is_not_imap(raw):
    raw.send("GET / HTTP/1.0")
    assert raw.line() == "* BYE please try again speaking imap"
    assert raw.file.readline() == b""


def test_it_answers_bad_to_unknown_commands_after_the_first(raw):
    assert raw.cmd("a1 NOOP") == ["a1 OK NOOP done"]
    assert raw.cmd("a2 FROBNICATE") == ["a2 BAD unknown command"]


def test_it_logs_in_and_refuses_a_wrong_password(raw):
    assert raw.cmd("a1 LOGIN alice@example.test wrong") == ["a1 NO [AUTHENTICATIONFAILED] invalid credentials"]
    assert raw.cmd("a2 LOGIN alice@example.test alicepassword") == [f"a2 OK [CAPABILITY {CAPS} AUTH=PLAIN] login done"]
    assert raw.cmd("a3 LOGIN alice@example.test alicepassword") == [
        "a3 NO LOGIN not allowed in this connection state"
    ]


def test_it_lists_the_default_mailboxes(raw_alice):
    assert raw_alice.cmd('a1 LIST "" "*"') == [
        '* LIST (\\Archive) "/" Archive',
        '* LIST (\\Drafts) "/" Drafts',
        '* LIST () "/" Inbox',
        '* LIST (\\Junk) "/" Junk',
        '* LIST (\\Sent) "/" Sent',
        '* LIST (\\Trash) "/" Trash',
        "a1 OK LIST done",
    ]


def test_it_selects_with_mox_output(raw_alice, alice):
    deliver_bytes(alice, "Inbox", MESSAGE)
    from mailstore.models import Mailbox

    inbox = Mailbox.objects.get(account=alice, name="Inbox")
    assert raw_alice.cmd("a1 SELECT inbox") == [
        f"* FLAGS ({FLAGS})",
        f"* OK [PERMANENTFLAGS ({FLAGS} \\*)] x",
        "* 0 RECENT",
        "* 1 EXISTS",
        "* OK [UNSEEN 1] x",
        f"* OK [UIDVALIDITY {inbox.uidvalidity}] x",
        "* OK [UIDNEXT 2] x",
        '* LIST () "/" Inbox',
        "a1 OK [READ-WRITE] x",
    ]
    assert raw_alice.cmd("a2 EXAMINE Archive") == [
        "* OK [CLOSED] x",
        f"* FLAGS ({FLAGS})",
        "* OK [PERMANENTFLAGS ()] x",
        "* 0 RECENT",
        "* 0 EXISTS",
        f"* OK [UIDVALIDITY {inbox.uidvalidity + 2}] x",
        "* OK [UIDNEXT 1] x",
        '* LIST () "/" Archive',
        "a2 OK [READ-ONLY] x",
    ]


def test_it_fetches_flags_uid_size_and_body_and_sets_seen(raw_alice, alice):
    deliver_bytes(alice, "Inbox", MESSAGE)
    raw_alice.cmd("a1 SELECT Inbox")
    size = len(MESSAGE)
    assert raw_alice.cmd("a2 FETCH 1 (FLAGS UID RFC822.SIZE)") == [
        f"* 1 FETCH (FLAGS () UID 1 RFC822.SIZE {size})",
        "a2 OK FETCH done",
    ]
    raw_alice.send("a3 FETCH 1 (BODY.PEEK[])")
    assert raw_alice.line() == f"* 1 FETCH (BODY[] {{{size}}}"
    assert raw_alice.file.read(size) == MESSAGE
    assert raw_alice.until_tagged("a3") == [")", "a3 OK FETCH done"]
    assert raw_alice.cmd("a4 FETCH 1 FLAGS") == ["* 1 FETCH (FLAGS ())", "a4 OK FETCH done"]
    raw_alice.send("a5 UID FETCH 1 BODY[]")
    assert raw_alice.line() == f"* 1 FETCH (UID 1 BODY[] {{{size}}}"
    assert raw_alice.file.read(size) == MESSAGE
    assert raw_alice.until_tagged("a5") == [" FLAGS (\\Seen))", "a5 OK UID FETCH done"]
    assert raw_alice.cmd("a6 FETCH 1 FLAGS") == ["* 1 FETCH (FLAGS (\\Seen))", "a6 OK FETCH done"]


def test_it_works_with_imaplib(imap, alice):
    deliver_bytes(alice, "Inbox", MESSAGE)
    with imaplib.IMAP4(imap.host, imap.port) as c:
        assert c.login("alice@example.test", "alicepassword")[0] == "OK"
        typ, data = c.list()
        assert typ == "OK" and b'() "/" Inbox' in data
        assert c.select("INBOX") == ("OK", [b"1"])
        typ, data = c.fetch("1", "(RFC822.SIZE BODY[])")
        assert typ == "OK"
        assert data[0][0] == f"1 (RFC822.SIZE {len(MESSAGE)} BODY[] {{{len(MESSAGE)}}}".encode()
        assert data[0][1] == MESSAGE
        typ, data = c.fetch("1", "(FLAGS)")
        assert data == [b"1 (FLAGS (\\Seen))"]


def test_it_pushes_exists_to_an_idle_imapclient_when_mail_is_delivered(imap, alice):
    deliver_bytes(alice, "Inbox", MESSAGE)
    with IMAPClient(imap.host, port=imap.port, ssl=False, timeout=10) as c:
        c.login("alice@example.test", "alicepassword")
        assert c.select_folder("INBOX")[b"EXISTS"] == 1
        c.idle()
        started = time.monotonic()
        t = threading.Thread(target=lambda: deliver_bytes(alice, "Inbox", MESSAGE))
        t.start()
        responses = c.idle_check(timeout=5)
        t.join()
        elapsed = time.monotonic() - started
        c.idle_done()
        assert (2, b"EXISTS") in responses
        assert elapsed < 5
        assert c.fetch([2], ["UID", "FLAGS"]) == {2: {b"FLAGS": (), b"SEQ": 2}}


def test_it_sends_exists_before_the_tagged_reply_after_a_delivery(raw_alice, alice):
    raw_alice.cmd("a1 SELECT Inbox")
    deliver_bytes(alice, "Inbox", MESSAGE)
    assert raw_alice.cmd("a2 NOOP") == ["* 1 EXISTS", "a2 OK NOOP done"]


def test_it_pushes_a_delivery_made_by_another_process_to_idle(raw_alice, alice):
    from tests.commands.procs import manage

    assert raw_alice.cmd("a1 SELECT Inbox")[-1] == "a1 OK [READ-WRITE] x"
    raw_alice.send("a2 IDLE")
    assert raw_alice.line() == "+ waiting"
    started = time.monotonic()
    result = manage("deliver", "alice", input=MESSAGE)
    assert result.returncode == 0, result.stderr
    assert raw_alice.line() == "* 1 EXISTS"
    # Includes starting a Django process; a lost wake-up would wait forever.
    assert time.monotonic() - started < 30
    raw_alice.send("DONE")
    assert raw_alice.until_tagged("a2") == ["a2 OK idle done"]
