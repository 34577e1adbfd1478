"""The import engine stores messages a batch at a time: files moved into place and
fsynced together, rows inserted in one transaction; a batch that fails leaves nothing."""
from __future__ import annotations

import pytest

from mailstore import files, importexport
from mailstore.actions import QuotaExceeded
from mailstore.importexport import import_mailboxes
from mailstore.models import Change, Mailbox, Message
from tests.commands.helpers import stored

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def own_data_dir(settings, tmp_path):  # type: ignore[no-untyped-def]
    """Its own data directory: the files of other tests, whose rows were rolled back,
    would be counted."""
    settings.DATA_DIR = tmp_path / "data"


def mbox(n: int, keywords: str = "") -> bytes:
    state = f"X-Keywords: {keywords}\n".encode() if keywords else b""
    return b"".join(
        b"From sender@example.org Mon Jan  1 00:00:00 2024\n" + state + f"Subject: m{i}\n\nbody {i}\n\n".encode()
        for i in range(n)
    )


def message_files(account) -> set[str]:  # type: ignore[no-untyped-def]
    root = files.account_dir(account.pk)
    return {str(p.relative_to(files.data_dir())) for p in root.rglob("*") if p.is_file()}


def test_a_batch_is_one_change_per_mailbox_with_its_uids(alice, tmp_path, monkeypatch):
    monkeypatch.setattr(importexport._Batch, "BATCH_MESSAGES", 3)
    path = tmp_path / "in.mbox"
    path.write_bytes(mbox(5, "project"))
    before = set(files.tmp_dir().iterdir())
    result = import_mailboxes(alice, "mbox", "Old", path)
    assert result.counts == {"Old": 5}
    box = Mailbox.objects.get(account=alice, name="Old")
    changes = list(Change.objects.filter(account=alice, mailbox_id_ref=box.pk, kind=Change.Kind.ADD).order_by("modseq"))
    assert [c.uids for c in changes] == [[1, 2, 3], [4, 5]]
    messages = list(Message.objects.filter(mailbox=box).order_by("uid"))
    assert [(m.uid, m.modseq, m.created_modseq) for m in messages] == [
        (1, changes[0].modseq, changes[0].modseq), (2, changes[0].modseq, changes[0].modseq),
        (3, changes[0].modseq, changes[0].modseq), (4, changes[1].modseq, changes[1].modseq),
        (5, changes[1].modseq, changes[1].modseq),
    ]
    box.refresh_from_db()
    assert (box.uidnext, box.highest_modseq, box.keywords) == (6, changes[1].modseq, ["project"])
    assert stored(alice, "Old") == [(f"Subject: m{i}\r\n\r\nbody {i}\r\n".encode(), ["project"]) for i in range(5)]
    # A batch's files share one bucket directory; no temporary file is left.
    assert message_files(alice) == {m.path for m in messages}
    assert len({m.path.rsplit("/", 2)[-2] for m in messages[:3]}) == 1
    assert set(files.tmp_dir().iterdir()) == before


def test_an_import_over_quota_keeps_the_messages_that_fit_and_no_other_file(alice, tmp_path, monkeypatch):
    monkeypatch.setattr(importexport._Batch, "BATCH_MESSAGES", 4)
    size = len(b"Subject: m0\r\n\r\nbody 0\r\n")
    alice.quota_bytes = 6 * size
    alice.save(update_fields=["quota_bytes"])
    path = tmp_path / "in.mbox"
    path.write_bytes(mbox(10))
    with pytest.raises(QuotaExceeded, match="account over quota"):
        import_mailboxes(alice, "mbox", "Old", path)
    assert [body for body, _ in stored(alice, "Old")] == [f"Subject: m{i}\r\n\r\nbody {i}\r\n".encode() for i in range(6)]
    assert message_files(alice) == set(Message.objects.filter(account=alice).values_list("path", flat=True))


def test_a_batch_whose_rows_fail_removes_its_files_and_keeps_earlier_batches(alice, tmp_path, monkeypatch):
    monkeypatch.setattr(importexport._Batch, "BATCH_MESSAGES", 2)
    calls = []
    real = importexport.deliver_prepared

    def failing_second(account, items):  # type: ignore[no-untyped-def]
        calls.append(len(items))
        if len(calls) == 2:
            raise RuntimeError("database gone")
        return real(account, items)

    monkeypatch.setattr(importexport, "deliver_prepared", failing_second)
    path = tmp_path / "in.mbox"
    path.write_bytes(mbox(5))
    before = set(files.tmp_dir().iterdir())
    with pytest.raises(RuntimeError, match="database gone"):
        import_mailboxes(alice, "mbox", "Old", path)
    assert calls == [2, 2]
    assert [body for body, _ in stored(alice, "Old")] == [f"Subject: m{i}\r\n\r\nbody {i}\r\n".encode() for i in range(2)]
    assert message_files(alice) == set(Message.objects.filter(account=alice).values_list("path", flat=True))
    assert set(files.tmp_dir().iterdir()) == before
