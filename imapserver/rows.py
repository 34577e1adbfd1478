"""Light message rows for FETCH, SEARCH and SORT, read with one plain SQL query.

Building 100,000 `Message` model instances (and decoding every JSON column through
Django's converters) costs more than answering the command, so these rows hold the raw
column values with the attributes and `flag_list()` of `mailstore.models.Message`; the
`parsed` MIME tree is decoded only when a FETCH item needs it.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from django.db import connection

from mailstore.models import Message

_FLAG_FIELDS = tuple(Message.FLAG_NAMES)
BASE_FIELDS = ("uid", "modseq", "received", "size", "keywords", *_FLAG_FIELDS)
CONTENT_FIELDS = ("id", "path", "prefix", "parsed")
SUMMARY_FIELDS = ("sent_date", "subject", "from_address", "to_addresses", "message_id")
_JSON = {"keywords", "to_addresses", "parsed"}
_DATES = {"received", "sent_date"}


def _date(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value if value is None or value.tzinfo else value.replace(tzinfo=timezone.utc)
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


class Row:
    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)

    def __getattr__(self, name: str) -> Any:
        # JSON columns are decoded on first use (SQLite hands back text).
        raw = self.__dict__.get("_raw_" + name, None)
        if name in _JSON and ("_raw_" + name) in self.__dict__:
            value = json.loads(raw) if isinstance(raw, (str, bytes)) else raw
            self.__dict__[name] = value
            return value
        raise AttributeError(name)

    def flag_list(self) -> list[str]:
        d = self.__dict__
        return [name for field, name in Message.FLAG_NAMES.items() if d[field]] + list(self.keywords)


def rows(mailbox_id: int, lo: int, hi: int, fields: tuple[str, ...], *, changedsince: int | None = None) -> list[Row]:
    table = Message._meta.db_table
    sql = f"SELECT {', '.join(fields)} FROM {table} WHERE mailbox_id = %s AND uid >= %s AND uid <= %s"
    params: list[Any] = [mailbox_id, lo, hi]
    if changedsince is not None:
        sql += " AND modseq > %s"
        params.append(changedsince)
    sql += " ORDER BY uid"
    out = []
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while True:
            batch = cursor.fetchmany(5000)
            if not batch:
                break
            for values in batch:
                d: dict[str, Any] = {}
                for name, value in zip(fields, values):
                    if name in _JSON:
                        if value == "[]" or value == []:
                            d[name] = []
                        else:
                            d["_raw_" + name] = value
                    elif name in _DATES:
                        d[name] = _date(value)
                    elif name == "prefix":
                        d[name] = bytes(value) if value is not None else b""
                    else:
                        d[name] = value
                out.append(Row(d))
    return out
