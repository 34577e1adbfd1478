"""SMTP fixtures: listeners on free loopback ports in a background loop, for blocking
clients (smtplib, swaks), and the localserve account.

    def test_x(smtp_listener, localserve_account):
        srv = smtp_listener(kind="smtp", localserve=True)
        with smtplib.SMTP(srv.host, srv.port) as c: ...
"""
from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest


@dataclass
class SMTPListener:
    host: str
    port: int
    config: Any  # smtpserver.config.ListenerConfig
    server: Any


@pytest.fixture
def localserve_account(db):  # type: ignore[no-untyped-def]
    """mox@localhost with password moxmoxmox, as localserve creates it."""
    from accounts.actions import create_account, create_domain, find_domain

    if find_domain("localhost") is None:
        create_domain("localhost")
    return create_account("mox", "mox@localhost", "moxmoxmox")


@pytest.fixture
def smtp_listener(request, loop_thread):  # type: ignore[no-untyped-def]
    """Start listeners: `smtp_listener(kind=..., localserve=..., tls=..., **config)`.
    Delays are zero, limiters fresh and error replies without the connection id
    (`error_ids`) unless given; the database pool does not linger. Port 25 outside localserve checks
    HELO and MAIL FROM domains in DNS: it gets the test DNS server (`dns_server`
    fixture), where example.org has an MX and 127.0.0.1 a forward-confirmed name
    (client.example.org); tests add their own names to it."""
    from mailcore.ratelimit import auth_failure_limiter
    from smtpserver.config import Limiters
    from smtpserver.dbpool import pool
    from smtpserver.listener import make_config, serve_config
    from tests.listeners import bound_socket

    started: list[Any] = []
    # The pool's connections close as soon as the last session ends (not a second
    # later), so that the next test finds none of this one's open.
    linger, pool.linger = pool.linger, 0.0

    def start(kind: str = "smtp", *, localserve: bool = True, tls: ssl.SSLContext | None = None,
              hostname: str = "localhost", host: str = "127.0.0.1", **overrides: Any) -> SMTPListener:
        sock = bound_socket(host)
        config = make_config(kind=kind, tls=tls, hostname=hostname, localserve=localserve)
        config.limiters = Limiters(auth_failures=auth_failure_limiter())
        config.auth_fail_delay = 0
        config.slow_delay = 0
        config.first_time_sender_delay = 0
        config.error_ids = False  # exact replies; tests/smtp/test_error_ids.py turns it on
        if kind == "smtp" and not localserve and "resolver" not in overrides:
            dns = request.getfixturevalue("dns_server")
            if not getattr(dns, "_smtp_defaults", False):
                dns.add("example.org", "MX", "10 mail.example.org.")
                dns.add("mail.example.org", "A", "192.0.2.10")
                # The loopback client is a well-configured sending host: iprev passes
                # (without it, mail from senders without reputation meets the junk
                # filter's strict threshold, mox-v0.0.5 1.1.11 step 10).
                dns.add("1.0.0.127.in-addr.arpa", "PTR", "client.example.org.")
                dns.add("client.example.org", "A", "127.0.0.1")
                dns._smtp_defaults = True
            config.resolver = dns.resolver()
        for key, value in overrides.items():
            setattr(config, key, value)
        server = loop_thread.run(serve_config(sock, config))
        started.append(server)
        return SMTPListener(host, sock.getsockname()[1], config, server)

    yield start

    async def close_all() -> None:
        for server in started:
            server.close()
            await server.wait_closed()

    loop_thread.run(close_all())
    pool.linger = linger


@pytest.fixture
def smtp_tls_context(tls_files) -> Callable[[], ssl.SSLContext]:  # type: ignore[no-untyped-def]
    """A server context whose certificate is known for SCRAM -PLUS channel binding."""

    def make() -> ssl.SSLContext:
        ctx = tls_files.server_context()
        ctx.cert_pem = tls_files.cert_path.read_text()  # type: ignore[attr-defined]
        return ctx

    return make


class RawSMTP:
    """A byte-level client for transcript tests: `send` raw bytes, `reply()` reads one
    complete (possibly multi-line) reply as text lines without CRLF."""

    def __init__(self, host: str, port: int, *, tls: ssl.SSLContext | None = None, timeout: float = 10) -> None:
        import socket

        self.sock = socket.create_connection((host, port), timeout=timeout)
        if tls is not None:
            self.sock = tls.wrap_socket(self.sock, server_hostname="localhost")
        self.buf = b""

    def starttls(self, ctx: ssl.SSLContext) -> None:
        self.sock = ctx.wrap_socket(self.sock, server_hostname="localhost")

    def send(self, data: bytes | str) -> None:
        self.sock.sendall(data.encode() if isinstance(data, str) else data)

    def line(self) -> str:
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError(f"connection closed, buffered {self.buf!r}")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("utf-8")

    def reply(self) -> list[str]:
        lines = [self.line()]
        while len(lines[-1]) > 3 and lines[-1][3] == "-":
            lines.append(self.line())
        return lines

    def cmd(self, command: str) -> str:
        """Send one command line; return its reply joined with newlines."""
        self.send(command + "\r\n")
        return "\n".join(self.reply())

    def closed(self) -> bool:
        """True when the server has closed the connection (EOF after any buffered data)."""
        try:
            return self.sock.recv(1) == b""
        except OSError:
            return True

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def raw_smtp():  # type: ignore[no-untyped-def]
    """Connect RawSMTP clients that are closed after the test: `raw_smtp(listener)`."""
    clients: list[RawSMTP] = []

    def connect(listener: SMTPListener, *, tls: ssl.SSLContext | None = None, greet: bool = True) -> RawSMTP:
        c = RawSMTP(listener.host, listener.port, tls=tls)
        clients.append(c)
        if greet:
            assert c.reply() == [f"220 {listener.config.hostname} ESMTP moxweb"]
        return c

    yield connect
    for c in clients:
        c.close()
