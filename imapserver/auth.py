"""LOGIN, AUTHENTICATE (RFC 9051 6.2.2, RFC 4959 SASL-IR) and STARTTLS (RFC 9051 6.2.1).

Mechanisms come from mailcore.sasl.server, shared with SMTP: PLAIN (RFC 4616), CRAM-MD5
(RFC 2195), SCRAM-SHA-1/256 (RFC 5802, RFC 7677) and their -PLUS variants with the
tls-server-end-point channel binding (RFC 5929 section 4), offered only over TLS. The
tls-exporter binding (RFC 9266) needs TLS keying-material export, which Python's ssl
module does not offer, so it is not available.
"""
from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from imapserver.errors import CloseConnection, bad, no
from mailcore.imap.command import Command
from mailcore.sasl import server as sasl
from mailcore.sasl.secrets import ScramSecret
from moxweb import metrics

if TYPE_CHECKING:
    from imapserver.session import Session

# Advertised in this order after the static capabilities, -PLUS only on TLS connections.
PLUS_MECHANISMS = ("SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS")

log = logging.getLogger(__name__)


def _password_login(username: str, password: str) -> Any:
    from accounts.actions import authenticate

    return authenticate(username, password)


def _credential(username: str) -> tuple[Any, Any]:
    from accounts.actions import account_for_login
    from accounts.models import Credential
    from imapserver.db import load_one

    account = account_for_login(username)
    cred = load_one(Credential, "account_id", account.pk) if account else None
    return account, cred


def _cram_md5_login(username: str, challenge: bytes, digest: str) -> Any:
    account, cred = _credential(username)
    if cred is None or not cred.cram_md5_ipad:
        return None
    try:
        sasl.verify_cram_md5(bytes(cred.cram_md5_ipad), bytes(cred.cram_md5_opad), challenge, digest)
    except sasl.AuthFailed:
        return None
    return account


def _scram_secret(username: str, mechanism: str) -> tuple[Any, ScramSecret] | None:
    """The account and its stored SCRAM keys for the mechanism's hash."""
    account, cred = _credential(username)
    if cred is None:
        return None
    p = "scram_sha256_" if mechanism.startswith("SCRAM-SHA-256") else "scram_sha1_"
    salt, stored = getattr(cred, p + "salt"), getattr(cred, p + "stored_key")
    if not salt or not stored:
        return None
    return account, ScramSecret(bytes(salt), getattr(cred, p + "iterations"), bytes(stored),
                                bytes(getattr(cred, p + "server_key")))


class AuthCommands:
    async def _login_failed(self: Session, username: str, mechanism: str) -> None:
        # mox: after 3 failures, sleep one more second per failure.
        self.auth_failures += 1
        metrics.AUTH_FAILURES.labels("imap").inc()
        # One line per failure with the user name and address, for fail2ban and the like
        # (the SMTP listener logs the same line).
        log.info("failed authentication attempt",
                 extra={"username": username, "mechanism": mechanism, "remote_ip": self.remote or ""})
        if self.auth_limiter is not None and self.remote:
            self.auth_limiter.add(self.remote)
        if self.auth_failures > 3:
            await asyncio.sleep(min(self.auth_failures - 3, 15))

    def _plaintext_allowed(self: Session) -> bool:
        return self.tls_active or self.localserve

    def channel_binding(self: Session) -> bytes | None:
        """RFC 5929 section 4 tls-server-end-point data of the certificate this
        connection was served; None without TLS (no -PLUS then)."""
        if not self.tls_active:
            return None
        der = self.io.tls_cert_der()
        return None if der is None else sasl.tls_server_end_point(der)

    def auth_capabilities(self: Session) -> str:
        return "".join(f" AUTH={m}" for m in PLUS_MECHANISMS) if self.channel_binding() is not None else ""

    async def do_login(self: Session, cmd: Command) -> None:
        if not self._plaintext_allowed():
            raise no("tls required for login", "PRIVACYREQUIRED")
        account = await self.db(_password_login, cmd.args["username"], cmd.args["password"])
        if account is None:
            await self._login_failed(cmd.args["username"], "LOGIN")
            raise no("invalid credentials", "AUTHENTICATIONFAILED")
        self.username = cmd.args["username"]
        await self.logged_in(account)
        self.write(f"{cmd.tag} OK [CAPABILITY {self.capabilities()}] login done")

    async def _sasl_read(self: Session) -> bytes:
        line = await self.io.readline()
        if line == b"*":
            raise bad("authenticate aborted by client")
        try:
            return sasl.b64decode(line)
        except sasl.SASLError as exc:
            raise bad(str(exc)) from exc

    async def _sasl_send(self: Session, data: bytes) -> bytes:
        self.write(b"+ " + sasl.b64encode(data).encode("ascii"))
        await self.io.flush()
        return await self._sasl_read()

    async def do_authenticate(self: Session, cmd: Command) -> None:
        mech = cmd.args["mechanism"]
        initial = cmd.args["initial"]
        first: bytes | None = None
        if initial is not None:
            try:
                first = sasl.b64decode(initial)
            except sasl.SASLError as exc:
                raise bad(str(exc)) from exc
        try:
            if mech == "PLAIN":
                account = await self._auth_plain(first)
            elif mech == "CRAM-MD5":
                account = await self._auth_cram_md5(first)
            elif mech in sasl.SCRAM_MECHANISMS and (not mech.endswith("-PLUS") or self.channel_binding()):
                account = await self._auth_scram(mech, first)
            else:
                raise no("unsupported authentication mechanism", "CANNOT")
        except sasl.SASLError as exc:
            raise bad(str(exc)) from exc
        if account is None:
            await self._login_failed(self.username, mech)
            raise no("invalid credentials", "AUTHENTICATIONFAILED")
        await self.logged_in(account)
        self.write(f"{cmd.tag} OK [CAPABILITY {self.capabilities()}] authenticate done")

    async def _auth_plain(self: Session, first: bytes | None) -> Any:
        if not self._plaintext_allowed():
            raise no("tls required for login", "PRIVACYREQUIRED")
        data = first if first is not None else await self._sasl_send(b"")
        authz, authc, password = sasl.parse_plain(data)
        if authz and authz != authc:
            raise no("cannot assume other role", "AUTHORIZATIONFAILED")
        self.username = authc
        return await self.db(_password_login, authc, password)

    async def _auth_cram_md5(self: Session, first: bytes | None) -> Any:
        if first:
            raise bad("cram-md5 has no initial response")
        challenge = sasl.cram_md5_challenge("moxweb")
        user, digest = sasl.parse_cram_md5(await self._sasl_send(challenge))
        self.username = user
        return await self.db(_cram_md5_login, user, challenge, digest)

    async def _auth_scram(self: Session, mech: str, first: bytes | None) -> Any:
        exchange = sasl.ScramExchange(mech, self.channel_binding())
        client_first = first if first is not None else await self._sasl_send(b"")
        try:
            username = exchange.client_first(client_first)
        except sasl.AuthFailed as exc:
            raise no("cannot assume other role", "AUTHORIZATIONFAILED") from exc
        self.username = username
        found = await self.db(_scram_secret, username, mech)
        if found is None:
            return None
        account, secret = found
        try:
            server_first = exchange.server_first(secret)
        except sasl.SASLError:
            # E.g. the gs2 flag "y" while we offer -PLUS: a downgrade (RFC 5802 section 6).
            return None
        client_final = await self._sasl_send(server_first)
        try:
            server_final = exchange.client_final(client_final)
        except sasl.AuthFailed:
            return None
        # RFC 9051 6.2.2: the server's final data in a continuation, answered empty.
        if await self._sasl_send(server_final) != b"":
            raise bad("expected an empty response")
        return account

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
