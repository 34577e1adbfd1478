"""SEARCH evaluation (RFC 9051 section 6.4.4), run in the connection's database thread.

Keys are answered in SQL where the stored columns hold the answer: flags, dates, sizes,
modseqs as column conditions (AND, OR and NOT of them in one query), and the text keys
(BODY, TEXT, HEADER and SUBJECT, FROM, TO, CC, BCC) as exact substring tests (instr /
strpos, no pattern characters) on the lower-cased decoded text stored at delivery
(`search_body`, `search_header`, see mailcore/imap/searchtext.py). Text matches are
case-insensitive (both sides lower-cased) on header values with RFC 2047 words decoded
and on bodies decoded from their transfer encoding and charset. A header key is checked
on the stored header text of the rows the substring test keeps (it must match inside
the named field's value). Rows without stored text (delivered before the columns
existed) are searched from their files, and get their columns stored then.

Sequence-number and UID sets, keywords and the saved result ($, RFC 5182) are sets
computed here; everything is a set of UIDs of the session's view, combined by AND,
OR and NOT.
"""
from __future__ import annotations

import email.utils
from collections.abc import Callable
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from django.db import DatabaseError, connection

from imapserver.fetch import MessageData
from imapserver.rows import CONTENT_FIELDS, rows_of
from mailcore.imap.searchkey import Key
from mailcore.imap.searchtext import any_header_match, body_text, fields_text, header_fields, header_match, storable
from mailstore.flagrows import json_value
from mailstore.models import Message

_TABLE = Message._meta.db_table
Sql = tuple[str, list[Any]]


def _midnight(d: date) -> datetime:
    return datetime.combine(d, time(), tzinfo=timezone.utc)


def _day(d: date) -> Any:
    return _when(_midnight(d))


def _when(t: datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(t)


def _contains(column: str) -> str:
    """SQL true when `column` contains the parameter as a substring, byte for byte."""
    fn = "strpos" if connection.vendor == "postgresql" else "instr"
    return f"{fn}({column}, %s) > 0"


def _date_sql(column: str, op: str, d: date) -> Sql:
    if op == "BEFORE":
        return f"({column} < %s)", [_day(d)]
    if op == "ON":
        return f"({column} >= %s AND {column} < %s)", [_day(d), _day(d + timedelta(days=1))]
    return f"({column} >= %s)", [_day(d)]


# RFC 5322 zones reach +-99:59: a UTC time at least this far from midnight has the
# same date in every zone.
_ZONE_REACH = timedelta(hours=100)


def _header_day(tree: dict[str, Any] | None) -> date | None:
    """The date of a message's Date header in the header's own zone (from the
    envelope kept in its structure), or None."""
    env = (tree or {}).get("env") or []
    if not env or not env[0]:
        return None
    try:
        return email.utils.parsedate_to_datetime(env[0]).date()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


class Search:
    def __init__(self, mailbox_id: int, uids: list[int], saved: list[int], now: datetime) -> None:
        self.mailbox_id = mailbox_id
        self.uids = uids
        self.known = set(uids)
        self.saved = set(saved)
        self.now = now
        self.lo, self.hi = uids[0], uids[-1]

    # --- SQL -------------------------------------------------------------------------

    def sql(self, key: Key) -> Sql | None:
        """An SQL condition exactly equal to `key` (never NULL), or None."""
        name = key[0]
        if name in ("ALL", "OLD"):
            return "1 = 1", []
        if name in ("NEW", "RECENT"):
            return "1 = 0", []  # \Recent is not supported (as mox).
        if name in ("AND", "OR"):
            parts = [self.sql(k) for k in (key[1] if name == "AND" else key[1:])]
            if any(p is None for p in parts):
                return None
            joiner = " AND " if name == "AND" else " OR "
            return "(" + joiner.join(p[0] for p in parts) + ")", [v for p in parts for v in p[1]]  # type: ignore[index]
        if name == "NOT":
            inner = self.sql(key[1])
            return None if inner is None else (f"NOT ({inner[0]})", inner[1])
        if name in ("FLAG", "KEYWORD"):
            field = Message.SYSTEM_FLAGS.get(key[1].lower())
            if field is None:
                if name == "KEYWORD":
                    return None
                return ("1 = 0", []) if key[2] else ("1 = 1", [])
            return f"{field} = %s", [bool(key[2])]
        if name in ("BEFORE", "ON", "SINCE"):
            return _date_sql("received", name, key[1])
        if name == "LARGER":
            return "size > %s", [key[1]]
        if name == "SMALLER":
            return "size < %s", [key[1]]
        if name == "MODSEQ":
            return "modseq >= %s", [key[1]]
        if name == "OLDER":
            return "received <= %s", [_when(self.now - timedelta(seconds=key[1]))]
        if name == "YOUNGER":
            return "received >= %s", [_when(self.now - timedelta(seconds=key[1]))]
        return None

    def query(self, columns: str, where: str, params: list[Any], column_params: tuple[Any, ...] = ()
              ) -> list[tuple[Any, ...]]:
        sql = (f"SELECT {columns} FROM {_TABLE} WHERE mailbox_id = %s AND uid >= %s AND uid <= %s AND ({where})"
               " ORDER BY uid")
        with connection.cursor() as cursor:
            cursor.execute(sql, [*column_params, self.mailbox_id, self.lo, self.hi, *params])
            return [r for r in cursor.fetchall() if r[0] in self.known]

    def where(self, cond: Sql) -> set[int]:
        return {r[0] for r in self.query("uid", *cond)}

    # --- sets ------------------------------------------------------------------------

    def matching(self, key: Key) -> set[int]:
        cond = self.sql(key)
        if cond is not None:
            return self.where(cond)
        name = key[0]
        if name == "AND":
            # Each subkey compiled once: those with SQL in one query, the others as sets.
            compiled = [(k, self.sql(k)) for k in key[1]]
            in_sql = [c for _, c in compiled if c is not None]
            rest = [k for k, c in compiled if c is None]
            out = set(self.known)
            if in_sql:
                out = self.where((" AND ".join(c[0] for c in in_sql), [v for c in in_sql for v in c[1]]))
            for k in rest:
                if not out:
                    break
                out &= self.matching(k)
            return out
        if name == "OR":
            return self.matching(key[1]) | self.matching(key[2])
        if name == "NOT":
            return self.known - self.matching(key[1])
        if name in ("SEQ", "UID"):
            if key[1].search_result:
                return self.known & self.saved
            if name == "UID":
                return {u for u in self.uids if key[1].contains(u, self.hi)}
            count = len(self.uids)
            return {u for i, u in enumerate(self.uids, 1) if key[1].contains(i, count)}
        if name == "KEYWORD":
            flag = key[1].lower()
            rows_ = self.query("uid, keywords", "1 = 1", [])
            present = {uid for uid, kw in rows_ if flag in json_value(kw)}
            return present if key[2] else self.known - present
        if name in ("SENTBEFORE", "SENTON", "SENTSINCE"):
            return self.sent(name[4:], key[1])
        if name == "HEADER":
            return self.header(key[1].lower(), key[2].lower())
        if name == "BODY":
            return self.body(key[1].lower())
        if name == "TEXT":
            return self.text(key[1].lower())
        raise ValueError(f"unknown search key {name}")

    def sent(self, op: str, d: date) -> set[int]:
        """SENTBEFORE, SENTON, SENTSINCE: the date of the Date header as written there,
        "disregarding time and timezone" (RFC 9051 6.4.4), not the UTC date of
        `sent_date`. A row whose UTC time lies farther than any zone offset from the
        asked days' edges is decided in SQL; the others by their Date header (the
        envelope's first field). No Date header never matches."""
        start = None if op == "BEFORE" else d
        end = d if op == "BEFORE" else d + timedelta(days=1) if op == "ON" else None
        certain, maybe = ["sent_date IS NOT NULL"], ["sent_date IS NOT NULL"]
        certain_params: list[Any] = []
        maybe_params: list[Any] = []
        if start is not None:
            certain.append("sent_date >= %s")
            certain_params.append(_when(_midnight(start) + _ZONE_REACH))
            maybe.append("sent_date >= %s")
            maybe_params.append(_when(_midnight(start) - _ZONE_REACH))
        if end is not None:
            certain.append("sent_date < %s")
            certain_params.append(_when(_midnight(end) - _ZONE_REACH))
            maybe.append("sent_date < %s")
            maybe_params.append(_when(_midnight(end) + _ZONE_REACH))
        out = self.where((" AND ".join(certain), certain_params))
        for uid, parsed in self.query("uid, parsed", " AND ".join(maybe), maybe_params):
            if uid in out:
                continue
            day = _header_day(json_value(parsed))
            if day is not None and (start is None or day >= start) and (end is None or day < end):
                out.add(uid)
        return out

    def header(self, field: str, needle: str) -> set[int]:
        found = self.query(
            "uid, search_header", f"search_header IS NULL OR {_contains('search_header')}", [needle]
        )
        out = {uid for uid, text in found if text is not None and header_match(text, field, needle)}
        return out | self.from_files(
            [uid for uid, text in found if text is None],
            lambda f: any(needle in v for n, v in f.headers if n == field),
        )

    def body(self, needle: str) -> set[int]:
        found = self.query("uid, search_body IS NULL", f"search_body IS NULL OR {_contains('search_body')}", [needle])
        out = {uid for uid, missing in found if not missing}
        return out | self.from_files([uid for uid, missing in found if missing], lambda f: needle in f.body)

    def text(self, needle: str) -> set[int]:
        # TEXT: the header or the body (RFC 9051 6.4.4).
        found = self.query(
            f"uid, search_header, search_body IS NULL OR search_header IS NULL, {_contains('search_body')}",
            f"search_body IS NULL OR search_header IS NULL OR {_contains('search_body')}"
            f" OR {_contains('search_header')}",
            [needle, needle],
            (needle,),
        )
        out = {uid for uid, head, missing, in_body in found if not missing and (in_body or any_header_match(head, needle))}
        return out | self.from_files(
            [uid for uid, _, missing, _ in found if missing],
            lambda f: needle in f.body or any(needle in v for _, v in f.headers),
        )

    def from_files(self, uids: list[int], test: Callable[[FileText], bool]) -> set[int]:
        """Rows without stored search text: read the file, store the text, test it."""
        out = set()
        for row in rows_of(self.mailbox_id, uids, ("uid",) + CONTENT_FIELDS):
            f = FileText(row)
            if test(f):
                out.add(row.uid)
            f.store()
        return out


class FileText:
    """A message's searchable text read from its file (the fallback path)."""

    def __init__(self, row: Any) -> None:
        md = MessageData(row)
        self.row = row
        data = md.data[md.shift:]
        self.body = body_text(data, md.tree)
        block = md.slice(md.tree["h"], top_header=True)
        self.headers = header_fields(block)
        self.header_text = fields_text(self.headers)

    def store(self) -> None:
        if connection.in_atomic_block:
            return
        try:
            Message.objects.filter(pk=self.row.id, search_body__isnull=True).update(
                search_body=storable(self.body), search_header=storable(self.header_text))
        except DatabaseError:
            pass


def search(mailbox_id: int, uids: list[int], key: Key, saved: list[int]) -> list[int]:
    """The UIDs (of `uids`, the session's view) matching `key`, ascending."""
    if not uids:
        return []
    return sorted(Search(mailbox_id, uids, saved, datetime.now(timezone.utc)).matching(key))
