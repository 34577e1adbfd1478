"""State changes of the mail store, one verb each: used by SMTP, IMAP, the web and commands.

Every verb runs in one short transaction that first locks the account's `Store` row, so
modseqs and UIDs are handed out in order; the change-log row is written in the same
transaction and waiting IMAP sessions are woken after commit (mailstore.notify).
"""
from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from accounts.models import Account
from mailcore.message.summary import summarize
from mailstore import files
from mailstore.models import Change, Mailbox, Message, Store, Subscription
from mailstore.notify import notify_changed

log = logging.getLogger(__name__)

# New accounts get these mailboxes, all subscribed (mox: Inbox plus DefaultMailboxes).
DEFAULT_MAILBOXES: list[tuple[str, str]] = [
    ("Inbox", ""),
    ("Sent", Mailbox.SpecialUse.SENT),
    ("Archive", Mailbox.SpecialUse.ARCHIVE),
    ("Trash", Mailbox.SpecialUse.TRASH),
    ("Drafts", Mailbox.SpecialUse.DRAFTS),
    ("Junk", Mailbox.SpecialUse.JUNK),
]


class StoreError(Exception):
    """A store operation that cannot be done, with a message fit for a protocol reply."""


class QuotaExceeded(StoreError):
    pass


def _lock_store(account: Account | int) -> Store:
    account_id = account if isinstance(account, int) else account.pk
    store = Store.objects.select_for_update().filter(account_id=account_id).first()
    if store is None:
        Store.objects.create(account_id=account_id, next_uidvalidity=_initial_uidvalidity())
        store = Store.objects.select_for_update().get(account_id=account_id)
    return store


def _initial_uidvalidity() -> int:
    # mox: the first UIDVALIDITY of an account is the unix time / 2 (fits 32 bits to 2106).
    return int(time.time()) // 2


def next_modseq(store: Store) -> int:
    store.highest_modseq += 1
    return store.highest_modseq


def _notify_on_commit(account_id: int) -> None:
    transaction.on_commit(lambda: notify_changed(account_id))


def special_use_for_name(name: str) -> str:
    """mox sets special-use by name prefix for the default mailboxes."""
    lowered = name.lower()
    for prefix, use in (
        ("archive", Mailbox.SpecialUse.ARCHIVE),
        ("drafts", Mailbox.SpecialUse.DRAFTS),
        ("junk", Mailbox.SpecialUse.JUNK),
        ("sent", Mailbox.SpecialUse.SENT),
        ("trash", Mailbox.SpecialUse.TRASH),
    ):
        if lowered.startswith(prefix):
            return use
    return ""


def normalize_mailbox_name(name: str) -> str:
    """INBOX in any case, also as a prefix of a child, becomes "Inbox" (mox)."""
    if name.lower() == "inbox":
        return "Inbox"
    if name.lower().startswith("inbox/"):
        return "Inbox/" + name[6:]
    return name


@transaction.atomic
def ensure_store(account: Account) -> Store:
    """Create the account's counters and default mailboxes if missing (idempotent)."""
    store = _lock_store(account)
    for name, use in DEFAULT_MAILBOXES:
        if not Mailbox.objects.filter(account=account, name=name).exists():
            _create_mailbox_locked(store, account.pk, name, use)
    return store


def _create_mailbox_locked(store: Store, account_id: int, name: str, special_use: str = "") -> Mailbox:
    uidvalidity = store.next_uidvalidity
    store.next_uidvalidity += 1
    modseq = next_modseq(store)
    store.save(update_fields=["next_uidvalidity", "highest_modseq"])
    mailbox = Mailbox.objects.create(
        account_id=account_id, name=name, special_use=special_use, uidvalidity=uidvalidity, highest_modseq=modseq
    )
    Subscription.objects.get_or_create(account_id=account_id, name=name)
    Change.objects.create(
        account_id=account_id, modseq=modseq, mailbox_id_ref=mailbox.pk, kind=Change.Kind.MAILBOX_ADD, data={"name": name}
    )
    _notify_on_commit(account_id)
    return mailbox


def _mailbox_for_delivery(store: Store, account_id: int, name: str) -> Mailbox:
    """Mailboxes are created on demand at delivery, with missing parents, subscribed."""
    name = normalize_mailbox_name(name)
    mailbox = Mailbox.objects.filter(account_id=account_id, name=name).first()
    if mailbox is not None:
        return mailbox
    parts = name.split("/")
    for i in range(1, len(parts)):
        parent = "/".join(parts[:i])
        if not Mailbox.objects.filter(account_id=account_id, name=parent).exists():
            _create_mailbox_locked(store, account_id, parent, special_use_for_name(parent) if i == 1 else "")
    return _create_mailbox_locked(store, account_id, name, special_use_for_name(name) if len(parts) == 1 else "")


@dataclass
class DeliveryInfo:
    """What the SMTP server knows about a message, kept for reputation and the UI."""

    remote_ip: str = ""
    ehlo_domain: str = ""
    mail_from: str = ""
    rcpt_to: str = ""
    dkim_domains: list[str] = field(default_factory=list)
    validations: dict[str, str] = field(default_factory=dict)


def _parse_for_store(path: Path) -> tuple[dict[str, object], object]:
    """Summary and MIME structure, computed once at delivery so FETCH needs no re-parse."""
    data = path.read_bytes()
    summary = summarize(data)
    try:
        from mailcore.message import structure  # provided by the IMAP work

        parsed = structure.parse_structure(data)
    except ImportError:
        parsed = {}
    return parsed, summary


def deliver(
    account: Account,
    mailbox_name: str,
    source: Path,
    *,
    prefix: bytes = b"",
    received: datetime | None = None,
    flags: set[str] | None = None,
    keywords: list[str] | None = None,
    info: DeliveryInfo | None = None,
) -> Message:
    """Store a finished (fsynced) file as a new message; returns once it is durable.

    The file is linked into the account's directory and that directory fsynced before
    the row commits, so an acknowledged message survives a crash at any instant, and no
    client can see a row whose file is incomplete. `source` is left for the caller to
    remove (it may be linked into several accounts).
    """
    parsed, summary = _parse_for_store(source)
    size = len(prefix) + source.stat().st_size
    dest, rel = files.new_message_path(account.pk)
    files.place(source, dest)
    try:
        message = _insert_message(
            account, mailbox_name, rel, size, prefix, parsed, summary, received, flags, keywords, info
        )
    except BaseException:
        dest.unlink(missing_ok=True)
        raise
    log.info(
        "message delivered",
        extra={"account": account.name, "mailbox": message.mailbox.name, "uid": message.uid, "size": size,
               "msgid": summary.message_id},  # type: ignore[attr-defined]
    )
    return message


@transaction.atomic
def _insert_message(
    account: Account,
    mailbox_name: str,
    rel: str,
    size: int,
    prefix: bytes,
    parsed: dict[str, object],
    summary: object,
    received: datetime | None,
    flags: set[str] | None,
    keywords: list[str] | None,
    info: DeliveryInfo | None,
) -> Message:
    store = _lock_store(account)
    if account.quota_bytes and store.size + size > account.quota_bytes:
        raise QuotaExceeded("account over quota")
    mailbox = _mailbox_for_delivery(store, account.pk, mailbox_name)
    modseq = next_modseq(store)
    store.size += size
    store.save(update_fields=["highest_modseq", "size"])
    uid = mailbox.uidnext
    flag_fields = {Message.SYSTEM_FLAGS[f.lower()]: True for f in (flags or set()) if f.lower() in Message.SYSTEM_FLAGS}
    kw = sorted({k.lower() for k in (keywords or [])} - set(Message.SYSTEM_FLAGS))
    info = info or DeliveryInfo()
    message = Message.objects.create(
        account=account,
        mailbox=mailbox,
        uid=uid,
        modseq=modseq,
        created_modseq=modseq,
        received=received or timezone.now(),
        size=size,
        prefix=prefix,
        path=rel,
        message_id=summary.message_id,  # type: ignore[attr-defined]
        subject=summary.subject,  # type: ignore[attr-defined]
        from_address=summary.from_address,  # type: ignore[attr-defined]
        to_addresses=summary.to_addresses,  # type: ignore[attr-defined]
        sent_date=summary.date,  # type: ignore[attr-defined]
        parsed=parsed,
        keywords=kw,
        remote_ip=info.remote_ip,
        ehlo_domain=info.ehlo_domain,
        mail_from=info.mail_from,
        rcpt_to=info.rcpt_to,
        dkim_domains=info.dkim_domains,
        validations=info.validations,
        **flag_fields,
    )
    mailbox.uidnext = uid + 1
    mailbox.highest_modseq = modseq
    if kw and not set(kw) <= set(mailbox.keywords):
        mailbox.keywords = sorted(set(mailbox.keywords) | set(kw))
    mailbox.save(update_fields=["uidnext", "highest_modseq", "keywords"])
    Change.objects.create(
        account=account, modseq=modseq, mailbox_id_ref=mailbox.pk, kind=Change.Kind.ADD, uids=[uid]
    )
    _notify_on_commit(account.pk)
    return message


def deliver_bytes(account: Account, mailbox_name: str, data: bytes, **kwargs: object) -> Message:
    """Convenience for small messages (commands, DSNs, tests): write, deliver, clean up."""
    path = files.write_temp(data)
    try:
        return deliver(account, mailbox_name, path, **kwargs)  # type: ignore[arg-type]
    finally:
        path.unlink(missing_ok=True)


def remove_account_files(account_id: int) -> None:
    shutil.rmtree(files.account_dir(account_id), ignore_errors=True)


def changes_since(account_id: int, modseq: int) -> list[Change]:
    return list(Change.objects.filter(account_id=account_id, modseq__gt=modseq).order_by("modseq"))
