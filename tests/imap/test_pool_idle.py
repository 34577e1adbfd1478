"""Idle sessions hold no database thread or connection (imapserver.dbpool): a few hundred
authenticated connections, some selected, some in IDLE, and the process still has at most
the pool's threads and database connections; IDLE still hears a delivery (issue 4)."""
from __future__ import annotations

import gc
import socket
import threading
import time

from django.db import connection
from django.db.backends.base.base import BaseDatabaseWrapper

from imapserver.dbpool import pool
from mailstore import groupcommit
from mailstore.actions import deliver_bytes
from tests.fixtures_imap import MESSAGE, imap_db

pytestmark = imap_db

SESSIONS = 300
IDLING = 50


def database_connections() -> int:
    """Open connections to the test database in this process (every thread's Django
    connection that is open), or PostgreSQL backends on this database (seen from the
    server, so any connection of this process counts); this test's own counts in both."""
    if connection.vendor == "sqlite":
        # Not the file descriptors: SQLite keeps a closed connection's descriptor for
        # reuse while another connection holds a lock on the file.
        return sum(
            1 for o in gc.get_objects()
            # type(), not isinstance(): isinstance asks a lazy object (a test client's
            # request.user) for its __class__, which evaluates it outside any request.
            if issubclass(type(o), BaseDatabaseWrapper) and o.vendor == "sqlite" and o.connection is not None
        )
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        return int(cursor.fetchone()[0])


def pool_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name.startswith("imap-db-"))


class Client:
    def __init__(self, address, i: int) -> None:  # type: ignore[no-untyped-def]
        # Each from its own loopback /21: mox's per-network connection limits stay out of it.
        source = f"127.{i // 32 + 1}.{(i % 32) * 8}.1"
        self.sock = socket.create_connection((address.host, address.port), timeout=30, source_address=(source, 0))
        self.file = self.sock.makefile("rb")
        assert self.file.readline().startswith(b"* OK ")

    def cmd(self, tag: str, text: str) -> list[bytes]:
        self.sock.sendall(f"{tag} {text}\r\n".encode())
        lines = []
        while True:
            line = self.file.readline()
            assert line, "connection closed"
            lines.append(line.rstrip(b"\r\n"))
            if line.startswith(tag.encode() + b" "):
                return lines

    def close(self) -> None:
        self.file.close()
        self.sock.close()


def committer_running() -> int:
    """1 while the delivery path's group committer (SQLite) runs: it holds a connection of
    its own until it has been idle a moment, and is not the IMAP server's."""
    return int(groupcommit.committer._thread is not None)


def connections_but_committer() -> int:
    """`database_connections` without the group committer's: the committer (the test
    makes it leave after 0.2 s idle) is waited for until it has ended and closed its
    connection; it says it is gone a moment before it has closed it, which counted that
    connection as one of the pool's."""
    deadline = time.monotonic() + 15
    while any(t.name == "groupcommit" for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return database_connections() - committer_running()


def test_hundreds_of_idle_sessions_hold_only_the_pools_threads_and_connections(imap, alice, monkeypatch):
    monkeypatch.setattr(groupcommit.committer, "idle_exit", 0.2)
    connection.ensure_connection()
    before = connections_but_committer()
    clients = []
    try:
        for i in range(SESSIONS):
            c = Client(imap, i)
            clients.append(c)
            assert c.cmd("a1", "LOGIN alice@example.test alicepassword")[-1].startswith(b"a1 OK ")
            if i % 3 == 0:
                assert c.cmd("a2", "SELECT Inbox")[-1] == b"a2 OK [READ-WRITE] x"
        idlers = clients[:IDLING * 3:3]
        for c in idlers:
            c.sock.sendall(b"a3 IDLE\r\n")
            assert c.file.readline() == b"+ waiting\r\n"

        # The bound: however many sessions, the pool's threads and connections only.
        assert pool.threads <= pool.size
        assert pool_threads() <= pool.size
        assert connections_but_committer() - before <= pool.size

        # Sessions holding nothing still work: a delivery reaches every IDLE session.
        deliver_bytes(alice, "Inbox", MESSAGE)
        for c in idlers:
            assert c.file.readline() == b"* 1 EXISTS\r\n"
            c.sock.sendall(b"DONE\r\n")
            assert c.file.readline() == b"a3 OK idle done\r\n"
        for c in clients[1::6]:  # not selected: no EXISTS for them
            assert c.cmd("a4", "STATUS Inbox (MESSAGES)") == [b"* STATUS Inbox (MESSAGES 1)", b"a4 OK STATUS done"]
        assert pool_threads() <= pool.size
        assert pool.connected <= pool.size
        assert connections_but_committer() - before <= pool.size
    finally:
        for c in clients:
            c.close()

    # With the last session gone, the workers close their connections (a hang guard only).
    deadline = time.monotonic() + 30
    while pool.sessions or pool.connected or committer_running():
        assert time.monotonic() < deadline, (pool.sessions, pool.connected, committer_running())
        time.sleep(0.02)
    assert connections_but_committer() == before
