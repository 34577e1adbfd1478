"""Server side of the SASL mechanisms, without I/O or storage; SMTP and IMAP share it.

- PLAIN: RFC 4616. LOGIN: draft-murchison-sasl-login (username, then password).
- CRAM-MD5: RFC 2195, verified from the stored HMAC-MD5 pad states (md5state.py).
- SCRAM-SHA-1, SCRAM-SHA-256 and their -PLUS variants: RFC 5802, RFC 7677, with the
  tls-server-end-point channel binding of RFC 5929 section 4 (scramp does the maths).
"""
from __future__ import annotations

import base64
import binascii
import hmac
import os
import time

from mailcore.sasl.md5state import cram_md5_digest
from mailcore.sasl.secrets import ScramSecret

SCRAM_MECHANISMS = ("SCRAM-SHA-256-PLUS", "SCRAM-SHA-256", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-1")


class SASLError(Exception):
    """Malformed exchange (a protocol error, not wrong credentials)."""


class AuthFailed(Exception):
    """Credentials did not verify."""


def b64decode(data: bytes | str) -> bytes:
    """Strict base64 of a client response; "=" alone is the empty response (RFC 4954)."""
    if isinstance(data, str):
        data = data.encode("ascii", "replace")
    if data == b"=":
        return b""
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise SASLError("invalid base64") from None


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def parse_plain(data: bytes) -> tuple[str, str, str]:
    """RFC 4616 section 2: [authzid] NUL authcid NUL passwd, all UTF-8."""
    parts = data.split(b"\x00")
    if len(parts) != 3:
        raise SASLError("PLAIN needs authzid, authcid and password separated by NUL")
    try:
        authz, authc, password = (p.decode("utf-8") for p in parts)
    except UnicodeDecodeError:
        raise SASLError("PLAIN response is not utf-8") from None
    if not authc:
        raise SASLError("empty username")
    return authz, authc, password


def decode_utf8(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise SASLError("response is not utf-8") from None


def cram_md5_challenge(hostname: str) -> bytes:
    """RFC 2195 section 2: a unique msg-id-like challenge, `<random.time@hostname>`."""
    return f"<{int.from_bytes(os.urandom(8), 'big')}.{time.time_ns()}@{hostname}>".encode("ascii", "replace")


def parse_cram_md5(data: bytes) -> tuple[str, str]:
    """RFC 2195 section 2: "username SP digest" with a 32 lower-case hex digest."""
    text = decode_utf8(data)
    user, sep, digest = text.rpartition(" ")
    if not sep or not user or len(digest) != 32 or any(c not in "0123456789abcdef" for c in digest):
        raise SASLError("CRAM-MD5 response must be username and hex digest")
    return user, digest


def verify_cram_md5(ipad: bytes, opad: bytes, challenge: bytes, digest: str) -> None:
    expected = cram_md5_digest(ipad, opad, challenge)
    if not hmac.compare_digest(expected, digest):
        raise AuthFailed("bad digest")


def _scram_unescape(name: str) -> str:
    # RFC 5802 section 5.1: "=2C" is ",", "=3D" is "=", any other "=" is invalid.
    out = []
    i = 0
    while i < len(name):
        if name[i] == "=":
            code = name[i + 1 : i + 3]
            if code == "2C":
                out.append(",")
            elif code == "3D":
                out.append("=")
            else:
                raise SASLError("invalid escape in SCRAM username")
            i += 3
        else:
            out.append(name[i])
            i += 1
    return "".join(out)


class ScramExchange:
    """One SCRAM server exchange. Call `client_first` to learn the username, look up
    its secret, then `server_first(secret)`, then `client_final(...)` which returns the
    server-final message or raises AuthFailed. `cb_data` is the tls-server-end-point
    hash of our certificate when TLS is active (required for -PLUS)."""

    def __init__(self, mechanism: str, cb_data: bytes | None) -> None:
        if mechanism not in SCRAM_MECHANISMS:
            raise SASLError(f"unknown mechanism {mechanism}")
        if mechanism.endswith("-PLUS") and cb_data is None:
            raise SASLError("channel binding needs tls")
        self.mechanism = mechanism
        self.cb_data = cb_data
        self.username = ""
        self._client_first = ""
        self._server = None

    def client_first(self, data: bytes) -> str:
        text = decode_utf8(data)
        parts = text.split(",")
        if len(parts) < 4:
            raise SASLError("malformed client-first message")
        authz = parts[1]
        if not parts[2].startswith("n="):
            raise SASLError("client-first message lacks username")
        self.username = _scram_unescape(parts[2][2:])
        if authz:
            if not authz.startswith("a=") or _scram_unescape(authz[2:]) != self.username:
                # mox: an authorization identity other than the authentication one is refused.
                raise AuthFailed("cannot assume other role")
        self._client_first = text
        return self.username

    def server_first(self, secret: ScramSecret) -> bytes:
        from scramp import ScramMechanism
        from scramp.core import ScramException

        mech = self.mechanism.removesuffix("-PLUS")
        cb = ("tls-server-end-point", self.cb_data) if self.cb_data is not None else None
        try:
            server = ScramMechanism(self.mechanism if self.mechanism.endswith("-PLUS") else mech).make_server(
                lambda _username: (secret.salt, secret.stored_key, secret.server_key, secret.iterations),
                channel_binding=cb,
            )
            # scramp refuses any authzid in the gs2 header, but clients built on Cyrus
            # SASL (mbsync, mutt) send "a=<username>". client_first() checked it names the
            # user; scramp gets the header without it and, for the c= check of the final
            # message, the header as the client sent it.
            header, _, bare = self._client_first.partition(",")
            authz, _, bare = bare.partition(",")
            server.set_client_first(f"{header},,{bare}")
            if authz:
                server.gs2_header = _Gs2AsSent(server.gs2_header, f"{header},{authz},".encode())
            first = server.get_server_first()
        except ScramException as exc:
            raise SASLError(str(exc)) from None
        self._server = server
        return first.encode("utf-8")

    def client_final(self, data: bytes) -> bytes:
        from scramp.core import ScramException

        assert self._server is not None
        try:
            self._server.set_client_final(decode_utf8(data))
        except ScramException as exc:
            raise AuthFailed(str(exc)) from None
        return self._server.get_server_final().encode("utf-8")


class _Gs2AsSent:
    """scramp's parsed gs2 header, but with the client's own bytes (authzid included)
    as the start of the channel-binding input (RFC 5802 section 7, cbind-input)."""

    def __init__(self, parsed: object, raw: bytes) -> None:
        self.parsed = parsed
        self.raw = raw

    def make_cbind_input(self, cb: object) -> bytes:
        data: bytes = self.parsed.make_cbind_input(cb)  # type: ignore[attr-defined]
        return self.raw + data[len(bytes(self.parsed)):]  # type: ignore[call-overload]


def tls_server_end_point(cert_der: bytes) -> bytes:
    """RFC 5929 section 4.1: hash of our certificate with its signature hash (SHA-256
    for MD5 and SHA-1)."""
    from scramp.core import CBindData

    return CBindData.from_der(cert_der).data
