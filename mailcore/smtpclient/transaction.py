"""Pure parts of an SMTP client mail transaction (RFC 5321 section 3.3), with command
pipelining (RFC 2920): reading reply lines, the command batch, DATA's dot-stuffing,
and judging the replies per recipient. No networking here.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field


class ReplyError(ValueError):
    """A reply line that is not `NNN text` or `NNN-text` (RFC 5321 section 4.2)."""


@dataclass(frozen=True)
class Reply:
    code: int
    text: str  # the lines' texts joined with spaces

    def __str__(self) -> str:
        return f"{self.code} {self.text}".strip()


def parse_reply_line(line: bytes) -> tuple[int, bool, str]:
    """(code, whether this is the reply's last line, text) of one line, CRLF stripped."""
    line = line.rstrip(b"\r\n")
    if len(line) < 3 or not line[:3].isdigit() or line[3:4] not in (b"", b" ", b"-"):
        raise ReplyError(f"malformed reply line {line[:80]!r}")
    return int(line[:3]), line[3:4] != b"-", line[4:].decode("utf-8", "replace").strip()


def join_reply(lines: list[tuple[int, bool, str]]) -> Reply:
    return Reply(lines[-1][0], " ".join(" ".join(t.split()) for _, _, t in lines if t))


_LINE_END = re.compile(rb"\r\n|\r|\n")
_LEADING_DOT = re.compile(rb"(?m)^\.")


def data_payload(message: bytes) -> bytes:
    """The message as sent after DATA's 354: CRLF line ends, a leading dot doubled
    (RFC 5321 section 4.5.2), and the terminating `.` line."""
    body = _LINE_END.sub(b"\r\n", message)
    if body and not body.endswith(b"\r\n"):
        body += b"\r\n"
    return _LEADING_DOT.sub(b"..", body) + b".\r\n"


@dataclass
class Recipient:
    path: str  # "<c@d>"
    params: list[str] = field(default_factory=list)


def command_batch(mail_from: str, mail_params: list[str], recipients: list[Recipient]) -> bytes:
    """MAIL, every RCPT and DATA, to be written at once to a server that offers
    PIPELINING (RFC 2920 section 3.1: DATA is the last command of a group)."""
    lines = [" ".join(["MAIL FROM:" + mail_from, *mail_params])]
    lines += [" ".join(["RCPT TO:" + r.path, *r.params]) for r in recipients]
    lines.append("DATA")
    return "".join(line + "\r\n" for line in lines).encode("utf-8")


@dataclass
class TransactionReplies:
    """What the server answered: MAIL, each RCPT (None when not sent), DATA's 354 (or
    its refusal), and the reply after the message (None when it was not sent)."""

    mail: Reply
    rcpts: list[Reply | None]
    data: Reply | None = None
    final: Reply | None = None

    def accepted(self) -> list[int]:
        """Indexes of the recipients the server took (250, or 251 "will forward")."""
        return [i for i, r in enumerate(self.rcpts) if r is not None and r.code in (250, 251)]
