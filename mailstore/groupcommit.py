"""Group commit: concurrent deliveries in one process share one database transaction
(used on SQLite; see `run`).

Every acknowledged message needs a durable commit, and a commit costs an fsync (SQLite's
WAL with synchronous=FULL, or PostgreSQL's WAL flush). Deliveries that arrive while a
commit is in progress would otherwise each wait for the write lock (on SQLite, in its
busy handler's sleeps) and then pay their own fsync. Here one committer thread takes
every pending unit of work, runs them in a single transaction (sorted by key, the
account id, so two processes lock Store rows in the same order), commits once, and
hands each caller its own result or exception. When a unit fails, the batch is rolled
back and run again with each unit in its own savepoint, so that the failure is its
caller's alone (the common batch, where nothing fails, pays no savepoints). Callers
return only after the commit, so "durable before acknowledged" still holds per message.

Processes that commit to one SQLite file (runmail's SMTP processes, MOX_SMTP_PROCESSES)
take turns through an flock on a file beside it, held from before the transaction to
after its commit: waiting for SQLite's lock instead meant its busy handler's sleeps
(1, 2, 5 ms and more), long after the other committer was done.

The committer is one long-lived thread with one database connection, not whichever
caller came first: SQLite keeps a page cache per connection and drops it when another
connection wrote, so a changing leader read the indexes it was about to update from
the file again for every batch (372 preads per message in the SMTP ingest benchmark).
The thread ends, closing its connection, after IDLE_EXIT seconds without work.

A caller already inside a transaction runs its work inline: it must be part of that
transaction, not of someone else's.

Units may also be combined (`run_combined`): those of one batch that share a combining
function run in one call of it, so that, say, twenty deliveries insert their rows with a
few statements instead of five each. That matters beyond the statements' own cost: the
driver lets go of the GIL around every statement, and in a busy process taking it back
waited for the event loop or another thread, up to the switch interval each time (the
committer spent three quarters of its time on that in the SMTP ingest benchmark). When
a combined call fails, the batch runs again with each unit alone in its savepoint.
"""
from __future__ import annotations

import fcntl
import functools
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.db import DatabaseError, connections, transaction

from mailstore.notify import Coalesced


log = logging.getLogger(__name__)

T = TypeVar("T")

# Bound on one transaction's size, so one commit does not hold the lock for long.
MAX_BATCH = 64
# Seconds without work after which the committer thread closes its connection and ends.
IDLE_EXIT = 5.0


@dataclass
class _Unit(Generic[T]):
    fn: Callable[[], T]
    key: int
    # Units of a batch with the same `combine` run in one call, `combine([item, ...])`,
    # which returns their results in order; `fn` runs the unit alone.
    combine: Callable[[list[Any]], list[T]] | None = None
    item: Any = None
    # Work on the items of the units sharing `combine` that is better done before the
    # transaction opens (not holding the database's write lock); see run_combined.
    prepare: Callable[[list[Any]], None] | None = None
    result: Any = None
    error: BaseException | None = None
    # Set once the unit is done, for a caller waiting in another thread (`_run_unit`);
    # None for units committed by their own thread (`commit_now`).
    event: threading.Event | None = None


class GroupCommitter:
    def __init__(self, max_batch: int = MAX_BATCH, idle_exit: float = IDLE_EXIT) -> None:
        self.max_batch = max_batch
        self.idle_exit = idle_exit
        self._reset()
        # Figures for tests and metrics: transactions committed and units they carried.
        self.batches = 0
        self.units = 0
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        """Fresh state (also in a forked child, which has no committer thread)."""
        self._turn = _ProcessTurn()
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._pending: list[_Unit[Any]] = []
        self._thread: threading.Thread | None = None

    def run(self, fn: Callable[[], T], *, key: int = 0) -> T:
        """Run `fn` in a committed transaction (shared with concurrent callers) and
        return its result, or raise its exception. Returns after the commit."""
        if transaction.get_connection().in_atomic_block:
            with transaction.atomic():
                return fn()
        return self._run_unit(_Unit(fn, key))

    def run_combined(self, combine: Callable[[list[Any]], list[T]], item: Any, *, key: int = 0,
                     prepare: Callable[[list[Any]], None] | None = None) -> T:
        """As `run`, for a unit whose work `combine([item])` does, and which may run in one
        call of `combine` with the other units of its batch that share it. `prepare`, if
        given, is first called with those units' items before the transaction opens:
        work that need not hold the write lock (it must be idempotent, and `combine`
        must still do it if it was not done: a `prepare` that fails is ignored)."""
        if transaction.get_connection().in_atomic_block:
            with transaction.atomic():
                return combine([item])[0]
        return self._run_unit(_Unit(functools.partial(_combine_one, combine, item), key, combine, item, prepare))

    def commit_now(self, combine: Callable[[list[Any]], list[T]], items: list[tuple[int, Any]], *,
                   prepare: Callable[[list[Any]], None] | None = None) -> list[tuple[T | None, BaseException | None]]:
        """Commit the `(key, item)` pairs as one batch in this thread, as the committer
        thread commits a batch of `run_combined` units (their `combine`, one by one in
        savepoints when it fails, `prepare` first, in turn with other processes); each
        item's (result, None) or (None, error), in order. For a thread that gathers
        its own batches (smtpserver.deliverythread); not to be shared with another
        thread (this committer's turn is one open file)."""
        units = [_Unit(functools.partial(_combine_one, combine, item), key, combine, item, prepare)
                 for key, item in items]
        self._commit(list(units))  # a copy: the batch is sorted by key
        return [(unit.result, unit.error) for unit in units]

    def _run_unit(self, unit: _Unit[T]) -> T:
        unit.event = threading.Event()
        self._submit(unit)
        unit.event.wait()
        if unit.error is not None:
            raise unit.error
        return unit.result  # type: ignore[no-any-return]

    def _submit(self, unit: _Unit[Any]) -> None:
        with self._lock:
            self._pending.append(unit)
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name="groupcommit", daemon=True)
                self._thread.start()
            else:
                self._wake.notify()

    def _serve(self) -> None:
        opened_with = ""
        try:
            while True:
                with self._lock:
                    if not self._pending:
                        self._wake.wait(self.idle_exit)
                    if not self._pending:
                        self._thread = None
                        return
                    batch = self._pending[: self.max_batch]
                    del self._pending[: self.max_batch]
                opened_with = follow_settings(opened_with)
                self._commit(batch)
        finally:
            connections.close_all()

    def _commit(self, batch: list[_Unit[Any]]) -> None:
        batch.sort(key=lambda u: u.key)
        _prepare(batch)
        # The batch's change notifications go out once per account, after the callers
        # have their answers (they only wake IMAP sessions, which read the change log).
        notifications = Coalesced()
        try:
            with notifications, self._turn:
                if not self._attempt(batch, savepoints=False):
                    self._attempt(batch, savepoints=True)
        except BaseException as exc:  # the commit (or the database) failed for all
            for unit in batch:
                if unit.error is None:
                    unit.result, unit.error = None, exc
            if isinstance(exc, DatabaseError):
                # A broken connection is not reused: the next batch connects afresh.
                connections.close_all()
        self.batches += 1
        self.units += len(batch)
        for unit in batch:
            if unit.event is not None:
                unit.event.set()
        try:
            notifications.send()
        except Exception:  # noqa: BLE001 - a lost wake-up delays an update; this thread must go on
            log.exception("change notification failed")

    def _attempt(self, batch: list[_Unit[Any]], *, savepoints: bool) -> bool:
        """Run the batch in one transaction and commit it. Without savepoints (two
        statements per unit saved) a failing unit rolls the whole transaction back and
        this returns False, for the batch to run again with a savepoint per unit, so
        that one failure spares the rest. Units run again must not have changed
        anything outside the database (on_commit callbacks of a rolled-back
        transaction never run)."""
        try:
            with transaction.atomic():
                if not savepoints:
                    for run in _runs(batch):
                        try:
                            run()
                        except Exception as exc:  # noqa: BLE001 - run again with savepoints
                            raise _Retry from exc
                    return True
                for unit in batch:
                    unit.result, unit.error = None, None
                    try:
                        with transaction.atomic():
                            unit.result = unit.fn()
                    except Exception as exc:  # noqa: BLE001 - handed to its caller
                        unit.error = exc
        except _Retry:
            return False
        return True


def _runs(batch: list[_Unit[Any]]) -> list[Callable[[], None]]:
    """The calls that do a batch's work without savepoints, in the batch's order: one per
    plain unit, one per combining function (where its first unit is) for all its units."""
    runs: list[Callable[[], None]] = []
    combined: dict[Callable[[list[Any]], list[Any]], list[_Unit[Any]]] = {}
    for unit in batch:
        unit.result, unit.error = None, None
        if unit.combine is None:
            runs.append(functools.partial(_run_alone, unit))
        elif unit.combine in combined:
            combined[unit.combine].append(unit)
        else:
            combined[unit.combine] = [unit]
            runs.append(functools.partial(_run_together, combined[unit.combine]))
    return runs


def follow_settings(opened_with: str) -> str:
    """For a long-lived thread's connection: closed when the database settings changed
    since `opened_with` (tests change them: the name, a lock timeout), so that it
    follows them as a caller's new connection would; the settings now."""
    current = repr(connections["default"].settings_dict)
    if current != opened_with:
        connections.close_all()
    return current


class _ProcessTurn:
    """The committers of all processes using one SQLite file, one at a time: an
    exclusive flock on `<database>.commit-lock` (none for other databases, or SQLite in
    memory)."""

    def __init__(self) -> None:
        self._path = ""
        self._file: Any = None

    def _lock_path(self) -> str:
        connection = connections["default"]
        name = str(connection.settings_dict.get("NAME") or "")
        if connection.vendor != "sqlite" or not name or name == ":memory:" or "mode=memory" in name:
            return ""
        return name + ".commit-lock"

    def __enter__(self) -> None:
        path = self._lock_path()
        if path != self._path:
            if self._file is not None:
                self._file.close()
            self._path, self._file = path, (open(path, "a") if path else None)  # noqa: SIM115 - kept open
        if self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        if self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)


def _prepare(batch: list[_Unit[Any]]) -> None:
    """Run each `prepare` once with the items of the units that share it."""
    groups: dict[Callable[[list[Any]], None], list[Any]] = {}
    for unit in batch:
        if unit.prepare is not None:
            groups.setdefault(unit.prepare, []).append(unit.item)
    for prepare, items in groups.items():
        try:
            prepare(items)
        except Exception:  # noqa: BLE001 - the units do it themselves, and fail if they must
            log.debug("preparing a batch failed", exc_info=True)


def _combine_one(combine: Callable[[list[Any]], list[T]], item: Any) -> T:
    return combine([item])[0]


def _run_alone(unit: _Unit[Any]) -> None:
    unit.result = unit.fn()


def _run_together(units: list[_Unit[Any]]) -> None:
    combine = units[0].combine
    assert combine is not None
    results = combine([u.item for u in units]) if len(units) > 1 else [units[0].fn()]
    for unit, result in zip(units, results, strict=True):
        unit.result = result


class _Retry(Exception):
    """A unit failed in a batch run without savepoints: roll back, run it again with."""


committer = GroupCommitter()


def grouped() -> bool:
    """Whether this process groups commits: on SQLite, whose single writer lock and
    per-commit fsync make batching pay (measured with 20 threads: 44 msg/s one
    transaction each, 95 msg/s grouped). PostgreSQL runs transactions of different
    accounts in parallel and flushes concurrent commits together by itself."""
    return bool(connections["default"].vendor == "sqlite")


def run(fn: Callable[[], T], *, key: int = 0) -> T:
    """Run `fn` through the process's group committer (see the module docstring) on
    SQLite; elsewhere each unit gets its own transaction."""
    if not grouped():
        with transaction.atomic():
            return fn()
    return committer.run(fn, key=key)


def run_combined(combine: Callable[[list[Any]], list[T]], item: Any, *, key: int = 0,
                 prepare: Callable[[list[Any]], None] | None = None) -> T:
    """`combine([item])[0]`, through the group committer on SQLite (where it may run in
    one call with the batch's other units sharing `combine`, after `prepare`); elsewhere
    in its own transaction."""
    if not grouped():
        with transaction.atomic():
            return combine([item])[0]
    return committer.run_combined(combine, item, key=key, prepare=prepare)
