"""Light message rows for FETCH, SEARCH and SORT, read with one plain SQL query.

Building 100,000 `Message` model instances (and decoding every JSON column through
Django's converters) costs more than answering the command, so these rows hold the raw
column values with the attributes and `flag_list()` of `mailstore.models.Message`; the
`parsed` MIME tree is decoded only when a FETCH item needs it.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

from django.db import connection

from mailcore.imap.thread import MSGID, ThreadMessage
from mailstore.models import Message

_FLAG_FIELDS = tuple(Message.FLAG_NAMES)
BASE_FIELDS = ("uid", "modseq", "received", "size", "keywords", *_FLAG_FIELDS)
CONTENT_FIELDS = ("id", "path", "prefix", "parsed", "envelope")
SUMMARY_FIELDS = ("sent_date", "subject", "from_address", "to_addresses", "message_id")
_JSON = {"keywords", "to_addresses", "parsed"}
_DATES = {"received", "sent_date"}


def date_value(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value if value is None or value.tzinfo else value.replace(tzinfo=timezone.utc)
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


class Row:
    """One message's columns as attributes. JSON and date columns are decoded on first
    use, so a FETCH FLAGS of 100,000 rows pays only for the columns it reads."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)

    def __getattr__(self, name: str) -> Any:
        d = self.__dict__
        key = "_raw_" + name
        if key not in d:
            raise AttributeError(name)
        raw = d[key]
        if name in _DATES:
            value = date_value(raw)
        else:
            value = json.loads(raw) if isinstance(raw, (str, bytes)) else raw
        d[name] = value
        return value

    def flag_list(self) -> list[str]:
        d = self.__dict__
        out = [name for field, name in _FLAG_ITEMS if d[field]]
        keywords = self.keywords
        return out + list(keywords) if keywords else out


_FLAG_ITEMS = tuple(Message.FLAG_NAMES.items())


def tuples(
    mailbox_id: int, lo: int, hi: int, fields: tuple[str, ...], *, changedsince: int | None = None
) -> Iterator[tuple[Any, ...]]:
    """The columns `fields` of the mailbox's messages with UIDs lo..hi (optionally only
    those changed after `changedsince`), in UID order, as plain tuples."""
    table = Message._meta.db_table
    sql = f"SELECT {', '.join(fields)} FROM {table} WHERE mailbox_id = %s AND uid >= %s AND uid <= %s"
    params: list[Any] = [mailbox_id, lo, hi]
    if changedsince is not None:
        sql += " AND modseq > %s"
        params.append(changedsince)
    sql += " ORDER BY uid"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while True:
            batch = cursor.fetchmany(5000)
            if not batch:
                break
            yield from batch


def rows(mailbox_id: int, lo: int, hi: int, fields: tuple[str, ...], *, changedsince: int | None = None) -> list[Row]:
    # Columns decoded later are stored under "_raw_<name>" (see Row.__getattr__).
    names = tuple("_raw_" + f if f in _JSON or f in _DATES else f for f in fields)
    has_prefix = "prefix" in fields
    has_keywords = "keywords" in fields
    out = []
    for values in tuples(mailbox_id, lo, hi, fields, changedsince=changedsince):
        d = dict(zip(names, values))
        if has_keywords and d["_raw_keywords"] in ("[]", []):
            d["keywords"] = []
        if has_prefix:
            prefix = d["prefix"]
            d["prefix"] = bytes(prefix) if prefix is not None else b""
        out.append(Row(d))
    return out


def rows_of(mailbox_id: int, uids: list[int] | dict[int, Any], fields: tuple[str, ...], *,
            changedsince: int | None = None) -> list[Row]:
    """The rows of `uids` (ascending; a dict's keys will do) that exist, in UID order: one
    range query and a filter (`uid IN (...)` with 100,000 values breaks databases)."""
    if not uids:
        return []
    wanted = uids if isinstance(uids, dict) else set(uids)
    first, last = (min(wanted), max(wanted)) if isinstance(uids, dict) else (uids[0], uids[-1])
    return [r for r in rows(mailbox_id, first, last, fields, changedsince=changedsince) if r.uid in wanted]


def thread_messages(mailbox_id: int, uids: list[int], with_references: bool) -> list[ThreadMessage]:
    """THREAD's view of the messages `uids` (ascending), numbered by UID: base subject
    source, sent date (else the internal date, RFC 5256 section 2.2), Message-ID and, for
    REFERENCES, the Message IDs of References and of In-Reply-To (read from the file)."""
    from imapserver.fetch import MessageData
    from mailcore.message.headers import header_values

    fields = ("uid", "received", "sent_date", "subject", "message_id") + (CONTENT_FIELDS if with_references else ())
    out = []
    for row in rows_of(mailbox_id, uids, fields):
        refs: list[str] = []
        in_reply_to: list[str] = []
        if with_references:
            md = MessageData(row)
            header = md.slice(md.tree["h"], top_header=True)
            for value in header_values(header, "References"):
                refs.extend(MSGID.findall(value))
            for value in header_values(header, "In-Reply-To"):
                in_reply_to.extend(MSGID.findall(value))
        out.append(ThreadMessage(row.uid, row.subject, row.sent_date or row.received, row.message_id, refs,
                                 in_reply_to))
    return out
