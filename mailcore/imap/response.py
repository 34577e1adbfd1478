"""Formatting of IMAP response data (RFC 9051 section 4 and section 7)."""
from __future__ import annotations

import re
from collections.abc import Iterable

from mailcore.imap import utf7
from mailcore.imap.reader import is_atom_char


def literal(data: bytes, *, binary: bool = False) -> bytes:
    return (b"~{" if binary else b"{") + str(len(data)).encode() + b"}\r\n" + data


_NOT_QUOTABLE = re.compile(rb"[\x00\n\r\x80-\xff]")
_NOT_QUOTABLE_UTF8 = re.compile(rb"[\x00\n\r]")


def string(data: bytes | str) -> bytes:
    """A quoted string when possible, a literal otherwise (CR, LF, NUL, 8-bit)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    if len(data) < 1024 and _NOT_QUOTABLE.search(data) is None:
        if b"\\" in data or b'"' in data:
            data = data.replace(b"\\", b"\\\\").replace(b'"', b'\\"')
        return b'"' + data + b'"'
    return literal(data)


def utf8_string(data: str) -> bytes:
    """Quoted UTF-8 (RFC 9051 utf8-quoted / RFC 6855) when there is no CR/LF/NUL."""
    raw = data.encode("utf-8")
    if len(raw) < 1024 and _NOT_QUOTABLE_UTF8.search(raw) is None:
        return b'"' + raw.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
    return literal(raw)


def nstring(data: bytes | str | None) -> bytes:
    if data is None:
        return b"NIL"
    if isinstance(data, str):
        data = data.encode("utf-8")
    if len(data) < 1024 and _NOT_QUOTABLE.search(data) is None and b"\\" not in data and b'"' not in data:
        return b'"' + data + b'"'
    return string(data)


def astring(data: str) -> bytes:
    raw = data.encode("utf-8")
    if raw and raw.upper() != b"NIL" and all(is_atom_char(c) or c == ord("]") for c in raw):
        return raw
    return utf8_string(data)


def mailbox(name: str, *, utf8: bool) -> bytes:
    """A mailbox name: UTF-8 for IMAP4rev2/UTF8=ACCEPT sessions, modified UTF-7 otherwise."""
    return astring(name if utf8 else utf7.encode(name))


def paren(items: Iterable[bytes]) -> bytes:
    return b"(" + b" ".join(items) + b")"


def flags(names: Iterable[str]) -> bytes:
    return paren(n.encode("utf-8") for n in names)
