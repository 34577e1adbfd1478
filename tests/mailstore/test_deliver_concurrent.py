from __future__ import annotations

import threading

import pytest
from django.db import connections

from mailstore import files
from mailstore.actions import QuotaExceeded, deliver_bytes
from mailstore.models import Change, Mailbox, Message, Store

THREADS = 20


def _msg(i: int) -> bytes:
    return f"From: c@remote.test\r\nSubject: n{i}\r\nMessage-ID: <{i}@remote.test>\r\n\r\nbody {i}\r\n".encode()


@pytest.mark.django_db(transaction=True)
def test_concurrent_deliveries_get_distinct_contiguous_uids_and_change_rows(alice):
    start = threading.Barrier(THREADS)
    errors: list[BaseException] = []
    uids: list[int] = []
    lock = threading.Lock()

    def run(i: int) -> None:
        try:
            start.wait()
            for attempt in range(50):
                try:
                    msg = deliver_bytes(alice, "Inbox", _msg(i))
                    break
                except Exception as exc:  # SQLite may report "database is locked" under load
                    if "locked" not in str(exc) or attempt == 49:
                        raise
            with lock:
                uids.append(msg.uid)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(uids) == list(range(1, THREADS + 1))
    inbox = Mailbox.objects.get(account=alice, name="Inbox")
    msgs = list(Message.objects.filter(mailbox=inbox).order_by("uid"))
    assert [m.uid for m in msgs] == list(range(1, THREADS + 1))
    modseqs = sorted(m.modseq for m in msgs)
    assert modseqs == list(range(modseqs[0], modseqs[0] + THREADS))
    assert inbox.uidnext == THREADS + 1
    assert inbox.highest_modseq == modseqs[-1]
    adds = {c.modseq: c.uids for c in Change.objects.filter(account=alice, kind="add")}
    assert adds == {m.modseq: [m.uid] for m in msgs}
    store = Store.objects.get(account=alice)
    assert store.highest_modseq == modseqs[-1]
    assert store.size == sum(m.size for m in msgs)
    assert sorted(files.read_message(m.path, m.prefix) for m in msgs) == sorted(_msg(i) for i in range(THREADS))


def test_fast_path_quota_overrun_changes_nothing(alice):
    alice.quota_bytes = 100
    alice.save(update_fields=["quota_bytes"])
    before = Store.objects.get(account=alice)
    with pytest.raises(QuotaExceeded):
        deliver_bytes(alice, "Inbox", _msg(1) + b"x" * 200)
    after = Store.objects.get(account=alice)
    assert (after.highest_modseq, after.size) == (before.highest_modseq, before.size)
    assert Mailbox.objects.get(account=alice, name="Inbox").uidnext == 1
    assert not Message.objects.filter(account=alice).exists()


def test_fast_path_returns_message_with_its_mailbox(alice):
    msg = deliver_bytes(alice, "INBOX", _msg(1))
    assert msg.mailbox.name == "Inbox"
    assert msg.mailbox.uidvalidity == Mailbox.objects.get(account=alice, name="Inbox").uidvalidity
    assert Message.objects.get(pk=msg.pk).uid == 1
