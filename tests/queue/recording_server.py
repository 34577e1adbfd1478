"""A small SMTP server for client tests that records what it reads: every chunk per
connection (to see which commands arrived in one write), the command lines, and the
messages. Replies to all commands of a chunk go out together, as a pipelining
server's would (RFC 2920 section 3.2)."""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Connection:
    reads: list[bytes] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)


@dataclass
class Stored:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes


class RecordingSMTP:
    def __init__(self, *, pipelining: bool = True, rcpt_reply: Callable[[str], str | None] | None = None,
                 data_without_recipients: bool = False, extensions: tuple[str, ...] = (),
                 max_rcpts: int = 0) -> None:
        self.pipelining = pipelining
        self.extensions = extensions  # more EHLO keywords, e.g. "DSN", "LIMITS RCPTMAX=2"
        # Refuse recipients beyond this many in one transaction with 452 (RFC 5321
        # section 4.5.3.1.10), without announcing it.
        self.max_rcpts = max_rcpts
        # Answer DATA with 354 even when no recipient was accepted (RFC 2920 section 3.1
        # allows it; the client must then send an empty message).
        self.data_without_recipients = data_without_recipients
        self.rcpt_reply = rcpt_reply
        self.connections: list[Connection] = []
        self.messages: list[Stored] = []

    def _ehlo(self) -> bytes:
        lines = ["rec.example", *(["PIPELINING"] if self.pipelining else []), "8BITMIME", "SIZE 1000000",
                 *self.extensions]
        return b"".join(f"250{'-' if i < len(lines) - 1 else ' '}{t}\r\n".encode() for i, t in enumerate(lines))

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = Connection()
        self.connections.append(conn)
        writer.write(b"220 rec.example ESMTP\r\n")
        buf = b""
        mail_from, rcpts, in_data = "", [], False
        try:
            while True:
                chunk = await reader.read(65536)
                if not chunk:
                    return
                conn.reads.append(chunk)
                buf += chunk
                out: list[bytes] = []
                while True:
                    if in_data:
                        end = 0 if buf.startswith(b".\r\n") else buf.find(b"\r\n.\r\n")
                        if end < 0:
                            break
                        body, buf = (b"", buf[3:]) if end == 0 else (buf[: end + 2], buf[end + 5 :])
                        in_data = False
                        if rcpts:
                            self.messages.append(Stored(mail_from, list(rcpts), body.replace(b"\r\n..", b"\r\n.")))
                            out.append(b"250 2.0.0 stored\r\n")
                        else:
                            out.append(b"554 5.5.1 no valid recipients\r\n")
                        mail_from, rcpts = "", []
                        continue
                    line, sep, rest = buf.partition(b"\r\n")
                    if not sep:
                        break
                    buf = rest
                    text = line.decode()
                    conn.commands.append(text)
                    verb = text.split(" ", 1)[0].upper()
                    if verb == "EHLO":
                        out.append(self._ehlo())
                    elif verb == "MAIL":
                        mail_from = text[len("MAIL FROM:"):].split(" ")[0].strip("<>")
                        out.append(b"250 2.1.0 ok\r\n")
                    elif verb == "RCPT":
                        addr = text[len("RCPT TO:"):].split(" ")[0].strip("<>")
                        reply = self.rcpt_reply(addr) if self.rcpt_reply else None
                        if not reply and self.max_rcpts and len(rcpts) >= self.max_rcpts:
                            reply = "452 4.5.3 too many recipients"
                        if reply:
                            out.append(reply.encode() + b"\r\n")
                        else:
                            rcpts.append(addr)
                            out.append(b"250 2.1.5 ok\r\n")
                    elif verb == "DATA":
                        if rcpts or self.data_without_recipients:
                            in_data = True
                            out.append(b"354 go on\r\n")
                        else:
                            out.append(b"554 5.5.1 no valid recipients\r\n")
                    elif verb == "RSET":
                        mail_from, rcpts = "", []
                        out.append(b"250 2.0.0 reset\r\n")
                    elif verb == "QUIT":
                        writer.write(b"".join(out) + b"221 2.0.0 bye\r\n")
                        await writer.drain()
                        return
                    else:
                        out.append(b"502 5.5.2 unknown command\r\n")
                if out:
                    writer.write(b"".join(out))
                    await writer.drain()
        finally:
            writer.close()
