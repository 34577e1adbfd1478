from __future__ import annotations

import sqlite3
import subprocess
import sys
import time

import psycopg
import pytest
from django.db import connection

from mailstore import files
from mailstore.actions import deliver_bytes
from mailstore.models import Message
from tests.commands.helpers import fails, run
from tests.commands.procs import ROOT, child_env, database_url, manage

WRITER = """
import os, sys, django
django.setup()
from accounts.models import Account
from mailstore.actions import deliver_bytes
account = Account.objects.get(name="alice")
i = 0
while not os.path.exists(sys.argv[1]):
    deliver_bytes(account, "Inbox", b"Subject: m%d\\r\\n\\r\\nbody\\r\\n" % i)
    i += 1
"""


def restore_name() -> str:
    return f"{connection.settings_dict['NAME']}_restore"


def backup_rows(dest):
    if connection.vendor == "sqlite":
        db = sqlite3.connect(dest / "moxweb.db")
        rows = db.execute("SELECT id, path, size FROM mailstore_message ORDER BY id").fetchall()
        db.close()
        return rows
    with psycopg.connect(database_url(restore_name())) as db:
        return [tuple(r) for r in db.execute("SELECT id, path, size FROM mailstore_message ORDER BY id").fetchall()]


def restore_postgresql(dest):
    admin = database_url("postgres")
    with psycopg.connect(admin, autocommit=True) as db:
        db.execute(f"DROP DATABASE IF EXISTS {restore_name()}")
        db.execute(f"CREATE DATABASE {restore_name()}")
    sd = connection.settings_dict
    proc = subprocess.run(
        ["pg_restore", "--no-owner", "-h", sd["HOST"], "-p", str(sd["PORT"] or 5432), "-U", sd["USER"],
         "-d", restore_name(), str(dest / "moxweb.pgdump")],
        capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stderr


@pytest.mark.slow
def test_it_backs_up_consistently_while_another_process_delivers(transactional_db, alice, tmp_path):
    for i in range(3):
        deliver_bytes(alice, "Inbox", b"Subject: before %d\r\n\r\nx\r\n" % i, prefix=b"Received: x\r\n")
    stop = tmp_path / "stop"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(stop)], cwd=ROOT, env=child_env())
    try:
        deadline = time.monotonic() + 30
        while Message.objects.count() < 8 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert writer.poll() is None, "the writer died"
        dest = tmp_path / "backup"
        lines = run("backup", str(dest))
    finally:
        stop.touch()
        writer.wait(30)
    assert writer.returncode == 0
    count = int(lines[0].rsplit("(", 1)[1].split()[0])
    assert count >= 8 and count < Message.objects.count(), "the backup was not taken while delivering"
    dbfile = dest / ("moxweb.db" if connection.vendor == "sqlite" else "moxweb.pgdump")
    assert lines[0] == f"database snapshot: {dbfile} ({count} messages)"
    assert lines[1] == f"backup of {count} messages in {dest} ({count} files linked, 0 copied)"
    if connection.vendor == "postgresql":
        restore_postgresql(dest)
        env = child_env(MOX_DATA_DIR=str(dest), DATABASE_URL=database_url(restore_name()))
        restored = f"postgresql {restore_name()}"
    else:
        env = child_env(MOX_DATA_DIR=str(dest), DATABASE_URL="")
        restored = f"sqlite {dest / 'moxweb.db'}"
    # The backup holds exactly the first `count` messages, each with its bytes.
    source = list(Message.objects.order_by("id").values_list("id", "path", "size")[:count])
    assert backup_rows(dest) == source
    for _, rel, _ in source:
        assert (dest / rel).read_bytes() == files.message_path(rel).read_bytes()
    # A server started on the backup finds every message and file.
    proc = manage("verifydata", env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.decode().splitlines()[-1] == (
        f"verified {count} messages and {count} files in {dest} ({restored}): 0 problems"
    )
    # And serves them: an export from the restored installation has every message.
    proc = manage("export", "mbox", "alice", str(tmp_path / "export"), "Inbox", env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.decode().splitlines()[-2] == f"Inbox: {count} messages exported"
    assert (tmp_path / "export" / "Inbox.mbox").read_bytes().count(b"\nFrom ") == count - 1


def test_it_copies_instead_of_linking_when_asked(transactional_db, alice, tmp_path):
    msg = deliver_bytes(alice, "Inbox", b"Subject: a\r\n\r\nx\r\n")
    (files.data_dir() / "tls").mkdir()
    (files.data_dir() / "tls" / "cert.pem").write_text("cert")
    dest = tmp_path / "b"
    lines = run("backup", "--copy", str(dest))
    assert lines[1] == f"backup of 1 messages in {dest} (0 files linked, 1 copied)"
    assert (dest / msg.path).stat().st_nlink == 1
    assert (dest / msg.path).read_bytes() == b"Subject: a\r\n\r\nx\r\n"
    assert (dest / "tls" / "cert.pem").read_text() == "cert"


def test_it_refuses_a_used_or_inner_destination(transactional_db, tmp_path):
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "x").write_text("x")
    assert fails("backup", str(tmp_path / "used")) == f"{tmp_path / 'used'} exists and is not an empty directory"
    inner = files.data_dir() / "backup"
    assert fails("backup", str(inner)) == (
        f"{inner.resolve()} is inside the data directory {files.data_dir().resolve()}; choose a directory outside it"
    )


def test_it_keeps_a_message_expunged_while_the_backup_runs(transactional_db, alice, tmp_path, monkeypatch):
    from mailstore import backup as backup_module
    from mailstore.actions import expunge

    gone = deliver_bytes(alice, "Inbox", b"Subject: gone\r\n\r\nx\r\n", flags={"\\Deleted"})
    orphan = files.account_dir(alice.pk) / "msg" / "zz" / "orphan"
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"no row")
    snapshot = backup_module._sqlite_snapshot if connection.vendor == "sqlite" else backup_module._postgresql_snapshot

    def snapshot_then_expunge(*args):
        paths = snapshot(*args)
        expunge(alice.pk, gone.mailbox_id)  # row deleted, then the file (after commit)
        assert not files.message_path(gone.path).exists()
        return paths

    name = "_sqlite_snapshot" if connection.vendor == "sqlite" else "_postgresql_snapshot"
    monkeypatch.setattr(backup_module, name, snapshot_then_expunge)
    dest = tmp_path / "b"
    lines = run("backup", str(dest))
    assert lines[1] == f"backup of 1 messages in {dest} (1 files linked, 0 copied)"
    assert (dest / gone.path).read_bytes() == b"Subject: gone\r\n\r\nx\r\n"
    assert not (dest / "accounts" / str(alice.pk) / "msg" / "zz" / "orphan").exists()
