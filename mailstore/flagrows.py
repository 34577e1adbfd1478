"""Messages' flag columns, and the counters IMAP STORE and EXPUNGE change, read and
written with plain SQL.

STORE and EXPUNGE touch a few columns of a few rows per command. Loading whole Message
objects (60 columns, the parsed MIME structure as JSON) and saving each through the ORM
cost several times what the database does for them: in the mixed IMAP benchmark (10
clients, issue 4) ORM compiling and model building were most of these verbs' time.
The statements here are built once per database vendor; values go through the fields'
own conversions (`get_db_prep_save`, the JSON decoding of `keywords`), so what is
stored is what the ORM stores.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection

from mailstore.models import FLAG_NAMES, Mailbox, Message, MessageDKIMDomain, Store

FLAG_FIELDS: tuple[str, ...] = tuple(FLAG_NAMES)
# Above this many UIDs a range is read and filtered here: `uid IN (...)` with 100,000
# values breaks databases (the query parameter limit).
MAX_IN = 500

_KEYWORDS = Message._meta.get_field("keywords")


class Statement:
    """A statement built once per database vendor (quoting differs): `build(quote_name)`."""

    def __init__(self, build: Callable[[Callable[[str], str]], str]) -> None:
        self.build = build
        self._sql: dict[str, str] = {}

    def sql(self) -> str:
        sql = self._sql.get(connection.vendor)
        if sql is None:
            sql = self._sql[connection.vendor] = self.build(connection.ops.quote_name)
        return sql


def json_value(value: Any) -> Any:
    """A JSON column's value as read by a plain statement (text on SQLite and, through
    Django's loaders, on PostgreSQL)."""
    return json.loads(value) if isinstance(value, (str, bytes)) else value


@dataclass(slots=True)
class FlagRow:
    """A message's flags: the booleans in FLAG_FIELDS order, then its keywords."""

    pk: int
    uid: int
    modseq: int
    flags: tuple[bool, ...]
    keywords: tuple[str, ...]

    def flag_list(self) -> list[str]:
        """As Message.flag_list: IMAP flags in canonical spelling, system flags first."""
        return [FLAG_NAMES[f] for f, on in zip(FLAG_FIELDS, self.flags) if on] + list(self.keywords)


def _marks(n: int) -> str:
    return ", ".join(["%s"] * n)


def _uid_filter(uids: Sequence[int]) -> tuple[str, list[object], set[int] | None]:
    """SQL matching the UIDs (sorted; `uid` quoted as the template's {uid}), its
    parameters, and the set to filter the rows by when the SQL matches a range."""
    if len(uids) <= MAX_IN:
        return f"IN ({_marks(len(uids))})", list(uids), None
    return "BETWEEN %s AND %s", [min(uids), max(uids)], set(uids)


_FLAG_COLUMNS = ("id", "uid", "modseq", *FLAG_FIELDS, "keywords")
_FLAG_ROWS = Statement(lambda q: (
    f"SELECT {', '.join('m.' + q(c) for c in _FLAG_COLUMNS)} FROM {q(Message._meta.db_table)} m"
    f" WHERE m.{q('mailbox_id')} = %s AND m.{q('uid')} {{where}} ORDER BY m.{q('uid')}"))
# The same, only when the mailbox is the account's.
_OWN_FLAG_ROWS = Statement(lambda q: (
    f"SELECT {', '.join('m.' + q(c) for c in _FLAG_COLUMNS)} FROM {q(Message._meta.db_table)} m"
    f" JOIN {q(Mailbox._meta.db_table)} b ON b.{q('id')} = m.{q('mailbox_id')} AND b.{q('account_id')} = %s"
    f" WHERE m.{q('mailbox_id')} = %s AND m.{q('uid')} {{where}} ORDER BY m.{q('uid')}"))


def flag_rows(account_id: int | None, mailbox_id: int, uids: Sequence[int]) -> list[FlagRow]:
    """The flags of the mailbox's messages with these UIDs (sorted), by UID; none when the
    mailbox is not the account's (when one is given). Read from the message_flags index."""
    if not uids:
        return []
    where, params, wanted = _uid_filter(uids)
    if account_id is None:
        sql, owner = _FLAG_ROWS.sql(), []
    else:
        sql, owner = _OWN_FLAG_ROWS.sql(), [account_id]
    with connection.cursor() as cursor:
        cursor.execute(sql.format(where=where), [*owner, mailbox_id, *params])
        found = cursor.fetchall()
    n = len(FLAG_FIELDS)
    return [
        FlagRow(r[0], r[1], r[2], tuple(bool(v) for v in r[3:3 + n]), tuple(json_value(r[3 + n]) or ()))
        for r in found
        if wanted is None or r[1] in wanted
    ]


_LOCK_STORE = Statement(lambda q: (
    f"SELECT {q('highest_modseq')}, {q('size')} FROM {q(Store._meta.db_table)} WHERE {q('account_id')} = %s"
    + (" FOR UPDATE" if connection.features.has_select_for_update else "")))


def lock_store(account_id: int) -> tuple[int, int] | None:
    """(highest_modseq, size) of the account's Store row, locked for the transaction
    (on SQLite the transaction's BEGIN IMMEDIATE took the lock already); None without one."""

    with connection.cursor() as cursor:
        cursor.execute(_LOCK_STORE.sql(), [account_id])
        row = cursor.fetchone()
    return (row[0], row[1]) if row else None


_SET_STORE = Statement(lambda q: (
    f"UPDATE {q(Store._meta.db_table)} SET {q('highest_modseq')} = %s, {q('size')} = {q('size')} + %s"
    f" WHERE {q('account_id')} = %s"))


def set_store(account_id: int, modseq: int, size_delta: int = 0) -> None:
    with connection.cursor() as cursor:
        cursor.execute(_SET_STORE.sql(), [modseq, size_delta, account_id])


_MAILBOX_KEYWORDS = Statement(lambda q: (
    f"SELECT {q('keywords')} FROM {q(Mailbox._meta.db_table)} WHERE {q('id')} = %s{{owner}}"))
_OWNER = Statement(lambda q: f" AND {q('account_id')} = %s")


def mailbox_keywords(account_id: int | None, mailbox_id: int) -> list[str] | None:
    """The mailbox's keywords; None when there is no such mailbox (of the account, when
    one is given)."""
    owner = "" if account_id is None else _OWNER.sql()
    with connection.cursor() as cursor:
        cursor.execute(_MAILBOX_KEYWORDS.sql().format(owner=owner),
                       [mailbox_id] if account_id is None else [mailbox_id, account_id])
        row = cursor.fetchone()
    return None if row is None else list(json_value(row[0]) or [])


_MAILBOX_ID = Statement(lambda q: (
    f"SELECT {q('id')} FROM {q(Mailbox._meta.db_table)} WHERE {q('account_id')} = %s AND {q('name')} = %s"))


def mailbox_id(account_id: int, name: str) -> int | None:
    """The id of the account's mailbox of that (exact) name."""
    with connection.cursor() as cursor:
        cursor.execute(_MAILBOX_ID.sql(), [account_id, name])
        row = cursor.fetchone()
    return None if row is None else row[0]


_SET_MAILBOX = Statement(lambda q: (
    f"UPDATE {q(Mailbox._meta.db_table)} SET {q('highest_modseq')} = %s{{keywords}}"
    f" WHERE {q('id')} = %s AND {q('account_id')} = %s"))
_SET_KEYWORDS = Statement(lambda q: f", {q('keywords')} = %s")


def set_mailbox_modseq(account_id: int, mailbox_id: int, modseq: int, keywords: list[str] | None = None) -> bool:
    """Set the mailbox's highest modseq (and keywords when given); False when it is not
    the account's."""
    params: list[object] = [modseq]
    extra = ""
    if keywords is not None:
        extra = _SET_KEYWORDS.sql()
        params.append(_KEYWORDS.get_db_prep_save(keywords, connection))
    with connection.cursor() as cursor:
        cursor.execute(_SET_MAILBOX.sql().format(keywords=extra), [*params, mailbox_id, account_id])
        return cursor.rowcount > 0


_WRITE_FLAGS = Statement(lambda q: (
    f"UPDATE {q(Message._meta.db_table)} SET {', '.join(q(c) + ' = %s' for c in (*FLAG_FIELDS, 'keywords', 'modseq'))}"
    f" WHERE {q('id')} IN ({{marks}})"))


def write_flags(changed: Iterable[FlagRow], modseq: int) -> None:
    """Store the rows' flags and `modseq`: one UPDATE per distinct set of flags (a STORE
    on a range mostly gives all its messages the same)."""
    groups: dict[tuple[tuple[bool, ...], tuple[str, ...]], list[int]] = {}
    for row in changed:
        groups.setdefault((row.flags, row.keywords), []).append(row.pk)
    sql = _WRITE_FLAGS.sql()
    with connection.cursor() as cursor:
        for (flags, keywords), pks in groups.items():
            values = [*flags, _KEYWORDS.get_db_prep_save(list(keywords), connection), modseq]
            for i in range(0, len(pks), MAX_IN):
                chunk = pks[i:i + MAX_IN]
                cursor.execute(sql.format(marks=_marks(len(chunk))), [*values, *chunk])


@dataclass(slots=True)
class GoneRow:
    """What removing a message needs of it."""

    pk: int
    uid: int
    size: int
    path: str
    prefix: bytes
    trained_junk: bool | None


_DELETED_ROWS = Statement(lambda q: (
    f"SELECT {', '.join(q(c) for c in ('id', 'uid', 'size', 'path', 'prefix', 'trained_junk'))}"
    f" FROM {q(Message._meta.db_table)} WHERE {q('mailbox_id')} = %s AND {q('deleted')} = %s{{uids}}"
    f" ORDER BY {q('uid')}"))
_AND_UID = Statement(lambda q: f" AND {q('uid')} ")


def deleted_rows(mailbox_id: int, uids: Sequence[int] | None) -> list[GoneRow]:
    """The mailbox's messages marked \\Deleted (of `uids` when given), by UID."""
    if uids is not None and not uids:
        return []
    where, params, wanted = ("", [], None) if uids is None else _uid_filter(uids)
    with connection.cursor() as cursor:
        cursor.execute(_DELETED_ROWS.sql().format(uids=_AND_UID.sql() + where if where else ""),
                       [mailbox_id, True, *params])
        found = cursor.fetchall()
    return [GoneRow(r[0], r[1], r[2], r[3], bytes(r[4] or b""), None if r[5] is None else bool(r[5]))
            for r in found if wanted is None or r[1] in wanted]


_DELETE_DKIM = Statement(lambda q: (
    f"DELETE FROM {q(MessageDKIMDomain._meta.db_table)} WHERE {q('message_id')} IN ({{marks}})"))
_DELETE_MESSAGES = Statement(lambda q: f"DELETE FROM {q(Message._meta.db_table)} WHERE {q('id')} IN ({{marks}})")


def delete_messages(pks: Sequence[int]) -> None:
    """Delete the messages' rows and the rows that refer to them (what the ORM's
    cascading delete does, without loading them)."""
    with connection.cursor() as cursor:
        for i in range(0, len(pks), MAX_IN):
            chunk = pks[i:i + MAX_IN]
            marks = _marks(len(chunk))
            cursor.execute(_DELETE_DKIM.sql().format(marks=marks), chunk)
            cursor.execute(_DELETE_MESSAGES.sql().format(marks=marks), chunk)
