"""Tell IMAP sessions in every process that an account's mail changed.

After a change commits, its writer (an SMTP delivery, a delivery worker's DSN, a web
request, a command, another IMAP session) sends one datagram naming the account to each
listener process's Unix socket in the notify directory. Each runmail/localserve process
binds one such socket (`ChangeHub.start`) and wakes the sessions of that account, which
then read the change log (`mailstore.models.Change`) after the last modseq they saw.
Nothing polls; a lost datagram (a process that vanished) costs nothing since the log is
the truth. See docs/changes.md; cross-machine fan-out (PostgreSQL NOTIFY/Redis) extends it.
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import secrets
import socket
from collections import defaultdict
from pathlib import Path

from django.conf import settings

log = logging.getLogger(__name__)

# sun_path holds 108 bytes on Linux.
_MAX_SOCKET_PATH = 100


def notify_dir() -> Path:
    path = Path(settings.DATA_DIR) / "notify"
    if len(str(path)) + 40 > _MAX_SOCKET_PATH:
        digest = hashlib.sha256(str(settings.DATA_DIR).encode()).hexdigest()[:16]
        path = Path("/tmp") / f"moxweb-notify-{digest}"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def notify_changed(account_id: int) -> None:
    """Send the wake-up to every listening process. Call after the change committed."""
    directory = notify_dir()
    payload = str(account_id).encode()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.settimeout(0.2)
    try:
        for entry in os.scandir(directory):
            if not entry.name.endswith(".sock"):
                continue
            try:
                sock.sendto(payload, entry.path)
            except (ConnectionRefusedError, FileNotFoundError):
                # The process is gone; remove its socket so nobody tries it again.
                Path(entry.path).unlink(missing_ok=True)
            except OSError as exc:
                log.warning("change notification not sent", extra={"socket": entry.path, "err": str(exc)})
    finally:
        sock.close()


class ChangeHub:
    """In one process: account id -> the events of the sessions waiting on it."""

    def __init__(self) -> None:
        self._waiters: dict[int, set[asyncio.Event]] = defaultdict(set)
        self._transport: asyncio.DatagramTransport | None = None
        self.path: Path | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.path = notify_dir() / f"{os.getpid()}-{secrets.token_hex(4)}.sock"
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        sock.bind(str(self.path))
        hub = self

        class _Protocol(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: object) -> None:
                for part in data.split(b","):
                    if part.isdigit():
                        hub.wake(int(part))

        transport, _ = await loop.create_datagram_endpoint(_Protocol, sock=sock)
        self._transport = transport

    def stop(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None
        if self.path is not None:
            self.path.unlink(missing_ok=True)

    def subscribe(self, account_id: int) -> asyncio.Event:
        event = asyncio.Event()
        self._waiters[account_id].add(event)
        return event

    def unsubscribe(self, account_id: int, event: asyncio.Event) -> None:
        waiters = self._waiters.get(account_id)
        if waiters is not None:
            waiters.discard(event)
            if not waiters:
                del self._waiters[account_id]

    def wake(self, account_id: int) -> None:
        for event in self._waiters.get(account_id, ()):
            event.set()


# The process's hub; listeners start it, sessions subscribe to it.
hub = ChangeHub()
