"""What happens once the message data is in: local delivery per recipient (incoming
and localserve), or the outgoing queue (submission), and BDAT chunks (RFC 3030).

`250` is only written after `mailstore.actions.deliver` or `mailqueue.actions.enqueue`
returned, which is after the file and its row are durable. A message held in memory
(smtpserver/spool.py) is written to its file by the first database call that needs it.
"""
from __future__ import annotations

import dataclasses
import email.utils
import functools
import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mailcore import randomid
from mailcore.smtp import codes
from mailcore.smtp.codes import Reply, SMTPError, reply
from mailcore.smtp.data import LineEndingChecker
from mailstore import groupcommit
from mailstore.actions import DeliverySteps, QuotaExceeded, run_steps
from moxweb import metrics
from smtpserver import store
from smtpserver.analysis import decide, measure
from smtpserver.analysis import wanted as analysis_wanted
from smtpserver.deliverythread import delivery_thread
from smtpserver.localserve import TIMEOUT_REPLY, special_failure
from smtpserver.received import TraceInfo, received_header, return_path
from smtpserver.spool import Spool, SpoolError

if TYPE_CHECKING:
    from collections.abc import Callable

    from mailstore.files import TempMessageFile
    from smtpserver.connection import Recipient, SMTPConnection, Transaction

log = logging.getLogger(__name__)

BDAT_PIECE = 256 * 1024

# Hooks that add headers to the stored prefix of incoming mail (e.g. [4/9]'s
# Authentication-Results): called with (connection, transaction, path), return bytes.
INCOMING_HEADER_HOOKS: list = []


@dataclass
class BdatState:
    tmp: TempMessageFile
    checker: LineEndingChecker = field(default_factory=LineEndingChecker)
    size: int = 0
    too_big: bool = False


def combine_failures(failures: list[Reply]) -> Reply:
    """mox §1.1.11 step 8: one reply when all recipients failed the same way, else a
    multi-line reply listing each, 554 if any was permanent, else 451."""
    if all(f == failures[0] for f in failures):
        return failures[0]
    code = 554 if any(f.permanent for f in failures) else 451
    lines = [f"{f.code} {f.enhanced} {f.text}" for f in failures] + ["multiple errors"]
    return Reply(code, f"{code // 100}.0.0", "\n".join(lines))


class DeliveryMixin:
    def trace(self: SMTPConnection, tx: Transaction) -> TraceInfo:
        return TraceInfo(
            ehlo=self.ehlo or "",
            remote_ip=self.remote_ip,
            local_ip=self.local_ip,
            hostname=self.config.hostname,
            esmtp=self.esmtp,
            smtputf8=tx.mail.params.smtputf8,
            tls=self.tls_info(),
            authenticated=self.account is not None,
            submission=self.config.submission,
            received_id=randomid.token_hex(8),
        )

    async def accept_message(self: SMTPConnection, tx: Transaction, spool: Spool, has_8bit: bool) -> Reply:
        """Deliver or queue the message; SpoolError when its file cannot be written."""
        trace = self.trace(tx)
        when = datetime.now(timezone.utc)
        if self.config.submission and not self.config.localserve:
            result = await self.queue_submission(tx, await self.db(spool.file), has_8bit, trace, when)
        else:
            result = await self.deliver_locally(tx, spool, trace, when)
        metrics.smtp_message(self.config, result)
        if result.code == 250:
            self.good_transactions += 1
        else:
            self.failed_transactions += 1
        return result

    async def deliver_locally(self: SMTPConnection, tx: Transaction, spool: Spool, trace: TraceInfo,
                              when: datetime) -> Reply:
        """mox-v0.0.5 1.1.11: measured and judged per recipient before the reply to DATA,
        never accepted and bounced later; failed recipients beside delivered ones get
        a DSN (1.1.12)."""
        failures: list[tuple[Recipient, Reply]] = []
        analysis = await measure(self, tx, spool, judged=analysis_wanted(self))
        extra = analysis.headers
        for hook in INCOMING_HEADER_HOOKS:
            extra += await hook(self, tx, await self.db(spool.file))
        sender = tx.mail.sender
        delayed = False
        if len(tx.recipients) > 1 and not spool.written:
            # Several copies: the bytes are written (and fsynced) once, to the spool's
            # file, and linked into each mailbox instead of written again for each.
            await self.db(spool.file)
        for rcpt in tx.recipients:
            if self.config.localserve:
                failure = special_failure(rcpt.address.localpart)
                if failure is not None and failure.timeout:
                    await self.config.sleep(self.config.localserve_timeout)
                    failures.append((rcpt, TIMEOUT_REPLY))
                    continue
                if failure is not None:
                    failures.append((rcpt, failure.reply()))
                    continue
            if not self.config.localserve and not self.config.submission:
                limits = self.config.delivery_limits
                limited = await self.db(store.delivery_rate_error, rcpt.account.pk, self.remote_ip,
                                        spool.size, store.DELIVERY_LIMITS if limits is None else limits)
                if limited:
                    # mox: the sender is slowed down from now on.
                    self.slow = True
                    failures.append((rcpt, reply(452, codes.SE_MAILBOX_FULL, limited)))
                    continue
            decision = await decide(self, analysis, rcpt, spool)
            prefix = (return_path(sender, trace.smtputf8) + extra
                      + received_header(trace, rcpt.address, when))
            if decision.reason:
                prefix = f"X-Mox-Reason: {decision.reason}\r\n".encode() + prefix
            info = decision.stored_info(dataclasses.replace(analysis.info, rcpt_to=rcpt.address.format(),
                                                            validations=dict(analysis.validations)))
            if not decision.accept:
                assert decision.reply is not None
                self.slow = True
                log.info("message rejected", extra={"cid": self.cid, "reason": decision.reason,
                                                    "account": rcpt.account.name})
                try:
                    kept = await self.db(store.keep_reject, rcpt.account, decision.mailbox, spool, prefix, info,
                                         analysis.message_id or "", analysis.sha256)
                    log.info("reject kept", extra={"cid": self.cid, "result": kept})
                except SpoolError:
                    raise
                except Exception:  # noqa: BLE001 - the reject stands either way
                    log.exception("storing reject failed", extra={"cid": self.cid})
                failures.append((rcpt, decision.reply))
                continue
            if (decision.delays_first_time and not delayed
                    and self.config.first_time_sender_delay > 0 and rcpt.account.first_time_sender_delay):
                # mox 1.1.10: keep a possible spammer's connection busy. Once per message
                # (mox sleeps once per such recipient, quirk 9 of the reference).
                delayed = True
                await self.config.sleep(self.config.first_time_sender_delay)
            try:
                await self.deliver_one(functools.partial(
                    store.deliver_incoming_steps, rcpt.account, decision.mailbox, spool, prefix, info,
                    seen=decision.seen, message_id=analysis.message_id, report=decision.report))
            except QuotaExceeded:
                failures.append((rcpt, reply(452, codes.SE_MAILBOX_FULL, "mailbox full")))
            except SpoolError:
                raise
            except Exception:  # noqa: BLE001 - answered as a temporary failure
                log.exception("delivery failed", extra={"cid": self.cid})
                failures.append((rcpt, reply(451, codes.SE_SYSTEM_OTHER, "error delivering message")))
        if failures and len(failures) == len(tx.recipients):
            if not spool.written:
                # Nothing needed the file, but a message that cannot be stored is
                # answered as such, whatever its recipients would have been told.
                await self.db(spool.file)
            return combine_failures([f for _, f in failures])
        if failures and sender is not None:
            await self.queue_incoming_dsn(tx, spool, failures, when)
        return codes.DATA_OK

    async def deliver_one(self: SMTPConnection, make: Callable[[], DeliverySteps[Any]]) -> Any:
        """Run a delivery's steps: on SQLite in the process's delivery thread, with
        the other sessions' deliveries (smtpserver/deliverythread.py); elsewhere in a
        database pool thread, in a transaction of its own."""
        if not groupcommit.grouped():
            return await self.db(run_steps, make())
        return await self.database_call(delivery_thread.run(make))

    async def queue_incoming_dsn(self: SMTPConnection, tx: Transaction, spool: Spool,
                                 failures: list[tuple[Recipient, Reply]], when: datetime) -> None:
        """mox 1.1.12: the sender learns of the recipients that failed beside delivered
        ones; a DSN that cannot be queued is logged, the 250 stands."""
        try:
            await self.db(store.queue_incoming_dsn, self.config.hostname, self.ehlo or "", self.remote_ip,
                          tx.mail.sender, [(r.address, f) for r, f in failures], spool, tx.mail.params.smtputf8,
                          when)
        except Exception:  # noqa: BLE001
            log.exception("queueing dsn for failed recipients failed", extra={"cid": self.cid})

    async def queue_submission(self: SMTPConnection, tx: Transaction, path: Path, has_8bit: bool,
                               trace: TraceInfo, when: datetime) -> Reply:
        check = await self.db(store.header_from, path)
        if not check.has_header:
            return reply(554, codes.SE_MEDIA_OTHER, "message requires both header and body section")
        if check.has_return_path:
            return reply(550, codes.SE_MEDIA_OTHER, "message must not have Return-Path header")
        if check.froms is None:
            return reply(550, codes.SE_MEDIA_OTHER, "cannot parse header or From address")
        if not await self.db(store.from_header_belongs_to, self.account.pk, check.froms):
            return reply(550, codes.SE_DELIVERY_UNAUTHORIZED, "must match authenticated user")
        limit = await self.db(store.outgoing_limit_error, self.account, [r.address for r in tx.recipients])
        if limit:
            return reply(451, codes.SE_DELIVERY_UNAUTHORIZED, limit)
        prefix = b""
        if not check.has_message_id:
            # mox adds what RFC 5322 section 3.6 requires and clients may leave out.
            prefix += f"Message-Id: <{secrets.token_urlsafe(18)}@{self.config.hostname}>\r\n".encode()
        if not check.has_date:
            prefix += f"Date: {email.utils.format_datetime(when)}\r\n".encode()
        # RFC 6376: signed with the From domain's keys, over the headers added above too.
        prefix = await self.db(store.dkim_signature, prefix, path) + prefix
        sender_text = tx.mail.sender.format(tx.mail.params.smtputf8) if tx.mail.sender else ""
        # RFC 8601: the submission was authenticated.
        prefix += (f"Authentication-Results: {self.config.hostname}; auth=pass "
                   f"smtp.mailfrom={sender_text}\r\n").encode("utf-8")
        prefix += received_header(trace, None, when)
        p = tx.mail.params
        try:
            await self.db(
                store.queue_message, self.account, tx.mail.sender,
                [(r.address, r.params.notify, r.params.orcpt) for r in tx.recipients], path, prefix,
                has_8bit=has_8bit, smtputf8=p.smtputf8, requiretls=True if p.requiretls else None,
                ret=p.ret, envid=p.envid,
            )
        except Exception:  # noqa: BLE001 - answered as a temporary failure
            log.exception("queueing failed", extra={"cid": self.cid})
            return reply(451, codes.SE_SYSTEM_OTHER, "error queueing message")
        return codes.DATA_OK

    async def bdat_chunk(self: SMTPConnection, size: int, last: bool) -> None:
        """RFC 3030 section 2-3: the chunk's octets are always read, even when refused."""
        error: Reply | None = None
        try:
            tx = self.need_transaction()
        except SMTPError as err:
            error, tx = err.reply, None
        state: BdatState | None = None
        if tx is not None:
            if tx.bdat is None:
                from mailstore.files import TempMessageFile

                tx.bdat = BdatState(await self.db(TempMessageFile))
            state = tx.bdat
        remaining = size
        while remaining > 0:
            piece = await self.read_some(min(remaining, BDAT_PIECE))
            remaining -= len(piece)
            if state is None:
                continue
            state.size += len(piece)
            if state.size > self.config.max_message_size:
                state.too_big = True
            state.checker.feed(piece)
            if not state.too_big and state.checker.error is None:
                state.tmp.write(piece)
        if error is not None:
            raise SMTPError(error)
        assert state is not None and tx is not None
        if last:
            state.checker.close()
        if state.too_big:
            if last:
                self.reset_transaction()
            raise SMTPError(reply(552, codes.SE_MSG_TOO_BIG,
                                  f"message too large, max is {self.config.max_message_size} bytes"))
        if state.checker.error is not None:
            from smtpserver.connection import data_error_reply

            if last:
                self.reset_transaction()
            raise SMTPError(data_error_reply(state.checker.error))
        if not last:
            await self.write(reply(250, codes.SE_OTHER, f"{size} octets received"))
            return
        tmp = state.tmp
        try:
            await self.db(tmp.finish)
            result = await self.accept_message(tx, Spool(tmp=tmp), state.checker.has_8bit)
        finally:
            tmp.cleanup()
            tx.bdat = None
            self.reset_transaction()
        await self.write(result)
