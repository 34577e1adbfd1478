"""Tell IMAP sessions in every process that an account's mail changed.

After a change commits, its writer (an SMTP delivery, a delivery worker's DSN, a web
request, a command, another IMAP session) sends one datagram naming the account to each
listener process's Unix socket in the notify directory (a group commit sends one naming
each account of its batch, comma-separated, once its callers have their answers). Each runmail/localserve process
binds one such socket (`ChangeHub.start`) and wakes the sessions of that account, which
then read the change log (`mailstore.models.Change`) after the last modseq they saw.
Nothing polls; a lost datagram (a process that vanished) costs nothing since the log is
the truth. See docs/changes.md.

Across machines (docs/scaling.md) the same wake-up also goes out on PostgreSQL
LISTEN/NOTIFY or Redis pub/sub (`mailstore.notify_channels`). `MOX_NOTIFY_DIR` moves
the socket directory (processes in different directories do not see each other's
sockets, as on different machines).
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import secrets
import socket
import threading
import time
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

from django.conf import settings

from mailstore import notify_channels

log = logging.getLogger(__name__)

# sun_path holds 108 bytes on Linux.
_MAX_SOCKET_PATH = 100


def notify_dir() -> Path:
    override = os.environ.get("MOX_NOTIFY_DIR", "")
    path = Path(override) if override else Path(settings.DATA_DIR) / "notify"
    if len(str(path)) + 40 > _MAX_SOCKET_PATH:
        digest = hashlib.sha256(str(path).encode()).hexdigest()[:16]
        path = Path("/tmp") / f"moxweb-notify-{digest}"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def notify_changed(account_id: int) -> None:
    """Send the wake-up to every listening process. Call after the change committed.
    Inside `Coalesced` (a group commit) it is sent when the batch is done, once per
    account."""
    pending = getattr(_coalescing, "ids", None)
    if pending is not None:
        pending[account_id] = None
        return
    _send((account_id,))


def _send(account_ids: Iterable[int]) -> None:
    ids = list(account_ids)
    _notify_local(ids)
    for account_id in ids:
        notify_channels.publish(account_id)


_coalescing = threading.local()


class Coalesced:
    """Collects this thread's `notify_changed` calls made inside the block (the commit
    callbacks of a group commit, one per delivery) and sends them with `send()`: one
    datagram per listener naming each account once, after the callers were answered."""

    def __init__(self) -> None:
        self.ids: dict[int, None] = {}

    def __enter__(self) -> Coalesced:
        _coalescing.ids = self.ids
        return self

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        _coalescing.ids = None

    def send(self) -> None:
        if self.ids:
            _send(self.ids)
            self.ids = {}


# A notify directory's listener sockets, listed again only when the directory changed:
# (directory, its mtime_ns when listed, when it was listed (ns), the socket paths).
_listing: tuple[str, int, int, tuple[str, ...]] | None = None
# A directory's mtime is trusted to show a change only once it is this much older than
# the listing (a change within the same clock tick as the listing keeps the mtime).
_MTIME_SETTLED_NS = 1_000_000_000
_sender: socket.socket | None = None
_sender_lock = threading.Lock()


def _listeners(directory: str) -> tuple[str, ...]:
    """The `.sock` paths in `directory`: read from the directory when its mtime moved
    since the last listing, or when that listing was too close to the mtime to tell."""
    global _listing
    try:
        mtime = os.stat(directory).st_mtime_ns
        cached = _listing
        if (cached is not None and cached[0] == directory and cached[1] == mtime
                and cached[2] - mtime >= _MTIME_SETTLED_NS):
            return cached[3]
        listed_at = time.time_ns()
        paths = tuple(entry.path for entry in os.scandir(directory) if entry.name.endswith(".sock"))
    except FileNotFoundError:
        return ()  # no directory, no listeners
    _listing = (directory, mtime, listed_at, paths)
    return paths


def _socket() -> socket.socket:
    """The process's sending socket (sendto on a datagram socket is safe from threads)."""
    global _sender
    with _sender_lock:
        if _sender is None:
            _sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            _sender.settimeout(0.2)
        return _sender


def _forget_socket() -> None:
    global _sender
    _sender = None


os.register_at_fork(after_in_child=_forget_socket)


# (MOX_NOTIFY_DIR, DATA_DIR) -> the notify directory, made once.
_directories: dict[tuple[str, str], str] = {}


def _directory() -> str:
    key = (os.environ.get("MOX_NOTIFY_DIR", ""), str(settings.DATA_DIR))
    found = _directories.get(key)
    if found is None:
        found = _directories[key] = str(notify_dir())
    return found


def _notify_local(account_ids: list[int]) -> None:
    directory = _directory()
    payload = ",".join(str(i) for i in account_ids).encode()
    sock = _socket()
    for path in _listeners(directory):
        try:
            sock.sendto(payload, path)
        except (ConnectionRefusedError, FileNotFoundError):
            # The process is gone; remove its socket so nobody tries it again.
            Path(path).unlink(missing_ok=True)
        except OSError as exc:
            log.warning("change notification not sent", extra={"socket": path, "err": str(exc)})


class ChangeHub:
    """In one process: account id -> the events of the sessions waiting on it."""

    def __init__(self) -> None:
        self._waiters: dict[int, set[asyncio.Event]] = defaultdict(set)
        self._transport: asyncio.DatagramTransport | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._channel: notify_channels.Subscriber | None = None
        self.path: Path | None = None

    @property
    def running(self) -> bool:
        """Listening, in the running event loop (a hub left over from a loop that has
        since closed must be started again)."""
        if self._transport is None or self._transport.is_closing():
            return False
        try:
            return self._loop is asyncio.get_running_loop()
        except RuntimeError:
            return False

    async def start(self, channel_timeout: float = 5.0) -> None:
        """Bind this process's socket and, on PostgreSQL or with Redis, subscribe to the
        network channel (waiting up to `channel_timeout` for its first connection; it
        keeps reconnecting in the background either way)."""
        loop = asyncio.get_running_loop()
        self._loop = loop
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
        which = await asyncio.to_thread(notify_channels.kind)
        if which:
            self._channel = notify_channels.Subscriber(which, self.wake, self.wake_all)
            self._channel.start()
            if not await self._channel.wait_connected(channel_timeout):
                log.warning("change channel not connected yet", extra={"channel": which})

    def stop(self) -> None:
        if self._channel is not None:
            self._channel.stop()
            self._channel = None
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

    def wake_all(self) -> None:
        for waiters in self._waiters.values():
            for event in waiters:
                event.set()


# The process's hub; listeners start it, sessions subscribe to it.
hub = ChangeHub()
