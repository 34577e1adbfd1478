"""Deliveries committed together (mailstore.actions.run_steps_together, as the SMTP
delivery thread runs them): their files are written first, then made durable and put in
place together before the one commit; a file that cannot be made durable fails its own
delivery and leaves nothing behind, the others are stored."""
from __future__ import annotations

import os

import pytest

from mailstore import files, groupcommit
from mailstore.actions import deliver_steps, run_steps_together
from mailstore.models import Message

pytestmark = pytest.mark.django_db(transaction=True)

MSG = b"From: a@example.org\r\nSubject: batch %d\r\n\r\n%s\r\n"


def message_files(root) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(p.name for p in (root / "accounts").rglob("*") if p.is_file())


def test_files_are_synced_together_before_the_commit_and_one_failure_is_its_own(
        alice, settings, tmp_path, monkeypatch) -> None:
    settings.DATA_DIR = tmp_path
    bad = MSG % (2, b"x" * 100)
    real_fsync = os.fsync
    order: list[str] = []

    def fsync(fd: int) -> None:
        size = os.fstat(fd).st_size
        if size == len(bad):
            raise OSError(5, "Input/output error")
        order.append("fsync")
        real_fsync(fd)

    real_begin = files.begin_put

    def begin_put(dest, source, data):  # type: ignore[no-untyped-def]
        order.append("write")
        return real_begin(dest, source, data)

    monkeypatch.setattr(files.os, "fsync", fsync)
    monkeypatch.setattr(files, "begin_put", begin_put)
    datas = [MSG % (1, b"a"), bad, MSG % (3, b"c")]
    outcomes = run_steps_together(groupcommit.GroupCommitter(),
                                  [deliver_steps(alice, "Inbox", None, data=data) for data in datas])
    (first, e1), (none, error), (third, e3) = outcomes
    assert e1 is None and e3 is None and none is None
    assert isinstance(error, OSError) and error.errno == 5
    # All three written before any file was fsynced (then the files, then directories).
    assert order[:3] == ["write"] * 3 and "write" not in order[3:]
    stored = Message.objects.filter(account=alice).order_by("uid")
    assert [m.subject for m in stored] == ["batch 1", "batch 3"]
    assert [files.message_path(m.path).read_bytes() for m in stored] == [datas[0], datas[2]]
    # Nothing left of the failed one: no file in place (each was written there; tmp/ is
    # not used for a message held in memory).
    assert len(message_files(tmp_path)) == 2
    assert not (tmp_path / "tmp").exists()


def test_a_delivery_leaves_no_reference_cycle_behind(alice, settings, tmp_path) -> None:
    """Freed by their reference counts alone: a delivery's message, row and parse are not
    left for the cycle collector (a delivery that held a function holding the delivery
    was such a cycle, its collections a few percent of the SMTP server's time)."""
    import gc

    from mailstore import actions

    settings.DATA_DIR = tmp_path
    committer = groupcommit.GroupCommitter()

    def deliver_batch(first: int) -> None:
        outcomes = run_steps_together(committer, [deliver_steps(alice, "Inbox", None, data=MSG % (i, b"hi"))
                                                  for i in range(first, first + 3)])
        assert [error for _, error in outcomes] == [None] * 3

    deliver_batch(0)  # caches filled, connection open
    actions.run_steps(deliver_steps(alice, "Inbox", None, data=MSG % (3, b"alone")))
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        deliver_batch(10)
        actions.run_steps(deliver_steps(alice, "Inbox", None, data=MSG % (13, b"alone")))
        gc.collect()
        left = [type(o).__name__ for o in gc.garbage
                if isinstance(o, (Message, actions._Delivery, actions._Row, files.Placement))]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert left == []
    assert Message.objects.filter(account=alice).count() == 8
