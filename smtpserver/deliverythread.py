"""One thread that stores the deliveries of every SMTP session of a process, many per
wake-up (on SQLite; PostgreSQL commits each in a database pool thread).

Through the database pool, a delivery passed between four threads: the event loop, a
pool thread (parse, write the file), the group committer, the pool thread again, the
loop. Each pass is a wake-up, and each wake-up in a busy process waits for the GIL: in
the SMTP ingest benchmark the kernel spent a third of the process's CPU time switching
threads. Here the loop hands a delivery over and gets its answer back, and in between
the thread takes every delivery that has arrived, runs each up to its commit, commits
them together in this thread (`mailstore.actions.run_steps_together`, with a group
committer of its own, in turn with other processes through the commit lock), finishes
each, and answers each event loop once for the whole batch. While it works, the next
batch gathers.

The thread keeps its database connection until it has been idle IDLE_EXIT seconds.
"""
from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import DatabaseError, connections

from mailstore import groupcommit
from mailstore.actions import DeliverySteps, run_steps_together
from moxweb.dbpool import call_in_context, settle
from smtpserver.store import rejects_checked_once

log = logging.getLogger(__name__)

# Deliveries taken per wake-up at most (one transaction).
MAX_BATCH = 64
# Seconds without work after which the thread closes its connection and ends.
IDLE_EXIT = 5.0


@dataclass
class _Job:
    make: Callable[[], DeliverySteps[Any]]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    context: contextvars.Context


class DeliveryThread:
    def __init__(self, idle_exit: float = IDLE_EXIT) -> None:
        self.idle_exit = idle_exit
        self._cond = threading.Condition()
        self._jobs: list[_Job] = []
        self._thread: threading.Thread | None = None
        self._committer = groupcommit.GroupCommitter()
        # Figures for tests and metrics.
        self.batches = 0
        self.deliveries = 0

    async def run(self, make: Callable[[], DeliverySteps[Any]]) -> Any:
        """The result of the delivery steps `make()` returns (made and run in this
        thread), or their exception; returns once the delivery is committed."""
        loop = asyncio.get_running_loop()
        job = _Job(make, loop, loop.create_future(), contextvars.copy_context())
        with self._cond:
            self._jobs.append(job)
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name="smtp-delivery", daemon=True)
                self._thread.start()
            else:
                self._cond.notify()
        return await job.future

    def _serve(self) -> None:
        opened_with = ""
        try:
            while True:
                with self._cond:
                    if not self._jobs:
                        self._cond.wait(self.idle_exit)
                    if not self._jobs:
                        self._thread = None
                        return
                    batch, self._jobs = self._jobs[:MAX_BATCH], self._jobs[MAX_BATCH:]
                opened_with = groupcommit.follow_settings(opened_with)
                self._deliver(batch)
        finally:
            connections.close_all()

    def _deliver(self, batch: list[_Job]) -> None:
        outcomes: list[tuple[Any, BaseException | None]]
        try:
            # Each delivery's steps run with its session's context variables (log fields).
            with rejects_checked_once():
                outcomes = run_steps_together(self._committer, [_InContext(job.context, job.make())  # type: ignore[misc]
                                                                for job in batch])
        except BaseException as exc:  # noqa: BLE001 - the batch failed as a whole: each caller hears it
            outcomes = [(None, exc)] * len(batch)
        if any(isinstance(error, DatabaseError) for _, error in outcomes):
            # Broken or in doubt: the next batch starts from a fresh connection.
            connections.close_all()
        self.batches += 1
        self.deliveries += len(batch)
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Any, BaseException | None]]] = {}
        for job, (result, error) in zip(batch, outcomes, strict=True):
            by_loop.setdefault(job.loop, []).append((job.future, result, error))
        for loop, settled in by_loop.items():
            try:
                loop.call_soon_threadsafe(_settle_all, settled)
            except RuntimeError:
                pass  # that loop has closed


class _InContext:
    """Delivery steps resumed with a session's context variables (`call_in_context`)."""

    def __init__(self, context: contextvars.Context, steps: DeliverySteps[Any]) -> None:
        self.context = context
        self.steps = steps

    def __next__(self) -> Any:
        return call_in_context(self.context, next, self.steps)

    def send(self, value: Any) -> Any:
        return call_in_context(self.context, self.steps.send, value)

    def throw(self, error: BaseException) -> Any:
        return call_in_context(self.context, self.steps.throw, error)


def _settle_all(settled: list[tuple[asyncio.Future[Any], Any, BaseException | None]]) -> None:
    for future, result, error in settled:
        settle(future, result, error)


# The process's delivery thread, shared by every SMTP listener in it.
delivery_thread = DeliveryThread()
