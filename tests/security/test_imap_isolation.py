"""IMAP access across accounts is impossible: no namespace names other users, and every
way of spelling another account's mailbox (Other Users, #user, ~bob, bob/INBOX, path
tricks) ends in alice's own account or nowhere, for SELECT, EXAMINE, STATUS, APPEND,
COPY and MOVE. Bob's mail is untouched and alice never sees it."""
from __future__ import annotations

import pytest

from mailstore.actions import deliver_bytes
from mailstore.models import Mailbox, Message
from tests.fixtures_imap import imap_db

pytestmark = imap_db

OTHER_NAMES = [
    "Other Users/bob/INBOX", "Other Users/bob", "#user/bob/INBOX", "#user/bob", "~bob/INBOX", "~bob",
    "bob/INBOX", "bob@example.test/INBOX", "/bob/INBOX", "../bob/INBOX", "user.bob", "user/bob", "#shared/bob",
]
NO_SUCH = "NO [NONEXISTENT] no such mailbox"


@pytest.fixture
def bobs_mail(bob):  # type: ignore[no-untyped-def]
    return deliver_bytes(bob, "Inbox", b"Subject: for bob only\r\n\r\nsecret\r\n")


def test_no_namespace_or_list_shows_another_account(raw_alice, alice, bobs_mail) -> None:
    c = raw_alice
    assert c.cmd("n1 NAMESPACE") == ['* NAMESPACE (("" "/")) NIL NIL', "n1 OK NAMESPACE done"]
    listed = [line for line in c.cmd('l1 LIST "" "*"') if line.startswith("* LIST")]
    names = sorted(line.rsplit(" ", 1)[1].strip('"') for line in listed)
    assert names == sorted(Mailbox.objects.filter(account=alice).values_list("name", flat=True))
    for pattern in ("Other Users/*", "#user/*", "~bob*", "bob*", "%/%"):
        assert c.cmd(f'l2 LIST "" "{pattern}"') == ["l2 OK LIST done"], pattern


def test_another_accounts_mailbox_cannot_be_opened_or_written(raw_alice, alice, bob, bobs_mail) -> None:
    c = raw_alice
    deliver_bytes(alice, "Inbox", b"Subject: alice's\r\n\r\nmine\r\n")
    for name in OTHER_NAMES:
        assert c.cmd(f'a1 SELECT "{name}"')[-1] == f"a1 {NO_SUCH}", name
        assert c.cmd(f'a2 EXAMINE "{name}"')[-1] == f"a2 {NO_SUCH}", name
        assert c.cmd(f'a3 STATUS "{name}" (MESSAGES)')[-1] == f"a3 {NO_SUCH}", name
        c.send(f'a4 APPEND "{name}" {{21}}')
        assert c.line().startswith("+ ")
        c.sock.sendall(b"Subject: planted\r\n\r\nx\r\n")
        assert c.until_tagged("a4")[-1] == "a4 NO [TRYCREATE] mailbox does not exist", name
        assert c.cmd("a5 SELECT INBOX")[-1].startswith("a5 OK [READ-WRITE]")
        assert c.cmd(f'a6 COPY 1 "{name}"')[-1] == "a6 NO [TRYCREATE] mailbox does not exist", name
        assert c.cmd(f'a7 MOVE 1 "{name}"')[-1] == "a7 NO [TRYCREATE] mailbox does not exist", name
    # Bob's account is as it was, and nothing was planted anywhere.
    assert list(Message.objects.filter(account=bob).values_list("subject", flat=True)) == ["for bob only"]
    assert list(Message.objects.filter(account=alice).values_list("subject", flat=True)) == ["alice's"]


def test_a_mailbox_alice_creates_under_another_users_name_is_her_own(raw_alice, alice, bob, bobs_mail) -> None:
    c = raw_alice
    assert c.cmd('c1 CREATE "Other Users/bob/INBOX"')[-1] == "c1 OK CREATE done"
    c.send('c2 APPEND "Other Users/bob/INBOX" {21}')
    assert c.line().startswith("+ ")
    c.sock.sendall(b"Subject: planted\r\n\r\nx\r\n")
    assert c.until_tagged("c2")[-1].startswith("c2 OK [APPENDUID ")
    assert "* 1 EXISTS" in c.cmd('c3 SELECT "Other Users/bob/INBOX"')
    [planted] = Message.objects.filter(subject="planted")
    assert planted.account_id == alice.pk
    assert list(Message.objects.filter(account=bob).values_list("subject", flat=True)) == ["for bob only"]
