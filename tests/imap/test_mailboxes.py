"""CREATE, DELETE, RENAME, SUBSCRIBE/UNSUBSCRIBE, LIST (extended), LSUB, STATUS,
NAMESPACE, ENABLE and ID (RFC 9051 6.3, RFC 5258, RFC 5819, RFC 6154, RFC 2971)."""
from __future__ import annotations

import pytest

from mailstore.actions import deliver_bytes
from mailstore.models import Mailbox, Message
from tests.fixtures_imap import MESSAGE, imap_db

pytestmark = imap_db


def test_it_creates_deletes_and_renames_mailboxes_as_mox(raw_alice, alice):
    assert raw_alice.cmd("a1 CREATE Lists/python/dev") == [
        '* LIST (\\Subscribed) "/" Lists',
        '* LIST (\\Subscribed) "/" Lists/python',
        '* LIST (\\Subscribed) "/" Lists/python/dev',
        "a1 OK CREATE done",
    ]
    assert raw_alice.cmd("a2 CREATE lists") == ['* LIST (\\Subscribed) "/" lists', "a2 OK CREATE done"]
    assert raw_alice.cmd("a3 CREATE Lists") == ["a3 NO [ALREADYEXISTS] mailbox already exists"]
    assert raw_alice.cmd("a4 CREATE a//b") == ["a4 NO [CANNOT] bad slashes in mailbox name"]
    assert raw_alice.cmd('a5 CREATE "x*y"') == ["a5 NO [CANNOT] character not allowed in mailbox name"]
    assert raw_alice.cmd("a6 DELETE Lists/python") == ["a6 NO [HASCHILDREN] mailbox has children"]
    assert raw_alice.cmd("a7 DELETE inbox") == ["a7 NO [CANNOT] cannot delete inbox"]
    assert raw_alice.cmd("a8 DELETE Nope") == ["a8 NO [NONEXISTENT] no such mailbox"]
    old = Mailbox.objects.get(account=alice, name="Lists/python/dev").uidvalidity
    assert raw_alice.cmd("a9 RENAME Lists Groups/Lists") == ["a9 OK RENAME done"]
    names = sorted(Mailbox.objects.filter(account=alice, name__startswith="Groups/").values_list("name", flat=True))
    assert names == ["Groups/Lists", "Groups/Lists/python", "Groups/Lists/python/dev"]
    assert Mailbox.objects.get(account=alice, name="Groups/Lists/python/dev").uidvalidity > old
    assert raw_alice.cmd("a10 DELETE Groups/Lists/python/dev") == ["a10 OK DELETE done"]
    deliver_bytes(alice, "Inbox", MESSAGE)
    assert raw_alice.cmd("a11 RENAME INBOX Old") == ["a11 OK RENAME done"]
    assert Message.objects.get(account=alice).mailbox.name == "Old"
    assert raw_alice.cmd("a12 STATUS Inbox (MESSAGES UIDNEXT)") == ["* STATUS Inbox (MESSAGES 0 UIDNEXT 2)", "a12 OK STATUS done"]


def test_it_lists_subscriptions_children_special_use_and_status(raw_alice, alice):
    deliver_bytes(alice, "Inbox", MESSAGE)
    raw_alice.cmd("a0 CREATE Work/Projects")
    assert raw_alice.cmd("a1 SUBSCRIBE Gone") == ["a1 OK SUBSCRIBE done"]
    assert raw_alice.cmd("a2 UNSUBSCRIBE Work") == ["a2 OK UNSUBSCRIBE done"]
    assert raw_alice.cmd('a3 LIST "" %') == [
        '* LIST (\\Archive) "/" Archive',
        '* LIST (\\Drafts) "/" Drafts',
        '* LIST () "/" Inbox',
        '* LIST (\\Junk) "/" Junk',
        '* LIST (\\Sent) "/" Sent',
        '* LIST (\\Trash) "/" Trash',
        '* LIST () "/" Work',
        "a3 OK LIST done",
    ]
    assert raw_alice.cmd('a4 LIST (SUBSCRIBED) "" "*" RETURN (CHILDREN)') == [
        '* LIST (\\Subscribed \\HasNoChildren \\Archive) "/" Archive',
        '* LIST (\\Subscribed \\HasNoChildren \\Drafts) "/" Drafts',
        '* LIST (\\Subscribed \\NonExistent \\HasNoChildren) "/" Gone',
        '* LIST (\\Subscribed \\HasNoChildren) "/" Inbox',
        '* LIST (\\Subscribed \\HasNoChildren \\Junk) "/" Junk',
        '* LIST (\\Subscribed \\HasNoChildren \\Sent) "/" Sent',
        '* LIST (\\Subscribed \\HasNoChildren \\Trash) "/" Trash',
        '* LIST (\\Subscribed \\HasNoChildren) "/" Work/Projects',
        "a4 OK LIST done",
    ]
    assert raw_alice.cmd('a5 LIST "" "inbox" RETURN (STATUS (MESSAGES UNSEEN SIZE))') == [
        '* LIST () "/" Inbox',
        f"* STATUS Inbox (MESSAGES 1 UNSEEN 1 SIZE {len(MESSAGE)})",
        "a5 OK LIST done",
    ]
    # RFC 3501 6.3.9: LSUB with "%" returns the unsubscribed parent of a subscribed
    # mailbox, flagged \Noselect.
    assert raw_alice.cmd('a6 LSUB "" "W%"') == ['* LSUB (\\Noselect) "/" Work', "a6 OK LSUB done"]
    assert raw_alice.cmd('a7 LSUB "" "Work/*"') == ['* LSUB () "/" Work/Projects', "a7 OK LSUB done"]
    assert raw_alice.cmd('a8 LIST "" ""') == ['* LIST (\\Noselect) "/" ""', "a8 OK LIST done"]
    assert raw_alice.cmd("a9 NAMESPACE") == ['* NAMESPACE (("" "/")) NIL NIL', "a9 OK NAMESPACE done"]
    assert raw_alice.cmd("a10 STATUS Nope (MESSAGES)") == ["a10 NO [NONEXISTENT] no such mailbox"]


def test_it_enables_utf8_and_speaks_modified_utf7_before(raw_alice, alice):
    assert raw_alice.cmd("a1 CREATE Entw&APw-rfe") == ['* LIST (\\Subscribed) "/" Entw&APw-rfe', "a1 OK CREATE done"]
    assert Mailbox.objects.filter(account=alice, name="Entwürfe").exists()
    assert raw_alice.cmd("a2 ENABLE UTF8=ACCEPT IMAP4rev2 XYZ") == ["* ENABLED UTF8=ACCEPT IMAP4rev2", "a2 OK ENABLE done"]
    assert raw_alice.cmd('a3 LIST "" "Entw*"') == ['* LIST () "/" "Entwürfe"', "a3 OK LIST done"]
    assert raw_alice.cmd('a4 ID ("name" "test")') == ['* ID ("name" "mox" "version" "moxweb")', "a4 OK ID done"]
    # IMAP4rev2: no RECENT or UNSEEN in SELECT.
    lines = raw_alice.cmd('a5 SELECT "Entwürfe"')
    assert not any("RECENT" in x or "UNSEEN" in x for x in lines) and lines[-1] == "a5 OK [READ-WRITE] x"


def test_other_sessions_hear_of_mailbox_changes(raw_alice, imap):
    from tests.fixtures_imap import RawClient

    other = RawClient(imap.host, imap.port)
    other.line()
    other.login()
    assert raw_alice.cmd("a1 CREATE Neu") == ['* LIST (\\Subscribed) "/" Neu', "a1 OK CREATE done"]
    assert raw_alice.cmd("a2 RENAME Neu Alt") == ["a2 OK RENAME done"]
    assert raw_alice.cmd("a3 DELETE Alt") == ["a3 OK DELETE done"]
    assert other.cmd("b1 NOOP") == [
        '* LIST () "/" Neu',
        '* LIST () "/" Alt ("OLDNAME" (Neu))',
        '* LIST (\\NonExistent) "/" Alt',
        "b1 OK NOOP done",
    ]
    other.close()


def test_it_creates_special_use_mailboxes_and_reports_quota(raw_alice, alice):
    assert raw_alice.cmd("a1 CREATE Spam (USE (\\Junk))") == ['* LIST (\\Subscribed) "/" Spam', "a1 OK CREATE done"]
    assert Mailbox.objects.get(account=alice, name="Spam").special_use == "\\Junk"
    assert raw_alice.cmd("a2 CREATE Bad (USE (\\Important))") == ["a2 NO [USEATTR] unsupported special-use flag"]
    alice.quota_bytes = 10 * 1024 * 1024
    alice.save(update_fields=["quota_bytes"])
    deliver_bytes(alice, "Inbox", MESSAGE * 20)
    assert raw_alice.cmd("a3 GETQUOTAROOT Inbox") == [
        '* QUOTAROOT Inbox ""', '* QUOTA "" (STORAGE 4 10240)', "a3 OK GETQUOTAROOT done"
    ]
    assert raw_alice.cmd('a4 GETQUOTA ""') == ['* QUOTA "" (STORAGE 4 10240)', "a4 OK GETQUOTA done"]
