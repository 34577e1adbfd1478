"""SEARCH evaluation (RFC 9051 section 6.4.4) over a mailbox's rows, run in the
connection's database thread. Text keys match case-insensitively on headers (decoded
encoded-words) and on bodies decoded from their transfer encoding (UTF-8)."""
from __future__ import annotations

import email.header
from datetime import date, datetime, timedelta, timezone
from typing import Any

from imapserver.fetch import MessageData, decoded_part, FetchError
from mailcore.imap.numset import NumSet
from mailcore.imap.searchkey import Key
from mailcore.message.headers import split_fields, field_value
from imapserver.rows import BASE_FIELDS, CONTENT_FIELDS, rows
from mailstore.models import Message

_TEXT_KEYS = {"HEADER", "BODY", "TEXT"}


def _needs_content(key: Key) -> bool:
    name = key[0]
    if name == "HEADER" and key[1] == "Subject" and key[2]:
        return False
    if name in _TEXT_KEYS or name in ("SENTBEFORE", "SENTON", "SENTSINCE"):
        return name in _TEXT_KEYS
    if name == "AND":
        return any(_needs_content(k) for k in key[1])
    if name == "NOT":
        return _needs_content(key[1])
    if name == "OR":
        return _needs_content(key[1]) or _needs_content(key[2])
    return False


def _decode_header(value: str) -> str:
    try:
        return str(email.header.make_header(email.header.decode_header(value)))
    except Exception:  # noqa: BLE001 - undecodable words are searched as they are
        return value


def _body_text(md: MessageData, node: dict[str, Any], path: tuple[int, ...], out: list[str]) -> None:
    if node.get("parts"):
        for i, child in enumerate(node["parts"], 1):
            _body_text(md, child, path + (i,), out)
        return
    if "msg" in node:
        msg = node["msg"]
        out.append(md.slice(msg["h"]).decode("utf-8", "replace"))
        _body_text(md, msg, path + (1,) if not msg.get("parts") else path, out)
        return
    if node.get("t") not in ("TEXT", "MESSAGE", None) and node.get("t") != "":
        return
    try:
        raw = decoded_part(md, path) if path else md.slice(node["b"])
    except FetchError:
        raw = md.slice(node["b"])
    charset = next((v for k, v in node.get("p") or [] if k == "CHARSET"), "utf-8").strip('"')
    try:
        out.append(raw.decode(charset, "replace"))
    except LookupError:
        out.append(raw.decode("utf-8", "replace"))


class Evaluator:
    def __init__(self, uids: list[int], saved: list[int], now: datetime) -> None:
        self.uids = uids
        self.seq_of = {u: i + 1 for i, u in enumerate(uids)}
        self.saved = set(saved)
        self.now = now
        self.max_uid = uids[-1] if uids else 0
        self._md: MessageData | None = None
        self._headers: list[tuple[str, bytes]] | None = None
        self._body: str | None = None

    def reset(self, message: Any) -> None:
        self.message = message
        self._md = None
        self._headers = None
        self._body = None

    @property
    def md(self) -> MessageData:
        if self._md is None:
            self._md = MessageData(self.message)
        return self._md

    def headers(self) -> list[tuple[str, bytes]]:
        if self._headers is None:
            tree = self.md.tree
            self._headers = split_fields(self.md.slice(tree["h"], top_header=True))
        return self._headers

    def body(self) -> str:
        if self._body is None:
            out: list[str] = []
            tree = self.md.tree
            _body_text(self.md, tree, (), out)
            self._body = "\n".join(out).lower()
        return self._body

    def _seq_match(self, ns: NumSet, n: int, largest: int) -> bool:
        return ns.contains(n, largest)

    def match(self, key: Key) -> bool:
        m = self.message
        name = key[0]
        if name == "ALL":
            return True
        if name == "AND":
            return all(self.match(k) for k in key[1])
        if name == "NOT":
            return not self.match(key[1])
        if name == "OR":
            return self.match(key[1]) or self.match(key[2])
        if name == "SEQ":
            if key[1].search_result:
                return m.uid in self.saved
            return key[1].contains(self.seq_of[m.uid], len(self.uids))
        if name == "UID":
            if key[1].search_result:
                return m.uid in self.saved
            return key[1].contains(m.uid, self.max_uid)
        if name == "FLAG":
            field = Message.SYSTEM_FLAGS.get(key[1].lower())
            value = bool(getattr(m, field)) if field else False
            return value == key[2]
        if name == "KEYWORD":
            flag = key[1].lower()
            field = Message.SYSTEM_FLAGS.get(flag)
            present = bool(getattr(m, field)) if field else flag in m.keywords
            return present == key[2]
        if name in ("NEW", "RECENT"):
            return False  # \Recent is not supported (as mox).
        if name == "OLD":
            return True
        if name in ("BEFORE", "ON", "SINCE"):
            return _date_cmp(name, m.received.astimezone(timezone.utc).date(), key[1])
        if name in ("SENTBEFORE", "SENTON", "SENTSINCE"):
            if m.sent_date is None:
                return False
            return _date_cmp(name[4:], m.sent_date.date(), key[1])
        if name == "LARGER":
            return m.size > key[1]
        if name == "SMALLER":
            return m.size < key[1]
        if name == "MODSEQ":
            return m.modseq >= key[1]
        if name == "OLDER":
            return m.received <= self.now - timedelta(seconds=key[1])
        if name == "YOUNGER":
            return m.received >= self.now - timedelta(seconds=key[1])
        if name == "HEADER" and key[1] == "Subject" and key[2]:
            # The decoded subject is stored at delivery; no need to read the file.
            return key[2].lower() in m.subject.lower()
        if name == "HEADER":
            field_name, needle = key[1].lower(), key[2].lower()
            values = [raw for n, raw in self.headers() if n.lower() == field_name]
            if not values:
                return False
            if needle == "":
                return True
            return any(needle in _decode_header(field_value(raw)).lower() for raw in values)
        if name == "BODY":
            return key[1].lower() in self.body()
        if name == "TEXT":
            needle = key[1].lower()
            if any(needle in _decode_header(field_value(raw)).lower() for _, raw in self.headers()):
                return True
            return needle in self.body()
        raise ValueError(f"unknown search key {name}")


def _date_cmp(op: str, day: date, wanted: date) -> bool:
    if op == "BEFORE":
        return day < wanted
    if op == "ON":
        return day == wanted
    return day >= wanted


def search(mailbox_id: int, uids: list[int], key: Key, saved: list[int]) -> list[int]:
    """The UIDs (of `uids`, the session's view) matching `key`, ascending."""
    evaluator = Evaluator(uids, saved, datetime.now(timezone.utc))
    known = set(uids)
    if not uids:
        return []
    fields = BASE_FIELDS + ("sent_date", "subject") + (CONTENT_FIELDS if _needs_content(key) else ())
    out = []
    for message in rows(mailbox_id, uids[0], uids[-1], fields):
        if message.uid not in known:
            continue
        evaluator.reset(message)
        if evaluator.match(key):
            out.append(message.uid)
    return out
