"""State changes of the outgoing queue, one verb each (the delivery worker is [5/9])."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from accounts.models import Account
from mailqueue.models import QueuedMessage
from mailstore import files

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QueueRecipient:
    """One recipient: localpart as its value (unquoted), domain in A-label form, and the
    DSN parameters given at RCPT (RFC 3461 section 4.1-4.2)."""

    localpart: str
    domain: str
    notify: list[str] = field(default_factory=list)
    orcpt: str = ""


def queue_path() -> tuple[Path, str]:
    """A fresh file name under the data directory's queue/ for one queued copy."""
    path, rel = files.new_message_path(0)
    rel = rel.replace("accounts/0/msg", "queue", 1)
    return files.data_dir() / rel, rel


def enqueue(
    account: Account | None,
    sender_localpart: str,
    sender_domain: str,
    recipients: list[QueueRecipient],
    source: Path,
    *,
    prefix: bytes = b"",
    message_id: str = "",
    has_8bit: bool = False,
    smtputf8: bool = False,
    requiretls: bool | None = None,
    dsn_ret: str = "",
    dsn_envid: str = "",
    dsn_utf8: bytes | None = None,
) -> list[QueuedMessage]:
    """Queue a finished (fsynced) message file for each recipient; returns once durable.

    Each row gets its own hard link (or copy) of `source` under queue/, with the
    directory fsynced before the rows commit, so the worker can remove a delivered
    copy without touching the others. `source` stays for the caller to remove. The
    rows share `next_attempt` and, with several recipients, a `base_id`. `dsn_utf8`:
    for a DSN whose file is its 7-bit variant, the UTF-8 one (`QueuedMessage.dsn_utf8`).
    """
    placed: list[tuple[str, Path]] = []
    try:
        for _ in recipients:
            dest, rel = queue_path()
            files.place(source, dest)
            placed.append((rel, dest))
        size = len(prefix) + source.stat().st_size
        now = timezone.now()
        with transaction.atomic():
            rows = [
                QueuedMessage.objects.create(
                    account=account,
                    sender_localpart=sender_localpart,
                    sender_domain=sender_domain,
                    recipient_localpart=rcpt.localpart,
                    recipient_domain=rcpt.domain,
                    next_attempt=now,
                    size=size,
                    prefix=prefix,
                    path=rel,
                    message_id=message_id,
                    has_8bit=has_8bit,
                    smtputf8=smtputf8,
                    requiretls=requiretls,
                    dsn_ret=dsn_ret,
                    dsn_envid=dsn_envid,
                    dsn_notify=rcpt.notify,
                    dsn_orcpt=rcpt.orcpt,
                    dsn_utf8=dsn_utf8,
                )
                for rcpt, (rel, _dest) in zip(recipients, placed)
            ]
            if len(rows) > 1:
                # One message, several recipients: a group that may share a
                # transaction when due together to one domain (mox v0.0.10 BaseID).
                QueuedMessage.objects.filter(pk__in=[r.pk for r in rows]).update(base_id=rows[0].pk)
                for r in rows:
                    r.base_id = rows[0].pk
    except BaseException:
        for _rel, dest in placed:
            dest.unlink(missing_ok=True)
        raise
    log.info(
        "message queued",
        extra={"account": account.name if account else "", "recipients": len(rows), "size": size},
    )
    return rows
