"""MULTIAPPEND (RFC 3502): the messages of one APPEND are stored together or not at all,
answered with APPENDUID and the UID range (RFC 4315)."""
from __future__ import annotations

from imapclient import IMAPClient

from mailstore import files
from mailstore.models import Change, Mailbox, Message, Store
from tests.fixtures_imap import MESSAGE, imap_db

pytestmark = imap_db


def stored_files(account) -> set[str]:  # type: ignore[no-untyped-def]
    root = files.account_dir(account.pk)
    return {str(p) for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def snapshot(account):  # type: ignore[no-untyped-def]
    """What a failed APPEND must leave as it was."""
    inbox = Mailbox.objects.get(account=account, name="Inbox")
    return (
        Message.objects.filter(account=account).count(), inbox.uidnext, Store.objects.get(account=account).size,
        Store.objects.get(account=account).highest_modseq, Change.objects.filter(account=account).count(),
        stored_files(account),
    )


def test_it_appends_several_messages_in_one_command(raw_alice, alice):
    inbox = Mailbox.objects.get(account=alice, name="Inbox")
    raw_alice.cmd("s1 SELECT Inbox")
    second = MESSAGE.replace(b"hello", b"second")
    raw_alice.send(
        b'a1 APPEND Inbox (\\Seen) "02-Jan-2023 11:00:00 +0100" {%d+}\r\n' % len(MESSAGE) + MESSAGE
        + b" (\\Flagged $Work) {%d+}\r\n" % len(second) + second + b" {3+}\r\nabc\r\n"
    )
    assert raw_alice.until_tagged("a1") == [
        "* FLAGS (\\Seen \\Answered \\Flagged \\Deleted \\Draft $Forwarded $Junk $NotJunk $Phishing $MDNSent $work)",
        "* 3 EXISTS",
        f"a1 OK [APPENDUID {inbox.uidvalidity} 1:3] APPEND done",
    ]
    rows = list(Message.objects.filter(account=alice).order_by("uid"))
    assert [(m.uid, m.flag_list(), files.read_message(m.path, m.prefix)) for m in rows] == [
        (1, ["\\Seen"], MESSAGE), (2, ["\\Flagged", "$work"], second), (3, [], b"abc"),
    ]
    assert rows[0].received.isoformat() == "2023-01-02T10:00:00+00:00"


def test_imapclient_multiappend(imap, alice):
    with IMAPClient(imap.host, port=imap.port, ssl=False, timeout=10) as c:
        c.login("alice@example.test", "alicepassword")
        result = c.multiappend("Archive", [MESSAGE, {"msg": MESSAGE.replace(b"hello", b"two"), "flags": [b"\\Seen"]}])
    archive = Mailbox.objects.get(account=alice, name="Archive")
    assert result == ("OK", [f"[APPENDUID {archive.uidvalidity} 1:2] APPEND done".encode()])
    assert [m.subject for m in Message.objects.filter(mailbox=archive).order_by("uid")] == ["hello", "two"]


def test_a_bad_literal_fails_the_whole_command_and_stores_nothing(raw_alice, alice):
    before = snapshot(alice)
    # A NUL is allowed only in a literal8 (RFC 9051 section 4.3).
    raw_alice.send(b"a1 APPEND Inbox {5+}\r\nfirst {4+}\r\nn\x00ul {5+}\r\nthird\r\n")
    assert raw_alice.until_tagged("a1") == ["a1 BAD NUL in literal (at ' {5+}\\r\\nthird')"]
    # A syntax error after two complete messages.
    raw_alice.send(b"a2 APPEND Inbox {5+}\r\nfirst {6+}\r\nsecond (\\Seen {5+}\r\nthird\r\n")
    assert raw_alice.until_tagged("a2") == ["a2 BAD expected atom (at '{5+}\\r\\nthird')"]
    assert snapshot(alice) == before
    assert raw_alice.cmd("a3 NOOP") == ["a3 OK NOOP done"]


def test_a_refused_literal_fails_the_command_and_drops_spooled_ones(raw_alice, alice):
    before = snapshot(alice)
    temp_before = set(files.tmp_dir().iterdir())
    big = MESSAGE + b"x" * (300 * 1024) + b"\r\n"
    raw_alice.send(b"a1 APPEND Inbox {%d}" % len(big))
    assert raw_alice.line() == "+ ok"
    raw_alice.sock.sendall(big + b" {999999999999}\r\n")
    assert raw_alice.line() == "a1 NO [TOOBIG] literal too big"
    assert raw_alice.cmd("a2 NOOP") == ["a2 OK NOOP done"]
    assert snapshot(alice) == before
    assert set(files.tmp_dir().iterdir()) == temp_before


def test_a_failure_at_a_later_message_rolls_back_the_earlier_ones(raw_alice, alice):
    # Set after login: APPEND uses the account's settings as they are now.
    alice.quota_bytes = 2 * len(MESSAGE) + 10
    alice.save(update_fields=["quota_bytes"])
    before = snapshot(alice)
    lit = b"{%d+}\r\n" % len(MESSAGE) + MESSAGE
    raw_alice.send(b"a1 APPEND Inbox " + lit + b" " + lit + b" " + lit + b"\r\n")
    assert raw_alice.until_tagged("a1") == ["a1 NO [OVERQUOTA] over quota"]
    assert snapshot(alice) == before
    raw_alice.send(b"a2 APPEND Inbox " + lit + b" " + lit + b"\r\n")
    inbox = Mailbox.objects.get(account=alice, name="Inbox")
    assert raw_alice.until_tagged("a2") == [f"a2 OK [APPENDUID {inbox.uidvalidity} 1:2] APPEND done"]
    assert raw_alice.cmd("a3 APPEND Nope {1+}\r\nx {1+}\r\ny") == ["a3 NO [TRYCREATE] mailbox does not exist"]
    assert len(stored_files(alice)) == 2
