"""Mailbox export for the account pages, streamed to the browser as it is made.

mailstore.importexport writes the archive (push); the response reads it (pull). A
thread runs the export into a bounded queue of chunks that the response iterates, so
memory stays at most `QUEUE_CHUNKS` x `CHUNK` however large the mailbox: the export
waits while the client is slow, and stops when the client goes away.
"""
from __future__ import annotations

import asyncio
import io
import logging
import queue
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

from django.db import close_old_connections, connection

from accounts.models import Account
from mailstore.importexport import ImportExportError, export_mailboxes

log = logging.getLogger(__name__)

CHUNK = 256 * 1024
QUEUE_CHUNKS = 8
# How long a stalled client may keep the export thread waiting.
CLIENT_TIMEOUT = 600.0

FORMATS = ("mbox", "maildir")
ARCHIVES = ("zip", "tgz")


class ClientGone(OSError):
    """The response was closed before the export finished."""


class _ChunkWriter(io.RawIOBase):
    """A write-only, unseekable file whose bytes go to a queue in `CHUNK`-sized pieces."""

    def __init__(self, out: queue.Queue[bytes | BaseException | None], cancelled: threading.Event) -> None:
        self.out = out
        self.cancelled = cancelled
        self.buf = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.buf += data
        while len(self.buf) >= CHUNK:
            self.put(bytes(self.buf[:CHUNK]))
            del self.buf[:CHUNK]
        return len(data)

    def flush_rest(self) -> None:
        if self.buf:
            self.put(bytes(self.buf))
            self.buf.clear()

    def put(self, item: bytes | BaseException | None) -> None:
        waited = 0.0
        while True:
            if self.cancelled.is_set():
                raise ClientGone("download cancelled")
            try:
                self.out.put(item, timeout=1)
                return
            except queue.Full:
                waited += 1
                if waited > CLIENT_TIMEOUT:
                    raise ClientGone("client stopped reading") from None


def export_filename(account: Account, fmt: str, archive: str, mailbox: str | None) -> str:
    what = mailbox.replace("/", "-") if mailbox else "all"
    return f"{account.name}-{what}-{fmt}.{archive}"


class ExportStream:
    """The archive's bytes, produced by a thread; iterate it once (sync or async)."""

    def __init__(self, account: Account, fmt: str, archive: str, mailbox: str | None) -> None:
        if fmt not in FORMATS or archive not in ARCHIVES:
            raise ImportExportError(f"unknown export {fmt}.{archive}: mbox or maildir, in zip or tgz")
        self.account, self.fmt, self.archive, self.mailbox = account, fmt, archive, mailbox
        self.chunks: queue.Queue[bytes | BaseException | None] = queue.Queue(QUEUE_CHUNKS)
        self.cancelled = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"export {account.name}", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        close_old_connections()
        writer = _ChunkWriter(self.chunks, self.cancelled)
        try:
            export_mailboxes(self.account, self.fmt, Path(f"export.{self.archive}"), self.mailbox, stream=writer)
            writer.flush_rest()
            writer.put(None)
        except ClientGone:
            log.info("export cancelled", extra={"account": self.account.name})
        except Exception as exc:  # noqa: BLE001 - handed to the response, which ends the download
            log.exception("export failed", extra={"account": self.account.name})
            try:
                writer.put(exc)
            except ClientGone:
                pass
        finally:
            connection.close()

    def close(self) -> None:
        self.cancelled.set()

    def _item(self, item: bytes | BaseException | None) -> bytes | None:
        if isinstance(item, BaseException):
            # Headers are sent: the only way to tell the client is to break the download.
            raise OSError(f"export failed: {item}") from item
        return item

    def __iter__(self) -> Iterator[bytes]:
        try:
            while (chunk := self._item(self.chunks.get())) is not None:
                yield chunk
        finally:
            self.close()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            while (chunk := self._item(await asyncio.to_thread(self.chunks.get))) is not None:
                yield chunk
        finally:
            self.close()
