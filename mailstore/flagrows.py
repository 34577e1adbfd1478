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


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


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


def _uid_filter(uids: Sequence[int]) -> tuple[str, list[object], set[int] | None]:
    """SQL matching the UIDs (sorted), its parameters, and the set to filter the rows
    by when the SQL matches a range."""
    if len(uids) <= MAX_IN:
        return f"{_q('uid')} IN ({', '.join(['%s'] * len(uids))})", list(uids), None
    return f"{_q('uid')} BETWEEN %s AND %s", [min(uids), max(uids)], set(uids)


def flag_rows(account_id: int | None, mailbox_id: int, uids: Sequence[int]) -> list[FlagRow]:
    """The flags of the mailbox's messages with these UIDs (sorted), by UID; none when the
    mailbox is not the account's (when one is given). Read from the message_flags index."""
    if not uids:
        return []
    where, params, wanted = _uid_filter(uids)
    columns = ", ".join(f"m.{_q(c)}" for c in ("id", "uid", "modseq", *FLAG_FIELDS, "keywords"))
    sql = f"SELECT {columns} FROM {_q(Message._meta.db_table)} m"
    owner: list[object] = []
    if account_id is not None:
        sql += (f" JOIN {_q(Mailbox._meta.db_table)} b ON b.{_q('id')} = m.{_q('mailbox_id')}"
                f" AND b.{_q('account_id')} = %s")
        owner.append(account_id)
    sql += f" WHERE m.{_q('mailbox_id')} = %s AND m.{where} ORDER BY m.{_q('uid')}"
    with connection.cursor() as cursor:
        cursor.execute(sql, [*owner, mailbox_id, *params])
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


def mailbox_keywords(account_id: int | None, mailbox_id: int) -> list[str] | None:
    """The mailbox's keywords; None when there is no such mailbox (of the account, when
    one is given)."""
    sql = f"SELECT {_q('keywords')} FROM {_q(Mailbox._meta.db_table)} WHERE {_q('id')} = %s"
    params: list[object] = [mailbox_id]
    if account_id is not None:
        sql += f" AND {_q('account_id')} = %s"
        params.append(account_id)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return None if row is None else list(json_value(row[0]) or [])


def set_mailbox_modseq(account_id: int, mailbox_id: int, modseq: int, keywords: list[str] | None = None) -> bool:
    """Set the mailbox's highest modseq (and keywords when given); False when it is not
    the account's."""
    table, sets = _q(Mailbox._meta.db_table), f"{_q('highest_modseq')} = %s"
    params: list[object] = [modseq]
    if keywords is not None:
        sets += f", {_q('keywords')} = %s"
        params.append(_KEYWORDS.get_db_prep_save(keywords, connection))
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET {sets} WHERE {_q('id')} = %s AND {_q('account_id')} = %s",
                       [*params, mailbox_id, account_id])
        return cursor.rowcount > 0


def write_flags(changed: Iterable[FlagRow], modseq: int) -> None:
    """Store the rows' flags and `modseq`: one UPDATE per distinct set of flags (a STORE
    on a range mostly gives all its messages the same)."""
    groups: dict[tuple[tuple[bool, ...], tuple[str, ...]], list[int]] = {}
    for row in changed:
        groups.setdefault((row.flags, row.keywords), []).append(row.pk)
    sets = ", ".join(f"{_q(c)} = %s" for c in (*FLAG_FIELDS, "keywords", "modseq"))
    table = _q(Message._meta.db_table)
    with connection.cursor() as cursor:
        for (flags, keywords), pks in groups.items():
            values = [*flags, _KEYWORDS.get_db_prep_save(list(keywords), connection), modseq]
            for i in range(0, len(pks), MAX_IN):
                chunk = pks[i:i + MAX_IN]
                cursor.execute(f"UPDATE {table} SET {sets} WHERE {_q('id')} IN ({', '.join(['%s'] * len(chunk))})",
                               [*values, *chunk])


@dataclass(slots=True)
class GoneRow:
    """What removing a message needs of it."""

    pk: int
    uid: int
    size: int
    path: str
    prefix: bytes
    trained_junk: bool | None


def deleted_rows(mailbox_id: int, uids: Sequence[int] | None) -> list[GoneRow]:
    """The mailbox's messages marked \\Deleted (of `uids` when given), by UID."""
    where, params, wanted = ("", [], None) if uids is None else _uid_filter(uids)
    if uids is not None and not uids:
        return []
    columns = ", ".join(_q(c) for c in ("id", "uid", "size", "path", "prefix", "trained_junk"))
    sql = (f"SELECT {columns} FROM {_q(Message._meta.db_table)} WHERE {_q('mailbox_id')} = %s"
           f" AND {_q('deleted')} = %s{' AND ' + where if where else ''} ORDER BY {_q('uid')}")
    with connection.cursor() as cursor:
        cursor.execute(sql, [mailbox_id, True, *params])
        found = cursor.fetchall()
    return [GoneRow(r[0], r[1], r[2], r[3], bytes(r[4] or b""), None if r[5] is None else bool(r[5]))
            for r in found if wanted is None or r[1] in wanted]


def delete_messages(pks: Sequence[int]) -> None:
    """Delete the messages' rows and the rows that refer to them (what the ORM's
    cascading delete does, without loading them)."""
    with connection.cursor() as cursor:
        for i in range(0, len(pks), MAX_IN):
            chunk = pks[i:i + MAX_IN]
            marks = ", ".join(["%s"] * len(chunk))
            cursor.execute(f"DELETE FROM {_q(MessageDKIMDomain._meta.db_table)} WHERE {_q('message_id')} IN ({marks})",
                           chunk)
            cursor.execute(f"DELETE FROM {_q(Message._meta.db_table)} WHERE {_q('id')} IN ({marks})", chunk)
