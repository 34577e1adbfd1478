"""An SMTP connection after EHLO, STARTTLS and AUTH, for its mail transactions.

aiosmtplib sets the connection up (connect, SOCKS socket, TLS, SASL), but it reads
one reply per command and cannot keep several outstanding, so the transport is
then handed to a plain asyncio stream: with PIPELINING (RFC 2920) MAIL, every RCPT
and DATA go out in one write and the replies are read in order; without it, one
command at a time (RFC 5321 section 3.3). One connection serves several
transactions (RSET between them) through a `Pool` kept for one worker's batch.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from mailcore.smtpclient import transaction as tx

log = logging.getLogger(__name__)


class SessionError(Exception):
    """The connection is gone or out of step (timeout, EOF, a garbled reply)."""


@dataclass
class Session:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    extensions: dict[str, str]  # lower-case EHLO keywords -> parameters
    tls: bool
    timeout: float
    host: str = ""
    ip: str = ""
    transactions: int = 0
    usable: bool = True
    writes: list[int] = field(default_factory=list)  # bytes per write, for logs/tests

    @classmethod
    def take_over(cls, client: Any, *, tls: bool, timeout: float, host: str = "", ip: str = "") -> Session:
        """Move aiosmtplib's transport under our own stream protocol."""
        loop = asyncio.get_running_loop()
        transport = client.transport
        reader = asyncio.StreamReader(limit=1 << 16, loop=loop)
        protocol = asyncio.StreamReaderProtocol(reader, loop=loop)
        leftover = bytes(getattr(client.protocol, "_buffer", b""))
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        if leftover:
            reader.feed_data(leftover)
        writer = asyncio.StreamWriter(transport, protocol, reader, loop)
        extensions = {k.lower(): v for k, v in client.esmtp_extensions.items()}
        return cls(reader, writer, extensions, tls, timeout, host=host, ip=ip)

    def supports(self, name: str) -> bool:
        return name.lower() in self.extensions

    async def _write(self, data: bytes) -> None:
        self.writes.append(len(data))
        try:
            self.writer.write(data)
            async with asyncio.timeout(self.timeout):
                await self.writer.drain()
        except (OSError, TimeoutError) as e:
            self.usable = False
            raise SessionError(f"writing: {e or type(e).__name__}") from e

    async def reply(self) -> tx.Reply:
        lines = []
        try:
            async with asyncio.timeout(self.timeout):
                while True:
                    line = await self.reader.readuntil(b"\n")
                    lines.append(tx.parse_reply_line(line))
                    if lines[-1][1]:
                        break
        except TimeoutError as e:
            self.usable = False
            raise SessionError(f"timeout: no reply within {self.timeout:g}s") from e
        except asyncio.IncompleteReadError as e:
            self.usable = False
            raise SessionError("connection closed by server") from e
        except (asyncio.LimitOverrunError, ValueError, tx.ReplyError, OSError) as e:
            self.usable = False
            raise SessionError(f"reading reply: {e}") from e
        return tx.join_reply(lines)

    async def command(self, line: str) -> tx.Reply:
        await self._write(line.encode("utf-8") + b"\r\n")
        return await self.reply()

    async def transaction(self, mail_from: str, mail_params: list[str], rcpts: list[tx.Recipient], message: bytes) -> tx.TransactionReplies:
        """One mail transaction; the message is sent only when a recipient was accepted
        and DATA got 354."""
        self.transactions += 1
        if self.supports("pipelining"):
            await self._write(tx.command_batch(mail_from, mail_params, rcpts))
            out = tx.TransactionReplies(await self.reply(), [None] * len(rcpts))
            try:
                for i in range(len(rcpts)):
                    out.rcpts[i] = await self.reply()
                out.data = await self.reply()
            except SessionError:
                # A server that refused (e.g. 421) and hung up: its refusal is the answer.
                if out.mail.code == 250 and all(r is None or r.code < 400 for r in out.rcpts):
                    raise
                return out
        else:
            mail = await self.command(" ".join(["MAIL FROM:" + mail_from, *mail_params]))
            out = tx.TransactionReplies(mail, [None] * len(rcpts))
            if mail.code != 250:
                return out
            for i, r in enumerate(rcpts):
                out.rcpts[i] = await self.command(" ".join(["RCPT TO:" + r.path, *r.params]))
            if not out.accepted():
                await self.reset()
                return out
            out.data = await self.command("DATA")
        if out.data is None or out.data.code != 354:
            return out
        if not out.accepted() or out.mail.code != 250:
            # RFC 2920 section 3.1: DATA was accepted though no recipient was; an
            # empty message ends the transaction, and its reply is ignored.
            await self._write(b".\r\n")
            await self.reply()
            return out
        await self._write(tx.data_payload(message))
        out.final = await self.reply()
        return out

    async def reset(self) -> bool:
        """RSET between transactions on a reused connection; False if it is unusable."""
        try:
            r = await self.command("RSET")
        except SessionError:
            return False
        if r.code != 250:
            self.usable = False
        return r.code == 250

    def abort(self) -> None:
        self.usable = False
        self.writer.transport.abort()

    async def close(self) -> None:
        """QUIT when the connection is still in step, then close."""
        if self.usable:
            try:
                await self.command("QUIT")
            except SessionError:
                pass
        self.writer.close()
        try:
            async with asyncio.timeout(5):
                await self.writer.wait_closed()
        except (OSError, TimeoutError):
            pass


class Pool:
    """Open sessions of one worker's batch, by destination and connection settings, so
    queued messages to the same place share a connection (at most `max_messages`
    transactions each)."""

    def __init__(self, max_messages: int) -> None:
        self.max_messages = max_messages
        self.sessions: dict[tuple[object, ...], Session] = {}
        self.opened = 0

    def take(self, key: tuple[object, ...]) -> Session | None:
        return self.sessions.pop(key, None)

    async def give_back(self, key: tuple[object, ...], session: Session) -> None:
        if session.usable and session.transactions < self.max_messages and key not in self.sessions:
            self.sessions[key] = session
        else:
            await session.close()

    async def close(self) -> None:
        sessions, self.sessions = list(self.sessions.values()), {}
        for s in sessions:
            await s.close()
