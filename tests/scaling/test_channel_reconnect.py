"""The change channel's listener survives its connection being cut: it reconnects,
wakes every waiting session once (wake-ups sent meanwhile are lost), then hears new
wake-ups. Always on the machine's PostgreSQL and Redis."""
from __future__ import annotations

import asyncio
import secrets
from typing import Any

import psycopg
import redis

from mailstore import notify_channels

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "postgres", "autocommit": True}
REDIS_URL = "redis://127.0.0.1:6379/11"


async def _until(condition: Any, timeout: float) -> bool:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while loop.time() < end:
        if condition():
            return True
        await asyncio.sleep(0.05)
    return bool(condition())


async def test_it_reconnects_the_postgresql_listener_and_wakes_everyone(monkeypatch) -> None:
    monkeypatch.setattr(notify_channels, "_pg_conninfo", lambda: dict(PG))
    monkeypatch.setattr(notify_channels, "_BACKOFF_START", 0.05)
    woken: list[int] = []
    woken_all: list[bool] = []
    sub = notify_channels.Subscriber("postgresql", woken.append, lambda: woken_all.append(True))
    sub.start()
    try:
        assert await sub.wait_connected(5)
        marker = 10_000_000 + secrets.randbelow(1_000_000)
        async with await psycopg.AsyncConnection.connect(**PG) as admin:
            await admin.execute("SELECT pg_notify(%s, %s)", [notify_channels.CHANNEL, str(marker)])
            assert await _until(lambda: marker in woken, 2)
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = %s AND pid <> pg_backend_pid()",
                [f"LISTEN {notify_channels.CHANNEL}"],
            )
            assert await _until(lambda: woken_all == [True], 5)
            await admin.execute("SELECT pg_notify(%s, %s)", [notify_channels.CHANNEL, str(marker + 1)])
            assert await _until(lambda: marker + 1 in woken, 2)
    finally:
        sub.stop()
        await asyncio.sleep(0.1)


async def test_it_reconnects_the_redis_subscriber_and_wakes_everyone(settings, monkeypatch) -> None:
    settings.MOX_REDIS_URL = REDIS_URL
    monkeypatch.setattr(notify_channels, "_BACKOFF_START", 0.05)
    woken: list[int] = []
    woken_all: list[bool] = []
    sub = notify_channels.Subscriber("redis", woken.append, lambda: woken_all.append(True))
    sub.start()
    admin = redis.Redis.from_url(REDIS_URL)
    try:
        assert await sub.wait_connected(5)
        marker = 10_000_000 + secrets.randbelow(1_000_000)
        admin.publish(notify_channels.CHANNEL, str(marker))
        assert await _until(lambda: marker in woken, 2)
        killed = admin.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
        assert int(killed) >= 1
        assert await _until(lambda: woken_all == [True], 5)
        admin.publish(notify_channels.CHANNEL, str(marker + 1))
        assert await _until(lambda: marker + 1 in woken, 2)
    finally:
        sub.stop()
        admin.close()
        await asyncio.sleep(0.1)
