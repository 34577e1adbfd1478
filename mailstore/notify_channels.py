"""Change wake-ups across machines: PostgreSQL LISTEN/NOTIFY or Redis pub/sub.

The Unix sockets of `mailstore.notify` reach processes on one machine only. When
processes on several machines share one database, each writer also publishes the
account id on a network channel, and each listener process subscribes to it:

- Redis pub/sub on channel `moxweb_changes` when `MOX_REDIS_URL` is set;
- otherwise PostgreSQL `NOTIFY moxweb_changes, '<account id>'` when the database is
  PostgreSQL (NOTIFY is scoped to one database, which is the one shared);
- nothing on SQLite (one machine by construction).

A wake-up is only a hint: the change log is the truth. A listener whose channel drops
reconnects with backoff and, once back, wakes every waiting session, since wake-ups
sent while it was away are lost.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from django.conf import settings
from django.db import connections

log = logging.getLogger(__name__)

CHANNEL = "moxweb_changes"
_BACKOFF_START = 0.5
_BACKOFF_MAX = 30.0


def kind() -> str:
    """Which network channel this process uses: "redis", "postgresql" or ""."""
    if settings.MOX_REDIS_URL:
        return "redis"
    if connections["default"].vendor == "postgresql":
        return "postgresql"
    return ""


# One Redis client per process (its pool is thread-safe and handles fork).
_redis_lock = threading.Lock()
_redis_client: Any = None


def _redis() -> Any:
    global _redis_client
    with _redis_lock:
        if _redis_client is None:
            import redis

            _redis_client = redis.Redis.from_url(
                settings.MOX_REDIS_URL, socket_timeout=1, socket_connect_timeout=1
            )
        return _redis_client


def publish(account_id: int) -> None:
    """Publish one wake-up on the network channel, if any. Call after the commit.
    Never raises: a lost wake-up delays an update, it never loses one."""
    which = kind()
    try:
        if which == "redis":
            _redis().publish(CHANNEL, str(account_id))
        elif which == "postgresql":
            # pg_notify takes the payload as a parameter; outside a transaction
            # (after commit, autocommit) it is delivered at once.
            with connections["default"].cursor() as cursor:
                cursor.execute("SELECT pg_notify(%s, %s)", [CHANNEL, str(account_id)])
    except Exception as exc:  # noqa: BLE001 - a wake-up must never fail the writer
        log.warning("change notification not published", extra={"channel": which, "err": str(exc)})


def _pg_conninfo() -> dict[str, Any]:
    db = connections["default"].settings_dict
    info: dict[str, Any] = {"dbname": db["NAME"], "autocommit": True}
    for key, name in (("USER", "user"), ("PASSWORD", "password"), ("HOST", "host"), ("PORT", "port")):
        if db.get(key):
            info[name] = db[key]
    return info


async def _listen_postgresql(wake: Callable[[int], None], connected: Callable[[], None]) -> None:
    import psycopg

    conn = await psycopg.AsyncConnection.connect(connect_timeout=5, **_pg_conninfo())
    try:
        await conn.execute(f"LISTEN {CHANNEL}")
        connected()
        async for note in conn.notifies():
            if note.payload.isdigit():
                wake(int(note.payload))
    finally:
        with contextlib.suppress(Exception):
            await conn.close()
    raise ConnectionError("PostgreSQL notification stream ended")


async def _listen_redis(wake: Callable[[int], None], connected: Callable[[], None]) -> None:
    import redis.asyncio as aredis

    client = aredis.Redis.from_url(settings.MOX_REDIS_URL, socket_connect_timeout=5, client_name=client_name())
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    try:
        await pubsub.subscribe(CHANNEL)
        connected()
        while True:
            # A timeout bounds each read so a half-dead connection is noticed by ping.
            message = await pubsub.get_message(timeout=30.0)
            if message is None:
                await pubsub.ping()
                continue
            data = message.get("data")
            if isinstance(data, bytes) and data.isdigit():
                wake(int(data))
    finally:
        with contextlib.suppress(Exception):
            await pubsub.aclose()
        with contextlib.suppress(Exception):
            await client.aclose()


def client_name() -> str:
    """How this process's listening connection shows in Redis CLIENT LIST."""
    return f"moxweb-notify-{os.getpid()}"


class Subscriber:
    """Keeps one listening connection open in the running loop, reconnecting with
    backoff; calls `wake(account_id)` for each wake-up and `wake_all()` after each
    reconnect."""

    def __init__(self, which: str, wake: Callable[[int], None], wake_all: Callable[[], None]) -> None:
        self.kind = which
        self._wake = wake
        self._wake_all = wake_all
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"moxweb-notify-{self.kind}")

    async def wait_connected(self, timeout: float) -> bool:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.connected.wait(), timeout)
        return self.connected.is_set()

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _run(self) -> None:
        listen: Callable[[Callable[[int], None], Callable[[], None]], Awaitable[None]]
        listen = _listen_redis if self.kind == "redis" else _listen_postgresql
        delay = _BACKOFF_START
        first = True

        def on_connected() -> None:
            nonlocal delay, first
            delay = _BACKOFF_START
            self.connected.set()
            if not first:
                log.info("change channel reconnected", extra={"channel": self.kind})
                # Wake-ups sent while we were away are lost: let every session look.
                self._wake_all()
            first = False

        while True:
            try:
                await listen(self._wake, on_connected)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any failure means reconnect
                self.connected.clear()
                log.warning("change channel lost, reconnecting", extra={"channel": self.kind, "err": str(exc), "delay": delay})
            await asyncio.sleep(delay)
            delay = min(delay * 2, _BACKOFF_MAX)
