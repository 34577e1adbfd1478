"""Reading the DATA section (RFC 5321 section 4.1.1.4 and 4.5.2) without holding it.

Lines must end in CRLF; a bare CR or a bare LF anywhere makes the message invalid.
That closes every SMTP smuggling variant (`\\n.\\n`, `\\r.\\r`, `\\n.\\r\\n`,
`\\r\\n.\\n`, ...): only CRLF "." CRLF ends the data, and a message holding any other
line ending is refused whole, after its real end, so the reply stays in step with the
client and nothing inside it is ever taken as a command. A leading "." is removed from
each line (dot-unstuffing). The input may arrive split anywhere.
"""
from __future__ import annotations

import enum
import re

# RFC 5321 section 4.5.3.1.6 says 1000 octets per line; real mail exceeds it (Postfix
# allows 2048 and folds), so the default only guards against unbounded lines.
DEFAULT_MAX_LINE = 64 * 1024


class DataError(enum.Enum):
    BARE_CR = "bare carriage return"
    BARE_LF = "bare linefeed"
    LINE_TOO_LONG = "line too long"


class DataReader:
    """Feed raw bytes; get unstuffed message bytes back until the end marker.

    `feed` returns (message bytes, rest). `rest` is None while the end has not been
    seen, else the bytes that followed the end marker (pipelined commands). After the
    first `error`, nothing more is returned as message bytes, but the end is still found.
    """

    def __init__(self, max_line: int = DEFAULT_MAX_LINE) -> None:
        self.max_line = max_line
        self.error: DataError | None = None
        self.size = 0  # message bytes after unstuffing
        self.has_8bit = False
        self._partial = bytearray()  # the current line, until its LF
        self._partial_len = 0  # its full length, even when truncated after an error
        self.done = False
        # The end marker counts only after a CRLF: "\n.\r\n" must not end the data.
        self._after_crlf = True

    def _fail(self, err: DataError) -> None:
        if self.error is None:
            self.error = err

    def feed(self, data: bytes) -> tuple[bytes, bytes | None]:
        if self.done:
            return b"", data
        head = b""
        if self.error is None and (self._partial or self._partial_len):
            # The line begun in an earlier piece is finished line by line.
            lf = data.find(b"\n")
            if lf >= 0:
                head, rest = self._feed_slow(data[: lf + 1])
                if rest is not None:
                    return head, rest + data[lf + 1 :]
                data = data[lf + 1 :]
        if self.error is None and not self._partial and not self._partial_len and self._after_crlf:
            fast = self._feed_lines(data)
            if fast is not None:
                return head + fast[0], fast[1]
        out, rest = self._feed_slow(data)
        return head + out, rest

    def _feed_slow(self, data: bytes) -> tuple[bytes, bytes | None]:
        """`feed`, line by line."""
        out = bytearray()
        start = 0
        n = len(data)
        while start < n:
            lf = data.find(b"\n", start)
            if lf < 0:
                piece = data[start:]
                self._add_partial(piece)
                break
            piece = data[start : lf + 1]
            start = lf + 1
            if self._partial or self._partial_len:
                self._add_partial(piece)
                line = bytes(self._partial)
                length = self._partial_len
                self._partial.clear()
                self._partial_len = 0
            else:
                line = piece
                length = len(piece)
            if self._line(line, length, out):
                self.done = True
                self._flush_stats(out)
                return bytes(out) if self.error is None else b"", data[start:]
        self._flush_stats(out)
        return (bytes(out) if self.error is None else b""), None

    def _feed_lines(self, data: bytes) -> tuple[bytes, bytes | None] | None:
        """`feed` for the common case, a chunk of whole CRLF lines (plus the start of
        the next) arriving at a line start: checked and unstuffed with a few scans of
        the whole chunk instead of line by line. None when the chunk is anything else
        (a bare CR or LF, a line that may be too long): `feed`'s line-by-line reading,
        which the answer must equal, decides then."""
        last_lf = data.rfind(b"\n")
        block = data[: last_lf + 1]
        # Every LF after a CR and every CR before an LF: no bare line endings. (The
        # block ends with its last LF, so no CR can be its last byte.)
        crlf = block.count(b"\r\n")
        if len(block) > self.max_line + 2 or block.count(b"\n") != crlf or block.count(b"\r") != crlf:
            return None
        tail = data[last_lf + 1 :]
        if block.startswith(b".\r\n"):
            end = 0
        else:
            end = block.find(b"\r\n.\r\n")
            end = -1 if end < 0 else end + 2
        if end >= 0:
            body, rest = block[:end], data[end + 3 :]
        else:
            if len(tail) > self.max_line + 2:
                return None
            body, rest = block, None
        # Dot-unstuffing: a "." that starts a line goes (RFC 5321 section 4.5.2).
        out = body.replace(b"\r\n.", b"\r\n")
        if out.startswith(b"."):
            out = out[1:]
        if end >= 0:
            self.done = True
        elif tail:
            self._add_partial(tail)
        self.size += len(out)
        if not self.has_8bit and not out.isascii():
            self.has_8bit = True
        return out, rest

    def _flush_stats(self, out: bytearray) -> None:
        if self.error is None:
            self.size += len(out)
            if not self.has_8bit and not out.isascii():
                self.has_8bit = True

    def _add_partial(self, piece: bytes) -> None:
        self._partial_len += len(piece)
        if self._partial_len > self.max_line + 2:
            self._fail(DataError.LINE_TOO_LONG)
            # Keep only what is needed to check line endings: the last byte.
            self._partial[:] = (bytes(self._partial) + piece)[-2:]
            return
        self._partial += piece

    def _line(self, line: bytes, length: int, out: bytearray) -> bool:
        """One line including its LF; returns True at the end marker."""
        after_crlf = self._after_crlf
        self._after_crlf = line.endswith(b"\r\n")
        if not self._after_crlf:
            self._fail(DataError.BARE_LF)
        elif b"\r" in line[:-2]:
            self._fail(DataError.BARE_CR)
        if line == b".\r\n" and length == 3 and after_crlf:
            return True
        if length > self.max_line + 2:
            self._fail(DataError.LINE_TOO_LONG)
        if self.error is None:
            out += line[1:] if line.startswith(b".") else line
        return False


class LineEndingChecker:
    """For BDAT (RFC 3030), where a length ends the data: still only CRLF line endings,
    so a message we accept can never carry a smuggling sequence onwards."""

    def __init__(self) -> None:
        self.error: DataError | None = None
        self._pending_cr = False
        self.has_8bit = False

    def feed(self, data: bytes) -> None:
        if not data or self.error is not None:
            return
        if not self.has_8bit and not data.isascii():
            self.has_8bit = True
        combined = (b"\r" if self._pending_cr else b"") + data
        if _BARE_LF.search(combined):
            self.error = DataError.BARE_LF
        elif _BARE_CR.search(combined[:-1] if combined.endswith(b"\r") else combined):
            self.error = DataError.BARE_CR
        self._pending_cr = combined.endswith(b"\r")

    def close(self) -> None:
        if self._pending_cr and self.error is None:
            self.error = DataError.BARE_CR


_BARE_LF = re.compile(rb"(?<!\r)\n")
_BARE_CR = re.compile(rb"\r(?!\n)")
