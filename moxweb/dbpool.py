"""Bounded pools of database threads, one shared by all IMAP sessions of a process
(imapserver.dbpool) and one by all its SMTP sessions (smtpserver.dbpool).

A session borrows a thread (and so that thread's Django database connection) only
while one of its commands runs ORM work; idle and IDLE sessions hold neither, so the
process holds at most `size` threads and database connections however many sessions
are open (issue 4: 10,000 idle authenticated connections in under 1 GB). Each job sees
the caller's context variables, so log lines keep the session's bound fields.

A worker keeps its connection between jobs; it closes it after IDLE_CLOSE seconds
without work, `linger` seconds after the last session of the process ended (if no
session came and gave it work meanwhile), and after a database error (the next job
reconnects). Nothing is left open behind a process that serves no one, so a test
database can be dropped.
"""
from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import DatabaseError

log = logging.getLogger(__name__)
T = TypeVar("T")

IDLE_CLOSE = 30.0
# The context variable behind asgiref.local.Local, where django.db.connections live.
_ASGIREF_LOCAL = "asgiref.local"


@dataclass
class _Job:
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    context: contextvars.Context
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]


def close_connection() -> None:
    """Close this thread's default database connection, broken or not."""
    from django.db import connection

    try:
        connection.close()
    except DatabaseError:
        pass  # already broken (the database went away): closed all the same


def _call(job: _Job) -> Any:
    return call_in_context(job.context, job.fn, *job.args, **job.kwargs)


def call_in_context(context: contextvars.Context, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`fn` in this thread's own context, with `context`'s variables (a session's log
    fields) set for its duration, except asgiref's: Django keeps each thread's database
    connections there, and running in a copied context would open a new connection
    per call."""
    tokens = [(var, var.set(value)) for var, value in context.items() if var.name != _ASGIREF_LOCAL]
    try:
        return fn(*args, **kwargs)
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    """On the future's loop: its result or exception, unless its caller went away."""
    if future.done():  # the session went away (cancelled) while its job ran
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class DBPool:
    def __init__(self, size: int, name: str, *, linger: float = 0.0, idle_close: float = IDLE_CLOSE) -> None:
        self.size = size
        self.name = name
        self.linger = linger
        self.idle_close = idle_close
        self._cond = threading.Condition()
        self._jobs: deque[_Job] = deque()
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self.sessions = 0
        # Figures for tests and metrics.
        self.connected = 0
        self.jobs_run = 0

    @property
    def threads(self) -> int:
        return len(self._threads)

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`fn(*args, **kwargs)` in a pool thread; its result or exception."""
        loop = asyncio.get_running_loop()
        job = _Job(loop, loop.create_future(), contextvars.copy_context(), fn, args, kwargs)
        with self._cond:
            self._jobs.append(job)
            if len(self._jobs) > self._idle and len(self._threads) < self.size:
                thread = threading.Thread(
                    target=self._work, name=f"{self.name}-{len(self._threads)}", daemon=True
                )
                self._threads.append(thread)
                thread.start()
            self._cond.notify()
        return await job.future

    def session_started(self) -> None:
        with self._cond:
            self.sessions += 1

    def session_ended(self) -> None:
        with self._cond:
            self.sessions -= 1
            if self.sessions == 0:
                self._cond.notify_all()  # idle workers start lingering

    def _next(self, connected: bool) -> _Job | None:
        """The next job, or None when this worker should close its connection first: it
        has been idle for `idle_close` seconds, or for `linger` with no session open."""
        with self._cond:
            idle_since = time.monotonic()
            while not self._jobs:
                left = None
                if connected:
                    limit = self.linger if self.sessions == 0 else self.idle_close
                    left = idle_since + limit - time.monotonic()
                    if left <= 0:
                        return None
                self._idle += 1
                try:
                    self._cond.wait(left)
                finally:
                    self._idle -= 1
            return self._jobs.popleft()

    def _work(self) -> None:
        connected = False
        while True:
            job = self._next(connected)
            if job is None:
                close_connection()
                connected = False
                with self._cond:
                    self.connected -= 1
                continue
            if not connected:
                connected = True
                with self._cond:
                    self.connected += 1
            result: Any = None
            error: BaseException | None = None
            try:
                result = _call(job)
            except BaseException as exc:  # noqa: BLE001 - handed to the session
                error = exc
                if isinstance(exc, DatabaseError):
                    # Broken or in doubt: the next job starts from a fresh connection.
                    close_connection()
            self.jobs_run += 1
            try:
                job.loop.call_soon_threadsafe(settle, job.future, result, error)
            except RuntimeError:
                pass  # the session's loop has closed
            del job, result, error

