"""mailstore.notify: wake-ups reach every listener socket in the notify directory,
including one bound just before, and a group commit wakes each account of its batch
once, in one datagram, after its callers have their answers."""
from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest
from django.db import transaction

from mailstore.groupcommit import GroupCommitter, _Unit
from mailstore.notify import notify_changed, notify_dir


def _listener(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.setblocking(False)
    return sock


def _received(sock: socket.socket) -> list[bytes]:
    out = []
    while True:
        try:
            out.append(sock.recv(1000))
        except BlockingIOError:
            return out


@pytest.fixture
def directory(settings, tmp_path) -> Path:  # type: ignore[no-untyped-def]
    settings.DATA_DIR = tmp_path
    return notify_dir()


def test_it_reaches_a_listener_bound_right_after_the_last_wake_up(directory: Path) -> None:
    first = _listener(directory / "a.sock")
    try:
        notify_changed(5)
        second = _listener(directory / "b.sock")
        try:
            notify_changed(6)
            assert _received(first) == [b"5", b"6"]
            assert _received(second) == [b"6"]
        finally:
            second.close()
    finally:
        first.close()


def test_it_removes_the_socket_of_a_process_that_is_gone(directory: Path) -> None:
    gone = _listener(directory / "gone.sock")
    gone.close()
    notify_changed(7)
    assert not (directory / "gone.sock").exists()


@pytest.mark.django_db(transaction=True)
def test_a_group_commit_wakes_each_account_once_after_the_commit(directory: Path) -> None:
    sock = _listener(directory / "a.sock")

    def deliver(account_id: int) -> int:
        transaction.on_commit(lambda: notify_changed(account_id))
        return account_id

    def fail() -> None:
        transaction.on_commit(lambda: notify_changed(99))
        raise ValueError("refused")

    try:
        units = [_Unit(lambda: deliver(1), key=1), _Unit(fail, key=1), _Unit(lambda: deliver(2), key=2),
                 _Unit(lambda: deliver(1), key=1)]
        for unit in units:  # as callers waiting in other threads have them
            unit.event = threading.Event()
        GroupCommitter()._commit(list(units))
        assert [u.result for u in units] == [1, None, 2, 1]
        assert [type(u.error) for u in units] == [type(None), ValueError, type(None), type(None)]
        assert all(u.event.is_set() for u in units)
        # The failed unit's transaction part was rolled back: its wake-up is not sent;
        # the batch ran again (with savepoints) and still wakes each account once.
        assert _received(sock) == [b"1,2"]
    finally:
        sock.close()
