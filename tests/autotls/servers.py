"""Listeners the tests run on Pebble's httpPort and tlsPort: Django's ASGI app in
uvicorn (plain HTTP for HTTP-01, or HTTPS with our context) and a plain asyncio TLS
server with autotls.tls.server_context() (TLS-ALPN-01, then normal handshakes)."""
from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import Iterator

import uvicorn

# Imported at collection: moxweb.asgi runs django.setup(), whose logging.dictConfig
# would detach pytest's caplog handler from the root logger in the middle of a test.
from moxweb.asgi import application
from tests.listeners import LoopThread

GREETING = b"moxweb tls ok\r\n"


def bind(port: int) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(64)
    sock.setblocking(False)
    return sock


@contextlib.contextmanager
def django_web(loop: LoopThread, port: int, ssl_ctx: ssl.SSLContext | None = None) -> Iterator[int]:
    sock = bind(port)
    # log_config=None: uvicorn would otherwise re-run logging.dictConfig.
    config = uvicorn.Config(application, lifespan="off", log_config=None, access_log=False)
    config.load()
    config.ssl = ssl_ctx
    server = uvicorn.Server(config)

    async def start() -> asyncio.Task[None]:
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:
            await asyncio.sleep(0.01)
        return task

    task = loop.run(start())
    try:
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True

        async def stop() -> None:
            await asyncio.wait_for(task, 10)

        loop.run(stop())
        sock.close()


@contextlib.contextmanager
def tls_server(
    loop: LoopThread, port: int, ssl_ctx: ssl.SSLContext, served: list[bytes | None] | None = None
) -> Iterator[int]:
    """Greets each client; appends to `served` the certificate DER each connection got."""
    from autotls.tls import served_certificate_der

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if served is not None:
            served.append(served_certificate_der(writer.get_extra_info("ssl_object")))
        with contextlib.suppress(Exception):
            writer.write(GREETING)
            await writer.drain()
            writer.close()
            await writer.wait_closed()

    sock = bind(port)

    async def start() -> asyncio.Server:
        return await asyncio.start_server(handle, sock=sock, ssl=ssl_ctx)

    server = loop.run(start())
    try:
        yield sock.getsockname()[1]
    finally:

        async def stop() -> None:
            server.close()
            await server.wait_closed()

        loop.run(stop())


def handshake(port: int, server_name: str, root_pem: str) -> tuple[str, bytes]:
    """Connect with SNI `server_name`, verifying the chain against `root_pem` and the
    name; returns the TLS version and the greeting."""
    ctx = ssl.create_default_context(cadata=root_pem)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname=server_name) as tls:
            data = tls.recv(100)
            return str(tls.version()), data


def peer_serial(port: int, server_name: str) -> int:
    """The serial of the certificate served for `server_name`, without verifying."""
    from cryptography import x509

    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname=server_name) as tls:
            der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der).serial_number
