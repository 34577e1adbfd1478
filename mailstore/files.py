"""Durable message files under MOX_DATA_DIR.

A message is first streamed to `tmp/` (never held whole in memory), fsynced, then
hard-linked into `accounts/<id>/msg/<xx>/<name>` and the directory fsynced, before the
database row is committed; a small message still held in memory is written straight
at its place instead. A delivery leaves that file's fsync, and the directory fsync, to
its group commit, which starts the writeback of each file as it is written and then
makes the batch's files durable together, with one fsync per directory (`begin_put`,
`Placement.complete`, `sync_dirs`). A crash before the commit leaves at most an
unreferenced file, never a row without its file: no client sees it (clients see rows),
and `verifydata` reports such leftovers (`--remove-orphans` moves them aside). An import
moves a batch's files into place unsynced and fsyncs them together, and their one
directory, before its rows commit (`place_unsynced`, `sync_placed`).
"""
from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from django.conf import settings

from mailcore import randomid

T = TypeVar("T")


def data_dir() -> Path:
    return Path(settings.DATA_DIR)


def tmp_dir() -> Path:
    path = data_dir() / "tmp"
    path.mkdir(parents=True, exist_ok=True)
    return path


def fsync_dir(path: str | Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# Bytes a TempMessageFile gathers before it writes them: a message stored from a
# line-by-line import is written in pieces this large, one held whole in one write.
WRITE_BUFFER = 64 * 1024

_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)


def _writeback_starter() -> Callable[[int], None]:
    """Linux's sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE): the kernel starts writing
    a file's dirty pages without waiting for them (a hint; durability still comes from
    fsync). Files written one after another and then fsynced one after another then
    share the disk's time instead of each waiting its own turn. A no-op where missing.
    Called holding the GIL (a PyDLL function): it only queues the pages, and letting the
    GIL go for that long cost a hand-over to the event loop and a wait to get it back,
    once per delivered message."""
    try:
        import ctypes

        call = ctypes.PyDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return lambda fd: None
    call.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    call.restype = ctypes.c_int
    write = 2  # SYNC_FILE_RANGE_WRITE

    def start(fd: int) -> None:
        call(fd, 0, 0, write)  # a failure only loses the head start

    return start


start_writeback = _writeback_starter()


class TempMessageFile:
    """Write a message in chunks, in tmp/ or at a given place (`begin_put`); `finish()`
    fsyncs and returns its path and size.

    Used as a context manager, the file is removed if `finish()` was not reached or
    if `discard()` is called; the caller removes a finished file once stored (`cleanup`).
    The file is written with plain system calls (create, write, fsync, close): tmp/ is
    only made when creating the file finds it missing.
    """

    def __init__(self, name: str | None = None) -> None:
        """`name`: the file to create (its directory made if missing), else a new one in tmp/."""
        if name is None:
            name = os.path.join(settings.DATA_DIR, "tmp", f"{os.getpid()}-{randomid.token_hex(8)}")
        try:
            self._fd: int | None = os.open(name, _CREATE_FLAGS, 0o666)
        except FileNotFoundError:
            os.makedirs(os.path.dirname(name), exist_ok=True)
            self._fd = os.open(name, _CREATE_FLAGS, 0o666)
        # Kept as text: a Path made for every delivered message cost more than writing it.
        self.name = name
        self._pending: list[bytes] = []
        self._pending_size = 0
        self.size = 0
        self.finished = False

    @property
    def path(self) -> Path:
        return Path(self.name)

    def write(self, data: bytes) -> None:
        if type(data) is not bytes:
            data = bytes(data)  # a buffer its caller may change before it is written
        self._pending.append(data)
        self._pending_size += len(data)
        self.size += len(data)
        if self._pending_size >= WRITE_BUFFER:
            self._flush()

    def _flush(self) -> None:
        pending = self._pending
        if not pending:
            return
        view = memoryview(pending[0] if len(pending) == 1 else b"".join(pending))
        self._pending = []
        self._pending_size = 0
        assert self._fd is not None
        while view:
            view = view[os.write(self._fd, view):]

    def _close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def start_writeback(self) -> None:
        """Write what is gathered and have the kernel start writing it to disk
        (`start_writeback`); `finish()` still fsyncs."""
        try:
            self._flush()
            start_writeback(self._fd)  # type: ignore[arg-type]
        except BaseException:
            self._close()
            raise

    def finish(self, sync: bool = True) -> Path:
        """Close the file, fsynced unless `sync` is false (its caller syncs it later,
        with others: `sync_placed`); its path."""
        self.seal(sync)
        return self.path

    def seal(self, sync: bool = True) -> None:
        """`finish()` without making its Path."""
        try:
            self._flush()
            if sync:
                os.fsync(self._fd)  # type: ignore[arg-type]
        except BaseException:
            self._close()
            raise
        self._close()
        self.finished = True

    def discard(self) -> None:
        self._pending = []
        try:
            self._close()
        except OSError:
            pass  # the file is closed and goes anyway
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.name)

    def cleanup(self) -> None:
        self.discard()

    def __enter__(self) -> TempMessageFile:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None or not self.finished:
            self.discard()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


def _writer_pid(name: str) -> int | None:
    """The process that named a temp file: `<pid>-<hex>` (a message being received or
    queued) or `export-<pid>-<hex>`. An import upload (`import-<job>...`) belongs to its
    job, not to a process, and has no writer pid."""
    head = name.removeprefix("export-").split("-", 1)[0]
    return int(head) if head.isdigit() and "-" in name else None


def abandoned_temp_files(is_alive: Callable[[int], bool] = _pid_alive) -> list[Path]:
    """Files in tmp/ whose writing process no longer runs: left by a crash or kill -9
    between receiving a message and storing it (nothing was acknowledged for them)."""
    root = data_dir() / "tmp"
    if not root.is_dir():
        return []
    found = []
    for entry in os.scandir(root):
        pid = _writer_pid(entry.name)
        if entry.is_file() and pid is not None and pid != os.getpid() and not is_alive(pid):
            found.append(Path(entry.path))
    return sorted(found)


def sweep_temp_files(is_alive: Callable[[int], bool] = _pid_alive) -> int:
    """Remove abandoned temp files (runmail and localserve do this as they start)."""
    removed = 0
    for path in abandoned_temp_files(is_alive):
        path.unlink(missing_ok=True)
        removed += 1
    return removed


def write_temp(data: bytes) -> Path:
    """Write bytes durably to a new temporary file (for callers that hold small messages)."""
    tmp = TempMessageFile()
    tmp.write(data)
    return tmp.finish()


def account_dir(account_id: int) -> Path:
    return data_dir() / "accounts" / str(account_id)


def new_bucket() -> str:
    return randomid.token_hex(1)


# Deliveries a bucket of `delivery_bucket` takes before the next one is drawn.
BUCKET_RUN = 64
_bucket_run = [BUCKET_RUN, ""]


def delivery_bucket() -> str:
    """The bucket for a delivery: the same for BUCKET_RUN deliveries of this process in a
    row, then a random other, so that a batch's files mostly share one directory (one
    directory fsync) and the buckets still fill evenly. No lock: threads racing here
    only make a run a little longer or shorter."""
    count, bucket = _bucket_run
    if count >= BUCKET_RUN:
        count, bucket = 0, new_bucket()
    _bucket_run[:] = [count + 1, bucket]
    return bucket  # type: ignore[return-value]


def new_message_path(account_id: int, bucket: str = "") -> tuple[Path, str]:
    """A fresh, unguessable file name in a bucket of at most 256 subdirectories: `bucket`
    (from `new_bucket`) or a random one."""
    name, rel = new_message_name(account_id, bucket)
    return Path(name), rel


def new_message_name(account_id: int, bucket: str = "") -> tuple[str, str]:
    """`new_message_path` as text, for the delivery path (`begin_put` takes either)."""
    name = randomid.token_hex(12)
    if bucket:
        name = bucket + name[len(bucket):]
    rel = f"accounts/{account_id}/msg/{name[:2]}/{name}"
    return os.path.join(settings.DATA_DIR, rel), rel


def place(source: Path, dest: Path) -> None:
    """Hard-link (or copy, across file systems) a finished temp file into place, durably.
    The directory is made only when the link finds it missing."""
    _in_place(dest, lambda: _link_or_copy(source, dest))
    fsync_dir(dest.parent)


def _link_or_copy(source: Path, dest: str | Path) -> None:
    try:
        os.link(source, dest)
    except FileNotFoundError:
        raise
    except OSError:
        shutil.copyfile(source, dest)
        with open(dest, "rb") as fh:
            os.fsync(fh.fileno())


def put(dest: Path, source: Path | None, data: bytes | None) -> None:
    """Put a message's file in place, its directory entry not yet durable (`sync_dirs`
    makes it so): a finished (fsynced) file `source` linked, or `data` written there and
    fsynced. On an error (a full disk) nothing is left at `dest`."""
    begin_put(dest, source, data).complete()


def begin_put(dest: str | Path, source: Path | None, data: bytes | None) -> Placement:
    """`put` in two steps, for a caller storing several messages at once: now, `source`
    linked at `dest`, or `data` written at `dest` and its writeback started; then
    `complete()` on each (fsync). The fsyncs of files whose writeback started together
    wait for the disk about once, not once each. On an error (a full disk) nothing is
    left at `dest`.

    `data` is written at its place, not in tmp/ and renamed there: the rename, and the
    entry made and removed in tmp/, cost the SMTP benchmark 4% of its CPU per message and
    8% of its rate (interleaved pairs, two SMTP processes: 1,390/1,456, 1,472/1,688, 1,473/1,581,
    1,543/1,670, 1,547/1,761, 1,391/1,389 msg/s, tmp/ and rename / in place). A file
    being written has no row yet, so no client reads it; a kill before the commit leaves
    it as an unreferenced file (empty or cut short if the kill came while it was being
    written), as it left a file renamed or linked before the commit."""
    if source is not None:
        _in_place(dest, lambda: _link_or_copy(source, dest))
        return Placement(dest, None)
    assert data is not None
    writer = TempMessageFile(os.fspath(dest))
    try:
        writer.write(data)
        writer.start_writeback()
    except BaseException:
        writer.discard()
        raise
    return Placement(dest, writer)


class Placement:
    """A message file on its way to `dest` (`begin_put`)."""

    def __init__(self, dest: str | Path, writer: TempMessageFile | None) -> None:
        self.dest = dest
        self._writer = writer  # the file at `dest`, written, not yet durable; None once it is
        self._error: BaseException | None = None

    def complete(self) -> None:
        """The file fsynced (its directory entry is `sync_dirs`'s to make durable).
        Again after success: nothing; after a failure: its error again (nothing is
        then left at `dest`)."""
        if self._error is not None:
            raise self._error
        writer = self._writer
        if writer is None:
            return
        try:
            writer.seal()
        except BaseException as exc:
            writer.discard()
            self._writer, self._error = None, exc
            raise
        self._writer = None

    def discard(self) -> None:
        """The file removed."""
        if self._writer is not None:
            self._writer.discard()
            self._writer = None
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.dest)


def sync_dirs(paths: list[str | Path]) -> None:
    """Make the directory entries of files `put` in place durable: each of their
    directories fsynced once (a group commit's deliveries mostly share one)."""
    for parent in dict.fromkeys(os.path.dirname(path) for path in paths):
        fsync_dir(parent)


def _in_place(dest: str | Path, make: Callable[[], T]) -> T:
    """`make()` the file at `dest`, making its directory when that finds it missing."""
    try:
        return make()
    except FileNotFoundError:
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        return make()


def place_unsynced(source: Path, dest: Path) -> None:
    """Move a temp file into place without syncing it (`sync_placed` does, later): a
    rename, or a copy across file systems."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(source, dest)


def sync_placed(paths: list[Path]) -> None:
    """Make files put in place by `place_unsynced` durable: each file, then each of their
    directories once (an import's batch shares one directory: one directory fsync)."""
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    for parent in dict.fromkeys(path.parent for path in paths):
        fsync_dir(parent)


def message_path(rel: str) -> Path:
    return data_dir() / rel


def read_message(rel: str, prefix: bytes = b"") -> bytes:
    return bytes(prefix) + message_path(rel).read_bytes()


def remove_files(rels: list[str]) -> None:
    for rel in rels:
        message_path(rel).unlink(missing_ok=True)
