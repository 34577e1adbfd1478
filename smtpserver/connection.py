"""One SMTP connection: aiosmtpd's protocol class supplies the stream, the STARTTLS
transport swap and the idle timeout; this subclass replaces its command loop so that
replies, parsing (mailcore.smtp) and DATA streaming are ours (RFC 5321, mox v0.0.5).

Database work goes through `self.db(...)`, in a thread of the process's pool
(smtpserver.dbpool), never on the event loop.
"""
from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from aiosmtpd.smtp import SMTP
from django.db import DatabaseError

from mailcore import randomid
from mailcore.smtp import codes
from mailcore.smtp.address import Address
from mailcore.smtp.codes import SMTPError, Reply, reply
from mailcore.smtp.command import MailCommand, RcptParams, parse_mail, parse_rcpt
from mailcore.smtp.data import DataError, DataReader
from mailcore.smtp.errors import NonASCIIAddress, ParseError, UnknownParameter
from moxweb import logging as moxlog
from moxweb import metrics
from smtpserver import handoff, store
from smtpserver.auth import AuthMixin
from smtpserver.config import ListenerConfig
from smtpserver.dbpool import pool
from smtpserver.delivery import DeliveryMixin
from smtpserver.localserve import TIMEOUT_REPLY, special_failure
from smtpserver.spool import Spool, SpoolError

if TYPE_CHECKING:
    from mailstore.files import TempMessageFile

log = logging.getLogger(__name__)

T = TypeVar("T")

# mox: command lines over 2048 octets end the connection (RFC 5321 4.5.3.1.4 says 512).
MAX_COMMAND_LINE = 2048
# Bytes per write to the temporary file while streaming DATA/BDAT.
WRITE_CHUNK = 256 * 1024
# Bytes taken from the socket per read during DATA.
DATA_READ = 64 * 1024

COMMANDS = ("HELO", "EHLO", "STARTTLS", "AUTH", "MAIL", "RCPT", "DATA", "BDAT", "RSET", "VRFY", "EXPN",
            "HELP", "NOOP", "QUIT")


class _NoHooks:
    """aiosmtpd wants a handler object; all behaviour lives in the subclass."""


class ConnectionClosed(Exception):
    pass


@dataclass
class Recipient:
    address: Address
    params: RcptParams
    account: Any = None  # accounts.models.Account for local delivery, None for the queue
    mailbox: str = "Inbox"


@dataclass
class Transaction:
    mail: MailCommand
    recipients: list[Recipient] = field(default_factory=list)
    # BDAT state (RFC 3030): the open temporary file and its checks.
    bdat: Any = None


# The 421 texts of a connection the limiters refuse (handoff.admit's verdicts), mox's.
_REFUSALS = {
    handoff.RATE_EXCEEDED: "connection rate from your ip or network too high, slow down please",
    handoff.AUTH_FAILURES: "too many auth failures",
    handoff.TOO_MANY_OPEN: "too many open connections from your ip or network",
}


class SMTPConnection(DeliveryMixin, AuthMixin, SMTP):
    # The StreamReader's buffer limit; our own limits on command and data lines apply.
    line_length_limit = 64 * 1024

    def __init__(self, config: ListenerConfig, admission: handoff.Admission | None = None) -> None:
        super().__init__(
            _NoHooks(),
            hostname=config.hostname,
            ident="ESMTP moxweb",
            tls_context=config.tls if config.kind != "submissions" else None,
            enable_SMTPUTF8=True,
            data_size_limit=None,
            timeout=config.timeout,
            auth_require_tls=False,
        )
        self.config = config
        # The limiters' verdict when the main process admitted the connection for us
        # (smtpserver/handoff.py); None: this session asks them itself.
        self.admission = admission
        self.cid = randomid.token_hex(8)
        self.remote_ip = ""
        self.local_ip = ""
        self.tls_active = config.kind == "submissions"
        self.ehlo: str | None = None
        self.esmtp = False
        self.account: Any = None  # the authenticated account
        self.username = ""
        self.tx: Transaction | None = None
        self.slow = False
        self.auth_failed = 0
        self.failed_transactions = 0
        self.good_transactions = 0
        self.commands_without_mail = 0
        self._counted_open = False
        self._closing = False
        # Bytes read past the end of DATA (pipelined commands), read before the socket.
        self._pushback = b""
        # The session timeout's deadline: a lazy timer (one handle, moved forward only
        # when it fires).
        self._deadline = 0.0
        self._localserve_account: Any = None

    # --- plumbing -------------------------------------------------------------

    async def db(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run `fn` in a thread of the process's database pool (smtpserver.dbpool)."""
        return await self.database_call(pool.run(fn, *args, **kwargs))

    async def database_call(self, call: Awaitable[T]) -> T:
        """`call`'s result; the database unreachable or locked is a temporary failure
        (451), not a reason to hang up. The thread that ran it closed its broken
        connection; the next call connects afresh."""
        try:
            return await call
        except DatabaseError as exc:
            log.warning("database unavailable", extra={"cid": self.cid, "err": str(exc)})
            raise SMTPError(codes.DATABASE_UNAVAILABLE) from exc

    def _reset_timeout(self, duration: float | None = None) -> None:
        """aiosmtpd's idle timeout, lazily: activity only moves the deadline; the timer
        is set again when it fires early (replacing a timer per line read costs more
        than the rest of reading it)."""
        self._deadline = self.loop.time() + (duration or self._timeout_duration)
        handle = self._timeout_handle
        if handle is None or handle.cancelled() or handle.when() > self._deadline:
            if handle is not None:
                handle.cancel()
            self._timeout_handle = self.loop.call_at(self._deadline, self._timeout_due)

    def _timeout_due(self) -> None:
        if self.loop.time() < self._deadline:
            self._timeout_handle = self.loop.call_at(self._deadline, self._timeout_due)
            return
        self._timeout_cb()

    async def write(self, data: Reply | bytes | str) -> None:
        if isinstance(data, Reply):
            raw = (data.with_id(self.cid) if self.config.error_ids else data).encode()
        elif isinstance(data, str):
            raw = (data + "\r\n").encode("utf-8")
        else:
            raw = data
        if self.transport is None:
            raise ConnectionClosed()
        if self.slow:
            # mox slow mode: one byte a second, for clients that misbehave.
            for i in range(len(raw)):
                self._writer.write(raw[i : i + 1])
                await self._writer.drain()
                if i < len(raw) - 1:
                    await self.config.sleep(self.config.slow_delay)
        else:
            self._writer.write(raw)
            await self._writer.drain()

    async def push(self, status: Any) -> None:  # aiosmtpd's writer, used by its STARTTLS path
        await self.write(status if isinstance(status, (bytes, str)) else str(status))

    async def read_line(self) -> bytes:
        """One command line including its line ending (mox: over 2048 octets closes)."""
        if self.slow:
            await self.config.sleep(self.config.slow_delay)
        pushed = self._pushback
        lf = pushed.find(b"\n")
        if lf >= 0:
            line, self._pushback = pushed[: lf + 1], pushed[lf + 1 :]
        else:
            self._pushback = b""
            try:
                line = pushed + await self._reader.readuntil(b"\n")
            except asyncio.LimitOverrunError:
                line = b"x" * (MAX_COMMAND_LINE + 1)
            except asyncio.IncompleteReadError:
                raise ConnectionClosed() from None
        if len(line) > MAX_COMMAND_LINE:
            raise SMTPError(reply(500, codes.SE_PROTO_OTHER,
                                  f"line too long, smtp max is 512, we reached {MAX_COMMAND_LINE}"), close=True)
        self._reset_timeout()
        return line

    async def read_some(self, limit: int) -> bytes:
        """For DATA and BDAT: what has arrived, at most `limit` bytes (pushed-back
        bytes first); ConnectionClosed at the end of the stream."""
        if self._pushback:
            piece, self._pushback = self._pushback[:limit], self._pushback[limit:]
            return piece
        piece = await self._reader.read(limit)
        if not piece:
            raise ConnectionClosed()
        self._reset_timeout()
        return piece

    def push_back(self, data: bytes) -> None:
        """Bytes that followed the end of DATA: the next commands (PIPELINING)."""
        self._pushback = data + self._pushback

    def _release_open_connection(self) -> None:
        if self._counted_open:
            self._counted_open = False
            if self.admission is not None:
                self.admission.release()
            else:
                self.config.limiters.open_connections.subtract(self.remote_ip)

    def _close(self) -> None:
        self._closing = True
        # Before the peer can see the close, so a reconnect is not counted twice.
        self._release_open_connection()
        if self.transport is not None:
            self.transport.close()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        first = self.transport is None
        super().connection_made(transport)
        if first:
            sock = transport.get_extra_info("socket")
            if sock is not None:
                try:
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                except OSError:
                    pass
            peer = transport.get_extra_info("peername") or ("", 0)
            local = transport.get_extra_info("sockname") or ("", 0)
            self.remote_ip = str(peer[0]) if peer else ""
            self.local_ip = str(local[0]) if local else ""

    def connection_lost(self, error: Exception | None) -> None:
        super().connection_lost(error)
        if self.admission is not None:
            # A session cancelled before it ran never reached its own release.
            self.admission.release()

    def _timeout_cb(self) -> None:
        # aiosmtpd's closes the transport first; the slot would stay counted until the
        # session's cleanup ran, so a client reconnecting at once could be refused.
        self._close()

    def eof_received(self) -> bool | None:
        # aiosmtpd cancels the session on EOF, which could abandon a delivery whose
        # 250 is pending; instead the reader sees EOF and the session ends by itself.
        keep_open = asyncio.StreamReaderProtocol.eof_received(self)
        return False if self.tls_active else keep_open

    # --- the command loop ----------------------------------------------------------

    async def _handle_client(self) -> None:
        moxlog.bind(cid=self.cid, remote=self.remote_ip, listener=self.config.kind)
        self.config.active.add(self)
        metrics.SMTP_CONNECTIONS.labels(self.config.kind).inc()
        pool.session_started()
        try:
            try:
                await self._serve()
            except (ConnectionClosed, ConnectionError):
                pass
        except asyncio.CancelledError:
            pass
        except Exception:  # noqa: BLE001 - a bug must not take the listener down
            log.exception("smtp connection failed", extra={"cid": self.cid})
        finally:
            pool.session_ended()
            self.config.active.discard(self)
            self._release_open_connection()
            if self.tx is not None and self.tx.bdat is not None:
                self.tx.bdat.tmp.discard()
            self._close()

    async def _serve(self) -> None:
        # mox §1.1.2: on port 25 with several SMTP processes, the main process has
        # asked the limiters (smtpserver/handoff.py); otherwise this session asks them.
        admission = self.admission
        verdict = (admission.verdict if admission is not None
                   else handoff.admit(self.config.limiters, self.remote_ip or "0.0.0.0",
                                      logins=self.config.submission))
        if verdict != handoff.ADMITTED:
            await self.write(reply(421, codes.SE_SEC_OTHER, _REFUSALS[verdict]))
            return
        self._counted_open = True
        await self.write(f"220 {self.config.hostname} ESMTP moxweb")
        first = True
        while not self._closing and self.transport is not None:
            try:
                line = await self.read_line()
                await self.dispatch(line, first)
            except SMTPError as err:
                await self.write(err.reply)
                if err.close:
                    self._close()
                    return
            except ParseError as err:
                await self.write(self.syntax_error(err))
            first = False

    def syntax_error(self, err: ParseError) -> Reply:
        # mox: the details are only told to authenticated clients.
        if isinstance(err, UnknownParameter):
            return codes.UNRECOGNIZED_PARAM
        text = "bad syntax" + (f": {err}" if self.account is not None else "")
        return reply(501, codes.SE_PROTO_SYNTAX, text)

    async def dispatch(self, line: bytes, first: bool) -> None:
        raw = line.rstrip(b"\n").rstrip(b"\r")
        if not self.config.submission:
            # mox: incoming clients may leave trailing whitespace; submission is strict.
            raw = raw.rstrip(b" \t")
        verb_b, _, arg_b = raw.partition(b" ")
        verb = verb_b.decode("ascii", "replace").upper()
        if verb not in COMMANDS:
            if first:
                # mox §1.1.17: likely another protocol (HTTP); do not keep talking.
                raise SMTPError(codes.FIRST_COMMAND_NOT_SMTP, close=True)
            raise SMTPError(codes.UNKNOWN_COMMAND)
        try:
            arg = arg_b.decode("utf-8")
        except UnicodeDecodeError:
            raise SMTPError(reply(501, codes.SE_PROTO_SYNTAX, "invalid utf-8 in command")) from None
        if verb not in ("MAIL", "RCPT", "DATA", "BDAT", "QUIT", "AUTH", "STARTTLS"):
            self.commands_without_mail += 1
            if self.commands_without_mail > self.config.max_commands_without_mail:
                raise SMTPError(reply(421, codes.SE_SEC_OTHER, "too many commands without a transaction"),
                                close=True)
        await getattr(self, f"do_{verb}")(arg)

    # --- state checks --------------------------------------------------------------

    def dns_checks(self) -> bool:
        return self.config.kind == "smtp" and not self.config.localserve

    def resolver(self) -> Any:
        if self.config.resolver is None:
            from moxweb.resolver import get_resolver

            self.config.resolver = get_resolver()
        return self.config.resolver

    async def check_helo_resolves(self, name: str) -> None:
        """mox §1.1.4: a HELO (not EHLO) name on port 25 must have an address; DNS
        trouble is not held against the client."""
        from mailcore.dns.resolver import lookup_ips

        try:
            result = await asyncio.wait_for(lookup_ips(self.resolver(), name), self.config.dns_timeout)
        except (asyncio.TimeoutError, Exception):  # noqa: BLE001 - temporary: ignored
            return
        if result.notfound:
            raise SMTPError(reply(550, codes.SE_PROTO_OTHER, "your ehlo domain does not resolve to an IP address"))

    async def check_mailfrom_domain(self, domain: str) -> None:
        """mox §1.1.7: the MAIL FROM domain must accept mail (RFC 5321 section 5.1:
        MX, else an implicit MX by address; RFC 7505: a null MX says it never does)."""
        from mailcore.dns.resolver import lookup_ips

        temporary = reply(451, codes.SE_ROUTING_OTHER, "cannot verify mx records for mailfrom domain")
        try:
            mx = await asyncio.wait_for(self.resolver().lookup_mx(domain), self.config.dns_timeout)
            if mx.ok:
                if len(mx.records) == 1 and mx.records[0].host == "":
                    raise SMTPError(reply(550, "7.27", "mailfrom domain not configured for mail"))
                return
            if mx.temporary:
                raise SMTPError(temporary)
            ips = await asyncio.wait_for(lookup_ips(self.resolver(), domain), self.config.dns_timeout)
        except asyncio.TimeoutError:
            raise SMTPError(temporary) from None
        if ips.temporary:
            raise SMTPError(temporary)
        if not ips.ok:
            raise SMTPError(reply(550, "1.8", "mailfrom domain has no mx or address records"))

    async def mailfrom_spf_passes(self, tx: Transaction) -> bool:
        """RFC 7208 check_host() for the MAIL FROM identity; DNS trouble is no pass."""
        from mailcore.authn.spf import check_mailfrom

        sender = tx.mail.sender
        if sender is None or sender.domain is None:
            return False
        try:
            result = await asyncio.wait_for(
                check_mailfrom(self.resolver(), self.remote_ip, f"{sender.localpart}@{sender.domain.ascii}",
                               self.ehlo or "", receiver=self.config.hostname),
                self.config.dns_timeout)
        except Exception:  # noqa: BLE001 - a temporary error is not a pass
            log.info("spf check for second recipient failed", extra={"cid": self.cid})
            return False
        return result.passed

    def need_ehlo(self) -> None:
        if self.ehlo is None:
            raise SMTPError(codes.NO_EHLO)

    def need_delivery_allowed(self) -> None:
        """mox: submission requires AUTH; and TLS where required for delivery."""
        if self.config.submission and self.account is None:
            raise SMTPError(codes.AUTH_REQUIRED)
        if self.config.require_tls and not self.tls_active:
            raise SMTPError(codes.STARTTLS_REQUIRED)

    def reset_transaction(self) -> None:
        if self.tx is not None and self.tx.bdat is not None:
            self.tx.bdat.tmp.discard()
        self.tx = None

    def tls_info(self) -> tuple[str, str] | None:
        if not self.tls_active or self.transport is None:
            return None
        obj = self.transport.get_extra_info("ssl_object")
        if obj is None:
            return None
        cipher = obj.cipher()
        return (obj.version() or "", cipher[0] if cipher else "")

    # --- commands ------------------------------------------------------------------

    async def do_HELO(self, arg: str) -> None:
        await self._hello(arg, esmtp=False)

    async def do_EHLO(self, arg: str) -> None:
        await self._hello(arg, esmtp=True)

    async def _hello(self, arg: str, *, esmtp: bool) -> None:
        # RFC 5321 section 4.1.1.1: a domain or an address literal.
        name = arg.strip()
        if not name or " " in name:
            raise ParseError("HELO/EHLO needs a domain or address literal")
        if not esmtp and self.dns_checks() and not name.startswith("["):
            await self.check_helo_resolves(name)
        self.reset_transaction()
        self.ehlo = name
        self.esmtp = esmtp
        if not esmtp:
            await self.write(f"250 {self.config.hostname}")
            return
        lines = [self.config.hostname, "PIPELINING", f"SIZE {self.config.max_message_size}"]
        if self.config.tls is not None and not self.tls_active:
            lines.append("STARTTLS")
        if self.config.submission:
            lines.append(" ".join(["AUTH", *self.auth_mechanisms()]).strip())
        lines += ["ENHANCEDSTATUSCODES", "8BITMIME", "SMTPUTF8", "CHUNKING", "DSN"]
        if self.tls_active:
            # RFC 8689 section 4: offered only over TLS.
            lines.append("REQUIRETLS")
        await self.write("".join(f"250{'-' if i < len(lines) - 1 else ' '}{ln}\r\n" for i, ln in enumerate(lines))
                         .encode("utf-8"))

    async def do_STARTTLS(self, arg: str) -> None:
        self.need_ehlo()
        if arg:
            raise ParseError("STARTTLS takes no argument")
        if self.tls_active:
            raise SMTPError(reply(503, codes.SE_PROTO_CMD, "already speaking tls"))
        if self.config.tls is None or self.config.kind == "submissions":
            raise SMTPError(reply(502, codes.SE_PROTO_CMD, "no tls configured"))
        if self.tx is not None:
            raise SMTPError(reply(503, codes.SE_PROTO_CMD, "cannot starttls during mail transaction"))
        await self.write(codes.STARTTLS_OK)
        self._pushback = b""  # RFC 3207 section 4.2: plaintext sent after STARTTLS is void
        try:
            await self._start_tls()
        except Exception:  # noqa: BLE001 - a failed handshake ends this connection only
            log.info("tls handshake failed", extra={"cid": self.cid})
            self._close()
            raise ConnectionClosed() from None
        # RFC 3207 section 4.2: forget everything learned before TLS.
        self.tls_active = True
        self.ehlo = None
        self.esmtp = False
        self.tx = None

    async def _start_tls(self) -> None:
        """Swap the transport for a TLS one, as aiosmtpd's STARTTLS does, so that its
        connection_made bookkeeping (discarding pipelined plaintext) applies."""
        from asyncio import sslproto

        waiter = self.loop.create_future()
        assert self.config.tls is not None
        self._tls_protocol = sslproto.SSLProtocol(self.loop, self, self.config.tls, waiter, server_side=True)
        self._original_transport = self.transport
        assert self._original_transport is not None
        self._original_transport.set_protocol(self._tls_protocol)  # type: ignore[attr-defined]
        self.transport = self._tls_protocol._app_transport
        self._tls_protocol.connection_made(self._original_transport)
        await waiter

    async def do_RSET(self, arg: str) -> None:
        if arg:
            raise ParseError("RSET takes no argument")
        self.reset_transaction()
        await self.write(codes.RSET_OK)

    async def do_NOOP(self, arg: str) -> None:
        await self.write(codes.NOOP_OK)

    async def do_HELP(self, arg: str) -> None:
        await self.write(codes.HELP_OK)

    async def do_VRFY(self, arg: str) -> None:
        # RFC 5321 section 3.5.3: 252 when we will not verify.
        await self.write(codes.VRFY_OK)

    async def do_EXPN(self, arg: str) -> None:
        await self.write(codes.EXPN_OK)

    async def do_QUIT(self, arg: str) -> None:
        await self.write(codes.QUIT_OK)
        self._close()

    async def do_MAIL(self, arg: str) -> None:
        self.need_ehlo()
        self.need_delivery_allowed()
        if self.tx is not None:
            raise SMTPError(codes.NESTED_MAIL)
        if self.failed_transactions > self.config.max_failed_transactions and self.good_transactions == 0:
            # mox §1.1.7: against address guessing.
            raise SMTPError(reply(550, codes.SE_ADDR_OTHER, "too many failures"), close=True)
        try:
            cmd = parse_mail(arg)
        except NonASCIIAddress:
            raise SMTPError(reply(550, codes.SE_NON_ASCII, "non-ascii address not permitted without smtputf8"))
        except UnknownParameter:
            raise SMTPError(codes.UNRECOGNIZED_PARAM)
        p = cmd.params
        if not self.esmtp and (p.size is not None or p.body or p.smtputf8 or p.auth is not None or p.ret
                               or p.envid or p.requiretls):
            raise ParseError("parameters need EHLO")
        if p.size is not None and p.size > self.config.max_message_size:
            # RFC 1870 section 6.1 and mox: 552 with 5.3.4.
            raise SMTPError(reply(552, codes.SE_MSG_TOO_BIG,
                                  f"message too large, max is {self.config.max_message_size} bytes"))
        if p.requiretls and not self.tls_active:
            # RFC 8689 section 4.1: REQUIRETLS only over TLS.
            raise SMTPError(reply(530, codes.SE_REQUIRETLS, "REQUIRETLS needs a TLS connection"))
        sender = cmd.sender
        if sender is not None and sender.ip is not None and not self.config.submission:
            raise SMTPError(reply(550, codes.SE_SEC_OTHER, "domain name required"))
        if self.config.localserve and sender is not None and sender.localpart.lower().startswith("mailfrom"):
            await self.localserve_fail(sender.localpart)
        if self.config.submission and not self.config.localserve and sender is not None:
            if not await self.db(store.address_belongs_to, self.account.pk, sender):
                raise SMTPError(reply(550, codes.SE_DELIVERY_UNAUTHORIZED, "must match authenticated user"))
        if sender is not None and sender.domain is not None and self.dns_checks():
            await self.check_mailfrom_domain(sender.domain.ascii)
        self.tx = Transaction(cmd)
        self.commands_without_mail = 0
        await self.write(codes.MAIL_OK)

    async def localserve_fail(self, localpart: str) -> None:
        failure = special_failure(localpart)
        if failure is None:
            return
        if failure.timeout:
            await self.config.sleep(self.config.localserve_timeout)
            raise SMTPError(TIMEOUT_REPLY, close=True)
        raise SMTPError(failure.reply())

    async def do_RCPT(self, arg: str) -> None:
        self.need_ehlo()
        self.need_delivery_allowed()
        if self.tx is None:
            raise SMTPError(codes.MISSING_MAIL)
        tx = self.tx
        try:
            cmd = parse_rcpt(arg, smtputf8=tx.mail.params.smtputf8)
        except NonASCIIAddress:
            raise SMTPError(reply(553, codes.SE_NON_ASCII, "non-ascii address not permitted without smtputf8"))
        except UnknownParameter:
            raise SMTPError(codes.UNRECOGNIZED_PARAM)
        if (cmd.params.notify or cmd.params.orcpt) and not self.esmtp:
            raise ParseError("parameters need EHLO")
        if len(tx.recipients) >= self.config.max_recipients:
            raise SMTPError(reply(452, codes.SE_TOO_MANY_RCPTS,
                                  f"max of {self.config.max_recipients} recipients reached"))
        rcpt = Recipient(cmd.recipient, cmd.params)
        addr = cmd.recipient
        if self.config.localserve:
            if addr.localpart.lower().startswith("rcptto"):
                await self.localserve_fail(addr.localpart)
            if self.config.submission:
                rcpt.account = self.account
            else:
                if self._localserve_account is None:
                    # Once per session: every recipient is this account.
                    self._localserve_account = await self.db(store.localserve_account)
                rcpt.account = self._localserve_account
                if rcpt.account is None:
                    raise SMTPError(reply(451, codes.SE_SYSTEM_OTHER, "localserve account missing"))
        elif self.config.submission:
            if addr.domain is None and addr.ip is None:
                # A bare "Postmaster" means this host's; outgoing mail needs a domain.
                raise SMTPError(reply(550, codes.SE_BAD_DEST_MAILBOX, "recipient needs a domain"))
        else:
            if tx.mail.sender is None and tx.recipients:
                raise SMTPError(reply(452, codes.SE_TOO_MANY_RCPTS,
                                      "only one recipient allowed with null reverse address"))
            if len(tx.recipients) == 1 and not await self.mailfrom_spf_passes(tx):
                # mox §1.1.8: a second recipient only with an SPF pass for the MAIL FROM
                # domain, against backscatter of DSNs for forged senders.
                raise SMTPError(reply(452, codes.SE_TOO_MANY_RCPTS, "only one recipient allowed without spf pass"))
            if addr.ip is not None:
                self.failed_transactions += 1
                raise SMTPError(reply(550, codes.SE_BAD_DEST_MAILBOX, "not accepting email for ip"))
            resolved = await self.db(store.resolve_incoming, addr, self.config.hostname)
            if resolved.error == "domain":
                self.failed_transactions += 1
                raise SMTPError(reply(550, codes.SE_BAD_DEST_MAILBOX, "not accepting email for domain"))
            if resolved.error:
                self.failed_transactions += 1
                raise SMTPError(reply(550, codes.SE_BAD_DEST_MAILBOX, "no such user"))
            rcpt.account, rcpt.mailbox = resolved.account, resolved.mailbox
        tx.recipients.append(rcpt)
        await self.write(codes.RCPT_OK)

    def need_transaction(self) -> Transaction:
        self.need_ehlo()
        self.need_delivery_allowed()
        if self.tx is None or not self.tx.recipients:
            raise SMTPError(codes.MISSING_RCPT)
        return self.tx

    async def do_DATA(self, arg: str) -> None:
        tx = self.need_transaction()
        if arg:
            raise ParseError("DATA takes no argument")
        if tx.bdat is not None:
            raise SMTPError(reply(503, codes.SE_PROTO_CMD, "cannot mix BDAT and DATA"))
        await self.write(codes.DATA_GO)
        from mailstore.files import TempMessageFile

        reader = DataReader()
        # A message smaller than WRITE_CHUNK stays in `buf` until its end and reaches
        # the disk in its delivery's thread hop (smtpserver/spool.py); a larger one is
        # spooled as it arrives.
        tmp: TempMessageFile | None = None
        too_big = False
        buf = bytearray()
        # A full disk (or other write error) is answered after the final dot, not by
        # dropping the connection; the rest of the data is read and thrown away.
        write_error: OSError | None = None

        def discard() -> None:
            if tmp is not None:
                tmp.discard()

        try:
            while True:
                out, rest = reader.feed(await self.read_some(DATA_READ))
                if out and not too_big:
                    if reader.size > self.config.max_message_size:
                        too_big = True
                        buf.clear()
                    else:
                        buf += out
                        if len(buf) >= WRITE_CHUNK:
                            if write_error is None:
                                try:
                                    if tmp is None:
                                        tmp = await self.db(TempMessageFile)  # mkdir/open off the loop
                                    tmp.write(bytes(buf))  # to the page cache
                                except OSError as exc:
                                    write_error = exc
                            buf.clear()
                if rest is not None:
                    if rest:
                        self.push_back(rest)
                    break
            if reader.error is not None:
                discard()
                self.reset_transaction()
                self.failed_transactions += 1
                raise SMTPError(data_error_reply(reader.error))
            if too_big:
                discard()
                self.reset_transaction()
                self.failed_transactions += 1
                raise SMTPError(reply(552, codes.SE_MSG_TOO_BIG,
                                      f"message too large, max is {self.config.max_message_size} bytes"))
            if write_error is None and tmp is not None:
                # A spooled message is finished before its analysis reads the file; one
                # held in memory is written by the first database call needing the file.
                try:
                    tmp = await self.db(finish_spool, tmp, bytes(buf))
                except OSError as exc:
                    write_error = exc
            if write_error is not None:
                discard()
                self.reset_transaction()
                raise self.storage_full(write_error)
            spool = Spool(tmp=tmp) if tmp is not None else Spool(data=bytes(buf))
            try:
                result = await self.accept_message(tx, spool, reader.has_8bit)
            except SpoolError as exc:
                self.reset_transaction()
                raise self.storage_full(exc) from None
            except SMTPError:
                self.reset_transaction()  # the reply to DATA ends the transaction, error or not
                raise
            finally:
                spool.cleanup()
        except BaseException:
            discard()
            raise
        self.reset_transaction()
        await self.write(result)

    def storage_full(self, err: Exception) -> SMTPError:
        """The message's data could not be stored (RFC 5321 section 4.2.3: 452)."""
        log.error("storing message data failed", extra={"cid": self.cid, "err": str(err)})
        return SMTPError(reply(452, codes.SE_SYSTEM_FULL, "insufficient storage space"))

    async def do_BDAT(self, arg: str) -> None:
        """RFC 3030 section 2: `BDAT size [LAST]`, the octets follow the command line."""
        parts = arg.split(" ")
        if not parts or not parts[0].isdigit() or len(parts[0]) > 20 or len(parts) > 2 or (
                len(parts) == 2 and parts[1].upper() != "LAST"):
            raise SMTPError(reply(501, codes.SE_PROTO_SYNTAX, "bad syntax: BDAT size [LAST]"), close=True)
        size = int(parts[0])
        last = len(parts) == 2
        await self.bdat_chunk(size, last)


def finish_spool(tmp: TempMessageFile, data: bytes) -> TempMessageFile:
    """The end of DATA for a spooled message, in the connection's thread: the temporary
    file gets its last bytes and is fsynced. A failure removes it and raises."""
    try:
        if data:
            tmp.write(data)
        tmp.finish()
    except BaseException:
        tmp.discard()
        raise
    return tmp


def data_error_reply(err: DataError) -> Reply:
    if err is DataError.LINE_TOO_LONG:
        return reply(500, codes.SE_PROTO_OTHER, "line too long in message data")
    # SMTP smuggling protection: only CRLF ends a line (RFC 5321 section 2.3.8).
    return reply(500, codes.SE_PROTO_SYNTAX,
                 f"{err.value} in message data, lines must end with CRLF (smtp smuggling protection)")
