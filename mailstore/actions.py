"""State changes of the mail store, one verb each: used by SMTP, IMAP, the web and commands.

Every verb runs in one short transaction that first locks the account's `Store` row, so
modseqs and UIDs are handed out in order; the change-log row is written in the same
transaction and waiting IMAP sessions are woken after commit (mailstore.notify).
"""
from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Generator, TypeVar

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import Account
from mailcore.message.headers import message_fields
from mailcore.message.structure import parse_structure
from mailcore.message.summary import Summary, summarize_fields
from mailstore import files, flagrows, groupcommit, searchcolumns
from mailstore.models import Change, Mailbox, Message, MessageDKIMDomain, Store, Subscription
from mailstore.notify import notify_changed
from mailstore.rowinsert import InstanceMaker, RowInserter, RowLoader, fetch_one

log = logging.getLogger(__name__)

T = TypeVar("T")

_STORE_TABLE = Store._meta.db_table
_MAILBOX_TABLE = Mailbox._meta.db_table
# The delivery's rows, inserted without compiling the INSERT per row.
_MESSAGE_INSERT = RowInserter(Message)
_MESSAGE_MAKER = InstanceMaker(Message)
_CHANGE_INSERT = RowInserter(Change)
_MAILBOX_LOAD = RowLoader(Mailbox)

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
    """What the SMTP server knows about a message, kept for reputation and the UI
    (mox-v0.0.5 section 3.3). Domains are ASCII and lower case; validations are
    `Message.Validation` values."""

    remote_ip: str = ""
    ehlo_domain: str = ""
    mail_from: str = ""
    rcpt_to: str = ""
    dkim_domains: list[str] = field(default_factory=list)
    validations: dict[str, str] = field(default_factory=dict)
    mail_from_localpart: str = ""
    mail_from_domain: str = ""
    msg_from_localpart: str = ""
    msg_from_domain: str = ""
    msg_from_orgdomain: str = ""
    ehlo_validation: str = ""
    mail_from_validation: str = ""
    msg_from_validation: str = ""
    # For a message stored in Rejects: the mailbox it was meant for (mox MailboxDestinedID).
    destined_mailbox: str = ""
    # SHA-256 (hex) of the received bytes; set for Rejects copies.
    message_hash: str = ""
    # Delivered by a forwarder we trust (a ruleset's is_forward, mox IsForward): its
    # networks are not stored for reputation (remote_ip itself is kept).
    forwarded: bool = False

    def reputation_fields(self) -> dict[str, object]:
        """The Message columns reputation queries (smtpserver/reputation.py)."""
        from mailcore.ratelimit import masked_ips

        try:
            masked = masked_ips(self.remote_ip) if self.remote_ip and not self.forwarded else ("", "", "")
        except ValueError:
            masked = ("", "", "")
        return {
            "remote_ip_masked1": masked[0], "remote_ip_masked2": masked[1], "remote_ip_masked3": masked[2],
            "mail_from_localpart": self.mail_from_localpart, "mail_from_domain": self.mail_from_domain,
            "msg_from_localpart": self.msg_from_localpart, "msg_from_domain": self.msg_from_domain,
            "msg_from_orgdomain": self.msg_from_orgdomain,
            "ehlo_validation": self.ehlo_validation, "mail_from_validation": self.mail_from_validation,
            "msg_from_validation": self.msg_from_validation,
            "ehlo_validated": self.ehlo_validation == Message.Validation.PASS,
            "mail_from_validated": self.mail_from_validation == Message.Validation.PASS,
            "msg_from_validated": self.msg_from_validation in (
                Message.Validation.STRICT, Message.Validation.DMARC, Message.Validation.RELAXED),
            "message_hash": self.message_hash,
        }


# A message's parse for its rows: its MIME structure and its summary (`parse_message`).
Parsed = tuple[dict[str, object], object]


def parse_message(data: bytes) -> Parsed:
    """What a delivery stores of a message's parse, for callers delivering one message to
    several mailboxes (`deliver_steps(parsed=...)`): parsed once, not per recipient."""
    return _parse_bytes(data)


def _parse_bytes(data: bytes) -> tuple[dict[str, object], object]:
    """Summary and MIME structure, computed once at delivery so FETCH needs no re-parse."""
    fields = message_fields(data)  # split once for the summary, the structure and search
    summary = summarize_fields(fields)
    parsed = parse_structure(data, fields)
    searchcolumns.attach(summary, data, parsed, fields)
    return parsed, summary


def deliver(account: Account, mailbox_name: str, source: Path | None, **options: Any) -> Message:
    """Store a finished (fsynced) file, or `data` when `source` is None, as a new
    message; returns once it is durable.

    The file is linked into the account's directory (or the data written there, its
    writeback started), and in the delivery's group commit, before its row is inserted,
    the file is fsynced and that directory fsynced, so an acknowledged message survives
    a crash at any instant, and no client can see a row whose file is incomplete
    (`files.begin_put`, `_sync_dirs`). `source`
    is left for the caller to remove (it may be linked into several accounts). A crash
    between the file and the commit leaves an unreferenced file (`verifydata`).
    `then_for(summary)`, called in the caller's thread once the message is parsed, may
    return a `then(message)` to run in the same transaction after the insert (a failure
    there undoes the delivery): what it needs to read, it reads before, outside the
    shared transaction. `data` is the file's content when the caller still holds it
    (SMTP's small messages): it is then not read back.
    `options` are `deliver_steps`'s: prefix, received, flags, keywords, info,
    then_for, data.
    """
    return run_steps(deliver_steps(account, mailbox_name, source, **options))


# A delivery as steps (`deliver_steps`): it yields its unit of group commit once its file
# is in place, is sent the committed Message (or has the commit's error thrown in) and
# returns its result. `run_steps` commits one through the group committer;
# `run_steps_together` commits several in one transaction in the calling thread.
DeliverySteps = Generator["_Delivery", Message, T]


def deliver_steps(
    account: Account,
    mailbox_name: str,
    source: Path | None,
    *,
    prefix: bytes = b"",
    received: datetime | None = None,
    flags: set[str] | None = None,
    keywords: list[str] | None = None,
    info: DeliveryInfo | None = None,
    then_for: Callable[[Summary], Callable[[Message], object] | None] | None = None,
    data: bytes | None = None,
    parsed: Parsed | None = None,
) -> DeliverySteps[Message]:
    """`deliver` as steps (see DeliverySteps). `parsed`: the message's `parse_message`,
    when the caller has it already (the same message to several recipients); the
    file is then not read."""
    if parsed is None:
        # One read: the parse and the size come from the same bytes, outside the
        # transaction.
        if data is None:
            assert source is not None
            data = source.read_bytes()
        parsed = _parse_bytes(data)
    structure, summary = parsed
    if data is not None:
        size = len(prefix) + len(data)
    else:
        assert source is not None
        size = len(prefix) + source.stat().st_size
    if source is not None:
        data = None  # the file is linked: the bytes are not needed any more
    dest, rel = files.new_message_name(account.pk, files.delivery_bucket())
    # The row is built and converted for the database here, in the caller's thread: the
    # shared transaction (group commit's one thread on SQLite) only numbers it.
    row = _prepare_row(_new_message(account, rel=rel, size=size, prefix=prefix, parsed=structure, summary=summary,
                                    received=received, flags=flags, keywords=_delivery_keywords(keywords),
                                    info=info), info)
    then = then_for(summary) if then_for is not None else None  # type: ignore[arg-type]
    placement = files.begin_put(dest, source, data)
    try:
        del data

        # Concurrent deliveries share one commit, its directory fsyncs and one INSERT
        # for their rows (mailstore/groupcommit.py, `_insert_deliveries`). `alone` is
        # handed its delivery rather than naming it: a delivery holding a function that
        # holds the delivery would be a reference cycle, its message, row and parse
        # garbage for the cycle collector to find (in the SMTP benchmark, its collections
        # took 4% of the process's time).
        def alone(delivery: _Delivery) -> Message:
            _sync_dirs([delivery])
            message = _insert_message(account, mailbox_name, rel, size, prefix, structure, summary, received, flags,
                                      keywords, info, row=row)
            if then is not None:
                then(message)
            return message

        delivery = _Delivery(account, normalize_mailbox_name(mailbox_name), size, row,
                             bool(_delivery_keywords(keywords)), alone, then, placement)
        message = yield delivery
    except BaseException:
        placement.discard()
        raise
    log.info(
        "message delivered",
        extra={"account": account.name, "mailbox": message.mailbox.name, "uid": message.uid, "size": size,
               "msgid": summary.message_id},  # type: ignore[attr-defined]
    )
    return message


def run_steps(steps: DeliverySteps[T]) -> T:
    """Run a delivery's steps, its commit shared with concurrent callers'
    (`groupcommit.run_combined`); its result."""
    delivery = next(steps)
    try:
        message = groupcommit.run_combined(_insert_deliveries, delivery, key=delivery.account.pk,
                                           prepare=_sync_dirs)
    except BaseException as exc:  # noqa: BLE001 - handed to the steps, which clean up and raise it
        return _finish(steps, None, exc)
    return _finish(steps, message, None)


def run_steps_together(committer: groupcommit.GroupCommitter,
                       all_steps: list[DeliverySteps[T]]) -> list[tuple[T | None, BaseException | None]]:
    """Run the steps of several deliveries with one commit for them all, made by
    `committer` in this thread (`GroupCommitter.commit_now`); each one's (result,
    None) or (None, error), in order. For a thread whose work is delivering many
    (smtpserver.deliverythread)."""
    outcomes: list[tuple[T | None, BaseException | None]] = [(None, None)] * len(all_steps)
    started: list[tuple[int, _Delivery]] = []
    for i, steps in enumerate(all_steps):
        try:
            started.append((i, next(steps)))
        except BaseException as exc:  # noqa: BLE001 - that delivery's own failure
            outcomes[i] = (None, exc)
    committed = committer.commit_now(_insert_deliveries, [(d.account.pk, d) for _, d in started],
                                     prepare=_sync_dirs) if started else []
    for (i, _), (message, error) in zip(started, committed, strict=True):
        try:
            outcomes[i] = (_finish(all_steps[i], message, error), None)
        except BaseException as exc:  # noqa: BLE001 - that delivery's own failure
            outcomes[i] = (None, exc)
    return outcomes


def _finish(steps: DeliverySteps[T], message: Message | None, error: BaseException | None) -> T:
    """Resume steps after their commit: with its Message, or its error raised in them."""
    try:
        if error is not None:
            steps.throw(error)
        else:
            steps.send(message)  # type: ignore[arg-type]
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    raise RuntimeError("delivery steps yielded twice")


def _add_keywords(mailbox: Mailbox, keywords: list[str]) -> None:
    """Keep `Mailbox.keywords` a superset of its messages' keywords (SELECT's FLAGS and
    FETCH (FLAGS) depend on it)."""
    if keywords and not set(keywords) <= set(mailbox.keywords):
        mailbox.keywords = sorted(set(mailbox.keywords) | set(keywords))


def _delivery_keywords(keywords: list[str] | None) -> list[str]:
    """A delivery's keywords: lower case, sorted, system flags left out."""
    return sorted({k.lower() for k in (keywords or [])} - set(Message.SYSTEM_FLAGS))


# Message columns only known inside the delivery's transaction.
_NUMBERED_FIELDS = ("mailbox", "uid", "modseq", "created_modseq", "mailbox_orig", "mailbox_destined")


@dataclass
class _Row:
    """A delivery's Message row, built before its transaction: its mailbox, UID and
    modseqs are set inside it (`_create_message_row`)."""

    message: Message
    params: list[object]
    destined_mailbox: str


def _prepare_row(message: Message, info: DeliveryInfo | None) -> _Row:
    """A new message (`_new_message`) with its values converted for the INSERT."""
    return _Row(message, _MESSAGE_INSERT.params(message), info.destined_mailbox if info else "")


def _new_message(
    account: Account,
    *,
    rel: str,
    size: int,
    prefix: bytes,
    parsed: dict[str, object],
    summary: object,
    received: datetime | None,
    flags: set[str] | None,
    keywords: list[str],
    info: DeliveryInfo | None,
) -> Message:
    """A delivery's Message row, unsaved: its mailbox, UID and modseqs are set when it is
    inserted."""
    flag_fields = {Message.SYSTEM_FLAGS[f.lower()]: True for f in (flags or set()) if f.lower() in Message.SYSTEM_FLAGS}
    info = info or DeliveryInfo()
    return _MESSAGE_MAKER.make(dict(
        account_id=account.pk,
        uid=0,
        modseq=0,
        created_modseq=0,
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
        keywords=keywords,
        remote_ip=info.remote_ip,
        ehlo_domain=info.ehlo_domain,
        mail_from=info.mail_from,
        rcpt_to=info.rcpt_to,
        dkim_domains=info.dkim_domains,
        validations=info.validations,
        **info.reputation_fields(),
        **searchcolumns.columns(prefix, summary),
        **flag_fields,
    ), cached={"account": account})


def _create_message_row(account: Account, mailbox: Mailbox, uid: int, modseq: int, row: _Row) -> Message:
    """The Message row of a delivery, shared by the common and the general path."""
    message = _number_message_row(account, mailbox, uid, modseq, row)
    _MESSAGE_INSERT.insert(message, params=row.params)
    _add_dkim_rows(message)
    return message


def _number_message_row(account: Account, mailbox: Mailbox, uid: int, modseq: int, row: _Row) -> Message:
    """A delivery's Message, its mailbox, UID and modseqs set (in `row.params` too)."""
    destined = None
    if row.destined_mailbox:
        destined = Mailbox.objects.filter(
            account_id=account.pk, name=normalize_mailbox_name(row.destined_mailbox)
        ).values_list("pk", flat=True).first()
        if destined == mailbox.pk:
            destined = None
    message = row.message
    message.mailbox = mailbox
    message.uid = uid
    message.modseq = message.created_modseq = modseq
    message.mailbox_orig = mailbox.pk
    message.mailbox_destined = destined
    _MESSAGE_INSERT.refresh(message, row.params, _NUMBERED_FIELDS)
    return message


def _add_dkim_rows(*messages: Message) -> None:
    """The verified DKIM domains of delivered messages, one indexed row each, for
    reputation (one INSERT for them all)."""
    rows = [MessageDKIMDomain(message=message, domain=str(d).lower(), mailbox_orig=message.mailbox_orig,
                              received=message.received)
            for message in messages for d in dict.fromkeys(message.dkim_domains or [])]
    if rows:
        MessageDKIMDomain.objects.bulk_create(rows)


# No savepoint of its own: it runs in its group commit unit's savepoint, or its caller's
# transaction, and an error rolls that back.
@transaction.atomic(savepoint=False)
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
    *,
    row: _Row | None = None,
) -> Message:
    """Insert a delivered message's rows (its file is in place). `row`, when given, is
    the row `_prepare_row` made from the same arguments."""
    kw = _delivery_keywords(keywords)
    if row is None:
        row = _prepare_row(_new_message(account, rel=rel, size=size, prefix=prefix, parsed=parsed, summary=summary,
                                        received=received, flags=flags, keywords=kw, info=info), info)
    if not kw:
        message = _insert_message_fast(account, mailbox_name, size, row)
        if message is not None:
            return message
    store = _lock_store(account)
    if account.quota_bytes and store.size + size > account.quota_bytes:
        raise QuotaExceeded("account over quota")
    mailbox = _mailbox_for_delivery(store, account.pk, mailbox_name)
    modseq = next_modseq(store)
    store.size += size
    store.save(update_fields=["highest_modseq", "size"])
    uid = mailbox.uidnext
    message = _create_message_row(account, mailbox, uid, modseq, row)
    mailbox.uidnext = uid + 1
    mailbox.highest_modseq = modseq
    _add_keywords(mailbox, kw)
    mailbox.save(update_fields=["uidnext", "highest_modseq", "keywords"])
    _CHANGE_INSERT.insert(Change(
        account=account, modseq=modseq, mailbox_id_ref=mailbox.pk, kind=Change.Kind.ADD, uids=[uid]
    ))
    _notify_on_commit(account.pk)
    return message


# A delivery's counters: the Store hands out `n` modseqs and adds the size (locking its
# row, so modseqs follow commit order); the mailbox hands out `n` UIDs.
_BUMP_STORE = (f"UPDATE {_STORE_TABLE} SET highest_modseq = highest_modseq + %s, size = size + %s"
               " WHERE account_id = %s RETURNING highest_modseq, size")
_TAKE_UIDS = (f"UPDATE {_MAILBOX_TABLE} SET uidnext = uidnext + %s, highest_modseq = %s"
              f" WHERE account_id = %s AND name = %s RETURNING {{returning}}")
_UNBUMP_STORE = (f"UPDATE {_STORE_TABLE} SET highest_modseq = highest_modseq - 1, size = size - %s"
                 " WHERE account_id = %s")


def _insert_message_fast(account: Account, mailbox_name: str, size: int, row: _Row) -> Message | None:
    """The common delivery (existing Store and mailbox, no keywords) in four statements.

    Runs inside `_insert_message`'s transaction. The Store counters are bumped with one
    UPDATE ... RETURNING, which also takes the row lock `_lock_store` would take (so
    modseqs stay in commit order), and the mailbox's UID is handed out the same way. A
    quota overrun raises after the UPDATE, rolling the transaction back. Returns None,
    having changed nothing, when the slow path must run (no Store row or no mailbox yet).
    """
    name = normalize_mailbox_name(mailbox_name)
    found = fetch_one(connection, _BUMP_STORE, [1, size, account.pk])
    if found is None:
        return None
    modseq, new_size = found
    if account.quota_bytes and new_size > account.quota_bytes:
        raise QuotaExceeded("account over quota")
    found = fetch_one(connection, _TAKE_UIDS.format(returning=_MAILBOX_LOAD.returning(connection)),
                      [1, modseq, account.pk, name])
    if found is None:
        # No such mailbox: undo the counter bump; the slow path creates it.
        with connection.cursor() as cursor:
            cursor.execute(_UNBUMP_STORE, [size, account.pk])
        return None
    mailbox = _MAILBOX_LOAD.load(found, connection.alias)
    mailbox_id = mailbox.pk
    uid = mailbox.uidnext - 1
    message = _create_message_row(account, mailbox, uid, modseq, row)
    _CHANGE_INSERT.insert(Change(
        account=account, modseq=modseq, mailbox_id_ref=mailbox_id, kind=Change.Kind.ADD, uids=[uid]
    ))
    _notify_on_commit(account.pk)
    return message


@dataclass
class _Delivery:
    """A delivery's unit of group commit (`deliver`)."""

    account: Account
    mailbox_name: str  # normalized
    size: int
    row: _Row
    has_keywords: bool
    alone: Callable[[_Delivery], Message]  # its work on its own, given itself: `_sync_dirs`, `_insert_message`, `then`
    then: Callable[[Message], object] | None
    placement: files.Placement  # its file on its way: to complete and its directory to fsync (`_sync_dirs`)
    synced: bool = False


def _sync_dirs(items: list[_Delivery]) -> None:
    """The deliveries' files made durable and put in place (their writeback started as
    each delivery ran up to its commit: `files.begin_put`), then their directories
    fsynced, each once (not again when a batch runs again one by one after a failure).
    A file that fails raises its error here, again each time (its delivery fails: when
    the batch runs one by one, alone)."""
    todo = [item for item in items if not item.synced]
    if todo:
        for item in todo:
            item.placement.complete()
        files.sync_dirs([item.placement.dest for item in todo])
        for item in todo:
            item.synced = True


class _Separately(Exception):
    """A batch of deliveries needs the one-by-one path (a keyword, a Store or mailbox
    still to create, a quota reached)."""


def _insert_deliveries(items: list[_Delivery]) -> list[Message]:
    """The deliveries of one group commit (`groupcommit.run_combined`) in a few
    statements: per account one UPDATE of its Store handing out a range of modseqs (one
    per message, as one by one) and adding the sizes, per mailbox one UPDATE handing out a
    range of UIDs, and one INSERT for all Message rows and one for their change-log rows.
    What only the one-by-one path handles raises _Separately: the batch then runs again
    with each delivery alone."""
    if len(items) == 1:
        return [items[0].alone(items[0])]
    _sync_dirs(items)
    if any(item.has_keywords for item in items):
        raise _Separately("keywords")
    by_mailbox: dict[tuple[int, str], list[_Delivery]] = {}
    for item in items:
        by_mailbox.setdefault((item.account.pk, item.mailbox_name), []).append(item)
    take_uids = _TAKE_UIDS.format(returning=_MAILBOX_LOAD.returning(connection))
    changes: list[list[object]] = []  # change-log rows' params
    for account_id in sorted({account_id for account_id, _ in by_mailbox}):
        mine = [item for item in items if item.account.pk == account_id]
        account = mine[0].account
        found = fetch_one(connection, _BUMP_STORE, [len(mine), sum(item.size for item in mine), account_id])
        if found is None:
            raise _Separately("no store")
        last_modseq, new_size = found
        if account.quota_bytes and new_size > account.quota_bytes:
            raise _Separately("quota")
        modseqs = iter(range(last_modseq - len(mine) + 1, last_modseq + 1))
        for (owner, name), group in by_mailbox.items():
            if owner != account_id:
                continue
            numbers = [next(modseqs) for _ in group]
            found = fetch_one(connection, take_uids, [len(group), numbers[-1], account_id, name])
            if found is None:
                raise _Separately("no mailbox")
            mailbox = _MAILBOX_LOAD.load(found, connection.alias)
            for uid, modseq, item in zip(range(mailbox.uidnext - len(group), mailbox.uidnext), numbers, group):
                _number_message_row(account, mailbox, uid, modseq, item.row)
                changes.append(_CHANGE_INSERT.values_params({
                    "account_id": account_id, "modseq": modseq, "mailbox_id_ref": mailbox.pk,
                    "kind": Change.Kind.ADD.value, "uids": [uid]}))
        _notify_on_commit(account_id)
    messages = [item.row.message for item in items]
    _MESSAGE_INSERT.insert_many(messages, [item.row.params for item in items])
    _CHANGE_INSERT.insert_values(changes)
    _add_dkim_rows(*messages)
    for item in items:
        if item.then is not None:
            item.then(item.row.message)
    return messages


def deliver_bytes(account: Account, mailbox_name: str, data: bytes, **kwargs: object) -> Message:
    """Convenience for small messages (commands, DSNs, tests): write, deliver, clean up."""
    path = files.write_temp(data)
    try:
        return deliver(account, mailbox_name, path, **kwargs)
    finally:
        path.unlink(missing_ok=True)


@dataclass
class Prepared:
    """A message read and parsed for `deliver_prepared`, its row built but not inserted."""

    mailbox_name: str
    message: Message
    keywords: list[str]


def prepare_delivery(
    account: Account,
    mailbox_name: str,
    source: Path,
    rel: str,
    *,
    received: datetime | None = None,
    flags: set[str] | None = None,
    keywords: list[str] | None = None,
) -> Prepared:
    """Parse the message in `source`, to be stored at `rel` (the caller puts it there)."""
    data = source.read_bytes()
    parsed, summary = _parse_bytes(data)
    kw = _delivery_keywords(keywords)
    message = _new_message(account, rel=rel, size=len(data), prefix=b"", parsed=parsed, summary=summary,
                           received=received, flags=flags, keywords=kw, info=None)
    return Prepared(mailbox_name, message, kw)


@transaction.atomic
def deliver_prepared(account: Account, items: list[Prepared]) -> list[Message]:
    """Insert the rows of prepared messages whose files are in place and durable, all in
    one transaction (an import's batch): the Store locked once, one INSERT for the
    Message rows, and per mailbox one modseq, one range of UIDs and one change-log row,
    as a COPY makes. Stops before the first message that would put the account over its
    quota: returns the messages inserted, the first of `items`, in order."""
    store = _lock_store(account)
    if account.quota_bytes:
        room = account.quota_bytes - store.size
        fit = 0
        for item in items:
            room -= item.message.size
            if room < 0:
                break
            fit += 1
        items = items[:fit]
    if not items:
        return []
    mailboxes: dict[str, Mailbox] = {}
    for item in items:
        name = normalize_mailbox_name(item.mailbox_name)
        if name not in mailboxes:
            mailboxes[name] = _mailbox_for_delivery(store, account.pk, name)
    modseqs = {mailbox.pk: next_modseq(store) for mailbox in mailboxes.values()}
    uids: dict[int, list[int]] = {pk: [] for pk in modseqs}
    messages = []
    for item in items:
        mailbox = mailboxes[normalize_mailbox_name(item.mailbox_name)]
        message = item.message
        message.mailbox = mailbox
        message.uid = mailbox.uidnext
        mailbox.uidnext += 1
        message.modseq = message.created_modseq = modseqs[mailbox.pk]
        message.mailbox_orig = mailbox.pk
        uids[mailbox.pk].append(message.uid)
        _add_keywords(mailbox, item.keywords)
        store.size += message.size
        messages.append(message)
    store.save(update_fields=["highest_modseq", "size"])
    Message.objects.bulk_create(messages)
    Change.objects.bulk_create([
        Change(account=account, modseq=modseqs[pk], mailbox_id_ref=pk, kind=Change.Kind.ADD, uids=uids[pk])
        for pk in modseqs
    ])
    for mailbox in mailboxes.values():
        mailbox.highest_modseq = modseqs[mailbox.pk]
        mailbox.save(update_fields=["uidnext", "highest_modseq", "keywords"])
        log.info("messages delivered", extra={"account": account.name, "mailbox": mailbox.name,
                                              "uids": f"{uids[mailbox.pk][0]}:{uids[mailbox.pk][-1]}"})
    _notify_on_commit(account.pk)
    return messages


def remove_account_files(account_id: int) -> None:
    shutil.rmtree(files.account_dir(account_id), ignore_errors=True)


def changes_since(account_id: int, modseq: int) -> list[Change]:
    return list(Change.objects.filter(account_id=account_id, modseq__gt=modseq).order_by("modseq"))


# IMAP verbs (RFC 9051): append, flags, expunge, copy/move, mailbox management.
# Each locks the Store row first, so modseqs and UIDs are handed out in order, writes
# its Change rows in the same transaction and wakes other sessions after commit.


class MailboxNotFound(StoreError):
    pass


class MailboxExists(StoreError):
    pass


def automatic_junk_flags(account: Account, mailbox_name: str) -> dict[str, bool]:
    """mox AutomaticJunkFlags: $Junk/$NotJunk from the destination mailbox's name."""
    import re

    conf = account.automatic_junk_flags or {}
    if not conf.get("enabled"):
        return {}
    name = mailbox_name.lower()
    patterns = {
        "junk": conf.get("junk_mailbox_regexp") or "",
        "neutral": conf.get("neutral_mailbox_regexp") or "",
        "notjunk": conf.get("not_junk_mailbox_regexp") or "",
    }

    def match(kind: str) -> bool:
        pattern = patterns[kind]
        try:
            return bool(pattern) and re.search(pattern, name) is not None
        except re.error:
            return False

    if match("junk"):
        return {"junk": True, "notjunk": False}
    if match("neutral"):
        return {"junk": False, "notjunk": False}
    if match("notjunk"):
        return {"junk": False, "notjunk": True}
    set_count = sum(1 for p in patterns.values() if p)
    if set_count == 2:
        # The one unset pattern matches everything else.
        unset = next(k for k, p in patterns.items() if not p)
        return {"junk": unset == "junk", "notjunk": unset == "notjunk"}
    return {}


def _mailbox_locked(account_id: int, mailbox_id: int) -> Mailbox:
    mailbox = Mailbox.objects.filter(account_id=account_id, pk=mailbox_id).first()
    if mailbox is None:
        raise MailboxNotFound("mailbox does not exist")
    return mailbox


def append(
    account: Account,
    mailbox_name: str,
    source: Path,
    *,
    flags: set[str] | None = None,
    keywords: list[str] | None = None,
    received: datetime | None = None,
) -> Message:
    """IMAP APPEND (RFC 9051 6.3.12): like deliver, but the mailbox must exist. Returns
    once the message is durable. Automatic junk flags apply; the junk filter is trained
    shortly after the commit."""
    name = normalize_mailbox_name(mailbox_name)
    if flagrows.mailbox_id(account.pk, name) is None:
        raise MailboxNotFound("mailbox does not exist")
    all_flags = {f.lower() for f in (flags or set())}
    for field_name, value in automatic_junk_flags(account, name).items():
        flag = Message.FLAG_NAMES[field_name].lower()
        if value:
            all_flags.add(flag)
        else:
            all_flags.discard(flag)
    message = deliver(account, name, source, received=received, flags=all_flags, keywords=keywords)
    from mailstore import junk

    # Trained after the answer, in a batch (mailstore.junk.DeferredTraining).
    junk.train_later(message)
    return message


@dataclass
class FlagResult:
    # (uid, flags, modseq) of messages whose flags were changed or asked for.
    updated: list[tuple[int, list[str], int]]
    # RFC 7162 3.1.3: UIDs not changed because their modseq is above UNCHANGEDSINCE.
    modified: list[int]
    modseq: int
    # UIDs whose flags actually changed (they got `modseq`).
    changed: list[int] = field(default_factory=list)


def _apply_flags(row: flagrows.FlagRow, mode: str, fields: dict[str, bool], keywords: set[str]) -> bool:
    """Set the row's flags as STORE's mode says; whether they changed."""
    before = (row.flags, row.keywords)
    if mode == "replace":
        row.flags = tuple(fields.get(f, False) for f in flagrows.FLAG_FIELDS)
        row.keywords = tuple(sorted(keywords))
    elif mode == "add":
        row.flags = tuple(on or f in fields for f, on in zip(flagrows.FLAG_FIELDS, row.flags))
        row.keywords = tuple(sorted(set(row.keywords) | keywords))
    else:
        row.flags = tuple(on and f not in fields for f, on in zip(flagrows.FLAG_FIELDS, row.flags))
        row.keywords = tuple(sorted(set(row.keywords) - keywords))
    return before != (row.flags, row.keywords)


def _flag_changes(
    rows: list[flagrows.FlagRow], mode: str, fields: dict[str, bool], keywords: set[str], unchangedsince: int | None
) -> tuple[list[flagrows.FlagRow], list[int], bool]:
    """The rows whose flags change (changed in place), the UIDs held back by
    UNCHANGEDSINCE, and whether $Junk or $NotJunk changed on any row."""
    changed: list[flagrows.FlagRow] = []
    modified: list[int] = []
    junk_fields = [i for i, f in enumerate(flagrows.FLAG_FIELDS) if f in ("junk", "notjunk")]
    junk_changed = False
    for row in rows:
        if unchangedsince is not None and row.modseq > unchangedsince:
            modified.append(row.uid)
            continue
        before = row.flags
        if _apply_flags(row, mode, fields, keywords):
            changed.append(row)
            junk_changed = junk_changed or any(before[i] != row.flags[i] for i in junk_fields)
    return changed, modified, junk_changed


def set_flags(
    account_id: int,
    mailbox_id: int,
    uids: list[int],
    mode: str,
    flags: list[str],
    *,
    unchangedsince: int | None = None,
) -> FlagResult:
    """IMAP STORE (RFC 9051 6.4.6): mode is "replace", "add" or "remove". System flags
    and mox's well-known keywords are booleans, other keywords lower-cased.

    The flags are read first without a lock: a STORE that changes nothing (setting \\Seen
    again, the common case) is answered from that one read, ordered before any writer
    that commits later. Otherwise the rows are read again under the Store lock and
    written with a few plain statements (mailstore.flagrows)."""
    fields = {Message.SYSTEM_FLAGS[f.lower()]: True for f in flags if f.lower() in Message.SYSTEM_FLAGS}
    keywords = {f.lower() for f in flags if f.lower() not in Message.SYSTEM_FLAGS and not f.startswith("\\")}
    uids = sorted(set(uids))
    rows = flagrows.flag_rows(account_id, mailbox_id, uids)
    changed, modified, _ = _flag_changes(rows, mode, fields, keywords, unchangedsince)
    if not changed:
        if not rows and flagrows.mailbox_keywords(account_id, mailbox_id) is None:
            raise MailboxNotFound("mailbox does not exist")
        updated = [(r.uid, r.flag_list(), r.modseq) for r in rows if r.uid not in modified]
        return FlagResult(updated, modified, 0, [])
    with transaction.atomic():
        locked = flagrows.lock_store(account_id)
        if locked is None:
            raise MailboxNotFound("mailbox does not exist")
        modseq = locked[0] + 1
        rows = flagrows.flag_rows(account_id, mailbox_id, uids)
        changed, modified, junk_changed = _flag_changes(rows, mode, fields, keywords, unchangedsince)
        if changed:
            for row in changed:
                row.modseq = modseq
            flagrows.set_store(account_id, modseq)
            flagrows.write_flags(changed, modseq)
            mailbox_keywords = None
            if keywords:
                current = flagrows.mailbox_keywords(account_id, mailbox_id)
                if current is not None and keywords - set(current):
                    mailbox_keywords = sorted(set(current) | keywords)
            if not flagrows.set_mailbox_modseq(account_id, mailbox_id, modseq, mailbox_keywords):
                raise MailboxNotFound("mailbox does not exist")
            _CHANGE_INSERT.insert(Change(
                account_id=account_id, modseq=modseq, mailbox_id_ref=mailbox_id, kind=Change.Kind.FLAGS,
                uids=[r.uid for r in changed],
            ))
            _notify_on_commit(account_id)
            if junk_changed:
                # mox: $Junk/$NotJunk changes (re)train the account's junk filter.
                from mailstore import junk

                junk.retrain_messages(list(
                    Message.objects.filter(pk__in=[r.pk for r in changed]).select_related("account").order_by("uid")
                ))
        else:
            modseq = 0
    updated = [(r.uid, r.flag_list(), r.modseq) for r in rows if r.uid not in modified]
    return FlagResult(updated, modified, modseq, [r.uid for r in changed])


def _remove_messages_locked(store: Store, account_id: int, mailbox: Mailbox, messages: list[Message]) -> int:
    """Remove the messages (Store locked); the modseq of the change. `store` and
    `mailbox` are kept up to date."""
    gone = [flagrows.GoneRow(m.pk, m.uid, m.size, m.path, bytes(m.prefix), m.trained_junk) for m in messages]
    modseq = _remove_rows_locked(account_id, mailbox.pk, store.highest_modseq, gone)
    if gone:
        store.highest_modseq = mailbox.highest_modseq = modseq
        store.size -= sum(m.size for m in messages)
    return modseq


def _remove_rows_locked(account_id: int, mailbox_id: int, highest_modseq: int, gone: list[flagrows.GoneRow]) -> int:
    """Remove the messages' rows under the Store lock (its modseq `highest_modseq`), their
    files after commit; the modseq of the change."""
    if not gone:
        return highest_modseq
    trained = [g for g in gone if g.trained_junk is not None]
    if trained:
        # mox: expunged or deleted messages are untrained first.
        from mailstore import junk

        junk.untrain_removed(account_id, trained)
    modseq = highest_modseq + 1
    flagrows.set_store(account_id, modseq, -sum(g.size for g in gone))
    paths = [g.path for g in gone]
    flagrows.delete_messages([g.pk for g in gone])
    flagrows.set_mailbox_modseq(account_id, mailbox_id, modseq)
    _CHANGE_INSERT.insert(Change(
        account_id=account_id, modseq=modseq, mailbox_id_ref=mailbox_id, kind=Change.Kind.EXPUNGE,
        uids=[g.uid for g in gone],
    ))
    _notify_on_commit(account_id)
    transaction.on_commit(lambda: files.remove_files(paths))
    return modseq


@transaction.atomic
def expunge(account_id: int, mailbox_id: int, uids: list[int] | None = None) -> tuple[list[int], int]:
    """Remove the messages marked \\Deleted (of `uids` when given: UID EXPUNGE, RFC 4315).
    Returns the expunged UIDs and the modseq of the change (0 when none was)."""
    locked = flagrows.lock_store(account_id)
    if locked is None or flagrows.mailbox_keywords(account_id, mailbox_id) is None:
        raise MailboxNotFound("mailbox does not exist")
    gone = flagrows.deleted_rows(mailbox_id, None if uids is None else sorted(set(uids)))
    modseq = _remove_rows_locked(account_id, mailbox_id, locked[0], gone)
    return [g.uid for g in gone], modseq if gone else 0


@dataclass
class CopyResult:
    uidvalidity: int
    source_uids: list[int]
    dest_uids: list[int]
    # For MOVE: the modseq of the expunge in the source mailbox.
    expunge_modseq: int = 0


def _copy_locked(
    store: Store, account: Account, source: Mailbox, uids: list[int], dest_name: str
) -> tuple[CopyResult, list[Message]]:
    dest = Mailbox.objects.filter(account=account, name=normalize_mailbox_name(dest_name)).first()
    if dest is None:
        raise MailboxNotFound("mailbox does not exist")
    messages = list(Message.objects.filter(mailbox=source, uid__in=uids).order_by("uid"))
    if not messages:
        return CopyResult(dest.uidvalidity, [], []), []
    total = sum(m.size for m in messages)
    if account.quota_bytes and store.size + total > account.quota_bytes:
        raise QuotaExceeded("account over quota")
    modseq = next_modseq(store)
    store.size += total
    store.save(update_fields=["highest_modseq", "size"])
    junk = automatic_junk_flags(account, dest.name)
    new_uids = []
    source_uids = [m.uid for m in messages]
    keywords = set(dest.keywords)
    for message in messages:
        path, rel = files.new_message_path(account.pk)
        files.place(files.message_path(message.path), path)
        message.pk = None
        message.id = None
        message.mailbox = dest
        message.uid = dest.uidnext
        message.modseq = modseq
        message.created_modseq = modseq
        message.path = rel
        message.trained_junk = None
        if message.mailbox_destined is not None:
            # mox IsReject: kept in Rejects, or a reject accepted into a ruleset's
            # AcceptRejectsToMailbox (v0.0.6); copied or moved out, it was wrongly judged
            # and from now on counts for the mailbox it was meant for.
            message.mailbox_orig = message.mailbox_destined
            message.mailbox_destined = None
        for field_name, value in junk.items():
            setattr(message, field_name, value)
        message.save(force_insert=True)
        _add_dkim_rows(message)
        keywords |= set(message.keywords)
        new_uids.append(message.uid)
        dest.uidnext += 1
    dest.highest_modseq = modseq
    dest.keywords = sorted(keywords)
    dest.save(update_fields=["uidnext", "highest_modseq", "keywords"])
    Change.objects.create(
        account=account, modseq=modseq, mailbox_id_ref=dest.pk, kind=Change.Kind.ADD, uids=new_uids
    )
    _notify_on_commit(account.pk)
    from mailstore import junk as junkfilter

    # mox: copied and moved messages are trained after automatic junk flags apply.
    for message in messages:
        message.account = account
    junkfilter.retrain_messages(messages)
    return CopyResult(dest.uidvalidity, source_uids, new_uids), messages


@transaction.atomic
def copy(account: Account, mailbox_id: int, uids: list[int], dest_name: str) -> CopyResult:
    """IMAP COPY (RFC 9051 6.4.7) with UIDPLUS COPYUID data (RFC 4315). Files are hard-linked."""
    store = _lock_store(account)
    source = _mailbox_locked(account.pk, mailbox_id)
    present = list(Message.objects.filter(mailbox=source, uid__in=uids).order_by("uid").values_list("uid", flat=True))
    result, _ = _copy_locked(store, account, source, present, dest_name)
    result.source_uids = present
    return result


@transaction.atomic
def move(account: Account, mailbox_id: int, uids: list[int], dest_name: str) -> CopyResult:
    """IMAP MOVE (RFC 6851): copy then expunge from the source, in one transaction."""
    store = _lock_store(account)
    source = _mailbox_locked(account.pk, mailbox_id)
    if normalize_mailbox_name(dest_name) == source.name:
        raise StoreError("cannot move to the same mailbox")
    originals = list(Message.objects.filter(mailbox=source, uid__in=uids).order_by("uid"))
    present = [m.uid for m in originals]
    result, _ = _copy_locked(store, account, source, present, dest_name)
    result.source_uids = present
    result.expunge_modseq = _remove_messages_locked(store, account.pk, source, originals)
    return result


def check_mailbox_name(name: str) -> str:
    """mox's rules (RFC 9051 5.1): no empty names, no leading/trailing/double slash, no
    `% * # &` or control characters, NFC unicode. Returns the INBOX-normalized name."""
    import unicodedata

    if not name:
        raise StoreError("empty mailbox name")
    if name.startswith("/") or name.endswith("/") or "//" in name:
        raise StoreError("bad slashes in mailbox name")
    if any(c in "%*#&" or ord(c) < 0x20 or ord(c) == 0x7F for c in name):
        raise StoreError("character not allowed in mailbox name")
    if unicodedata.normalize("NFC", name) != name:
        raise StoreError("non-normalized unicode in mailbox name")
    return normalize_mailbox_name(name)


@transaction.atomic
def create_mailbox(account: Account, name: str, *, special_use: str = "") -> list[str]:
    """CREATE (RFC 9051 6.3.4) with missing parents, subscribed. Returns the names created."""
    name = check_mailbox_name(name)
    store = _lock_store(account)
    if Mailbox.objects.filter(account=account, name=name).exists():
        raise MailboxExists("mailbox already exists")
    created = []
    parts = name.split("/")
    for i in range(1, len(parts)):
        parent = "/".join(parts[:i])
        if not Mailbox.objects.filter(account=account, name=parent).exists():
            _create_mailbox_locked(store, account.pk, parent)
            created.append(parent)
    _create_mailbox_locked(store, account.pk, name, special_use)
    created.append(name)
    return created


def _children(account: Account, name: str) -> list[Mailbox]:
    # In Python: SQLite's LIKE (name__startswith) ignores case, mailbox names do not.
    return [m for m in Mailbox.objects.filter(account=account) if m.name.startswith(name + "/")]


@transaction.atomic
def delete_mailbox(account: Account, name: str) -> None:
    """DELETE (RFC 9051 6.3.5): only leaf mailboxes, never Inbox; messages are removed."""
    name = normalize_mailbox_name(name)
    if name == "Inbox":
        raise StoreError("cannot delete inbox")
    store = _lock_store(account)
    mailbox = Mailbox.objects.filter(account=account, name=name).first()
    if mailbox is None:
        raise MailboxNotFound("mailbox does not exist")
    if _children(account, name):
        raise StoreError("mailbox has children")
    messages = list(Message.objects.filter(mailbox=mailbox))
    _remove_messages_locked(store, account.pk, mailbox, messages)
    modseq = next_modseq(store)
    store.save(update_fields=["highest_modseq"])
    Change.objects.create(
        account=account, modseq=modseq, mailbox_id_ref=mailbox.pk, kind=Change.Kind.MAILBOX_REMOVE, data={"name": name}
    )
    mailbox.delete()
    _notify_on_commit(account.pk)


@transaction.atomic
def rename_mailbox(account: Account, old: str, new: str) -> None:
    """RENAME (RFC 9051 6.3.6) as mox: children move along, renamed mailboxes get a new
    UIDVALIDITY, missing parents are created; renaming Inbox moves its messages into a
    new mailbox and leaves Inbox empty."""
    old = normalize_mailbox_name(old)
    new = check_mailbox_name(new)
    store = _lock_store(account)
    source = Mailbox.objects.filter(account=account, name=old).first()
    if source is None:
        raise MailboxNotFound("mailbox does not exist")
    if Mailbox.objects.filter(account=account, name=new).exists():
        raise MailboxExists("mailbox already exists")
    if new.startswith(old + "/"):
        raise StoreError("cannot rename mailbox to a child of itself")
    parts = new.split("/")
    for i in range(1, len(parts)):
        parent = "/".join(parts[:i])
        if not Mailbox.objects.filter(account=account, name=parent).exists():
            _create_mailbox_locked(store, account.pk, parent)
    if old == "Inbox":
        dest = _create_mailbox_locked(store, account.pk, new)
        uids = list(Message.objects.filter(mailbox=source).order_by("uid").values_list("uid", flat=True))
        if uids:
            originals = list(Message.objects.filter(mailbox=source).order_by("uid"))
            _copy_locked(store, account, source, uids, dest.name)
            _remove_messages_locked(store, account.pk, source, originals)
        return
    renamed = [source, *_children(account, old)]
    for mailbox in renamed:
        modseq = next_modseq(store)
        old_name = mailbox.name
        mailbox.name = new + mailbox.name[len(old):]
        mailbox.uidvalidity = store.next_uidvalidity
        store.next_uidvalidity += 1
        mailbox.highest_modseq = modseq
        mailbox.save(update_fields=["name", "uidvalidity", "highest_modseq"])
        Change.objects.create(
            account=account, modseq=modseq, mailbox_id_ref=mailbox.pk, kind=Change.Kind.MAILBOX_RENAME,
            data={"old": old_name, "name": mailbox.name},
        )
    store.save(update_fields=["highest_modseq", "next_uidvalidity"])
    _notify_on_commit(account.pk)


@transaction.atomic
def subscribe(account: Account, name: str) -> None:
    """SUBSCRIBE (RFC 9051 6.3.7): names need not exist."""
    name = normalize_mailbox_name(name)
    store = _lock_store(account)
    _, created = Subscription.objects.get_or_create(account=account, name=name)
    if created:
        modseq = next_modseq(store)
        store.save(update_fields=["highest_modseq"])
        Change.objects.create(account=account, modseq=modseq, kind=Change.Kind.SUBSCRIPTION,
                              data={"name": name, "subscribed": True})
        _notify_on_commit(account.pk)


@transaction.atomic
def unsubscribe(account: Account, name: str) -> None:
    name = normalize_mailbox_name(name)
    store = _lock_store(account)
    deleted, _ = Subscription.objects.filter(account=account, name=name).delete()
    if not deleted:
        raise StoreError("not subscribed")
    modseq = next_modseq(store)
    store.save(update_fields=["highest_modseq"])
    Change.objects.create(account=account, modseq=modseq, kind=Change.Kind.SUBSCRIPTION,
                          data={"name": name, "subscribed": False})
    _notify_on_commit(account.pk)


# mox's Rejects mailbox (mox-v0.0.5 section 1.1.13): rejected incoming mail kept for a while.

REJECTS_MAX_AGE_DAYS = 14
REJECTS_MAX_MESSAGES = 1000


@transaction.atomic
def tidy_rejects(account: Account, mailbox_name: str) -> bool:
    """Remove messages older than 14 days from the Rejects mailbox (files too, untrained
    from the junk filter); True when fewer than 1000 remain, so another may be stored."""
    store = _lock_store(account)
    mailbox = Mailbox.objects.filter(account=account, name=normalize_mailbox_name(mailbox_name)).first()
    if mailbox is None:
        return True
    old = timezone.now() - timedelta(days=REJECTS_MAX_AGE_DAYS)
    messages = list(Message.objects.filter(mailbox=mailbox, received__lt=old).order_by("uid"))
    _remove_messages_locked(store, account.pk, mailbox, messages)
    return Message.objects.filter(mailbox=mailbox).count() < REJECTS_MAX_MESSAGES


def reject_present(account: Account, mailbox_name: str, message_id: str, message_hash: str) -> bool:
    mailbox = Mailbox.objects.filter(account=account, name=normalize_mailbox_name(mailbox_name)).first()
    if mailbox is None:
        return False
    match = Q()
    if message_id:
        match |= Q(message_id=message_id)
    if message_hash:
        match |= Q(message_hash=message_hash)
    return bool(match) and Message.objects.filter(match, mailbox=mailbox).exists()


@transaction.atomic
def remove_rejects(account: Account, mailbox_name: str, message_id: str) -> int:
    """After a successful delivery, in its transaction (smtpserver.store, which asks
    `in_rejects` first): the copies with this Message-ID leave Rejects."""
    if not message_id:
        return 0
    mailbox = Mailbox.objects.filter(account=account, name=normalize_mailbox_name(mailbox_name)).first()
    if mailbox is None:
        return 0
    messages = list(Message.objects.filter(mailbox=mailbox, message_id=message_id).order_by("uid"))
    if not messages:
        return 0
    store = _lock_store(account)
    _remove_messages_locked(store, account.pk, mailbox, messages)
    return len(messages)


@transaction.atomic
def record_sent_recipients(account: Account, addresses: list[tuple[str, str]], when: datetime | None = None) -> None:
    """Remember who the account wrote to (mox store.Recipient), for reputation: mail
    from these addresses and domains is wanted. `addresses` are (localpart, domain)."""
    from mailcore.authn.dmarc import psl_organizational_domain
    from mailstore.models import Recipient

    sent = when or timezone.now()
    rows = []
    for localpart, domain in addresses:
        domain = domain.lower().rstrip(".")
        if not domain:
            continue
        rows.append(Recipient(account=account, localpart=localpart, domain=domain,
                              orgdomain=psl_organizational_domain(domain), sent=sent))
    Recipient.objects.bulk_create(rows)
