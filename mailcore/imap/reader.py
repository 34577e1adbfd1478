"""A cursor over one complete command (its literals inline) with the RFC 9051
section 9 terminals. Every failure raises ParseError; nothing here reads a socket."""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

from mailcore.imap.errors import ParseError
from mailcore.imap.numset import Bound, NumSet

# RFC 9051 section 9: atom-specials are ( ) { SP CTL % * " \ ]
_ATOM_SPECIALS = set(b'(){ %*"\\]')
_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
_LITERAL_AT_END = re.compile(rb"(~?)\{(\d{1,19})(\+?)\}\Z")

MAX_NUMBER64 = 2**63 - 1


def is_atom_char(c: int) -> bool:
    return c > 0x1F and c != 0x7F and c not in _ATOM_SPECIALS and c < 0x80


def literal_request(line: bytes) -> tuple[int, bool, bool] | None:
    """If a line (without CRLF) ends with a literal announcement, return (size,
    synchronizing, literal8). RFC 9051 section 4.3, RFC 7888 (LITERAL+), RFC 3516 (~{})."""
    m = _LITERAL_AT_END.search(line)
    if m is None:
        return None
    size = int(m.group(2))
    if size > MAX_NUMBER64:
        return None
    return size, m.group(3) != b"+", m.group(1) == b"~"


class Reader:
    def __init__(self, buf: bytes, *, tag: str | None = None) -> None:
        self.buf = buf
        self.pos = 0
        self.tag = tag

    # Basics.

    def error(self, message: str, code: str | None = None) -> ParseError:
        near = self.buf[self.pos : self.pos + 20].decode("utf-8", "replace")
        return ParseError(f"{message} (at {near!r})" if near else message, tag=self.tag, code=code)

    def at_end(self) -> bool:
        return self.pos >= len(self.buf)

    def end(self) -> None:
        if not self.at_end():
            raise self.error("unexpected data after command")

    def peek(self, s: bytes) -> bool:
        return self.buf[self.pos : self.pos + len(s)].upper() == s.upper()

    def take(self, s: bytes) -> bool:
        if self.peek(s):
            self.pos += len(s)
            return True
        return False

    def expect(self, s: bytes) -> None:
        if not self.take(s):
            raise self.error(f"expected {s.decode()!r}")

    def sp(self) -> None:
        self.expect(b" ")

    def peek_byte(self) -> int:
        return self.buf[self.pos] if self.pos < len(self.buf) else -1

    # Atoms, strings, numbers.

    def atom(self) -> str:
        start = self.pos
        while self.pos < len(self.buf) and is_atom_char(self.buf[self.pos]):
            self.pos += 1
        if self.pos == start:
            raise self.error("expected atom")
        return self.buf[start : self.pos].decode("ascii")

    def take_atom(self, *words: str) -> str | None:
        """Take one of `words` (case-insensitive) if it is the next whole atom."""
        start = self.pos
        end = start
        while end < len(self.buf) and is_atom_char(self.buf[end]):
            end += 1
        word = self.buf[start:end].decode("ascii").upper()
        if word in words:
            self.pos = end
            return word
        return None

    def tag_string(self) -> str:
        # tag = 1*<any ASTRING-CHAR except "+">
        start = self.pos
        while self.pos < len(self.buf):
            c = self.buf[self.pos]
            if not (is_atom_char(c) or c == ord("]")) or c == ord("+"):
                break
            self.pos += 1
        if self.pos == start:
            raise self.error("expected tag")
        return self.buf[start : self.pos].decode("ascii")

    def quoted(self) -> bytes:
        self.expect(b'"')
        out = bytearray()
        while True:
            if self.pos >= len(self.buf):
                raise self.error("unterminated quoted string")
            c = self.buf[self.pos]
            self.pos += 1
            if c == ord('"'):
                return bytes(out)
            if c == ord("\\"):
                if self.pos >= len(self.buf) or self.buf[self.pos] not in b'"\\':
                    raise self.error("invalid escape in quoted string")
                out.append(self.buf[self.pos])
                self.pos += 1
            elif c in (0, 0x0A, 0x0D):
                raise self.error("invalid character in quoted string")
            else:
                out.append(c)

    def literal(self, *, allow_binary: bool = False) -> bytes:
        binary = self.take(b"~")
        if binary and not allow_binary:
            raise self.error("literal8 not allowed here")
        self.expect(b"{")
        size = self.number64()
        self.take(b"+")
        self.expect(b"}\r\n")
        if self.pos + size > len(self.buf):
            raise self.error("literal shorter than announced")
        data = self.buf[self.pos : self.pos + size]
        self.pos += size
        if not binary and b"\x00" in data:
            # RFC 9051 section 4.3: NUL only in literal8.
            raise self.error("NUL in literal")
        return data

    def string(self) -> bytes:
        if self.peek(b'"'):
            return self.quoted()
        if self.peek(b"{") or self.peek(b"~{"):
            return self.literal()
        raise self.error("expected string")

    def astring(self) -> bytes:
        if self.peek(b'"') or self.peek(b"{"):
            return self.string()
        start = self.pos
        while self.pos < len(self.buf) and (is_atom_char(self.buf[self.pos]) or self.buf[self.pos] == ord("]")):
            self.pos += 1
        if self.pos == start:
            raise self.error("expected astring")
        return self.buf[start : self.pos]

    def astring_str(self) -> str:
        try:
            return self.astring().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise self.error("invalid utf-8") from exc

    def nstring(self) -> bytes | None:
        if self.take_atom("NIL"):
            return None
        return self.string()

    def list_mailbox(self) -> str:
        # list-mailbox = 1*list-char / string; list-char = ATOM-CHAR / list-wildcards / resp-specials
        if self.peek(b'"') or self.peek(b"{"):
            raw = self.string()
        else:
            start = self.pos
            while self.pos < len(self.buf) and (
                is_atom_char(self.buf[self.pos]) or self.buf[self.pos] in b"%*]"
            ):
                self.pos += 1
            if self.pos == start:
                raise self.error("expected mailbox pattern")
            raw = self.buf[start : self.pos]
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise self.error("invalid utf-8 in mailbox pattern") from exc

    def number(self) -> int:
        start = self.pos
        while self.pos < len(self.buf) and 0x30 <= self.buf[self.pos] <= 0x39:
            self.pos += 1
        if self.pos == start or self.pos - start > 19:
            raise self.error("expected number")
        return int(self.buf[start : self.pos])

    def number32(self) -> int:
        n = self.number()
        if n > 0xFFFFFFFF:
            raise self.error("number too large")
        return n

    def nz_number(self) -> int:
        n = self.number32()
        if n == 0:
            raise self.error("expected non-zero number")
        return n

    def number64(self) -> int:
        n = self.number()
        if n > MAX_NUMBER64:
            raise self.error("number too large")
        return n

    def seq_number(self) -> Bound:
        if self.take(b"*"):
            return None
        return self.nz_number()

    def seqset(self) -> NumSet:
        if self.take(b"$"):
            return NumSet(search_result=True)
        ranges: list[tuple[Bound, Bound]] = []
        while True:
            a = self.seq_number()
            b = a
            if self.take(b":"):
                b = self.seq_number()
            ranges.append((a, b))
            if not self.take(b","):
                return NumSet(tuple(ranges))

    # Flags and dates.

    def flag(self) -> str:
        # flag = "\Answered" / ... / flag-keyword / flag-extension; "\*" only in PERMANENTFLAGS.
        if self.take(b"\\"):
            return "\\" + self.atom()
        return self.atom()

    def flag_list(self) -> list[str]:
        self.expect(b"(")
        flags: list[str] = []
        if self.take(b")"):
            return flags
        while True:
            flags.append(self.flag())
            if self.take(b")"):
                return flags
            self.sp()

    def _date_text(self) -> date:
        start = self.pos
        while self.pos < len(self.buf) and self.buf[self.pos] not in b' )"':
            self.pos += 1
        text = self.buf[start : self.pos].decode("ascii", "replace")
        parts = text.split("-")
        if len(parts) != 3 or parts[1].lower() not in _MONTHS or not parts[0].isdigit() or not parts[2].isdigit():
            raise self.error("expected date dd-Mon-yyyy")
        try:
            return date(int(parts[2]), _MONTHS.index(parts[1].lower()) + 1, int(parts[0]))
        except ValueError as exc:
            raise self.error("invalid date") from exc

    def date(self) -> date:
        if self.take(b'"'):
            d = self._date_text()
            self.expect(b'"')
            return d
        return self._date_text()

    def date_time(self) -> datetime:
        # date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE
        raw = self.quoted().decode("ascii", "replace")
        m = re.fullmatch(r" ?(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)", raw)
        if m is None or m.group(2).lower() not in _MONTHS:
            raise self.error("expected date-time")
        offset = timedelta(hours=int(m.group(8)), minutes=int(m.group(9)))
        if m.group(7) == "-":
            offset = -offset
        try:
            return datetime(
                int(m.group(3)), _MONTHS.index(m.group(2).lower()) + 1, int(m.group(1)),
                int(m.group(4)), int(m.group(5)), int(m.group(6)), tzinfo=timezone(offset),
            )
        except ValueError as exc:
            raise self.error("invalid date-time") from exc
