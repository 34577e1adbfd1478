"""A reader of IMAP response data for oracle tests: raw responses off a socket (literals
included) and their parenthesized data as nested Python lists (RFC 9051 section 4)."""
from __future__ import annotations

import re
import socket
from typing import Any

_LITERAL = re.compile(rb"\{(\d+)\}\r\n\Z")
# An atom; a fetch item name with a section keeps its brackets whole, spaces and
# parentheses included: BODY[HEADER.FIELDS (From Subject)]<0>.
_ATOM = re.compile(rb"[^ ()\[]+\[[^\]]*\](<\d+>)?|[^ ()]+")


class Wire:
    """A blocking client that returns whole responses, literals inline."""

    def __init__(self, host: str, port: int) -> None:
        self.sock = socket.create_connection((host, port), timeout=20)
        self.file = self.sock.makefile("rb")
        self.file.readline()  # greeting

    def command(self, tag: str, text: str) -> list[bytes]:
        self.sock.sendall(f"{tag} {text}\r\n".encode())
        out = []
        while True:
            response = self._response()
            if response.startswith(tag.encode() + b" "):
                if not response.startswith(tag.encode() + b" OK"):
                    raise AssertionError(response)
                return out
            out.append(response)

    def _response(self) -> bytes:
        buf = b""
        while True:
            line = self.file.readline()
            if not line:
                raise ConnectionError("closed")
            buf += line
            m = _LITERAL.search(line)
            if m is None:
                return buf[:-2]
            buf += self.file.read(int(m.group(1)))

    def close(self) -> None:
        self.file.close()
        self.sock.close()


def parse(data: bytes) -> list[Any]:
    """Response data as lists of str (quoted strings, literals, atoms) and None (NIL)."""
    pos = 0
    stack: list[list[Any]] = [[]]
    while pos < len(data):
        c = data[pos : pos + 1]
        if c == b" ":
            pos += 1
        elif c == b"(":
            stack.append([])
            pos += 1
        elif c == b")":
            done = stack.pop()
            stack[-1].append(done)
            pos += 1
        elif c == b'"':
            pos += 1
            out = bytearray()
            while data[pos : pos + 1] != b'"':
                if data[pos : pos + 1] == b"\\":
                    pos += 1
                out += data[pos : pos + 1]
                pos += 1
            pos += 1
            stack[-1].append(out.decode("utf-8", "replace"))
        elif c == b"{":
            end = data.index(b"}\r\n", pos)
            size = int(data[pos + 1 : end])
            start = end + 3
            stack[-1].append(data[start : start + size].decode("utf-8", "replace"))
            pos = start + size
        else:
            m = _ATOM.match(data, pos)
            assert m is not None
            word = m.group(0).decode()
            stack[-1].append(None if word.upper() == "NIL" else word)
            pos = m.end()
    return stack[0]


def fetch_items(response: bytes) -> dict[str, Any]:
    """`* n FETCH (NAME value ...)` as {NAME: value}."""
    parsed = parse(response)
    items = parsed[3]
    return {items[i].upper(): items[i + 1] for i in range(0, len(items), 2)}
