"""STORE and EXPUNGE through mailstore.flagrows' plain statements: UID lists above the
IN-list bound (read as a range, written in chunks), the account check, counters."""
from __future__ import annotations

import pytest

from mailstore import actions, files, flagrows
from mailstore.actions import deliver_bytes
from mailstore.models import Change, Mailbox, Message, MessageDKIMDomain, Store

MSG = b"From: Carol <carol@remote.test>\r\nTo: alice@example.test\r\nSubject: hi\r\n\r\nbody\r\n"


@pytest.fixture
def inbox(alice, monkeypatch):  # type: ignore[no-untyped-def]
    # Two UIDs per IN list: five messages take the range reads and chunked writes.
    monkeypatch.setattr(flagrows, "MAX_IN", 2)
    for _ in range(5):
        deliver_bytes(alice, "Inbox", MSG)
    return Mailbox.objects.get(account=alice, name="Inbox")


def flags(mailbox) -> dict[int, tuple[bool, bool, list[str]]]:  # type: ignore[no-untyped-def]
    return {m.uid: (m.seen, m.deleted, m.keywords) for m in Message.objects.filter(mailbox=mailbox)}


def test_it_stores_flags_of_a_uid_list_longer_than_one_in_list(alice, inbox):
    result = actions.set_flags(alice.pk, inbox.pk, [5, 1, 2, 4], "add", ["\\Seen", "$Label"])
    assert result.changed == [1, 2, 4, 5]
    assert result.updated == [(u, ["\\Seen", "$label"], result.modseq) for u in (1, 2, 4, 5)]
    assert flags(inbox) == {1: (True, False, ["$label"]), 2: (True, False, ["$label"]), 3: (False, False, []),
                            4: (True, False, ["$label"]), 5: (True, False, ["$label"])}
    inbox.refresh_from_db()
    assert (inbox.keywords, inbox.highest_modseq) == (["$label"], result.modseq)
    assert Store.objects.get(account=alice).highest_modseq == result.modseq
    change = Change.objects.get(account=alice, modseq=result.modseq)
    assert (change.kind, change.uids, change.mailbox_id_ref) == ("flags", [1, 2, 4, 5], inbox.pk)
    assert set(Message.objects.filter(mailbox=inbox, seen=True).values_list("modseq", flat=True)) == {result.modseq}


def test_a_store_that_changes_nothing_writes_nothing(alice, inbox):
    first = actions.set_flags(alice.pk, inbox.pk, [1, 2, 3], "add", ["\\Seen"])
    again = actions.set_flags(alice.pk, inbox.pk, [1, 2, 3], "add", ["\\Seen"])
    assert (again.changed, again.modseq) == ([], 0)
    assert again.updated == [(u, ["\\Seen"], first.modseq) for u in (1, 2, 3)]
    assert Store.objects.get(account=alice).highest_modseq == first.modseq


def test_unchangedsince_holds_back_messages_changed_later(alice, inbox):
    first = actions.set_flags(alice.pk, inbox.pk, [2], "add", ["\\Seen"])
    result = actions.set_flags(alice.pk, inbox.pk, [1, 2, 3], "replace", ["\\Flagged"], unchangedsince=first.modseq - 1)
    assert (result.changed, result.modified) == ([1, 3], [2])
    assert flags(inbox)[2] == (True, False, [])


def test_another_accounts_mailbox_is_not_found_and_not_changed(alice, bob, inbox):
    with pytest.raises(actions.MailboxNotFound):
        actions.set_flags(bob.pk, inbox.pk, [1, 2, 3], "add", ["\\Seen"])
    with pytest.raises(actions.MailboxNotFound):
        actions.expunge(bob.pk, inbox.pk, None)
    assert not Message.objects.filter(mailbox=inbox, seen=True).exists()


def test_expunge_removes_rows_dkim_rows_counters_and_files_of_a_long_uid_list(
    alice, inbox, django_capture_on_commit_callbacks
):
    messages = {m.uid: m for m in Message.objects.filter(mailbox=inbox)}
    MessageDKIMDomain.objects.create(message=messages[3], domain="remote.test", received=messages[3].received)
    size = Store.objects.get(account=alice).size
    actions.set_flags(alice.pk, inbox.pk, [1, 2, 3, 4, 5], "add", ["\\Deleted"])
    actions.set_flags(alice.pk, inbox.pk, [2], "remove", ["\\Deleted"])
    with django_capture_on_commit_callbacks(execute=True):
        uids, modseq = actions.expunge(alice.pk, inbox.pk, [1, 2, 3, 5])
    assert uids == [1, 3, 5]
    assert sorted(Message.objects.filter(mailbox=inbox).values_list("uid", flat=True)) == [2, 4]
    assert not MessageDKIMDomain.objects.exists()
    store = Store.objects.get(account=alice)
    assert (store.highest_modseq, store.size) == (modseq, size - sum(messages[u].size for u in (1, 3, 5)))
    inbox.refresh_from_db()
    assert inbox.highest_modseq == modseq
    change = Change.objects.get(account=alice, modseq=modseq)
    assert (change.kind, change.uids) == ("expunge", [1, 3, 5])
    assert [files.message_path(messages[u].path).exists() for u in (1, 2, 3, 4, 5)] == [False, True, False, True, False]
    assert actions.expunge(alice.pk, inbox.pk, [2]) == ([], 0)  # UID 2 is not marked deleted
