"""The ORM work of IMAP sessions, as plain synchronous functions.

Sessions call these in a thread of the shared pool (imapserver.dbpool); nothing here
touches sockets.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.db import connection
from django.db.models import Model, Q, Sum

from mailstore import flagrows
from mailstore.models import Change, Mailbox, Message, Store, Subscription
from mailstore.rowinsert import RowLoader

M = TypeVar("M", bound=Model)


_ACCOUNT_MODSEQ = flagrows.Statement(lambda q: (
    f"SELECT {q('highest_modseq')} FROM {q(Store._meta.db_table)} WHERE {q('account_id')} = %s"))
_PENDING_CHANGES = flagrows.Statement(lambda q: (
    f"SELECT {q('modseq')}, {q('mailbox_id_ref')}, {q('kind')}, {q('uids')}, {q('data')},"
    f" (SELECT MIN({q('modseq')}) FROM {q(Change._meta.db_table)} WHERE {q('account_id')} = %s)"
    f" FROM {q(Change._meta.db_table)} WHERE {q('account_id')} = %s AND {q('modseq')} > %s ORDER BY {q('modseq')}"))

_OPEN_MAILBOX = flagrows.Statement(lambda q: (
    f"SELECT {q('id')}, {q('name')}, {q('uidvalidity')}, {q('uidnext')}, {q('highest_modseq')}, {q('keywords')},"
    f" {q('special_use')} FROM {q(Mailbox._meta.db_table)} WHERE {q('account_id')} = %s AND {q('name')} = %s"))
_MAILBOX_UIDS = flagrows.Statement(lambda q: (
    f"SELECT {q('uid')}, {q('seen')} FROM {q(Message._meta.db_table)} WHERE {q('mailbox_id')} = %s"
    f" ORDER BY {q('uid')}"))


@dataclass(slots=True)
class ChangeRow:
    """A change-log row (mailstore.models.Change) as sessions read it."""

    modseq: int
    mailbox_id_ref: int | None
    kind: str
    uids: list[int]
    data: dict[str, Any]


@dataclass
class MailboxView:
    id: int
    name: str
    uidvalidity: int
    uidnext: int
    highest_modseq: int
    keywords: list[str]
    special_use: str
    uids: list[int] = field(default_factory=list)
    first_unseen: int = 0
    # The account's modseq read before the message list (changes after it are replayed).
    account_modseq: int = 0


_loaders: dict[type[Any], RowLoader[Any]] = {}


def load_one(model: type[M], column: str, value: object) -> M | None:
    """The model's row whose `column` (unique) is `value`, read with one plain statement
    and converted as the ORM converts (mailstore.rowinsert.RowLoader): per login and
    APPEND, the ORM compiled its query every time."""
    loader = _loaders.get(model)
    if loader is None:
        loader = _loaders[model] = RowLoader(model)
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {loader.returning(connection)} FROM {quote(model._meta.db_table)}"
                       f" WHERE {quote(column)} = %s", [value])
        row = cursor.fetchone()
    return None if row is None else loader.load(row, connection.alias)


def account_modseq(account_id: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute(_ACCOUNT_MODSEQ.sql(), [account_id])
        row = cursor.fetchone()
    return row[0] if row else 0


def open_mailbox(account_id: int, name: str) -> MailboxView | None:
    modseq = account_modseq(account_id)
    with connection.cursor() as cursor:
        cursor.execute(_OPEN_MAILBOX.sql(), [account_id, name])
        found = cursor.fetchone()
        if found is None:
            return None
        pk, name, uidvalidity, uidnext, highest_modseq, keywords, special_use = found
        cursor.execute(_MAILBOX_UIDS.sql(), [pk])
        rows = cursor.fetchall()
    first_unseen = next((i + 1 for i, (_, seen) in enumerate(rows) if not seen), 0)
    return MailboxView(
        pk, name, uidvalidity, uidnext, highest_modseq, list(flagrows.json_value(keywords) or []), special_use,
        [u for u, _ in rows], first_unseen, modseq,
    )


def current_flags(mailbox_id: int, uids: list[int]) -> dict[int, tuple[list[str], int]]:
    return {r.uid: (r.flag_list(), r.modseq) for r in flagrows.flag_rows(None, mailbox_id, sorted(uids))}


def mailbox_keywords(mailbox_id: int) -> list[str]:
    return flagrows.mailbox_keywords(None, mailbox_id) or []


def list_mailboxes(account_id: int) -> tuple[list[Mailbox], set[str]]:
    mailboxes = list(Mailbox.objects.filter(account_id=account_id).order_by("name"))
    subs = set(Subscription.objects.filter(account_id=account_id).values_list("name", flat=True))
    return mailboxes, subs


def mailbox_status(account_id: int, name: str) -> dict[str, Any] | None:
    mailbox = Mailbox.objects.filter(account_id=account_id, name=name).first()
    if mailbox is None:
        return None
    qs = Message.objects.filter(mailbox=mailbox)
    agg = qs.aggregate(
        messages=models_count(),
        unseen=models_count(Q(seen=False)),
        deleted=models_count(Q(deleted=True)),
        size=Sum("size"),
    )
    return {
        "MESSAGES": agg["messages"],
        "UIDNEXT": mailbox.uidnext,
        "UIDVALIDITY": mailbox.uidvalidity,
        "UNSEEN": agg["unseen"],
        "DELETED": agg["deleted"],
        "SIZE": agg["size"] or 0,
        "RECENT": 0,
        "HIGHESTMODSEQ": mailbox.highest_modseq,
    }


def models_count(condition: Q | None = None) -> Any:
    from django.db.models import Count

    return Count("pk", filter=condition) if condition is not None else Count("pk")


def quota_usage(account_id: int) -> tuple[int, int]:
    from accounts.models import Account

    store = Store.objects.filter(account_id=account_id).first()
    account = Account.objects.get(pk=account_id)
    return (store.size if store else 0), account.quota_bytes


def changes_since_for_mailbox(
    account_id: int, mailbox_id: int, modseq: int
) -> tuple[list[int] | None, list[tuple[int, list[str], int]]]:
    """Expunged UIDs and (uid, flags, modseq) of messages changed after `modseq`
    (QRESYNC). The expunged UIDs are None when the change log was pruned past `modseq`
    (mailstore.changeprune); changed messages come from the messages' own modseqs."""
    from mailstore.changeprune import history_complete

    vanished: set[int] = set()
    for uids in Change.objects.filter(mailbox_id_ref=mailbox_id, kind=Change.Kind.EXPUNGE, modseq__gt=modseq).values_list(
        "uids", flat=True
    ):
        vanished.update(uids)
    complete = history_complete(account_id, modseq)
    return (sorted(vanished) if complete else None), changed_messages(mailbox_id, modseq)


def changed_messages(mailbox_id: int, modseq: int) -> list[tuple[int, list[str], int]]:
    return [
        (m.uid, m.flag_list(), m.modseq)
        for m in Message.objects.filter(mailbox_id=mailbox_id, modseq__gt=modseq).order_by("uid").only(
            "uid", "modseq", "keywords", *Message.FLAG_NAMES
        )
    ]


@dataclass
class Updates:
    """What a session needs for its untagged updates, read in one database call."""

    changes: list[ChangeRow]
    # False when the log was pruned past the session's modseq (rebuild the view).
    complete: bool = True
    # The selected mailbox's keywords, when a change there may have added one.
    keywords: list[str] | None = None
    # Current (flags, modseq) by UID of the selected mailbox's messages whose flags changed.
    flags: dict[int, tuple[list[str], int]] = field(default_factory=dict)


def pending_updates(account_id: int, modseq: int, mailbox_id: int | None,
                    own: frozenset[int] = frozenset()) -> Updates:
    """The account's changes after `modseq` and, for the selected mailbox, its keywords
    and the current flags of messages with flag changes other than the session's own
    (modseqs in `own`, which it does not report back)."""
    # One statement for the changes and the oldest modseq the log keeps (the
    # history_complete test, in the same snapshot); plain SQL, run for every command.
    with connection.cursor() as cursor:
        cursor.execute(_PENDING_CHANGES.sql(), [account_id, account_id, modseq])
        found = cursor.fetchall()
    if not found:
        # Pruning keeps the newest rows: had any change after `modseq` been pruned, a
        # newer one would be here. Nothing here means nothing missed.
        return Updates([])
    changes = [
        ChangeRow(m, mailbox, kind, flagrows.json_value(uids) or [], flagrows.json_value(data) or {})
        for m, mailbox, kind, uids, data, _ in found
    ]
    oldest = found[0][5]
    if not (oldest is None or modseq >= oldest - 1):
        return Updates(changes, complete=False)
    mine = [c for c in changes if mailbox_id is not None and c.mailbox_id_ref == mailbox_id]
    updates = Updates(changes)
    if mailbox_id is None:
        return updates
    if any(c.kind in (Change.Kind.ADD, Change.Kind.FLAGS) for c in mine):
        updates.keywords = mailbox_keywords(mailbox_id)
    flagged = sorted({uid for c in mine if c.kind == Change.Kind.FLAGS and c.modseq not in own for uid in c.uids})
    if flagged:
        updates.flags = current_flags(mailbox_id, flagged)
    return updates


@dataclass
class ViewState:
    """A selected mailbox as it is now, for a session that cannot replay the log."""

    account_modseq: int
    uids: list[int]
    # (uid, flags, modseq) of messages changed after the session's modseq.
    changed: list[tuple[int, list[str], int]]


def view_state(account_id: int, mailbox_id: int, modseq: int) -> ViewState:
    # The account modseq first: changes committed after it are replayed later, and
    # replaying one already seen here is harmless (see Session.send_updates).
    account = account_modseq(account_id)
    uids = list(Message.objects.filter(mailbox_id=mailbox_id).order_by("uid").values_list("uid", flat=True))
    return ViewState(account, uids, changed_messages(mailbox_id, modseq))
