"""IMAP fixtures: our listener in a background loop, and a raw line client for
byte-exact transcripts (imaplib/imapclient tests use the same listener)."""
from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass

import pytest


@dataclass
class ImapAddress:
    host: str
    port: int


class RawClient:
    """A blocking line client: `cmd("a1 NOOP")` returns every line up to the tagged one."""

    def __init__(self, host: str, port: int, *, tls: ssl.SSLContext | None = None) -> None:
        sock = socket.create_connection((host, port), timeout=10)
        if tls is not None:
            sock = tls.wrap_socket(sock, server_hostname="localhost")
        self.sock = sock
        self.file = sock.makefile("rb")

    def line(self) -> str:
        raw = self.file.readline()
        if not raw:
            raise ConnectionError("closed")
        return raw.decode("utf-8", "replace").rstrip("\r\n")

    def raw_line(self) -> bytes:
        return self.file.readline()

    def send(self, data: str | bytes) -> None:
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data if data.endswith(b"\r\n") else data + b"\r\n")

    def until_tagged(self, tag: str) -> list[str]:
        lines = []
        while True:
            line = self.line()
            lines.append(line)
            if line.startswith(tag + " "):
                return lines

    def cmd(self, command: str) -> list[str]:
        self.send(command)
        return self.until_tagged(command.split(" ", 1)[0])

    def login(self, user: str = "alice@example.test", password: str = "alicepassword") -> None:
        lines = self.cmd(f"l0 LOGIN {user} {password}")
        assert lines[-1].startswith("l0 OK"), lines

    def close(self) -> None:
        try:
            self.file.close()
            self.sock.close()
        except OSError:
            pass


def start_imap(loop_thread, *, implicit_tls: bool = False, tls=None, localserve: bool = True):  # type: ignore[no-untyped-def]
    from imapserver import listener
    from imapserver.listener import serve_imap
    from mailcore.ratelimit import auth_failure_limiter
    from tests.listeners import bound_socket

    # Fresh limiter counts per test: failed logins of other tests (SMTP too) must not count.
    listener.limits = listener.Limits(auth_failures=auth_failure_limiter())

    sock = bound_socket()
    server = loop_thread.run(serve_imap(sock, implicit_tls=implicit_tls, tls=tls, localserve=localserve))
    return server, ImapAddress("127.0.0.1", sock.getsockname()[1])


def stop_imap(loop_thread, server) -> None:  # type: ignore[no-untyped-def]
    from mailstore.notify import hub

    async def _stop() -> None:
        server.close()
        hub.stop()

    loop_thread.run(_stop())


@pytest.fixture
def imap(loop_thread, alice) -> Iterator[ImapAddress]:  # type: ignore[no-untyped-def]
    """A localserve-mode listener (LOGIN allowed without TLS) with alice's account."""
    server, address = start_imap(loop_thread)
    yield address
    stop_imap(loop_thread, server)


@pytest.fixture
def raw(imap) -> Iterator[RawClient]:  # type: ignore[no-untyped-def]
    client = RawClient(imap.host, imap.port)
    greeting = client.line()
    assert greeting.startswith("* OK [CAPABILITY IMAP4rev2 ")
    yield client
    client.close()


@pytest.fixture
def raw_alice(raw) -> RawClient:  # type: ignore[no-untyped-def]
    raw.login()
    return raw


def other_session(imap: ImapAddress, mailbox: str = "Inbox") -> RawClient:
    """A second session of alice's with `mailbox` selected (the caller closes it)."""
    other = RawClient(imap.host, imap.port)
    other.line()
    other.login()
    other.cmd(f"b1 SELECT {mailbox}")
    return other


MESSAGE = (
    b"From: Carol <carol@remote.test>\r\n"
    b"To: alice@example.test\r\n"
    b"Subject: hello\r\n"
    b"Date: Mon, 02 Jan 2023 10:00:00 +0000\r\n"
    b"Message-ID: <1@remote.test>\r\n"
    b"\r\n"
    b"Hi Alice,\r\nhow are you?\r\n"
)


# Tests that talk to a listener thread need committed data (transaction=True); flushing
# only these apps' tables after each test is much faster on PostgreSQL.
imap_db = pytest.mark.django_db(transaction=True, available_apps=["accounts", "mailstore"])
