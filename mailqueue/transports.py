"""One SMTP transaction to one peer: aiosmtplib connects (directly or through a
SOCKS5 proxy), says EHLO, does STARTTLS by policy and AUTH; then `session.Session`
sends MAIL/RCPT/DATA (pipelined when offered) with the extensions the message needs,
on a new connection or one pooled from an earlier message of the same batch.
Returns the outcome, with the RFC 8460 result of the TLS handshake; it never
touches the database.

TLS modes (mox smtpclient): `none`; `opportunistic` (STARTTLS when offered, the
certificate not verified, RFC 3207 section 4.1 and RFC 7435); `strict` (STARTTLS
required and the certificate verified, as MTA-STS enforce, RFC 8461 section 5, or a
submission relay demand); `immediate` (implicit TLS, RFC 8314 section 3.3); `dane`
(STARTTLS required, the certificate checked against TLSA records, RFC 7672 section
2.2 and 3); `mandatory` (STARTTLS required, the certificate not verified: a signed
TLSA RRset with only unusable records, RFC 7672 section 2.2).
"""
from __future__ import annotations

import asyncio
import base64
import logging
import socket
import ssl
from dataclasses import dataclass, field, replace
from enum import StrEnum

import aiosmtplib
from django.conf import settings

from mailcore.dane import TLSARecord, verify_chain
from mailcore.dns import TLSA
from mailcore.smtpclient import Recipient, TransactionReplies, choose_mechanism, xtext_encode
from mailqueue.session import Pool, Session, SessionError

log = logging.getLogger(__name__)


class TLSMode(StrEnum):
    none = "none"
    opportunistic = "opportunistic"
    strict = "strict"
    immediate = "immediate"
    dane = "dane"
    mandatory = "mandatory"


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
    # A DSN's UTF-8 variant, sent instead of `data` when the next hop has SMTPUTF8.
    utf8_data: bytes | None = None
    # More queued recipients of the same message, each with its own outcome.
    group: list[GroupRecipient] = field(default_factory=list)


@dataclass
class GroupRecipient:
    """Another recipient of a queued message sent in the same transaction (mox v0.0.10),
    with its own DSN parameters (RFC 3461 section 4.1-4.2)."""

    path: str  # "<c@d>"
    notify: list[str] = field(default_factory=list)
    orcpt: str = ""


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
    # RFC 8460 section 4.3: "success" after a TLS handshake that met the policy, a
    # failure result type, or "" when TLS was not tried.
    tls_result: str = ""
    # For an envelope with a group: each recipient's outcome (rcpt_to first) when they
    # differ; empty when this outcome is every recipient's.
    per_rcpt: list[Outcome] = field(default_factory=list)


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


def _tls_failure(e: BaseException) -> str:
    """The RFC 8460 section 4.3 result type for a failed TLS handshake."""
    if isinstance(e, ssl.SSLCertVerificationError):
        code = getattr(e, "verify_code", 0)
        if code == 10:  # X509_V_ERR_CERT_HAS_EXPIRED
            return "certificate-expired"
        if code == 62:  # X509_V_ERR_HOSTNAME_MISMATCH
            return "certificate-host-mismatch"
        return "certificate-not-trusted"
    cause = e.__cause__ or e.__context__
    if cause is not None and cause is not e:
        return _tls_failure(cause)
    return "validation-failure"


def _tls_fail(text: str, e: BaseException | None = None, result: str = "") -> Outcome:
    return Outcome(False, text=text, tls_failed=True, tls_result=result or (_tls_failure(e) if e else "validation-failure"))


@dataclass
class Peer:
    """Where and how to connect. `host` is the name the certificate must match (and
    the TLSA base name); `connect_host` the IP or name dialed."""

    host: str
    connect_host: str
    port: int
    tls_mode: TLSMode
    ehlo_name: str
    auth: Auth | None = None
    tlsa: list[TLSA] | None = None
    socks_proxy: str = ""
    timeout: float = 300  # per command
    verify: bool = True  # for immediate TLS
    source_ip: str | None = None
    dial_timeout: float | None = None

    def key(self) -> tuple[object, ...]:
        """Connections with equal keys are interchangeable (`Pool`)."""
        user = self.auth.username if self.auth else ""
        return (self.host, self.connect_host, self.port, str(self.tls_mode), self.ehlo_name, user, self.socks_proxy,
                self.verify, self.source_ip)


async def open_session(peer: Peer) -> Session | Outcome:
    """Connect, EHLO, STARTTLS by the TLS mode, AUTH: a session ready for
    transactions, or the outcome that ended it."""
    sock = None
    if peer.socks_proxy:
        try:
            sock = await socks_connect(peer.socks_proxy, peer.connect_host, peer.port, peer.dial_timeout or peer.timeout)
        except Exception as e:  # noqa: BLE001 - python-socks raises its own types
            return Outcome(False, text=f"socks proxy {peer.socks_proxy}: {e}")
    implicit = peer.tls_mode == TLSMode.immediate
    client = aiosmtplib.SMTP(
        hostname=peer.host if implicit or sock is not None else peer.connect_host,
        port=peer.port if sock is None else None,
        local_hostname=peer.ehlo_name,
        source_address=(peer.source_ip, 0) if peer.source_ip and sock is None else None,
        timeout=peer.timeout,
        use_tls=implicit,
        start_tls=False,
        tls_context=(verified_context() if peer.verify else unverified_context()) if implicit else None,
        sock=sock,
    )
    try:
        try:
            async with asyncio.timeout(peer.dial_timeout):
                await client.connect()
        except TimeoutError:
            return Outcome(False, text=f"connect: no connection within {peer.dial_timeout:g}s")
        except ssl.SSLError as e:
            return _tls_fail(f"tls: {e}", e)
        except aiosmtplib.SMTPConnectResponseError as e:
            return _reply_outcome("connect", e.code, e.message)
        except (aiosmtplib.SMTPException, OSError) as e:
            if isinstance(e.__cause__, ssl.SSLError) or "SSL" in str(e) or "certificate" in str(e):
                return _tls_fail(f"tls: {e}", e)
            return Outcome(False, text=f"connect: {e}")
        tls = await _handshake(client, peer.host, peer.tls_mode, peer.tlsa)
        if peer.auth is not None:
            await _auth(client, peer.auth, tls)
        return Session.take_over(client, tls=tls, timeout=peer.timeout, host=peer.host, ip=peer.connect_host)
    except _Fail as f:
        out = f.outcome
    except aiosmtplib.SMTPServerDisconnected as e:
        out = Outcome(False, text=f"connection closed: {e}")
    except aiosmtplib.SMTPTimeoutError as e:
        out = Outcome(False, text=f"timeout: {e}")
    except aiosmtplib.SMTPResponseException as e:
        out = _reply_outcome("smtp", e.code, e.message)
    except (aiosmtplib.SMTPException, OSError) as e:
        out = Outcome(False, text=f"{type(e).__name__}: {e}")
    if client.is_connected:
        try:
            await client.quit(timeout=10)
        except Exception:  # noqa: BLE001 - the outcome is known; QUIT is courtesy
            client.close()
    return out


async def smtp_transaction(peer: Peer, env: Envelope, pool: Pool | None = None) -> Outcome:
    """Deliver `env`, over a pooled connection to the same place when there is one
    (after RSET), else over a new one that goes back to the pool afterwards."""
    key = peer.key()
    session = pool.take(key) if pool is not None else None
    if session is not None and not await session.reset():
        await session.close()
        session = None
    if session is None:
        opened = await open_session(peer)
        if isinstance(opened, Outcome):
            return opened
        session = opened
        if pool is not None:
            pool.opened += 1
    try:
        outcome = await send_envelope(session, env)
    except SessionError as e:
        outcome = Outcome(False, text=str(e))
    except BaseException:  # cancelled by the attempt's deadline: drop the connection
        session.abort()
        raise
    if session.tls and peer.tls_mode != TLSMode.none:
        outcome.tls_result = "success"
    if pool is not None:
        await pool.give_back(key, session)
    else:
        await session.close()
    return outcome


async def _ehlo(client: aiosmtplib.SMTP) -> None:
    try:
        await client.ehlo()
    except aiosmtplib.SMTPHeloError as e:
        if e.code >= 500:
            await client.helo()
        else:
            raise _Fail(_reply_outcome("ehlo", e.code, e.message)) from e


async def _handshake(client: aiosmtplib.SMTP, host: str, tls_mode: TLSMode, tlsa: list[TLSA] | None) -> bool:
    """EHLO and STARTTLS as `tls_mode` asks; whether the connection is now TLS."""
    await _ehlo(client)
    if tls_mode == TLSMode.immediate:
        return True
    if tls_mode not in (TLSMode.opportunistic, TLSMode.strict, TLSMode.dane, TLSMode.mandatory):
        return False
    if not client.supports_extension("starttls"):
        if tls_mode != TLSMode.opportunistic:
            raise _Fail(_tls_fail("remote does not offer STARTTLS but TLS is required", result="starttls-not-supported"))
        return False
    ctx = verified_context() if tls_mode == TLSMode.strict else unverified_context()
    try:
        await client.starttls(server_hostname=host, tls_context=ctx)
    except aiosmtplib.SMTPResponseException as e:
        out = _reply_outcome("starttls", e.code, e.message)
        out.tls_failed, out.tls_result = True, "starttls-not-supported"
        raise _Fail(out) from e
    except (ssl.SSLError, aiosmtplib.SMTPException, OSError) as e:
        raise _Fail(_tls_fail(f"tls: {e}", e)) from e
    if tls_mode == TLSMode.dane:
        ok, why = verify_chain([TLSARecord(t.usage, t.selector, t.matching_type, t.data) for t in tlsa or []], _peer_chain(client), host)
        if not ok:
            # RFC 8460 section 4.3.2.1: no TLSA record matched.
            raise _Fail(_tls_fail(f"dane: {why}", result="tlsa-invalid"))
    await _ehlo(client)  # RFC 3207 section 4.2: forget what was learned before TLS
    return True


async def send_envelope(session: Session, env: Envelope) -> Outcome:
    """One transaction for `env` on an open session, with the MAIL parameters the
    message needs and the server offers (RFC 1870, 6152, 6531, 8689, 3461)."""
    if env.utf8_data is not None and session.supports("smtputf8"):
        # A DSN queued in two variants: the UTF-8 one where it can go (mox-v0.0.5 1.1.12).
        env = replace(env, data=env.utf8_data, utf8_data=None, smtputf8=True, has_8bit=not env.utf8_data.isascii())
    size = len(env.data)
    mail_params: list[str] = []
    if session.supports("size"):
        limit = session.extensions.get("size", "")
        if limit.isdigit() and int(limit) > 0 and size > int(limit):
            # RFC 1870 section 6.1: a permanent failure, the message will not shrink.
            return Outcome(
                False, permanent=True, status="5.3.4", text=f"message of {size} bytes exceeds remote limit of {limit} bytes"
            )
        mail_params.append(f"SIZE={size}")
    if env.has_8bit:
        if not session.supports("8bitmime"):
            return Outcome(False, status="4.6.3", text="message has 8-bit content but remote does not support 8BITMIME")
        mail_params.append("BODY=8BITMIME")
    if env.smtputf8:
        if not session.supports("smtputf8"):
            # RFC 6531 section 3.7.4.2 status X.6.7.
            return Outcome(False, status="4.6.7", text="message needs SMTPUTF8 but remote does not support it")
        mail_params.append("SMTPUTF8")
    if env.requiretls:
        # RFC 8689 section 4.2.1: without REQUIRETLS at the next hop the message must
        # not be relayed; it is returned as undeliverable.
        if not session.tls or not session.supports("requiretls"):
            return Outcome(False, permanent=True, status="5.7.10", text="REQUIRETLS not supported by remote")
        mail_params.append("REQUIRETLS")
    remote_dsn = session.supports("dsn")
    if remote_dsn:
        # RFC 3461 section 4: pass the DSN requests on, the peer reports from now.
        if env.dsn_ret:
            mail_params.append(f"RET={env.dsn_ret}")
        if env.dsn_envid:
            mail_params.append(f"ENVID={xtext_encode(env.dsn_envid)}")
    first = Recipient(env.rcpt_to, _rcpt_params(remote_dsn, env.dsn_notify, env.dsn_orcpt))
    if env.group:
        group = [first] + [Recipient(g.path, _rcpt_params(remote_dsn, g.notify, g.orcpt)) for g in env.group]
        return await send_group(session, env, mail_params, group, remote_dsn)
    paths = [env.rcpt_to, *env.extra_rcpts]
    rcpts = [first] + [Recipient(p, first.params) for p in env.extra_rcpts]
    r = await session.transaction(env.mail_from, mail_params, rcpts, env.data)
    return transaction_outcome(r, paths, remote_dsn)


def _rcpt_params(remote_dsn: bool, notify: list[str], orcpt: str) -> list[str]:
    params: list[str] = []
    if remote_dsn and notify:
        params.append("NOTIFY=" + ",".join(notify))
    if remote_dsn and orcpt:
        kind, _, addr = orcpt.partition(";")
        if addr:
            params.append(f"ORCPT={kind.strip()};{xtext_encode(addr.strip())}")
    return params


def rcpt_max(session: Session) -> int:
    """RCPTMAX of the LIMITS extension (RFC 9422 section 4.2), 0 when not announced."""
    for item in session.extensions.get("limits", "").split():
        name, _, value = item.partition("=")
        if name.upper() == "RCPTMAX" and value.isdigit():
            return int(value)
    return 0


# "Too many recipients" (RFC 5321 section 4.5.3.1.10; 552 for historic reasons, as mox).
TOO_MANY_RECIPIENTS = (452, 552)


async def send_group(session: Session, env: Envelope, mail_params: list[str], rcpts: list[Recipient],
                     remote_dsn: bool) -> Outcome:
    """Several queued recipients of one message: as few transactions as the server
    allows (at most its RCPTMAX recipients each), the message sent once per
    transaction. A recipient after the first refused with "too many recipients" goes
    into the next transaction at once (mox v0.0.10). Each recipient gets its outcome."""
    outcomes: list[Outcome | None] = [None] * len(rcpts)
    todo = list(range(len(rcpts)))
    limit = rcpt_max(session) or len(rcpts)
    first = True
    while todo:
        chunk, rest = todo[:limit], todo[limit:]
        try:
            if not first and not await session.reset():
                raise SessionError("connection lost between transactions")
            first = False
            r = await session.transaction(env.mail_from, mail_params, [rcpts[i] for i in chunk], env.data)
        except SessionError as e:
            for i in todo:
                outcomes[i] = Outcome(False, text=str(e))
            break
        again = []
        for pos, i in enumerate(chunk):
            reply = r.rcpts[pos]
            if pos > 0 and reply is not None and reply.code in TOO_MANY_RECIPIENTS:
                again.append(i)
            else:
                outcomes[i] = recipient_outcome(r, pos, remote_dsn)
        todo = again + rest
    done = [o for o in outcomes if o is not None]
    return combine(done)


def combine(outcomes: list[Outcome]) -> Outcome:
    """One outcome for the transaction: the recipients' own when all are alike, else a
    summary (ok when any was delivered) that carries each in `per_rcpt`."""
    head = outcomes[0]
    if all((o.ok, o.permanent, o.code, o.text) == (head.ok, head.permanent, head.code, head.text) for o in outcomes):
        return head
    delivered = sum(o.ok for o in outcomes)
    coded = next((o for o in outcomes if o.code), head)
    return Outcome(
        delivered > 0, permanent=all(o.permanent for o in outcomes), code=coded.code, reply=coded.reply,
        text=f"{delivered} of {len(outcomes)} recipients delivered; {coded.text}", per_rcpt=outcomes,
    )


def recipient_outcome(r: TransactionReplies, pos: int, remote_dsn: bool) -> Outcome:
    """The outcome for the recipient at `pos` of a transaction: MAIL's refusal, its
    own RCPT refusal, else DATA's verdict."""
    if r.mail.code != 250:
        return _reply_outcome("MAIL FROM", r.mail.code, r.mail.text)
    reply = r.rcpts[pos]
    if reply is None:
        return Outcome(False, text="RCPT TO: no reply")
    if reply.code not in (250, 251):
        return _reply_outcome("RCPT TO", reply.code, reply.text)
    if r.data is None or r.data.code != 354:
        code, text = (r.data.code, r.data.text) if r.data else (0, "no reply")
        return _reply_outcome("DATA", code, text)
    final = r.final
    if final is None or final.code != 250:
        return _reply_outcome("DATA", final.code if final else 0, final.text if final else "no reply")
    text = reply_text(final.code, final.text)
    return Outcome(True, code=final.code, text=text, reply=text, remote_dsn=remote_dsn)


def transaction_outcome(r: TransactionReplies, paths: list[str], remote_dsn: bool) -> Outcome:
    """The message's outcome from the replies. With several recipients (sendmail) a
    refused one fails the whole submission, naming it."""
    if r.mail.code != 250:
        return _reply_outcome("MAIL FROM", r.mail.code, r.mail.text)
    for path, reply in zip(paths, r.rcpts):
        if reply is not None and reply.code not in (250, 251):
            out = _reply_outcome("RCPT TO", reply.code, reply.text)
            if len(paths) > 1:
                out.text = f"RCPT TO {path}: {out.reply}"
            return out
    return recipient_outcome(r, 0, remote_dsn)
