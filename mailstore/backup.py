"""backup: a consistent snapshot of the database and the message files, while serving.

Message files never change once written (a message is only added or removed); a
delivery places its file before its row commits, and an expunge removes the file only
after the row's deletion committed. So the backup first hard-links (or copies) every
message file present, then snapshots the database, then adds the files of rows that
arrived in between and drops the files the snapshot has no row for. Every row of the
snapshot then has its complete file, even if it was expunged while the backup ran: the
backup is consistent without stopping anything.

- SQLite: SQLite's online backup API into `DEST/moxweb.db`; DEST is then a complete data
  directory (MOX_DATA_DIR=DEST restores it).
- PostgreSQL: `pg_dump --format=custom` into `DEST/moxweb.pgdump`, run on a snapshot
  exported from the transaction that lists the message files, so both see the same
  moment; restore with `pg_restore --no-owner -d NEWDB DEST/moxweb.pgdump`.
"""
from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import connections, transaction

from mailstore.files import fsync_dir

# Small files and directories of the data directory that belong in a backup.
EXTRA_FILES = ("secret.key", "moxweb.env", "moxweb.service")
EXTRA_DIRS = ("tls", "acme")


class BackupError(Exception):
    """The backup cannot be made; nothing usable was written."""


@dataclass
class BackupResult:
    dest: Path
    database: str  # "sqlite" or "postgresql"
    database_file: Path
    messages: int = 0
    linked: int = 0
    copied: int = 0
    missing: list[str] = field(default_factory=list)


def backup(dest: Path, *, copy: bool = False, progress: Callable[[str], None] | None = None) -> BackupResult:
    """Write a backup of the configured database and data directory into `dest` (new
    or empty). With `copy`, message files are copied instead of hard-linked."""
    data_dir = Path(settings.DATA_DIR).resolve()
    dest = dest.resolve()
    if dest == data_dir or data_dir in dest.parents:
        raise BackupError(f"{dest} is inside the data directory {data_dir}; choose a directory outside it")
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise BackupError(f"{dest} exists and is not an empty directory")
    conn = connections["default"]
    if conn.vendor == "postgresql" and shutil.which("pg_dump") is None:
        raise BackupError(
            "pg_dump is not installed: install the PostgreSQL client tools (Debian: apt install "
            "postgresql-client) in the version of the server, or back up the database with your own "
            "tools and then copy the data directory"
        )
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BackupError(f"cannot create {dest}: {exc.strerror}") from exc
    # Before the snapshot: a file present now either stays until the snapshot (its row
    # is in it) or its row was deleted before the snapshot (it is pruned below).
    staged = _stage_messages(data_dir, dest, copy)
    if conn.vendor == "sqlite":
        result = BackupResult(dest, "sqlite", dest / "moxweb.db")
        paths = _sqlite_snapshot(Path(conn.settings_dict["NAME"]), result.database_file)
    elif conn.vendor == "postgresql":
        result = BackupResult(dest, "postgresql", dest / "moxweb.pgdump")
        paths = _postgresql_snapshot(result.database_file)
    else:
        raise BackupError(f"cannot back up a {conn.vendor} database")
    if progress:
        progress(f"database snapshot: {result.database_file} ({len(paths)} messages)")
    _copy_messages(data_dir, dest, paths, result, copy, progress, staged)
    for name in EXTRA_FILES:
        if (data_dir / name).is_file():
            shutil.copy2(data_dir / name, dest / name)
    for name in EXTRA_DIRS:
        if (data_dir / name).is_dir():
            shutil.copytree(data_dir / name, dest / name, dirs_exist_ok=True)
    fsync_dir(dest)
    return result


def _sqlite_snapshot(source: Path, target: Path) -> list[str]:
    """SQLite's online backup (one step: a consistent read of the whole database, which in
    WAL mode does not hold up writers); then the message paths from the copy itself."""
    src = sqlite3.connect(source, timeout=30)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=WAL")
        paths = [row[0] for row in dst.execute("SELECT path FROM mailstore_message ORDER BY id")]
    except sqlite3.Error as exc:
        raise BackupError(f"SQLite backup of {source} failed: {exc}") from exc
    finally:
        dst.close()
        src.close()
    with open(target, "rb") as fh:
        os.fsync(fh.fileno())
    return paths


def _pg_env_args(settings_dict: dict[str, object]) -> tuple[dict[str, str], list[str]]:
    env = dict(os.environ)
    args = ["--dbname", str(settings_dict["NAME"])]
    if settings_dict.get("HOST"):
        args += ["--host", str(settings_dict["HOST"])]
    if settings_dict.get("PORT"):
        args += ["--port", str(settings_dict["PORT"])]
    if settings_dict.get("USER"):
        args += ["--username", str(settings_dict["USER"])]
    if settings_dict.get("PASSWORD"):
        env["PGPASSWORD"] = str(settings_dict["PASSWORD"])
    return env, args


def _postgresql_snapshot(target: Path) -> list[str]:
    """pg_dump on a snapshot exported by our REPEATABLE READ transaction, which then
    reads the message paths: both see the database at the same instant."""
    conn = connections["default"]
    env, args = _pg_env_args(conn.settings_dict)
    if conn.in_atomic_block:
        raise BackupError("backup must not run inside a transaction")
    with transaction.atomic():
        with conn.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cursor.execute("SELECT pg_export_snapshot()")
            snapshot = cursor.fetchone()[0]
            proc = subprocess.run(
                ["pg_dump", "--format=custom", "--no-owner", f"--snapshot={snapshot}", "--file", str(target), *args],
                env=env,
                capture_output=True,
                text=True,
            )
            if proc.returncode != 0:
                target.unlink(missing_ok=True)
                raise BackupError(f"pg_dump failed: {proc.stderr.strip()}")
            cursor.execute("SELECT path FROM mailstore_message ORDER BY id")
            paths = [row[0] for row in cursor.fetchall()]
    with open(target, "rb") as fh:
        os.fsync(fh.fileno())
    return paths


def _link_or_copy(source: Path, target: Path, copy: bool) -> bool:
    """True when linked, False when copied; FileNotFoundError when the source is gone."""
    if not copy:
        try:
            os.link(source, target)
            return True
        except FileNotFoundError:
            raise
        except OSError:
            pass  # another file system: copy
    shutil.copyfile(source, target)
    with open(target, "rb") as fh:
        os.fsync(fh.fileno())
    return False


def _stage_messages(data_dir: Path, dest: Path, copy: bool) -> dict[str, bool]:
    """Link or copy every message file present now; rel path -> linked."""
    staged: dict[str, bool] = {}
    root = data_dir / "accounts"
    if not root.is_dir():
        return staged
    for account_dir in sorted(os.scandir(root), key=lambda e: e.name):
        msg_root = Path(account_dir.path) / "msg"
        if not msg_root.is_dir():
            continue
        for dirpath, _dirnames, names in os.walk(msg_root):
            if not names:
                continue
            target_dir = dest / Path(dirpath).relative_to(data_dir)
            target_dir.mkdir(parents=True, exist_ok=True)
            for name in names:
                rel = (Path(dirpath) / name).relative_to(data_dir).as_posix()
                try:
                    staged[rel] = _link_or_copy(Path(dirpath) / name, target_dir / name, copy)
                except FileNotFoundError:
                    continue  # expunged meanwhile: its row is gone before the snapshot
    return staged


def _copy_messages(
    data_dir: Path,
    dest: Path,
    paths: Iterable[str],
    result: BackupResult,
    copy: bool,
    progress: Callable[[str], None] | None,
    staged: dict[str, bool],
) -> None:
    made_dirs: set[Path] = set()
    wanted: set[str] = set()
    for rel in paths:
        result.messages += 1
        wanted.add(rel)
        if rel in staged:
            if staged[rel]:
                result.linked += 1
            else:
                result.copied += 1
            continue
        source = data_dir / rel
        target = dest / rel
        if target.parent not in made_dirs:
            target.parent.mkdir(parents=True, exist_ok=True)
            made_dirs.add(target.parent)
        try:
            linked = _link_or_copy(source, target, copy)
        except FileNotFoundError:
            # Delivered after the staging and expunged after the snapshot (or missing
            # all along: verifydata on the data directory says which).
            result.missing.append(rel)
            continue
        if linked:
            result.linked += 1
        else:
            result.copied += 1
    for rel in staged.keys() - wanted:
        # No row in the snapshot: an orphan, an unfinished delivery or an expunged message.
        (dest / rel).unlink()
        made_dirs.add((dest / rel).parent)
    for directory in made_dirs:
        fsync_dir(directory)
