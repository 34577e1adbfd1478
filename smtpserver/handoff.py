"""Port 25 served by several processes with one set of limits (MOX_SMTP_PROCESSES).

The main process accepts every connection on port 25 and counts it against its
connection-rate and open-connection limiters (mox §1.1.9: mox's limits, whatever the
number of processes). It then serves the connection itself or hands it, with the verdict
of those limiters, to the `smtpworker` child serving the fewest connections, over a Unix
socket (SCM_RIGHTS). The connection's own session writes a refusal (421) as it would
have, so the replies are the same in every process. A child tells the main process when
an admitted connection ends; when a child dies, its connections are released.

Before, each process listened on the port itself (SO_REUSEPORT) with limiters of its
own: a network could open N times mox's limits, and the kernel spread the connections of
one address unevenly between the processes.
"""
from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import socket
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from smtpserver.config import Limiters, ListenerConfig

log = logging.getLogger(__name__)

ADMITTED = "ok"
RATE_EXCEEDED = "rate"
AUTH_FAILURES = "auth"
TOO_MANY_OPEN = "open"
_VERDICTS = (ADMITTED, RATE_EXCEEDED, TOO_MANY_OPEN)  # what the main process hands over
# A child's word that an admitted connection ended: b"closed\0" + its remote IP.
_CLOSED = b"closed\0"
# Connections accepted per wake-up of the listening socket, before others get a turn.
ACCEPT_BATCH = 64


@dataclass
class Admission:
    """A connection's verdict from the main process's limiters, and what gives an
    admitted connection's place back (`release`)."""

    verdict: str
    _release: Callable[[], None]
    _released: bool = False

    def release(self) -> None:
        """The connection ended: its place is given back, once, if it had one. Called
        when its session closes, and again when the connection is lost (a session can
        be cancelled before it ran)."""
        if self.verdict == ADMITTED and not self._released:
            self._released = True
            self._release()


def admit(limiters: Limiters, ip: str, *, logins: bool = False) -> str:
    """mox §1.1.2, in its order: the connection rate, the failed logins (`logins`: for
    submission, which is never handed over), then open connections. Whoever admits a
    connection (the main process for a handed one, else its session) asks this."""
    if not limiters.connection_rate.add(ip):
        return RATE_EXCEEDED
    if logins and not limiters.auth_failures.can_add(ip):
        return AUTH_FAILURES
    if not limiters.open_connections.add(ip):
        return TOO_MANY_OPEN
    return ADMITTED


def _remote_ip(addr: object) -> str:
    """The address a connection is counted under ("0.0.0.0" when there is none, as a
    session without a peer address counts itself)."""
    return str(addr[0]) if isinstance(addr, tuple) and addr and addr[0] else "0.0.0.0"


class _Child:
    """The main process's end of one child's channel."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.open: Counter[str] = Counter()  # admitted connections being served, by IP
        self.handed = 0  # connections handed over (read by tests)

    @property
    def load(self) -> int:
        return self.open.total()


class Dispatcher:
    """The main process's side: accepts on the port 25 sockets, admits, hands over."""

    def __init__(self, sockets: list[socket.socket], config: ListenerConfig) -> None:
        self.sockets = sockets
        self.config = config
        self.children: list[_Child] = []
        self.local = 0  # connections served here (read by tests)
        self.local_open = 0  # admitted connections being served here
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        for sock in self.sockets:
            sock.setblocking(False)
            self._loop.add_reader(sock.fileno(), self._accept, sock)

    def new_child_channel(self) -> socket.socket:
        """A channel for a child about to start: its end to pass to it (`--handoff-fd`),
        to be closed here once it has been passed."""
        assert self._loop is not None, "start() first"
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        ours.setblocking(False)
        child = _Child(ours)
        self.children.append(child)
        self._loop.add_reader(ours.fileno(), self._from_child, child)
        return theirs

    def _accept(self, listening: socket.socket) -> None:
        for _ in range(ACCEPT_BATCH):
            try:
                conn, addr = listening.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # out of descriptors, say: the next wake-up tries again
                log.warning("accepting an smtp connection failed", extra={"error": str(exc)})
                return
            self._dispatch(conn, _remote_ip(addr))

    def _dispatch(self, conn: socket.socket, ip: str) -> None:
        limiters = self.config.limiters
        verdict = admit(limiters, ip)
        target = min(self.children, key=lambda c: c.load, default=None)
        # The main process has submission, IMAP and the web besides: a tie goes to the child.
        if target is not None and target.load <= self.local_open:
            try:
                socket.send_fds(target.sock, [f"{verdict}\0{ip}".encode()], [conn.fileno()])
            except OSError:
                pass  # its queue is full or it is gone: served here instead
            else:
                conn.close()  # the child has its own copy now
                target.handed += 1
                if verdict == ADMITTED:
                    target.open[ip] += 1
                return
        self.local += 1
        if verdict == ADMITTED:
            self.local_open += 1
        serve_accepted(conn, self.config, Admission(verdict, functools.partial(self._released_here, ip)))

    def _released_here(self, ip: str) -> None:
        self.local_open -= 1
        self.config.limiters.open_connections.subtract(ip)

    def _from_child(self, child: _Child) -> None:
        while True:
            try:
                message = child.sock.recv(512)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                message = b""
            if not message:
                self._lost(child)
                return
            if message.startswith(_CLOSED):
                ip = message[len(_CLOSED):].decode("ascii", "replace")
                if child.open[ip] > 0:
                    child.open[ip] -= 1
                    if not child.open[ip]:
                        del child.open[ip]
                    self.config.limiters.open_connections.subtract(ip)

    def _lost(self, child: _Child) -> None:
        """A child ended: its connections ended with it."""
        assert self._loop is not None
        self._loop.remove_reader(child.sock.fileno())
        child.sock.close()
        self.children.remove(child)
        for ip, n in child.open.items():
            self.config.limiters.open_connections.subtract(ip, n)

    def close(self) -> None:
        """Stop accepting (the sessions being served go on until they end)."""
        if self._loop is not None:
            for sock in self.sockets:
                with contextlib.suppress(ValueError, OSError):
                    self._loop.remove_reader(sock.fileno())
            for child in list(self.children):
                self._lost(child)
        for sock in self.sockets:
            sock.close()

    async def wait_closed(self) -> None:
        """As a Server's: `close()` has done everything already."""


def serve_accepted(conn: socket.socket, config: ListenerConfig, admission: Admission) -> None:
    """Serve an accepted connection in this process's loop."""
    from smtpserver.connection import SMTPConnection

    conn.setblocking(False)
    loop = asyncio.get_running_loop()
    task = loop.create_task(loop.connect_accepted_socket(lambda: SMTPConnection(config, admission=admission), conn))
    task.add_done_callback(functools.partial(_served, admission, conn))


def _served(admission: Admission, conn: socket.socket, task: asyncio.Task[object]) -> None:
    """A connection that could not be served gives its place back."""
    if task.cancelled() or task.exception() is not None:
        log.warning("serving a handed connection failed",
                    extra={"error": "cancelled" if task.cancelled() else str(task.exception())})
        conn.close()
        admission.release()


class Receiver:
    """A child's side (`manage.py smtpworker`): serves the connections the main process
    hands over, and tells it when an admitted one ends. `lost` is set when the main
    process has gone."""

    def __init__(self, sock: socket.socket, config: ListenerConfig) -> None:
        self.sock = sock
        self.config = config
        self.lost = asyncio.Event()
        self._outbox: list[bytes] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.sock.setblocking(False)
        self._loop.add_reader(self.sock.fileno(), self._receive)

    def _receive(self) -> None:
        while True:
            try:
                message, fds, _, _ = socket.recv_fds(self.sock, 64, 4)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                message, fds = b"", []
            if not message and not fds:
                self._stop()
                return
            for extra in fds[1:]:
                os.close(extra)
            if not fds:
                continue
            conn = socket.socket(fileno=fds[0])
            # "verdict\0ip": the address the main process counted the connection under.
            verdict, _, ip = message.decode("ascii", "replace").partition("\0")
            if verdict not in _VERDICTS:
                conn.close()
                continue
            serve_accepted(conn, self.config, Admission(verdict, functools.partial(self._tell, _CLOSED + ip.encode())))

    def _tell(self, message: bytes) -> None:
        """A message to the main process, queued if its side is full."""
        if self._outbox:
            self._outbox.append(message)
            return
        try:
            self.sock.send(message)
        except (BlockingIOError, InterruptedError):
            self._outbox.append(message)
            assert self._loop is not None
            self._loop.add_writer(self.sock.fileno(), self._flush)
        except OSError:
            pass  # the main process has gone: nothing to tell

    def _flush(self) -> None:
        while self._outbox:
            try:
                self.sock.send(self._outbox[0])
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self._outbox.clear()
                break
            self._outbox.pop(0)
        assert self._loop is not None
        self._loop.remove_writer(self.sock.fileno())

    def _stop(self) -> None:
        assert self._loop is not None
        self._loop.remove_reader(self.sock.fileno())
        self.lost.set()
