"""SCRAM-SHA-1/256 for aiosmtpd test sinks (RFC 5802 over RFC 4954), with scramp."""
from __future__ import annotations

import base64
from typing import Any

from aiosmtpd.smtp import MISSING, SMTP, AuthResult
from scramp import ScramException, ScramMechanism


def add_scram(handler: Any, users: dict[str, str]) -> None:
    for mech in ("SCRAM-SHA-1", "SCRAM-SHA-256"):
        setattr(handler, "auth_" + mech.replace("-", "__"), _make(mech, users))


def _make(mech: str, users: dict[str, str]):  # type: ignore[no-untyped-def]
    m = ScramMechanism(mech)
    infos = {u: m.make_auth_info(p) for u, p in users.items()}

    async def auth(server: SMTP, args: list[str]) -> AuthResult:
        if len(args) < 2:
            first = await server.challenge_auth(b"")
            if first is MISSING:
                return AuthResult(success=False, handled=True)
        else:
            first = base64.b64decode(args[1])
        seen: list[str] = []

        def lookup(username: str) -> Any:
            seen.append(username)
            return infos[username]

        s = m.make_server(lookup)
        try:
            s.set_client_first(first.decode())
            final = await server.challenge_auth(s.get_server_first().encode())
            if final is MISSING:
                return AuthResult(success=False, handled=True)
            s.set_client_final(final.decode())
        except (ScramException, KeyError):
            return AuthResult(success=False, handled=False)
        done = await server.challenge_auth(s.get_server_final().encode())
        if done is MISSING:
            return AuthResult(success=False, handled=True)
        return AuthResult(success=True, auth_data=f"{mech}:{seen[0]}")

    return auth


def add_cram_md5(handler: Any, users: dict[str, str]) -> None:
    """RFC 2195 CRAM-MD5 for an aiosmtpd handler."""
    import hashlib
    import hmac

    async def auth(server: SMTP, args: list[str]) -> AuthResult:
        challenge = b"<1896.697170952@sink.example>"
        resp = await server.challenge_auth(challenge)
        if resp is MISSING:
            return AuthResult(success=False, handled=True)
        user, _, digest = resp.decode().rpartition(" ")
        password = users.get(user)
        if password is None or not hmac.compare_digest(hmac.new(password.encode(), challenge, hashlib.md5).hexdigest(), digest):
            return AuthResult(success=False, handled=False)
        return AuthResult(success=True, auth_data=f"CRAM-MD5:{user}")

    handler.auth_CRAM__MD5 = auth
