"""What happens once the message data is in: local delivery per recipient (incoming
and localserve), or the outgoing queue (submission), and BDAT chunks (RFC 3030).

`250` is only written after `mailstore.actions.deliver` or `mailqueue.actions.enqueue`
returned, which is after the file and its row are durable.
"""
from __future__ import annotations

import email.utils
import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from mailcore.smtp import codes
from mailcore.smtp.codes import Reply, SMTPError, reply
from mailcore.smtp.data import LineEndingChecker
from mailstore.actions import DeliveryInfo, QuotaExceeded
from moxweb import metrics
from smtpserver import store
from smtpserver.analysis import Analysis, analyze, dnsbl_verdict, junk_verdict
from smtpserver.analysis import wanted as analysis_wanted
from smtpserver.localserve import TIMEOUT_REPLY, special_failure
from smtpserver.received import TraceInfo, received_header, return_path

if TYPE_CHECKING:
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
            received_id=secrets.token_hex(8),
        )

    async def accept_message(self: SMTPConnection, tx: Transaction, path: Path, has_8bit: bool) -> Reply:
        trace = self.trace(tx)
        when = datetime.now(timezone.utc)
        if self.config.submission and not self.config.localserve:
            result = await self.queue_submission(tx, path, has_8bit, trace, when)
        else:
            result = await self.deliver_locally(tx, path, trace, when)
        metrics.smtp_message(self.config, result)
        if result.code == 250:
            self.good_transactions += 1
        else:
            self.failed_transactions += 1
        return result

    async def deliver_locally(self: SMTPConnection, tx: Transaction, path: Path, trace: TraceInfo,
                              when: datetime) -> Reply:
        failures: list[Reply] = []
        extra = b""
        analysis: Analysis | None = None
        if analysis_wanted(self):
            # mox-v0.0.5 1.1.11: measured and judged before the reply to DATA, never
            # accepted and bounced later.
            analysis = await analyze(self, tx, path)
            rejected = analysis.reject or await dnsbl_verdict(self)
            if rejected is not None:
                self.slow = True
                log.info("message rejected", extra={"cid": self.cid, "reason": analysis.reason or "dnsbl"})
                return rejected
            extra += analysis.headers
        for hook in INCOMING_HEADER_HOOKS:
            extra += await hook(self, tx, path)
        sender = tx.mail.sender
        for rcpt in tx.recipients:
            if self.config.localserve:
                failure = special_failure(rcpt.address.localpart)
                if failure is not None and failure.timeout:
                    await self.config.sleep(self.config.localserve_timeout)
                    failures.append(TIMEOUT_REPLY)
                    continue
                if failure is not None:
                    failures.append(failure.reply())
                    continue
            if not self.config.localserve and not self.config.submission:
                limits = self.config.delivery_limits
                limited = await self.db(store.delivery_rate_error, rcpt.account.pk, self.remote_ip,
                                        path.stat().st_size, store.DELIVERY_LIMITS if limits is None else limits)
                if limited:
                    # mox: the sender is slowed down from now on.
                    self.slow = True
                    failures.append(reply(452, codes.SE_MAILBOX_FULL, limited))
                    continue
            if analysis is not None:
                junk = await junk_verdict(self, rcpt.account, path, analysis)
                if junk is not None:
                    self.slow = True
                    failures.append(junk)
                    continue
            prefix = (return_path(sender, trace.smtputf8) + extra
                      + received_header(trace, rcpt.address, when))
            info = DeliveryInfo(
                remote_ip=self.remote_ip,
                ehlo_domain=self.ehlo or "",
                mail_from=sender.format() if sender else "",
                rcpt_to=rcpt.address.format(),
                dkim_domains=analysis.dkim_domains if analysis else [],
                validations=dict(analysis.validations) if analysis else {},
            )
            try:
                await self.db(store.deliver_file, rcpt.account, rcpt.mailbox, path, prefix, info)
            except QuotaExceeded:
                failures.append(reply(452, codes.SE_MAILBOX_FULL, "mailbox full"))
            except Exception:  # noqa: BLE001 - answered as a temporary failure
                log.exception("delivery failed", extra={"cid": self.cid})
                failures.append(reply(451, codes.SE_SYSTEM_OTHER, "error delivering message"))
        if failures and len(failures) == len(tx.recipients):
            return combine_failures(failures)
        # todo: a DSN for the recipients that failed when others succeeded ([5/9]).
        return codes.DATA_OK

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
            try:
                piece = await self._reader.read(min(remaining, BDAT_PIECE))
            except Exception:  # noqa: BLE001
                piece = b""
            if not piece:
                from smtpserver.connection import ConnectionClosed

                raise ConnectionClosed()
            remaining -= len(piece)
            self._reset_timeout()
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
            result = await self.accept_message(tx, tmp.path, state.checker.has_8bit)
        finally:
            tmp.cleanup()
            tx.bdat = None
            self.reset_transaction()
        await self.write(result)
        await self.release_db()
