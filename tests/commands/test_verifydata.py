from __future__ import annotations

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
