"""The database locked by someone else: SMTP DATA answers a temporary 451 (not a crash,
not 250, nothing stored), and delivers again once the lock is gone, without a restart.
SQLite: another connection holds a write transaction (BEGIN IMMEDIATE) on the database
file. PostgreSQL: another connection holds an ACCESS EXCLUSIVE lock on the store table.
The busy/lock timeout is made short so the test does not wait 20 seconds."""
from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from django.db import connection, connections

from mailstore.files import read_message
from mailstore.models import Message

pytestmark = pytest.mark.django_db(transaction=True)

HEAD = "EHLO client.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<mox@localhost>\r\nDATA\r\n"


@contextmanager
def sqlite_write_lock() -> Iterator[None]:
    other = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        yield
        other.execute("ROLLBACK")
    finally:
        other.close()


@contextmanager
def postgresql_table_lock() -> Iterator[None]:
    import psycopg

    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    params.pop("prepare_threshold", None)
    other = psycopg.connect(**params)
    try:
        other.execute("LOCK TABLE mailstore_store IN ACCESS EXCLUSIVE MODE")
        yield
        other.rollback()
    finally:
        other.close()


@pytest.fixture
def locked(monkeypatch) -> Callable[[], object]:  # type: ignore[no-untyped-def]
    """A context manager that locks the test database the way its vendor can be locked;
    the listener's new database connections give up after half a second."""
    options = connections.settings["default"].setdefault("OPTIONS", {})
    if connection.vendor == "sqlite":
        monkeypatch.setitem(options, "timeout", 0.5)
        return sqlite_write_lock
    if connection.vendor == "postgresql":
        monkeypatch.setitem(options, "options", "-c lock_timeout=500")
        return postgresql_table_lock
    raise AssertionError(f"no way to lock a {connection.vendor} database in this test")


def send(c, subject: str) -> str:  # type: ignore[no-untyped-def]
    c.send(HEAD)
    assert len(c.reply()) > 1
    assert c.reply() == ["250 2.1.0 looking good"]
    assert c.reply() == ["250 2.1.0 now on the list"]
    assert c.reply() == ["354 see you at the bare dot"]
    return c.cmd(f"Subject: {subject}\r\n\r\nhello\r\n.")


def test_data_answers_451_while_the_database_is_locked_and_delivers_after(
        locked, smtp_listener, raw_smtp, localserve_account) -> None:
    srv = smtp_listener()
    c = raw_smtp(srv)
    with locked():
        assert send(c, "while locked") == "451 4.3.0 error delivering message"
        # The session survives the failure.
        assert c.cmd("NOOP") == "250 2.0.0 alrighty"
    assert Message.objects.count() == 0
    # Same listener, same session: delivery works again.
    assert send(c, "after") == "250 2.2.0 it is done"
    [msg] = Message.objects.filter(account=localserve_account)
    assert read_message(msg.path) == b"Subject: after\r\n\r\nhello\r\n"
    # And a new session too.
    again = raw_smtp(srv)
    assert send(again, "new session") == "250 2.2.0 it is done"
    assert Message.objects.count() == 2


def test_postgresql_connections_give_up_on_a_lock_after_20_seconds_by_default(tmp_path) -> None:
    from moxweb.settings import database_from_url

    db = database_from_url("postgresql://u@db.example:5432/mail", tmp_path)
    assert db["OPTIONS"] == {"options": "-c lock_timeout=20s"}
    # Options given in the URL win.
    db = database_from_url("postgresql://u@db.example/mail?options=-c%20lock_timeout%3D5s", tmp_path)
    assert db["OPTIONS"] == {"options": "-c lock_timeout=5s"}
    # SQLite waits as long for a write lock.
    assert database_from_url("", tmp_path)["OPTIONS"]["timeout"] == 20  # type: ignore[index]


def test_sqlite_connections_sync_the_log_at_each_commit_and_keep_temporary_tables_in_memory(tmp_path) -> None:
    """WAL with a full sync (nothing acknowledged is lost); statement journals and
    temporary tables in memory: a delivery batch's INSERT used to spill its statement
    journal into a file created and deleted in /var/tmp each time. A connection Django
    makes from the default SQLite settings (whichever database this run tests)."""
    from django.db.utils import ConnectionHandler

    from moxweb.settings import database_from_url

    handler = ConnectionHandler({"default": database_from_url("", tmp_path)})
    wrapper = handler["default"]
    try:
        with wrapper.cursor() as cursor:
            assert [cursor.execute(f"PRAGMA {name}").fetchone()[0] for name in
                    ("journal_mode", "synchronous", "temp_store")] == ["wal", 2, 2]
    finally:
        wrapper.close()
