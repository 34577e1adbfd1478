"""One SMTP transaction to one peer, with aiosmtplib: connect (directly or through a
SOCKS5 proxy), EHLO, STARTTLS by policy, AUTH, MAIL/RCPT/DATA with the extensions
the message needs. Returns the outcome; it never touches the database.

TLS modes (mox smtpclient): `none`; `opportunistic` (STARTTLS when offered, the
certificate not verified, RFC 3207 section 4.1 and RFC 7435); `strict` (STARTTLS
required and the certificate verified, as MTA-STS enforce, RFC 8461 section 5, or a
submission relay demand); `immediate` (implicit TLS, RFC 8314 section 3.3); `dane`
(STARTTLS required, the certificate checked against TLSA records, RFC 7672 section
2.2 and 3).
"""
from __future__ import annotations

import base64
import logging
import socket
import ssl
from dataclasses import dataclass, field
from enum import StrEnum

import aiosmtplib
from django.conf import settings

from mailcore.dane import TLSARecord, verify_chain
from mailcore.dns import TLSA
from mailcore.smtpclient import choose_mechanism, xtext_encode

log = logging.getLogger(__name__)


class TLSMode(StrEnum):
    none = "none"
    opportunistic = "opportunistic"
    strict = "strict"
    immediate = "immediate"
    dane = "dane"


@dataclass
class Envelope:
    mail_from: str  # "<a@b>" or "<>"
    rcpt_to: str  # "<c@d>"
    data: bytes
    has_8bit: bool = False
    smtputf8: bool = False
    requiretls: bool = False
    dsn_ret: str = ""
    dsn_envid: str = ""
    dsn_notify: list[str] = field(default_factory=list)
    dsn_orcpt: str = ""
    extra_rcpts: list[str] = field(default_factory=list)  # more "<c@d>" (sendmail)


@dataclass
class Auth:
    username: str
    password: str
    mechanisms: list[str] = field(default_factory=list)


@dataclass
class Outcome:
    ok: bool
    permanent: bool = False
    code: int = 0
    text: str = ""  # for last_error: "RCPT TO: 550 5.1.1 no such user", or our own error
    reply: str = ""  # the remote's reply as given, "550 5.1.1 no such user"
    status: str = ""  # enhanced status code when we know better than the reply (RFC 3463)
    tls_failed: bool = False  # the TLS handshake or verification failed
    remote_dsn: bool = False  # the peer took over DSN duty (RFC 3461 section 5.2)


def reply_text(code: int, message: str) -> str:
    return f"{code} {' '.join(message.split())}".strip()


def verified_context() -> ssl.SSLContext:
    """PKIX verification with the system's CAs and configured extra ones
    (setting MOX_QUEUE_CA_FILE, for private relays and tests)."""
    ctx = ssl.create_default_context()
    ca = getattr(settings, "MOX_QUEUE_CA_FILE", "")
    if ca:
        ctx.load_verify_locations(cafile=ca)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def unverified_context() -> ssl.SSLContext:
    """Opportunistic TLS and DANE (which checks the certificate itself)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


async def socks_connect(proxy: str, ip: str, port: int, timeout: float) -> socket.socket:
    """A connected socket to ip:port through the SOCKS5 proxy at `proxy` (host:port)."""
    from python_socks.async_.asyncio import Proxy

    p = Proxy.from_url(f"socks5://{proxy}")
    sock: socket.socket = await p.connect(dest_host=ip, dest_port=port, timeout=timeout)
    return sock


def _peer_chain(client: aiosmtplib.SMTP) -> list[bytes]:
    """DER certificates the peer sent, leaf first. Python 3.11 has the full chain only
    through the private `_sslobj` (public as get_unverified_chain() in 3.13)."""
    transport = client.transport
    sslobj = transport.get_extra_info("ssl_object") if transport else None
    if sslobj is None:
        return []
    getter = getattr(sslobj, "get_unverified_chain", None) or getattr(getattr(sslobj, "_sslobj", None), "get_unverified_chain", None)
    if getter is not None:
        try:
            chain = getter()
            return [c.public_bytes(ssl._ssl.ENCODING_DER) if not isinstance(c, bytes) else c for c in chain or []]  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001 - fall back to the leaf
            pass
    leaf = sslobj.getpeercert(binary_form=True)
    return [leaf] if leaf else []


class _Fail(Exception):
    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.text)
        self.outcome = outcome


def _reply_outcome(stage: str, code: int, message: str) -> Outcome:
    reply = reply_text(code, message)
    return Outcome(False, permanent=code >= 500, code=code, text=f"{stage}: {reply}", reply=reply)


async def _auth(client: aiosmtplib.SMTP, auth: Auth, tls: bool) -> None:
    offered = [m.upper() for m in client.server_auth_methods]
    mech = choose_mechanism(offered, auth.mechanisms, tls=tls)
    if mech is None:
        raise _Fail(Outcome(False, text=f"no usable authentication mechanism (server offers {' '.join(offered) or 'none'})"))
    try:
        if mech == "PLAIN":
            await client.auth_plain(auth.username, auth.password)
        elif mech == "CRAM-MD5":
            await client.auth_crammd5(auth.username, auth.password)
        else:
            await _auth_scram(client, mech, auth)
    except aiosmtplib.SMTPAuthenticationError as e:
        # Our credentials are wrong, not the message: retry (as Postfix defers) so
        # fixing the transport's configuration lets the queue drain.
        out = _reply_outcome(f"auth {mech}", e.code, e.message)
        out.permanent = False
        raise _Fail(out) from e


async def _auth_scram(client: aiosmtplib.SMTP, mech: str, auth: Auth) -> None:
    """RFC 5802 section 5 over SMTP AUTH (RFC 4954 section 4), with scramp."""
    from scramp import ScramClient

    sc = ScramClient([mech], auth.username, auth.password)
    first = base64.b64encode(sc.get_client_first().encode()).decode()
    r = await client.execute_command(b"AUTH", mech.encode(), first.encode())
    if r.code != 334:
        raise aiosmtplib.SMTPAuthenticationError(r.code, r.message)
    sc.set_server_first(base64.b64decode(r.message).decode())
    final = base64.b64encode(sc.get_client_final().encode()).decode()
    r = await client.execute_command(final.encode())
    if r.code == 334:
        sc.set_server_final(base64.b64decode(r.message).decode())
        r = await client.execute_command(b"")
    if r.code != 235:
        raise aiosmtplib.SMTPAuthenticationError(r.code, r.message)


async def smtp_transaction(
    *,
    host: str,
    connect_host: str,
    port: int,
    tls_mode: TLSMode,
    env: Envelope,
    ehlo_name: str,
    auth: Auth | None = None,
    tlsa: list[TLSA] | None = None,
    sock: socket.socket | None = None,
    timeout: float = 300,
    verify: bool = True,
    source_ip: str | None = None,
) -> Outcome:
    """Deliver `env` in one SMTP session. `host` is the name the certificate must
    match (and the TLSA base name); `connect_host` the IP or name dialed."""
    implicit = tls_mode == TLSMode.immediate
    client = aiosmtplib.SMTP(
        hostname=host if implicit or sock is not None else connect_host,
        port=port if sock is None else None,
        local_hostname=ehlo_name,
        source_address=(source_ip, 0) if source_ip and sock is None else None,
        timeout=timeout,
        use_tls=implicit,
        start_tls=False,
        tls_context=(verified_context() if verify else unverified_context()) if implicit else None,
        sock=sock,
    )
    try:
        try:
            await client.connect()
        except ssl.SSLError as e:
            return Outcome(False, text=f"tls: {e}", tls_failed=True)
        except aiosmtplib.SMTPConnectResponseError as e:
            return _reply_outcome("connect", e.code, e.message)
        except (aiosmtplib.SMTPException, OSError) as e:
            if isinstance(e.__cause__, ssl.SSLError) or "SSL" in str(e) or "certificate" in str(e):
                return Outcome(False, text=f"tls: {e}", tls_failed=True)
            return Outcome(False, text=f"connect: {e}")
        return await _session(client, host, tls_mode, env, auth, tlsa)
    except _Fail as f:
        return f.outcome
    except aiosmtplib.SMTPServerDisconnected as e:
        return Outcome(False, text=f"connection closed: {e}")
    except aiosmtplib.SMTPTimeoutError as e:
        return Outcome(False, text=f"timeout: {e}")
    except aiosmtplib.SMTPResponseException as e:
        return _reply_outcome("smtp", e.code, e.message)
    except (aiosmtplib.SMTPException, OSError) as e:
        return Outcome(False, text=f"{type(e).__name__}: {e}")
    finally:
        if client.is_connected:
            try:
                await client.quit(timeout=10)
            except Exception:  # noqa: BLE001 - the outcome is known; QUIT is courtesy
                client.close()


async def _ehlo(client: aiosmtplib.SMTP) -> None:
    try:
        await client.ehlo()
    except aiosmtplib.SMTPHeloError as e:
        if e.code >= 500:
            await client.helo()
        else:
            raise _Fail(_reply_outcome("ehlo", e.code, e.message)) from e


async def _session(
    client: aiosmtplib.SMTP, host: str, tls_mode: TLSMode, env: Envelope, auth: Auth | None, tlsa: list[TLSA] | None
) -> Outcome:
    await _ehlo(client)
    tls = tls_mode == TLSMode.immediate
    if tls_mode in (TLSMode.opportunistic, TLSMode.strict, TLSMode.dane):
        if not client.supports_extension("starttls"):
            if tls_mode != TLSMode.opportunistic:
                return Outcome(False, text="remote does not offer STARTTLS but TLS is required", tls_failed=True)
        else:
            ctx = verified_context() if tls_mode == TLSMode.strict else unverified_context()
            try:
                await client.starttls(server_hostname=host, tls_context=ctx)
            except aiosmtplib.SMTPResponseException as e:
                out = _reply_outcome("starttls", e.code, e.message)
                out.tls_failed = True
                return out
            except (ssl.SSLError, aiosmtplib.SMTPException, OSError) as e:
                return Outcome(False, text=f"tls: {e}", tls_failed=True)
            if tls_mode == TLSMode.dane:
                ok, why = verify_chain([TLSARecord(t.usage, t.selector, t.matching_type, t.data) for t in tlsa or []], _peer_chain(client), host)
                if not ok:
                    return Outcome(False, text=f"dane: {why}", tls_failed=True)
            tls = True
            await _ehlo(client)  # RFC 3207 section 4.2: forget what was learned before TLS
    if auth is not None:
        await _auth(client, auth, tls)
    return await _mail(client, env, tls)


async def _mail(client: aiosmtplib.SMTP, env: Envelope, tls: bool) -> Outcome:
    size = len(env.data)
    mail_params: list[bytes] = []
    if client.supports_extension("size"):
        limit = client.esmtp_extensions.get("size", "")
        if limit.isdigit() and int(limit) > 0 and size > int(limit):
            # RFC 1870 section 6.1: a permanent failure, the message will not shrink.
            return Outcome(
                False, permanent=True, status="5.3.4", text=f"message of {size} bytes exceeds remote limit of {limit} bytes"
            )
        mail_params.append(f"SIZE={size}".encode())
    if env.has_8bit:
        if not client.supports_extension("8bitmime"):
            return Outcome(False, status="4.6.3", text="message has 8-bit content but remote does not support 8BITMIME")
        mail_params.append(b"BODY=8BITMIME")
    if env.smtputf8:
        if not client.supports_extension("smtputf8"):
            # RFC 6531 section 3.7.4.2 status X.6.7.
            return Outcome(False, status="4.6.7", text="message needs SMTPUTF8 but remote does not support it")
        mail_params.append(b"SMTPUTF8")
    if env.requiretls:
        # RFC 8689 section 4.2.1: without REQUIRETLS at the next hop the message must
        # not be relayed; it is returned as undeliverable.
        if not tls or not client.supports_extension("requiretls"):
            return Outcome(False, permanent=True, status="5.7.10", text="REQUIRETLS not supported by remote")
        mail_params.append(b"REQUIRETLS")
    remote_dsn = client.supports_extension("dsn")
    rcpt_params: list[bytes] = []
    if remote_dsn:
        # RFC 3461 section 4: pass the DSN requests on, the peer reports from now.
        if env.dsn_ret:
            mail_params.append(f"RET={env.dsn_ret}".encode())
        if env.dsn_envid:
            mail_params.append(f"ENVID={xtext_encode(env.dsn_envid)}".encode())
        if env.dsn_notify:
            rcpt_params.append(("NOTIFY=" + ",".join(env.dsn_notify)).encode())
        if env.dsn_orcpt:
            kind, _, addr = env.dsn_orcpt.partition(";")
            if addr:
                rcpt_params.append(f"ORCPT={kind.strip()};{xtext_encode(addr.strip())}".encode())
    r = await client.execute_command(b"MAIL", b"FROM:" + env.mail_from.encode("utf-8"), *mail_params)
    if r.code != 250:
        return _reply_outcome("MAIL FROM", r.code, r.message)
    for rcpt in [env.rcpt_to, *env.extra_rcpts]:
        r = await client.execute_command(b"RCPT", b"TO:" + rcpt.encode("utf-8"), *rcpt_params)
        if r.code not in (250, 251):
            await client.execute_command(b"RSET")
            out = _reply_outcome("RCPT TO", r.code, r.message)
            if env.extra_rcpts:
                out.text = f"RCPT TO {rcpt}: {out.reply}"
            return out
    try:
        r = await client.data(env.data)
    except aiosmtplib.SMTPDataError as e:
        return _reply_outcome("DATA", e.code, e.message)
    reply = reply_text(r.code, r.message)
    return Outcome(True, code=r.code, text=reply, reply=reply, remote_dsn=remote_dsn)
