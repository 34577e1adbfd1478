"""Faster drop-in replacements for dkimpy's hot helpers, with identical results.

dkimpy (pinned, see requirements.txt) spends most of a 20 KB message's verification in
pure-Python helpers: splitting the whole message into lines and joining them again,
relaxed body canonicalization (RFC 6376 section 3.4.4) as regular-expression
substitutions that replace every single space by a space, and converting RSA
integers to bytes one byte at a time. The replacements here return exactly what the
originals return (tests/authn/test_dkimfast.py compares them on generated input), but
skip the work when there is nothing to change:

- a body whose line ends are all CRLF is returned as it is (no split and join);
- whitespace runs are only rewritten where one is a tab or longer than one space,
  and trailing whitespace only where a line has some;
- integer/byte conversions use int.to_bytes/int.from_bytes.

`install()` puts the canonicalization and integer helpers into dkimpy's modules once
(dkimpy looks them up as module globals at call time); `FastDKIM` is dkimpy's DKIM
class with the faster message split. Signing (dkimsign) benefits as well.
"""
from __future__ import annotations

import re
from typing import Any

import dkim as dkimpy
import dkim.canonicalization as _canon
import dkim.crypto as _crypto

_original = {
    "compress_whitespace": _canon.compress_whitespace,
    "strip_trailing_whitespace": _canon.strip_trailing_whitespace,
    "int2str": _crypto.int2str,
    "str2int": _crypto.str2int,
    "rfc822_parse": dkimpy.rfc822_parse,
}

# A run of whitespace that relaxed canonicalization changes: two or more, or a tab.
_WSP_CHANGE_RE = re.compile(rb"[\t ]{2,}|\t")
_TRAILING_WSP_RE = re.compile(rb"[\t ]+\r\n")
_BARE_LF_RE = re.compile(rb"(?<!\r)\n")
# The first empty line as dkimpy sees lines (split on \r?\n): a line end at the very
# start or right after another line end.
_EMPTY_LINE_RE = re.compile(rb"(?<![^\n])\r?\n")


def compress_whitespace(content: bytes) -> bytes:
    """Each run of spaces and tabs as one space."""
    if b"\t" not in content and b"  " not in content:
        return content
    return _WSP_CHANGE_RE.sub(b" ", content)


def strip_trailing_whitespace(content: bytes) -> bytes:
    """Spaces and tabs before each CRLF removed."""
    if b" \r\n" not in content and b"\t\r\n" not in content:
        return content
    return _TRAILING_WSP_RE.sub(b"\r\n", content)


def int2str(n: int, length: int = -1) -> bytearray:
    """n as big-endian bytes: minimal (at least one byte) or exactly `length` bytes
    (higher bytes dropped, as dkimpy's loop does)."""
    assert n >= 0
    if length < 0:
        return bytearray(n.to_bytes(max(1, (n.bit_length() + 7) // 8), "big"))
    return bytearray((n & ((1 << (8 * length)) - 1)).to_bytes(length, "big"))


def str2int(s: Any) -> int:
    return int.from_bytes(bytearray(s), "big")


def crlf_lines(data: bytes) -> bytes:
    """Every bare LF as CRLF: what joining dkimpy's \\r?\\n split with CRLF gives."""
    if data.count(b"\n") == data.count(b"\r\n"):
        return data
    return _BARE_LF_RE.sub(b"\r\n", data)


def rfc822_parse(message: bytes) -> tuple[list[list[bytes]], bytes]:
    """dkimpy.rfc822_parse: (header fields, body with CRLF line ends), splitting only
    the header section into lines."""
    m = _EMPTY_LINE_RE.search(message)
    if m is None:
        return _original["rfc822_parse"](message)  # type: ignore[no-any-return]
    headers, _ = _original["rfc822_parse"](message[: m.end()])
    return headers, crlf_lines(message[m.end() :])


class FastDKIM(dkimpy.DKIM):  # type: ignore[misc]
    """dkimpy's DKIM with the faster message split."""

    def set_message(self, message: bytes | None) -> None:
        super().set_message(None)
        if message:
            self.headers, self.body = rfc822_parse(message)


_installed = False


def install() -> None:
    """Put the faster helpers into dkimpy's modules (once)."""
    global _installed
    if _installed:
        return
    _canon.compress_whitespace = compress_whitespace
    _canon.strip_trailing_whitespace = strip_trailing_whitespace
    _crypto.int2str = int2str
    _crypto.str2int = str2int
    _installed = True
