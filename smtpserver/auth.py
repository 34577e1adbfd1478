"""SMTP AUTH (RFC 4954) on submission listeners, with mox's replies (reference §1.1.5-6).

Mechanisms come from mailcore.sasl.server; secrets from the accounts app. A failure
counts against the client (a growing pause after the 3rd, slow mode from the 3rd) and
in the failed-login limiter shared with IMAP and the web; success resets both.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from mailcore.sasl import server as sasl
from mailcore.smtp import codes
from mailcore.smtp.codes import SMTPError, reply
from moxweb import logging as moxlog
from moxweb import metrics
from smtpserver import store

if TYPE_CHECKING:
    from smtpserver.connection import SMTPConnection

log = logging.getLogger(__name__)

ALL_MECHANISMS = ("SCRAM-SHA-256-PLUS", "SCRAM-SHA-256", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-1", "CRAM-MD5", "PLAIN",
                  "LOGIN")

BAD_USER_PASS = reply(535, codes.SE_AUTH_CREDENTIALS, "bad user/pass")
BAD_CREDENTIALS = reply(535, codes.SE_AUTH_CREDENTIALS, "bad credentials")
OTHER_ROLE = reply(535, codes.SE_AUTH_CREDENTIALS, "cannot assume other role")
AUTH_ABORTED = reply(501, codes.SE_PROTO_OTHER, "authentication aborted")
NEEDS_TLS = reply(538, codes.SE_AUTH_ENCRYPTION, "authentication requires tls")
SCRAM_NOT_POSSIBLE = reply(454, codes.SE_SYSTEM_OTHER, "scram not possible")


class AuthAborted(Exception):
    pass


class AuthMixin:
    """do_AUTH and its mechanisms, mixed into SMTPConnection."""

    def served_cert_der(self: SMTPConnection) -> bytes | None:
        """The certificate this connection got: with SNI the handshake may have switched
        to another context, which then carries `cert_der` (autotls); else the listener's."""
        if not self.tls_active or self.transport is None:
            return None
        obj = self.transport.get_extra_info("ssl_object")
        der = getattr(getattr(obj, "context", None), "cert_der", None)
        return der if isinstance(der, bytes) else self.config.cert_der

    def channel_binding(self: SMTPConnection) -> bytes | None:
        """RFC 5929 section 4 tls-server-end-point data, when TLS is active."""
        der = self.served_cert_der()
        return None if der is None else sasl.tls_server_end_point(der)

    def auth_mechanisms(self: SMTPConnection) -> list[str]:
        """Advertised in the order of issue [2/9]; PLAIN and LOGIN only where the
        password may travel (TLS, or localserve), -PLUS only when we can bind."""
        plus = self.served_cert_der() is not None
        plain_ok = self.tls_active or not self.config.require_tls
        out = []
        for mech in ALL_MECHANISMS:
            if mech.endswith("-PLUS") and not plus:
                continue
            if mech in ("PLAIN", "LOGIN") and not plain_ok:
                continue
            out.append(mech)
        return out

    async def sasl_read(self: SMTPConnection, challenge: bytes) -> bytes:
        """Send a 334 challenge, read one response line (RFC 4954 section 4)."""
        await self.write(b"334 " + sasl.b64encode(challenge).encode("ascii") + b"\r\n")
        line = (await self.read_line()).rstrip(b"\r\n")
        if line == b"*":
            raise AuthAborted()
        return sasl.b64decode(line)

    async def do_AUTH(self: SMTPConnection, arg: str) -> None:
        self.need_ehlo()
        if not self.config.submission:
            raise SMTPError(reply(503, codes.SE_PROTO_CMD, "authentication only allowed on submission ports"))
        if self.account is not None:
            raise SMTPError(reply(503, codes.SE_PROTO_CMD, "already authenticated"))
        if self.tx is not None:
            raise SMTPError(reply(503, codes.SE_PROTO_CMD, "authentication not allowed during mail transaction"))
        parts = arg.split(" ")
        if not parts[0] or len(parts) > 2:
            raise SMTPError(reply(501, codes.SE_PROTO_SYNTAX, "bad syntax: AUTH mechanism [initial-response]"))
        mech = parts[0].upper()
        if mech not in ALL_MECHANISMS or (mech.endswith("-PLUS") and self.channel_binding() is None):
            raise SMTPError(reply(504, codes.SE_PROTO_PARAMS, f"mechanism {mech} not supported"))
        # mox §1.1.6: pause before handling more attempts after 3 failures.
        if self.auth_failed > 3 and self.config.auth_fail_delay:
            await self.config.sleep((self.auth_failed - 3) * self.config.auth_fail_delay)
        self.auth_failed += 1
        await self._auth(mech, parts)

    async def _auth(self: SMTPConnection, mech: str, parts: list[str]) -> None:
        initial: bytes | None = None
        try:
            if len(parts) == 2:
                initial = sasl.b64decode(parts[1])
            if mech in ("PLAIN", "LOGIN"):
                account = await self._auth_password(mech, initial)
            elif mech == "CRAM-MD5":
                account = await self._auth_cram_md5(initial)
            else:
                account = await self._auth_scram(mech, initial)
        except AuthAborted:
            await self._auth_failure("", AUTH_ABORTED)
            return
        except sasl.SASLError as exc:
            await self._auth_failure("", reply(501, codes.SE_PROTO_SYNTAX, f"bad syntax: {exc}"))
            return
        except SMTPError as err:
            await self._auth_failure(self.username, err.reply)
            return
        self.account = account
        moxlog.bind(account=account.name)
        self.auth_failed = 0
        self.slow = False
        self.config.limiters.auth_failures.reset(self.remote_ip)
        log.info("authenticated", extra={"cid": self.cid, "account": account.name, "mechanism": mech})
        await self.write(codes.AUTH_OK)

    async def _auth_failure(self: SMTPConnection, username: str, response: codes.Reply) -> None:
        self.config.limiters.auth_failures.add(self.remote_ip)
        metrics.AUTH_FAILURES.labels("smtp").inc()
        if self.auth_failed >= 3:
            self.slow = True
        log.info("failed authentication attempt",
                 extra={"cid": self.cid, "username": username, "remote_ip": self.remote_ip})
        await self.write(response)

    async def _auth_password(self: SMTPConnection, mech: str, initial: bytes | None) -> Any:
        if self.config.require_tls and not self.tls_active:
            raise SMTPError(NEEDS_TLS)
        if mech == "PLAIN":
            data = initial if initial is not None else await self.sasl_read(b"")
            authz, authc, password = sasl.parse_plain(data)
            self.username = authc
            if authz and authz != authc:
                raise SMTPError(OTHER_ROLE)
        else:
            # draft-murchison-sasl-login: the challenges are "Username:" and "Password:".
            user = initial if initial is not None else await self.sasl_read(b"Username:")
            authc = sasl.decode_utf8(user)
            self.username = authc
            password = sasl.decode_utf8(await self.sasl_read(b"Password:"))
        account = await self.db(store.authenticate, authc, password)
        if account is None:
            raise SMTPError(BAD_USER_PASS)
        return account

    async def _auth_cram_md5(self: SMTPConnection, initial: bytes | None) -> Any:
        if initial is not None:
            raise sasl.SASLError("CRAM-MD5 has no initial response")
        challenge = sasl.cram_md5_challenge(self.config.hostname)
        user, digest = sasl.parse_cram_md5(await self.sasl_read(challenge))
        self.username = user
        found = await self.db(store.cram_md5_states, user)
        if found is None:
            raise SMTPError(BAD_USER_PASS)
        account, ipad, opad = found
        try:
            sasl.verify_cram_md5(ipad, opad, challenge, digest)
        except sasl.AuthFailed:
            raise SMTPError(BAD_USER_PASS) from None
        return account

    async def _auth_scram(self: SMTPConnection, mech: str, initial: bytes | None) -> Any:
        exchange = sasl.ScramExchange(mech, self.channel_binding())
        first = initial if initial is not None else await self.sasl_read(b"")
        try:
            username = exchange.client_first(first)
        except sasl.AuthFailed:
            raise SMTPError(OTHER_ROLE) from None
        self.username = username
        found = await self.db(store.scram_secret, username, mech)
        if found is None:
            raise SMTPError(SCRAM_NOT_POSSIBLE)
        account, secret = found
        final = await self.sasl_read(exchange.server_first(secret))
        try:
            server_final = exchange.client_final(final)
        except sasl.AuthFailed:
            raise SMTPError(BAD_CREDENTIALS) from None
        # RFC 4954 section 4: data with success goes in a last 334, answered empty.
        if await self.sasl_read(server_final) != b"":
            raise sasl.SASLError("expected an empty response")
        return account
