from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import connections

from mailstore import files
from mailstore.actions import DeliveryInfo, QuotaExceeded, deliver_bytes
from mailstore.models import Change, Mailbox, Message, MessageDKIMDomain, Store

THREADS = 20


def _msg(i: int) -> bytes:
    return f"From: c@remote.test\r\nSubject: n{i}\r\nMessage-ID: <{i}@remote.test>\r\n\r\nbody {i}\r\n".encode()


def _at_once(work: Callable[[int], object]) -> list[BaseException]:
    """`work(i)` in THREADS threads started together; the exceptions they raised."""
    start = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            start.wait()
            work(i)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


@pytest.mark.django_db(transaction=True)
def test_concurrent_deliveries_get_distinct_contiguous_uids_and_change_rows(alice):
    uids: list[int] = []
    lock = threading.Lock()

    def run(i: int) -> None:
        for attempt in range(50):
            try:
                msg = deliver_bytes(alice, "Inbox", _msg(i))
                break
            except Exception as exc:  # SQLite may report "database is locked" under load
                if "locked" not in str(exc) or attempt == 49:
                    raise
        with lock:
            uids.append(msg.uid)

    assert _at_once(run) == []
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


@pytest.mark.django_db(transaction=True)
def test_concurrent_deliveries_share_statements_and_keep_every_row(alice, monkeypatch):
    """The deliveries of one group commit go through `_insert_deliveries` together: one
    modseq and one change row each, UIDs in order within the mailbox, two mailboxes."""
    from mailstore import actions

    sizes: list[int] = []
    real = actions._insert_deliveries

    def spy(items):  # type: ignore[no-untyped-def]
        sizes.append(len(items))
        return real(items)

    monkeypatch.setattr(actions, "_insert_deliveries", spy)
    Mailbox.objects.get_or_create(account=alice, name="Other", defaults={"uidvalidity": 1})
    returned: dict[int, Message] = {}

    def run(i: int) -> None:
        returned[i] = deliver_bytes(alice, "Inbox" if i % 2 else "Other", _msg(i),
                                    info=DeliveryInfo(dkim_domains=[f"d{i}.example", "Shared.example"]))

    assert _at_once(run) == []
    # Each returned Message carries its own row's key (counted back from the last rowid),
    # and its DKIM domains rows point at it.
    for i, message in returned.items():
        stored = Message.objects.get(pk=message.pk)
        assert (stored.mailbox_id, stored.uid, stored.modseq, stored.subject) == (
            message.mailbox_id, message.uid, message.modseq, f"n{i}")
        domains = MessageDKIMDomain.objects.filter(message_id=message.pk).values_list("domain", flat=True)
        assert sorted(domains) == sorted([f"d{i}.example", "shared.example"])
    from django.db import connection

    if connection.vendor == "sqlite":  # PostgreSQL commits each delivery on its own
        assert max(sizes) > 1, sizes  # some batch carried several deliveries
    msgs = list(Message.objects.filter(account=alice))
    assert len(msgs) == THREADS
    assert sorted(m.modseq for m in msgs) == list(range(min(m.modseq for m in msgs), min(m.modseq for m in msgs) + THREADS))
    for name in ("Inbox", "Other"):
        box = Mailbox.objects.get(account=alice, name=name)
        mine = sorted(m.uid for m in msgs if m.mailbox_id == box.pk)
        assert mine == list(range(1, THREADS // 2 + 1))
        assert box.uidnext == THREADS // 2 + 1
        assert box.highest_modseq == max(m.modseq for m in msgs if m.mailbox_id == box.pk)
    adds = {c.modseq: (c.mailbox_id_ref, c.uids) for c in Change.objects.filter(account=alice, kind="add")}
    assert adds == {m.modseq: (m.mailbox_id, [m.uid]) for m in msgs}
    assert Store.objects.get(account=alice).size == sum(m.size for m in msgs)
