"""A small blocking IMAP client for the benchmarks: reads whole responses in large chunks
(literals included) so the client costs little beside the servers, and counts anything
but a tagged OK as a protocol error."""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import socket
import time

_LITERAL = re.compile(rb"\{(\d+)\+?\}\r\n$")


class ProtocolError(Exception):
    pass


class Wire:
    def __init__(self, host: str, port: int, source: str | None = None, timeout: float = 600) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout,
                                             source_address=(source, 0) if source else None)
        self.buf = b""
        self.pos = 0  # start of what is not read yet in buf
        self.tag = 0
        self.last = b""  # the last tagged response line
        greeting = self._line()
        if not greeting.startswith(b"* OK"):
            raise ProtocolError(f"greeting: {greeting!r}")

    def _fill(self) -> None:
        data = self.sock.recv(1 << 20)
        if not data:
            raise ProtocolError("connection closed")
        # What was read is dropped here, once per recv, not once per line: slicing the
        # rest of a megabyte buffer for every line made large answers quadratic.
        self.buf = self.buf[self.pos:] + data
        self.pos = 0

    def _line(self) -> bytes:
        """One response line, with any literals it carries (as one bytes value)."""
        out = b""
        scan = self.pos
        while True:
            end = self.buf.find(b"\r\n", scan)
            if end < 0:
                rest = max(0, len(self.buf) - 1 - self.pos)
                self._fill()
                scan = rest
                continue
            line = self.buf[self.pos: end + 2]
            self.pos = scan = end + 2
            out += line
            m = _LITERAL.search(line)
            if not m:
                return out
            size = int(m.group(1))
            while len(self.buf) - self.pos < size:
                self._fill()
            out += self.buf[self.pos: self.pos + size]
            self.pos = scan = self.pos + size

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def command(self, text: str | bytes, literal: bytes | None = None) -> list[bytes]:
        """Send one command (with an optional LITERAL+ literal appended) and return its
        untagged responses; raises ProtocolError unless the tagged response is OK."""
        self.tag += 1
        tag = b"b%d" % self.tag
        cmd = text.encode() if isinstance(text, str) else text
        if literal is not None:
            self.send(tag + b" " + cmd + b" {%d+}\r\n" % len(literal) + literal + b"\r\n")
        else:
            self.send(tag + b" " + cmd + b"\r\n")
        return self.until(tag, bye_ok=cmd.upper() == b"LOGOUT")

    def until(self, tag: bytes, bye_ok: bool = False) -> list[bytes]:
        lines = []
        while True:
            line = self._line()
            if line.startswith(tag + b" "):
                self.last = line
                if not line.startswith(tag + b" OK"):
                    raise ProtocolError(line.decode(errors="replace").strip())
                return lines
            if line.startswith(b"* BYE") and not bye_ok:
                raise ProtocolError(line.decode(errors="replace").strip())
            lines.append(line)

    def timed(self, text: str) -> tuple[float, list[bytes]]:
        start = time.monotonic()
        lines = self.command(text)
        return time.monotonic() - start, lines

    def login(self, user: str, password: str) -> None:
        self.command(f'LOGIN "{user}" "{password}"')

    def scram_login(self, user: str, password: str) -> None:
        """AUTHENTICATE SCRAM-SHA-256 (RFC 5802, RFC 7677) with an initial response (RFC 4959).
        The salted password is cached per salt and iteration count, so many connections of
        one account cost the client one PBKDF2."""
        nonce = secrets.token_urlsafe(18)
        first_bare = f"n={user},r={nonce}"
        self.tag += 1
        tag = b"b%d" % self.tag
        self.send(tag + b" AUTHENTICATE SCRAM-SHA-256 " + base64.b64encode(b"n,," + first_bare.encode()) + b"\r\n")
        server_first = self._challenge(tag).decode()
        attrs = dict(part.split("=", 1) for part in server_first.split(","))
        if not attrs["r"].startswith(nonce):
            raise ProtocolError("SCRAM: server nonce does not extend ours")
        salted = _salted(password, attrs["s"], int(attrs["i"]))
        client_key = hmac.digest(salted, b"Client Key", "sha256")
        final_bare = f"c=biws,r={attrs['r']}"
        auth_message = f"{first_bare},{server_first},{final_bare}".encode()
        signature = hmac.digest(hashlib.sha256(client_key).digest(), auth_message, "sha256")
        proof = bytes(a ^ b for a, b in zip(client_key, signature))
        final = f"{final_bare},p={base64.b64encode(proof).decode()}"
        self.send(base64.b64encode(final.encode()) + b"\r\n")
        line = self._line()
        if line.startswith(b"+"):
            self.send(b"\r\n")
            line = self._line()
        while not line.startswith(tag + b" "):
            line = self._line()
        if not line.startswith(tag + b" OK"):
            raise ProtocolError(line.decode(errors="replace").strip())

    def _challenge(self, tag: bytes) -> bytes:
        line = self._line()
        if not line.startswith(b"+"):
            raise ProtocolError(line.decode(errors="replace").strip())
        return base64.b64decode(line[1:].strip())

    def read_line(self) -> bytes:
        return self._line()

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


_SALTED: dict[tuple[str, str, int], bytes] = {}


def _salted(password: str, salt: str, iterations: int) -> bytes:
    key = (password, salt, iterations)
    if key not in _SALTED:
        _SALTED[key] = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(salt), iterations)
    return _SALTED[key]


def search_count(lines: list[bytes]) -> int:
    """Numbers in a SEARCH response (or ESEARCH COUNT/ALL would be needed: we use SEARCH)."""
    for line in lines:
        if line.startswith(b"* SEARCH"):
            return len(line.split()) - 2
    raise ProtocolError(f"no SEARCH response in {lines[:3]!r}")
