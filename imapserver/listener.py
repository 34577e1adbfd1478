"""IMAP listeners: port 143 with STARTTLS and port 993 with implicit TLS (RFC 9051,
RFC 8314). The connection class alone touches sockets; it reads lines and literals
(RFC 9051 section 4.3, RFC 7888 LITERAL+) and hands complete commands to the session.
"""
from __future__ import annotations

import asyncio
import logging
import re
import secrets
import socket
import ssl
from pathlib import Path

from imapserver.dbpool import pool
from mailcore.ratelimit import (
    Limiter,
    connection_rate_limiter,
    open_connections_limiter,
    shared_auth_failures,
)
from imapserver.session import APPENDLIMIT, Session, State
from mailcore.imap.reader import literal_request
from mailstore.notify import hub
from moxweb import logging as moxlog
from moxweb import metrics
from moxweb.dbpool import close_connection

log = logging.getLogger(__name__)

MAX_LINE = 16 * 1024  # mox: 16 KiB per line
MAX_LITERAL = 1024 * 1024  # for literals other than APPEND's
SPOOL_THRESHOLD = 256 * 1024
SPOOL_MARK = b"\x00moxweb-spool:"
MAX_COMMAND = 64 * 1024 * 1024 + APPENDLIMIT
TIMEOUT_UNAUTHENTICATED = 30.0
TIMEOUT_AUTHENTICATED = 30 * 60.0
_APPEND = re.compile(rb"^[^ ]+ APPEND ", re.IGNORECASE)


class LineTooLong(Exception):
    pass


class Limits:
    """mox's IMAP limiters (reference 1.1.9): connection rate and open connections per IP
    network, and the failed-login limiter shared with SMTP and the web."""

    def __init__(self, auth_failures: Limiter | None = None) -> None:
        self.connection_rate = connection_rate_limiter()
        self.open_connections = open_connections_limiter()
        self.auth_failures = auth_failures if auth_failures is not None else shared_auth_failures()


# Replaced by tests that need fresh counts.
limits = Limits()


class Connection:
    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        tls: ssl.SSLContext | None,
        implicit_tls: bool,
        localserve: bool,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.tls = tls
        self._out: list[bytes] = []
        # Large APPEND literals spooled to temporary files, by token (see read_command).
        self.spooled: dict[bytes, Path] = {}
        peer = writer.get_extra_info("peername")
        self.remote = str(peer[0]) if peer else ""
        sock = writer.get_extra_info("socket")
        if sock is not None:
            try:
                # Without it, every synchronizing literal costs a delayed-ACK round trip.
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        self.limits = limits
        self.session = Session(
            self, tls_active=implicit_tls, starttls_available=tls is not None and not implicit_tls,
            localserve=localserve, remote=self.remote, auth_failures=self.limits.auth_failures,
        )

    # The session's IO.

    def write(self, data: bytes) -> None:
        self._out.append(data)

    async def flush(self) -> None:
        if self._out:
            data = b"".join(self._out)
            self._out = []
            self.writer.write(data)
            await self.writer.drain()

    def _timeout(self) -> float:
        return TIMEOUT_UNAUTHENTICATED if self.session.state == State.NOT_AUTHENTICATED else TIMEOUT_AUTHENTICATED

    async def readline(self) -> bytes:
        try:
            line = await asyncio.wait_for(self.reader.readuntil(b"\n"), self._timeout())
        except asyncio.LimitOverrunError as exc:
            raise LineTooLong() from exc
        except asyncio.IncompleteReadError as exc:
            raise ConnectionResetError("connection closed") from exc
        if line.endswith(b"\r\n"):
            return line[:-2]
        return line[:-1]

    async def starttls(self) -> None:
        assert self.tls is not None
        # Plaintext pipelined after STARTTLS must not be run as if it came over TLS
        # (command injection, RFC 9051 section 6.2.1 / CVE-2011-0411 class).
        if getattr(self.reader, "_buffer", b""):
            raise ConnectionResetError("data after STARTTLS")
        await self.writer.start_tls(self.tls)

    def tls_cert_der(self) -> bytes | None:
        """DER of the certificate this connection was served, for SCRAM -PLUS channel
        binding: the SNI-chosen context's (autotls), else the listener context's."""
        from autotls.tls import served_certificate_der

        der = served_certificate_der(self.writer.get_extra_info("ssl_object"))
        if der is None and self.tls is not None:
            der = getattr(self.tls, "cert_der", None)
        return der if isinstance(der, bytes) else None

    # Reading one command with its literals.

    async def read_command(self) -> bytes | None:
        """The next command with literals inline; None after answering a refused literal."""
        line = await self.readline()
        buf = line
        while (req := literal_request(line)) is not None:
            size, sync, _binary = req
            limit = APPENDLIMIT if _APPEND.match(buf) else MAX_LITERAL
            if size > limit or len(buf) + size > MAX_COMMAND:
                tag = buf.split(b" ", 1)[0].decode("ascii", "replace")
                if not sync:
                    # RFC 7888 section 4: a non-synchronizing literal we refuse still follows;
                    # we cannot skip it safely, so the connection ends.
                    self.write(f"* BYE literal too big\r\n".encode())
                    raise ConnectionResetError("literal too big")
                # RFC 7889 / RFC 9051 7.1: refuse a synchronizing literal without reading it.
                self.write(f"{tag} NO [TOOBIG] literal too big\r\n".encode())
                return None
            if sync:
                self.write(b"+ ok\r\n")
                await self.flush()
            if size > SPOOL_THRESHOLD and _APPEND.match(buf):
                # A large message goes to a temporary file, not memory; the command gets a
                # literal8 holding a random token the session exchanges for the file.
                token = SPOOL_MARK + secrets.token_hex(16).encode()
                spooled = await self._spool(size)
                if spooled is None:
                    # The disk refused it (full): the literal was read and dropped; the
                    # command is answered NO and the session goes on.
                    rest = await self.readline()
                    if literal_request(rest) is not None:
                        raise ConnectionResetError("literal after a refused literal")
                    tag = buf.split(b" ", 1)[0].decode("ascii", "replace")
                    self.write(f"{tag} NO insufficient storage space\r\n".encode())
                    return None
                self.spooled[token] = spooled
                start = line.rfind(b"{")
                if start > 0 and line[start - 1 : start] == b"~":
                    start -= 1
                buf = buf[: len(buf) - len(line) + start] + b"~{%d}" % len(token)
                data = token
            else:
                data = await asyncio.wait_for(self.reader.readexactly(size), self._timeout())
            line = await self.readline()
            buf += b"\r\n" + data + line
        return buf

    async def _spool(self, size: int) -> Path | None:
        """The literal in a temporary file; None when writing it failed (a full disk),
        after reading all of it."""
        from mailstore.files import TempMessageFile

        tmp = await asyncio.to_thread(TempMessageFile)
        failed = False
        try:
            left = size
            while left:
                chunk = await asyncio.wait_for(self.reader.read(min(left, 1 << 20)), self._timeout())
                if not chunk:
                    raise ConnectionResetError("connection closed in literal")
                if not failed:
                    try:
                        await asyncio.to_thread(tmp.write, chunk)
                    except OSError:
                        failed = True
                left -= len(chunk)
            if not failed:
                try:
                    return await asyncio.to_thread(tmp.finish)
                except OSError:
                    pass
            log.error("spooling a literal failed", extra={"remote": self.remote})
            tmp.discard()
            return None
        except BaseException:
            tmp.discard()
            raise

    def discard_spooled(self) -> None:
        for path in self.spooled.values():
            path.unlink(missing_ok=True)
        self.spooled.clear()

    async def run(self) -> None:
        moxlog.bind(cid=secrets.token_hex(8), remote=self.remote, listener="imap")
        metrics.IMAP_CONNECTIONS_OPEN.inc()
        pool.session_started()
        try:
            await self._serve()
        except (ConnectionError, asyncio.TimeoutError, asyncio.IncompleteReadError, ssl.SSLError, LineTooLong) as exc:
            if isinstance(exc, LineTooLong):
                self.write(b"* BYE line too long\r\n")
            elif isinstance(exc, asyncio.TimeoutError):
                self.write(b"* BYE inactive\r\n")
            try:
                await self.flush()
            except (ConnectionError, ssl.SSLError, RuntimeError):
                pass
        except asyncio.CancelledError:
            try:
                self.write(b"* BYE shutting down\r\n")
                await asyncio.wait_for(self.flush(), 1)
            except (ConnectionError, ssl.SSLError, RuntimeError, asyncio.TimeoutError, asyncio.CancelledError):
                pass
            raise
        except Exception:
            log.exception("imap connection failed", extra={"remote": self.remote})
        finally:
            metrics.IMAP_CONNECTIONS_OPEN.dec()
            self.discard_spooled()
            if getattr(self, "_counted", False):
                self.limits.open_connections.subtract(self.remote)
            self.session.close()
            pool.session_ended()
            self.writer.close()

    def _admit(self) -> str | None:
        """The BYE text when this connection is over a limit (mox wording)."""
        ip = self.remote
        if not ip:
            return None
        if not self.limits.auth_failures.can_add(ip):
            return "too many auth failures"
        if not self.limits.connection_rate.add(ip):
            return "connection rate from your ip or network too high, slow down please"
        if not self.limits.open_connections.add(ip):
            return "too many open connections from your ip or network"
        self._counted = True
        return None

    async def _serve(self) -> None:
        refused = self._admit()
        if refused is not None:
            self.write(f"* BYE {refused}\r\n".encode())
            await self.flush()
            return
        self.write(self.session.greeting())
        await self.flush()
        while True:
            buf = await self.read_command()
            if buf is None:
                # A refused literal ends the command (RFC 3502: none of a MULTIAPPEND's
                # messages is stored); literals spooled before it are dropped now.
                self.discard_spooled()
                await self.flush()
                continue
            try:
                go_on = await self.session.execute(buf)
            finally:
                self.discard_spooled()
            await self.flush()
            if not go_on:
                return


# How often each process prunes the change log (mailstore.changeprune); tests lower it.
HOUSEKEEPING_INTERVAL = 3600.0
_housekeeping: asyncio.Task[None] | None = None


async def housekeeping() -> None:
    """Periodic work of the IMAP listeners: pruning the change log, in a thread."""
    while True:
        await asyncio.sleep(HOUSEKEEPING_INTERVAL)
        try:
            await asyncio.to_thread(_prune_changes)
        except Exception:  # noqa: BLE001 - the next round tries again
            log.exception("pruning the change log failed")


def _prune_changes() -> None:
    from mailstore.changeprune import prune_all

    try:
        prune_all()
    finally:
        close_connection()


def start_housekeeping() -> None:
    """Once per event loop, however many IMAP sockets it serves."""
    global _housekeeping
    loop = asyncio.get_running_loop()
    if _housekeeping is None or _housekeeping.done() or _housekeeping.get_loop() is not loop:
        _housekeeping = loop.create_task(housekeeping())


async def serve_imap(
    sock: socket.socket, *, implicit_tls: bool, tls: ssl.SSLContext | None, localserve: bool
) -> asyncio.base_events.Server:
    """Serve IMAP on a bound, listening, non-blocking socket (993 when implicit_tls)."""
    if not hub.running:
        # The change hub wakes IDLE sessions when any process changes an account's mail.
        hub.stop()
        await hub.start()
    start_housekeeping()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await Connection(reader, writer, tls=tls, implicit_tls=implicit_tls, localserve=localserve).run()
        except asyncio.CancelledError:
            # Shutdown: the connection said BYE and cleaned up; nothing to report.
            pass

    return await asyncio.start_server(
        handle, sock=sock, ssl=tls if implicit_tls else None, limit=MAX_LINE
    )
