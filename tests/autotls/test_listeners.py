"""The issued certificate on the real listeners: SMTP STARTTLS and IMAPS, each client
verifying the chain against Pebble's root; and the per-connection certificate that
channel binding needs."""
from __future__ import annotations

import asyncio

import socket
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from autotls import manager, store, tls
from tests.autotls.conftest import free_port
from tests.autotls.servers import bind, django_web, tls_server

NAME = "mail.example.test"


@pytest.fixture
def issued(acme_settings, pebble, loop):  # type: ignore[no-untyped-def]
    acme_settings.MOX_ACME_CHALLENGES = ["http-01"]
    names = [NAME, "autoconfig.example.test"]
    with django_web(loop, pebble.http_port):
        assert manager.renew_due(names).obtained == names
    return ssl.create_default_context(cadata=pebble.root_pem())


def leaf_der(hostname: str) -> bytes:
    path = store.cert_path(hostname)
    return x509.load_pem_x509_certificates(path.read_bytes())[0].public_bytes(serialization.Encoding.DER)


def read_reply(f) -> list[bytes]:  # type: ignore[no-untyped-def]
    lines = [f.readline()]
    while lines[-1][3:4] == b"-":
        lines.append(f.readline())
    return lines


async def close(server: asyncio.base_events.Server) -> None:
    """On the server's own loop: asyncio's Server is not safe to close from another
    thread (a connection ending meanwhile raced it)."""
    server.close()
    await server.wait_closed()


def test_it_serves_the_issued_certificate_after_smtp_starttls(issued, loop) -> None:
    from smtpserver.listener import serve_smtp

    sock = bind(free_port())
    server = loop.run(serve_smtp(sock, kind="smtp", tls=tls.server_context(), hostname=NAME, localserve=False))
    try:
        with socket.create_connection(sock.getsockname(), timeout=5) as raw:
            f = raw.makefile("rb")
            assert f.readline().startswith(b"220 ")
            raw.sendall(b"EHLO client.example.test\r\n")
            assert b"STARTTLS\r\n" in [line[4:] for line in read_reply(f)]
            raw.sendall(b"STARTTLS\r\n")
            assert f.readline().startswith(b"220 ")
            with issued.wrap_socket(raw, server_hostname=NAME) as conn:
                assert conn.getpeercert(binary_form=True) == leaf_der(NAME)
                conn.sendall(b"EHLO client.example.test\r\n")
                assert conn.recv(100).startswith(b"250-")
    finally:
        loop.run(close(server))


def test_it_serves_the_issued_certificate_on_imaps(issued, loop) -> None:
    from imapserver.listener import serve_imap

    sock = bind(free_port())
    server = loop.run(serve_imap(sock, implicit_tls=True, tls=tls.server_context(), localserve=False))
    try:
        with socket.create_connection(sock.getsockname(), timeout=5) as raw:
            with issued.wrap_socket(raw, server_hostname=NAME) as conn:
                assert conn.getpeercert(binary_form=True) == leaf_der(NAME)
                assert conn.recv(100).startswith(b"* OK ")
    finally:
        loop.run(close(server))


def test_it_tells_the_listener_which_certificate_each_connection_got(issued, loop) -> None:
    served: list[bytes | None] = []
    with tls_server(loop, free_port(), tls.server_context(), served) as port:
        for name in (NAME, "autoconfig.example.test"):
            with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
                with issued.wrap_socket(raw, server_hostname=name) as conn:
                    conn.recv(100)
    assert served == [leaf_der(NAME), leaf_der("autoconfig.example.test")]
