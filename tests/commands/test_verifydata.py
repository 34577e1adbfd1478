from __future__ import annotations

import os
import time
from pathlib import Path

from django.conf import settings

from mailstore import files
from mailstore.actions import deliver_bytes
from tests.commands.helpers import fails, run

MSG = b"Subject: hi\r\n\r\nbody\r\n"


def test_it_passes_a_consistent_data_directory(alice, bob):
    deliver_bytes(alice, "Inbox", MSG, prefix=b"Received: x\r\n")
    deliver_bytes(bob, "Inbox", MSG)
    lines = run("verifydata")
    assert lines[-1].startswith(f"verified 2 messages and 2 files in {settings.DATA_DIR} (")
    assert lines[-1].endswith("): 0 problems")


def test_it_reports_a_deleted_file_and_an_orphan_file(alice):
    gone = deliver_bytes(alice, "Inbox", MSG)
    kept = deliver_bytes(alice, "Inbox", MSG)
    files.message_path(gone.path).unlink()
    orphan = files.account_dir(alice.pk) / "msg" / "zz" / "orphan"
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(MSG)
    out_lines: list[str] = []
    message = fails("verifydata", str(settings.DATA_DIR), stdout_lines=out_lines)
    assert message == "verifydata found 2 problems"
    assert out_lines[:2] == [
        f"missing file {gone.path}: message {gone.pk} (account alice, mailbox Inbox, uid 1)",
        f"orphan file accounts/{alice.pk}/msg/zz/orphan: no message row",
    ]
    assert out_lines[2] == f"verified 2 messages and 2 files in {settings.DATA_DIR} ({out_lines[2].split('(')[1].split(')')[0]}): 2 problems"
    assert kept.path != gone.path


def test_it_reports_a_size_mismatch(alice):
    msg = deliver_bytes(alice, "Inbox", MSG, prefix=b"Received: x\r\n")
    files.message_path(msg.path).write_bytes(MSG + b"more\r\n")
    out_lines: list[str] = []
    fails("verifydata", stdout_lines=out_lines)
    assert out_lines[0] == (
        f"size mismatch {msg.path}: message {msg.pk} (account alice, mailbox Inbox, uid 1) has size 34, "
        "but prefix 13 + file 27 = 40"
    )


def test_it_refuses_a_directory_without_a_database(tmp_path):
    assert fails("verifydata", str(tmp_path)).startswith(f"{tmp_path} has no moxweb.db and is not the configured")
    assert fails("verifydata", str(tmp_path / "nope")) == f"{tmp_path / 'nope'}: no such directory"


def _orphan(account_id: int, name: str, age: float) -> str:
    path = files.account_dir(account_id) / "msg" / "zz" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(MSG)
    then = time.time() - age
    os.utime(path, (then, then))
    return str(path.relative_to(settings.DATA_DIR))


def test_remove_orphans_moves_old_orphans_aside_and_leaves_fresh_ones(alice):
    deliver_bytes(alice, "Inbox", MSG)
    old = _orphan(alice.pk, "old", age=3600)
    fresh = _orphan(alice.pk, "fresh", age=5)  # may be a delivery about to commit its row
    out_lines: list[str] = []
    assert fails("verifydata", "--remove-orphans", stdout_lines=out_lines) == "verifydata found 1 problems"
    moved = out_lines[0]
    assert moved.startswith(f"moved orphan file {old} to orphans/")
    target = Path(settings.DATA_DIR) / moved.split(" to ")[1]
    assert target.read_bytes() == MSG and target.as_posix().endswith(old)
    assert not (Path(settings.DATA_DIR) / old).exists()
    assert out_lines[1] == f"orphan file {fresh}: no message row"

    os.utime(Path(settings.DATA_DIR) / fresh, (time.time() - 3600,) * 2)
    lines = run("verifydata", "--remove-orphans")
    assert lines[0].startswith(f"moved orphan file {fresh} to orphans/")
    assert lines[-1].endswith("): 0 problems")
    assert run("verifydata")[-1].endswith("): 0 problems")


def test_temp_files_of_dead_processes_are_swept_and_others_kept():
    tmp = files.tmp_dir()
    dead, alive = 4_000_001, 4_000_002
    names = {
        f"{dead}-0123abcd": False,  # a message being received when its process died
        f"export-{dead}-99": False,
        f"{alive}-0123abcd": True,
        f"{os.getpid()}-feed": True,
        "import-12.mbox": True,  # belongs to import job 12, not to a process
    }
    for name in names:
        (tmp / name).write_bytes(b"x")
    removed = files.sweep_temp_files(is_alive=lambda pid: pid != dead)
    assert removed == 2
    assert sorted(p.name for p in tmp.iterdir()) == sorted(n for n, kept in names.items() if kept)
