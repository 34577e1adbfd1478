"""verifydata: check that the database and the message files of a data directory agree.

Every Message row has its file, every file under `accounts/<id>/msg/` has a row, and
each row's size is len(prefix) + the file's size. Works on the live data directory (with
the configured database) and on a backup directory holding its own `moxweb.db`.
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from django.db import connections

from accounts.models import Account
from mailstore.dbalias import data_dir_database, sqlite_alias
from mailstore.files import fsync_dir
from mailstore.models import Mailbox, Message, Store


class VerifyError(Exception):
    """The check could not run at all (no database for the directory...)."""


@dataclass
class Report:
    data_dir: Path
    database: str
    messages: int = 0
    files: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Files under accounts/*/msg/ without a row (paths relative to data_dir), also
    # listed in problems; `quarantine_orphans` moves old ones aside.
    orphans: dict[str, str] = field(default_factory=dict)  # path -> its problem line


def verify_data(data_dir: Path, progress: Callable[[str], None] | None = None) -> Report:
    """Check `data_dir`. Its database: the configured one for the configured data
    directory, else `data_dir/moxweb.db` (a SQLite data directory or backup)."""
    if not data_dir.is_dir():
        raise VerifyError(f"{data_dir}: no such directory")
    kind, db = data_dir_database(data_dir)
    if kind == "default":
        name = connections["default"].settings_dict["NAME"]
        return _verify(data_dir, "default", f"{connections['default'].vendor} {name}", progress)
    if kind == "sqlite":
        assert db is not None
        with sqlite_alias(db) as alias:
            return _verify(data_dir, alias, f"sqlite {db}", progress)
    raise VerifyError(
        f"{data_dir} has no moxweb.db and is not the configured data directory; "
        "for a PostgreSQL backup, restore moxweb.pgdump first (pg_restore), then run verifydata "
        "with DATABASE_URL and MOX_DATA_DIR pointing at the restored database and directory"
    )


def _verify(data_dir: Path, alias: str, database: str, progress: Callable[[str], None] | None) -> Report:
    report = Report(data_dir, database)
    conn = connections[alias]
    if conn.vendor == "sqlite":
        with conn.cursor() as cursor:
            cursor.execute("PRAGMA integrity_check")
            result = [row[0] for row in cursor.fetchall()]
        if result != ["ok"]:
            report.problems.extend(f"database integrity: {line}" for line in result)
    accounts = {a.pk: a.name for a in Account.objects.using(alias).all()}
    mailboxes = dict(Mailbox.objects.using(alias).values_list("pk", "name"))
    stores = dict(Store.objects.using(alias).values_list("account_id", "size"))
    accounts_root = data_dir / "accounts"
    dirs = set()
    if accounts_root.is_dir():
        dirs = {entry.name for entry in os.scandir(accounts_root) if entry.is_dir()}
    for account_id, account_name in sorted(accounts.items()):
        known: set[str] = set()
        total = 0
        rows = (
            Message.objects.using(alias)
            .filter(account_id=account_id)
            .order_by("mailbox_id", "uid")
            .values_list("pk", "mailbox_id", "uid", "path", "size", "prefix")
        )
        for pk, mailbox_id, uid, rel, size, prefix in rows.iterator(chunk_size=2000):
            report.messages += 1
            total += size
            where = f"message {pk} (account {account_name}, mailbox {mailboxes.get(mailbox_id, mailbox_id)}, uid {uid})"
            if not rel.startswith(f"accounts/{account_id}/msg/"):
                report.problems.append(f"misplaced file {rel}: {where} has its file outside accounts/{account_id}/msg/")
            known.add(rel)
            try:
                st = os.stat(data_dir / rel)
            except FileNotFoundError:
                report.problems.append(f"missing file {rel}: {where}")
                continue
            prefix_len = len(prefix or b"")
            if prefix_len + st.st_size != size:
                report.problems.append(
                    f"size mismatch {rel}: {where} has size {size}, "
                    f"but prefix {prefix_len} + file {st.st_size} = {prefix_len + st.st_size}"
                )
        if stores.get(account_id, 0) != total:
            report.problems.append(
                f"store size of account {account_name} is {stores.get(account_id, 0)}, its messages add up to {total}"
            )
        _walk(data_dir, account_id, known, report, "no message row")
        dirs.discard(str(account_id))
        if progress:
            progress(f"account {account_name}: checked")
    for name in sorted(dirs):
        _walk(data_dir, name, set(), report, "directory of no account")
    tmp = data_dir / "tmp"
    if tmp.is_dir():
        leftovers = sum(1 for entry in os.scandir(tmp) if entry.is_file())
        if leftovers:
            report.notes.append(
                f"{leftovers} files in tmp/: deliveries in progress or interrupted (safe to remove while stopped)"
            )
    return report


def _walk(data_dir: Path, account_dir: object, known: set[str], report: Report, why: str) -> None:
    msg_root = data_dir / "accounts" / str(account_dir) / "msg"
    if not msg_root.is_dir():
        return
    for root, dirnames, names in os.walk(msg_root):
        dirnames.sort()
        for name in sorted(names):
            rel = (Path(root) / name).relative_to(data_dir).as_posix()
            report.files += 1
            if rel not in known:
                line = f"orphan file {rel}: {why}"
                report.problems.append(line)
                report.orphans[rel] = line


# A delivery links its file into place seconds before committing its row; an orphan
# this old was left by a crash between the two (nothing was acknowledged for it).
ORPHAN_MIN_AGE = 600.0


def quarantine_orphans(report: Report, now: float | None = None, min_age: float = ORPHAN_MIN_AGE) -> list[tuple[str, str]]:
    """Move the report's orphan files older than `min_age` seconds to
    `orphans/<time>/<same relative path>` under the data directory (kept, not deleted:
    an orphan may also be the file of a row lost with a restored database), and drop
    their problem lines. Returns (from, to) relative paths."""
    now = time.time() if now is None else now
    stamp = datetime.fromtimestamp(now, timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    moved: list[tuple[str, str]] = []
    for rel in list(report.orphans):
        source = report.data_dir / rel
        try:
            if now - source.stat().st_mtime < min_age:
                continue
        except FileNotFoundError:
            continue
        target_rel = f"orphans/{stamp}/{rel}"
        target = report.data_dir / target_rel
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, target)
        fsync_dir(target.parent)
        fsync_dir(source.parent)
        moved.append((rel, target_rel))
    gone = {report.orphans.pop(rel) for rel, _ in moved}
    report.problems = [line for line in report.problems if line not in gone]
    return moved
