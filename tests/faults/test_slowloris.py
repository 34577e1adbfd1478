"""Slow clients (slowloris): a connection that sends nothing, or a byte now and then
without ever finishing a line, is closed after the read timeout and its slot in the
open-connections limiter is freed for the next client."""
from __future__ import annotations

import socket
import time

import pytest

from mailstore.models import Message
from tests.fixtures_imap import RawClient, imap_db, start_imap, stop_imap


def one_connection_limiter():  # type: ignore[no-untyped-def]
    from mailcore.ratelimit import Limiter, WindowLimit

    return Limiter([WindowLimit(None, (1, 3, 9))])


def trickle_until_closed(sock: socket.socket, *, interval: float, deadline: float) -> float:
    """Send one byte (never a line end) every `interval` s until the server closes;
    return the seconds it took. Fails when still open after `deadline` s."""
    start = time.monotonic()
    sock.settimeout(interval)
    while time.monotonic() - start < deadline:
        try:
            if sock.recv(4096) == b"":
                return time.monotonic() - start
        except TimeoutError:
            pass
        except OSError:
            return time.monotonic() - start
        try:
            sock.sendall(b"N")
        except OSError:
            return time.monotonic() - start
    pytest.fail(f"connection still open after {deadline}s")


def silent_until_closed(sock: socket.socket, *, deadline: float) -> tuple[float, bytes]:
    """Read (sending nothing) until the server closes; the time taken and what it said."""
    start = time.monotonic()
    sock.settimeout(deadline)
    said = b""
    while True:
        try:
            chunk = sock.recv(4096)
        except TimeoutError:
            pytest.fail(f"connection still open after {deadline}s, got {said!r}")
        except OSError:
            chunk = b""
        if not chunk:
            return time.monotonic() - start, said
        said += chunk


def smtp_slowloris_listener(smtp_listener):  # type: ignore[no-untyped-def]
    from mailcore.ratelimit import auth_failure_limiter
    from smtpserver.config import Limiters

    return smtp_listener(kind="smtp", localserve=True, timeout=1.0,
                         limiters=Limiters(open_connections=one_connection_limiter(),
                                           auth_failures=auth_failure_limiter()))


def test_it_closes_a_silent_smtp_client_after_the_timeout_and_frees_its_slot(smtp_listener, raw_smtp) -> None:
    srv = smtp_slowloris_listener(smtp_listener)
    first = raw_smtp(srv)
    # The one slot is taken.
    refused = raw_smtp(srv, greet=False)
    assert refused.reply() == ["421 4.7.0 too many open connections from your ip or network"]
    took, said = silent_until_closed(first.sock, deadline=5)
    assert said == b""
    assert 0.8 < took < 4
    again = raw_smtp(srv)
    assert again.cmd("NOOP") == "250 2.0.0 alrighty"


def test_it_closes_an_smtp_client_trickling_a_byte_at_a_time_and_frees_its_slot(smtp_listener, raw_smtp) -> None:
    srv = smtp_slowloris_listener(smtp_listener)
    first = raw_smtp(srv)
    took = trickle_until_closed(first.sock, interval=0.3, deadline=5)
    assert 0.8 < took < 4
    again = raw_smtp(srv)
    assert again.cmd("NOOP") == "250 2.0.0 alrighty"


@pytest.mark.django_db(transaction=True)
def test_it_closes_an_smtp_client_stalling_in_data(smtp_listener, raw_smtp, localserve_account) -> None:
    # Each line resets the timeout (RFC 5321 4.5.3.2.6 is per block), so a client that
    # stops in the middle of DATA is closed one timeout after its last line.
    srv = smtp_slowloris_listener(smtp_listener)
    first = raw_smtp(srv)
    assert first.cmd("EHLO client.test").startswith("250")
    assert first.cmd("MAIL FROM:<a@remote.test>").startswith("250")
    assert first.cmd("RCPT TO:<mox@localhost>").startswith("250")
    assert first.cmd("DATA").startswith("354")
    first.send(b"Subject: slow\r\n\r\npart")
    took, said = silent_until_closed(first.sock, deadline=5)
    assert said == b""
    assert Message.objects.count() == 0
    assert 0.8 < took < 4
    again = raw_smtp(srv)
    assert again.cmd("NOOP") == "250 2.0.0 alrighty"


@pytest.fixture
def slow_imap(loop_thread, alice, monkeypatch):  # type: ignore[no-untyped-def]
    from imapserver import listener

    monkeypatch.setattr(listener, "TIMEOUT_UNAUTHENTICATED", 1.0)
    monkeypatch.setattr(listener, "TIMEOUT_AUTHENTICATED", 1.5)
    server, address = start_imap(loop_thread)
    listener.limits.open_connections = one_connection_limiter()
    clients: list[RawClient] = []

    def connect() -> RawClient:
        c = RawClient(address.host, address.port)
        clients.append(c)
        return c

    yield connect
    for c in clients:
        c.close()
    stop_imap(loop_thread, server)


@imap_db
def test_it_closes_a_silent_imap_client_after_the_timeout_and_frees_its_slot(slow_imap) -> None:
    first = slow_imap()
    assert first.line().startswith("* OK [CAPABILITY IMAP4rev2 ")
    refused = slow_imap()
    assert refused.line() == "* BYE too many open connections from your ip or network"
    took, said = silent_until_closed(first.sock, deadline=5)
    assert said == b"* BYE inactive\r\n"
    assert 0.8 < took < 4
    again = slow_imap()
    assert again.line().startswith("* OK [CAPABILITY IMAP4rev2 ")
    assert again.cmd("a1 NOOP")[-1] == "a1 OK NOOP done"


@imap_db
def test_it_closes_an_imap_client_trickling_a_byte_at_a_time_and_frees_its_slot(slow_imap) -> None:
    first = slow_imap()
    assert first.line().startswith("* OK [CAPABILITY IMAP4rev2 ")
    took = trickle_until_closed(first.sock, interval=0.3, deadline=5)
    assert 0.8 < took < 4
    again = slow_imap()
    assert again.line().startswith("* OK [CAPABILITY IMAP4rev2 ")


@imap_db
def test_it_closes_an_authenticated_imap_client_stalling_in_a_literal(slow_imap) -> None:
    first = slow_imap()
    assert first.line().startswith("* OK [CAPABILITY IMAP4rev2 ")
    first.login()
    first.send("a2 APPEND INBOX {100}")
    assert first.line().startswith("+ ")
    first.sock.sendall(b"From: x\r\n")
    took, said = silent_until_closed(first.sock, deadline=5)
    assert said == b"* BYE inactive\r\n"
    assert 1.3 < took < 4.5
    again = slow_imap()
    assert again.line().startswith("* OK [CAPABILITY IMAP4rev2 ")
