from __future__ import annotations

import os

from mailstore import files
from mailstore.actions import deliver, deliver_bytes
from mailstore.models import Change, Mailbox, Message

MSG = b"From: Carol <carol@remote.test>\r\nTo: alice@example.test\r\nSubject: hi\r\nMessage-ID: <1@remote.test>\r\n\r\nbody\r\n"


def test_it_creates_default_mailboxes_for_new_accounts(alice):
    names = sorted(Mailbox.objects.filter(account=alice).values_list("name", "special_use"))
    assert names == [
        ("Archive", "\\Archive"),
        ("Drafts", "\\Drafts"),
        ("Inbox", ""),
        ("Junk", "\\Junk"),
        ("Sent", "\\Sent"),
        ("Trash", "\\Trash"),
    ]


def test_it_stores_bytes_unchanged_with_prefix_apart(alice):
    msg = deliver_bytes(alice, "Inbox", MSG, prefix=b"Received: from x\r\n")
    assert files.message_path(msg.path).read_bytes() == MSG
    assert files.read_message(msg.path, msg.prefix) == b"Received: from x\r\n" + MSG
    assert msg.size == len(MSG) + len(b"Received: from x\r\n")
    assert (msg.subject, msg.message_id, msg.from_address) == ("hi", "<1@remote.test>", "carol@remote.test")
    assert os.stat(files.message_path(msg.path)).st_nlink == 1


def test_it_assigns_increasing_uids_and_modseqs_and_logs_changes(alice):
    m1 = deliver_bytes(alice, "Inbox", MSG)
    m2 = deliver_bytes(alice, "Inbox", MSG)
    assert (m1.uid, m2.uid) == (1, 2)
    assert m2.modseq == m1.modseq + 1
    inbox = Mailbox.objects.get(account=alice, name="Inbox")
    assert (inbox.uidnext, inbox.highest_modseq) == (3, m2.modseq)
    adds = list(Change.objects.filter(account=alice, kind="add").values_list("modseq", "uids"))
    assert adds == [(m1.modseq, [1]), (m2.modseq, [2])]


def test_it_creates_missing_mailboxes_with_parents_at_delivery(alice):
    msg = deliver_bytes(alice, "Lists/python/dev", MSG)
    assert msg.mailbox.name == "Lists/python/dev"
    assert Mailbox.objects.filter(account=alice, name__startswith="Lists").count() == 3


def test_it_removes_the_linked_file_when_the_row_cannot_be_written(alice, monkeypatch):
    from mailstore import actions

    def boom(*args, **kwargs):
        raise RuntimeError("database gone")

    def stored_files():
        root = files.account_dir(alice.pk)
        return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()

    before = stored_files()
    monkeypatch.setattr(actions, "_insert_message", boom)
    path = files.write_temp(MSG)
    try:
        deliver(alice, "Inbox", path)
    except RuntimeError:
        pass
    assert stored_files() == before
    assert Message.objects.count() == 0
