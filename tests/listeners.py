"""Run listeners in a background event loop so tests can use blocking clients
(smtplib, imaplib, imapclient, subprocesses) against real loopback sockets.

    def test_x(loop_thread, ...):
        sock = bound_socket()
        server = loop_thread.run(serve_smtp(sock, ...))
        with smtplib.SMTP("127.0.0.1", sock.getsockname()[1]) as c: ...
"""
from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import trustme

T = TypeVar("T")


class LoopThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="test-loop", daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        async def _cancel_all() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        try:
            self.run(_cancel_all(), timeout=10)
        except Exception:  # noqa: BLE001 - teardown must go on
            pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


def bound_socket(host: str = "127.0.0.1") -> socket.socket:
    """A listening-ready TCP socket on a free loopback port (like runmail binds them)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    sock.listen(128)
    sock.setblocking(False)
    return sock


class TLSFiles:
    """A trustme CA and a server certificate for the given names, as contexts and files."""

    def __init__(self, directory: Path, names: tuple[str, ...] = ("localhost", "mail.example.test", "127.0.0.1")):
        self.ca = trustme.CA()
        self.cert = self.ca.issue_cert(*names)
        self.ca_path = directory / "ca.pem"
        self.cert_path = directory / "cert.pem"
        self.key_path = directory / "key.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_path))
        self.cert.cert_chain_pems[0].write_to_path(str(self.cert_path))
        for extra in self.cert.cert_chain_pems[1:]:
            with open(self.cert_path, "ab") as fh:
                fh.write(extra.bytes())
        self.cert.private_key_pem.write_to_path(str(self.key_path))

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        self.cert.configure_cert(ctx)
        return ctx

    def client_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context()
        self.ca.configure_trust(ctx)
        return ctx
