"""SMTP sessions share the process's pool of database threads (smtpserver.dbpool): a
sender connecting once per message reuses the pool's open connections instead of
opening one per session, and many sessions at once hold no more threads or database
connections than the pool's size."""
from __future__ import annotations

import itertools
import smtplib
import threading
import time

import pytest
from django.db import connection
from django.db.backends.signals import connection_created

from mailstore import groupcommit
from mailstore.models import Message
from moxweb.dbpool import DBPool
from smtpserver import connection as smtp_connection
from smtpserver.dbpool import LINGER, SIZE

POOL_NAME = "smtp-test-db"
_pools = itertools.count()  # each test's pool names its threads apart
MSG = b"From: a@example.org\r\nTo: mox@localhost\r\nSubject: pooled\r\n\r\nhello\r\n"


@pytest.fixture
def pool(monkeypatch):  # type: ignore[no-untyped-def]
    """A pool of the SMTP sessions' size of its own for the test: no earlier test's
    thread or session counts."""
    fresh = DBPool(SIZE, name=f"{POOL_NAME}{next(_pools)}", linger=LINGER)
    monkeypatch.setattr(smtp_connection, "pool", fresh)
    return fresh


def pool_threads(pool: DBPool) -> int:
    return sum(1 for t in threading.enumerate() if t.name.startswith(pool.name + "-"))


def send_one(srv, i: int) -> None:  # type: ignore[no-untyped-def]
    with smtplib.SMTP(srv.host, srv.port) as c:
        c.ehlo("client.example")
        assert c.mail(f"s{i}@example.org") == (250, b"2.1.0 looking good")
        assert c.rcpt("mox@localhost") == (250, b"2.1.0 now on the list")
        assert c.data(MSG) == (250, b"2.2.0 it is done")


@pytest.mark.django_db(transaction=True)
def test_a_session_per_message_reuses_the_pools_connections(smtp_listener, localserve_account, pool, monkeypatch):
    srv = smtp_listener(kind="smtp", localserve=True)
    monkeypatch.setattr(pool, "linger", 60.0)
    opened: list[str] = []

    def count(sender, connection, **kwargs):  # type: ignore[no-untyped-def]
        opened.append(threading.current_thread().name)

    connection_created.connect(count)
    try:
        for i in range(30):
            send_one(srv, i)
    finally:
        connection_created.disconnect(count)
    assert Message.objects.filter(account=localserve_account).count() == 30
    # Each pool thread opened its connection once (one session at a time needs one or
    # two threads) and the delivery thread its own (on SQLite; smtpserver.deliverythread):
    # not a connection per session, as when each session had a thread of its own.
    pool_opened = [name for name in opened if name.startswith(pool.name + "-")]
    assert 1 <= len(pool_opened) <= 2 and len(set(pool_opened)) == len(pool_opened), opened
    others = [name for name in opened if name not in pool_opened]
    # (the delivery thread may still hold the connection an earlier test opened)
    assert others in ([[], ["smtp-delivery"]] if connection.vendor == "sqlite" else [[]]), opened
    assert pool.connected == len(pool_opened)  # still open with no session left

    # Without lingering, the next session's end closes them.
    monkeypatch.setattr(pool, "linger", 0.0)
    with smtplib.SMTP(srv.host, srv.port) as c:
        c.noop()
    deadline = time.monotonic() + 30
    while pool.connected:
        assert time.monotonic() < deadline, pool.connected  # a hang guard only
        time.sleep(0.02)


@pytest.mark.django_db(transaction=True)
def test_concurrent_sessions_hold_at_most_the_pools_threads(smtp_listener, localserve_account, pool, monkeypatch):
    monkeypatch.setattr(groupcommit.committer, "idle_exit", 0.2)
    srv = smtp_listener(kind="smtp", localserve=True)
    errors: list[BaseException] = []
    peak = 0

    def client(i: int) -> None:
        try:
            send_one(srv, i)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    # More sessions at once than the pool has threads, fewer than mox's 30 open
    # connections per IP address.
    sessions = pool.size + 12
    clients = [threading.Thread(target=client, args=(i,)) for i in range(sessions)]
    for t in clients:
        t.start()
    while any(t.is_alive() for t in clients):
        peak = max(peak, pool_threads(pool))
        time.sleep(0.001)
    assert errors == []
    assert Message.objects.filter(account=localserve_account).count() == sessions
    assert 1 <= peak <= pool.size
    assert pool.connected <= pool.size

    # With the last session gone, the workers close their connections (a hang guard only).
    deadline = time.monotonic() + 30
    while pool.sessions or pool.connected:
        assert time.monotonic() < deadline, (pool.sessions, pool.connected)
        time.sleep(0.02)
