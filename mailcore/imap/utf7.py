"""Modified UTF-7 for mailbox names (RFC 3501 section 5.1.3; RFC 9051 keeps it for
IMAP4rev1 clients, UTF8=ACCEPT clients send UTF-8)."""
from __future__ import annotations

import base64

from mailcore.imap.errors import ParseError


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=").replace("/", ",")


def encode(name: str) -> str:
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            out.append("&" + _b64("".join(pending).encode("utf-16-be")) + "-")
            pending.clear()

    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            pending.append(ch)
    flush()
    return "".join(out)


def decode(name: str) -> str:
    """Decode, raising ParseError for malformed shifts (RFC 3501 5.1.3 forbids e.g.
    encoding printable ASCII or leaving a shift unterminated)."""
    out: list[str] = []
    i = 0
    while i < len(name):
        ch = name[i]
        if ord(ch) > 0x7E or ord(ch) < 0x20:
            raise ParseError("invalid character in modified utf-7 mailbox name")
        if ch != "&":
            out.append(ch)
            i += 1
            continue
        end = name.find("-", i + 1)
        if end < 0:
            raise ParseError("unterminated modified utf-7 shift")
        chunk = name[i + 1 : end]
        i = end + 1
        if chunk == "":
            out.append("&")
            continue
        b64 = chunk.replace(",", "/")
        b64 += "=" * (-len(b64) % 4)
        try:
            raw = base64.b64decode(b64, validate=True)
            text = raw.decode("utf-16-be")
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError("invalid modified utf-7 mailbox name") from exc
        if any(0x20 <= ord(c) <= 0x7E for c in text):
            raise ParseError("modified utf-7 must not encode printable ascii")
        out.append(text)
    return "".join(out)
