"""LOGIN, AUTHENTICATE (RFC 9051 6.2.2, RFC 4959 SASL-IR; PLAIN RFC 4616, CRAM-MD5
RFC 2195, SCRAM-SHA-1/256 RFC 5802/7677) and STARTTLS (RFC 9051 6.2.1)."""
from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import secrets
import time
from typing import TYPE_CHECKING, Any

from imapserver.errors import CloseConnection, bad, no
from mailcore.imap.command import Command
from moxweb import metrics

if TYPE_CHECKING:
    from imapserver.session import Session


def _password_login(username: str, password: str) -> Any:
    from accounts.actions import authenticate

    return authenticate(username, password)


def _cram_md5_login(username: str, challenge: bytes, digest: str) -> Any:
    from accounts.actions import account_for_login
    from accounts.models import Credential
    from mailcore.sasl.md5state import cram_md5_digest

    account = account_for_login(username)
    cred = Credential.objects.filter(account=account).first() if account else None
    if cred is None:
        return None
    expected = cram_md5_digest(bytes(cred.cram_md5_ipad), bytes(cred.cram_md5_opad), challenge)
    return account if hmac.compare_digest(expected, digest.lower()) else None


class _ScramLookup:
    """scramp's auth_fn: the stored SCRAM keys of the account logging in."""

    def __init__(self, hash_name: str) -> None:
        self.hash_name = hash_name
        self.account: Any = None

    def __call__(self, username: str) -> tuple[bytes, bytes, bytes, int]:
        from accounts.actions import account_for_login
        from accounts.models import Credential

        account = account_for_login(username)
        cred = Credential.objects.filter(account=account).first() if account else None
        if cred is None:
            raise KeyError("unknown user")
        self.account = account
        p = "scram_sha1_" if self.hash_name == "SHA-1" else "scram_sha256_"
        return (bytes(getattr(cred, p + "salt")), bytes(getattr(cred, p + "stored_key")),
                bytes(getattr(cred, p + "server_key")), getattr(cred, p + "iterations"))


class AuthCommands:
    async def _login_failed(self: Session) -> None:
        # mox: after 3 failures, sleep one more second per failure.
        self.auth_failures += 1
        metrics.AUTH_FAILURES.labels("imap").inc()
        if self.auth_limiter is not None and self.remote:
            self.auth_limiter.add(self.remote)
        if self.auth_failures > 3:
            await asyncio.sleep(min(self.auth_failures - 3, 15))

    def _plaintext_allowed(self: Session) -> bool:
        return self.tls_active or self.localserve

    async def do_login(self: Session, cmd: Command) -> None:
        if not self._plaintext_allowed():
            raise no("tls required for login", "PRIVACYREQUIRED")
        account = await self.db(_password_login, cmd.args["username"], cmd.args["password"])
        if account is None:
            await self._login_failed()
            raise no("invalid credentials", "AUTHENTICATIONFAILED")
        self.username = cmd.args["username"]
        await self.logged_in(account)
        self.write(f"{cmd.tag} OK [CAPABILITY {self.capabilities()}] login done")

    async def _sasl_read(self: Session) -> bytes:
        line = await self.io.readline()
        if line == b"*":
            raise bad("authenticate aborted by client")
        try:
            return base64.b64decode(line, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise bad("invalid base64") from exc

    async def _sasl_send(self: Session, data: bytes) -> bytes:
        self.write(b"+ " + base64.b64encode(data))
        await self.io.flush()
        return await self._sasl_read()

    async def do_authenticate(self: Session, cmd: Command) -> None:
        mech = cmd.args["mechanism"]
        initial = cmd.args["initial"]
        first: bytes | None = None
        if initial is not None:
            if initial == "=":
                first = b""
            else:
                try:
                    first = base64.b64decode(initial, validate=True)
                except (binascii.Error, ValueError) as exc:
                    raise bad("invalid base64") from exc
        account: Any = None
        if mech == "PLAIN":
            if not self._plaintext_allowed():
                raise no("tls required for login", "PRIVACYREQUIRED")
            data = first if first is not None else await self._sasl_send(b"")
            parts = data.split(b"\x00")
            if len(parts) != 3:
                raise bad("malformed plain response")
            authz, authc, password = (p.decode("utf-8", "replace") for p in parts)
            if authz and authz != authc:
                raise no("cannot assume other role", "AUTHORIZATIONFAILED")
            account = await self.db(_password_login, authc, password)
            self.username = authc
        elif mech == "CRAM-MD5":
            if first:
                raise bad("cram-md5 has no initial response")
            challenge = f"<{secrets.randbelow(2**63)}.{int(time.time())}@moxweb>".encode()
            data = await self._sasl_send(challenge)
            user, _, digest = data.decode("utf-8", "replace").rpartition(" ")
            account = await self.db(_cram_md5_login, user, challenge, digest)
            self.username = user
        elif mech in ("SCRAM-SHA-1", "SCRAM-SHA-256"):
            account = await self._scram(mech, first)
        else:
            raise no("unsupported authentication mechanism", "CANNOT")
        if account is None:
            await self._login_failed()
            raise no("invalid credentials", "AUTHENTICATIONFAILED")
        await self.logged_in(account)
        self.write(f"{cmd.tag} OK [CAPABILITY {self.capabilities()}] authenticate done")

    async def _scram(self: Session, mech: str, first: bytes | None) -> Any:
        from scramp import ScramException, ScramMechanism

        lookup = _ScramLookup(mech[len("SCRAM-"):])
        server = ScramMechanism(mech).make_server(lookup)
        try:
            client_first = first if first is not None else await self._sasl_send(b"")
            await self.db(server.set_client_first, client_first.decode("utf-8"))
            client_final = await self._sasl_send(server.get_server_first().encode())
            server.set_client_final(client_final.decode("utf-8"))
            await self._sasl_send(server.get_server_final().encode())
        except (ScramException, KeyError, UnicodeDecodeError):
            return None
        return lookup.account

    async def do_starttls(self: Session, cmd: Command) -> None:
        if self.tls_active or not self.starttls_available:
            raise no("tls not available" if not self.tls_active else "tls already active")
        self.write(f"{cmd.tag} OK STARTTLS done")
        await self.io.flush()
        try:
            await self.io.starttls()
        except Exception as exc:  # noqa: BLE001 - a failed handshake ends the connection
            raise CloseConnection() from exc
        self.tls_active = True
