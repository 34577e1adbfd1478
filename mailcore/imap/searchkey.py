"""SEARCH keys (RFC 9051 section 6.4.4, RFC 7162 MODSEQ, RFC 5032 OLDER/YOUNGER) as a
small tree of tuples, and SEARCH/ESEARCH return options (RFC 4731, RFC 5182)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from mailcore.imap.numset import NumSet
from mailcore.imap.reader import Reader

# A key is a tuple whose first item is its name:
#   ("ALL",) ("AND", [keys]) ("NOT", key) ("OR", a, b) ("SEQ", NumSet) ("UID", NumSet)
#   ("FLAG", "\\Seen", True) ("KEYWORD", "x", present) ("NEW",) ("OLD",) ("RECENT",)
#   ("BEFORE"|"ON"|"SINCE"|"SENTBEFORE"|"SENTON"|"SENTSINCE", date)
#   ("LARGER"|"SMALLER", n) ("HEADER", field, text) ("BODY"|"TEXT", text)
#   ("MODSEQ", n) ("OLDER"|"YOUNGER", seconds)
Key = tuple[Any, ...]

_FLAG_KEYS = {
    "ANSWERED": ("\\Answered", True), "DELETED": ("\\Deleted", True), "DRAFT": ("\\Draft", True),
    "FLAGGED": ("\\Flagged", True), "SEEN": ("\\Seen", True),
    "UNANSWERED": ("\\Answered", False), "UNDELETED": ("\\Deleted", False), "UNDRAFT": ("\\Draft", False),
    "UNFLAGGED": ("\\Flagged", False), "UNSEEN": ("\\Seen", False),
}
_DATE_KEYS = ("BEFORE", "ON", "SINCE", "SENTBEFORE", "SENTON", "SENTSINCE")
_HEADER_KEYS = ("BCC", "CC", "FROM", "SUBJECT", "TO")
_PLAIN = ("ALL", "NEW", "OLD", "RECENT")


@dataclass
class SearchRequest:
    key: Key
    charset: str | None = None
    # RFC 4731: None means a plain SEARCH (answered with `* SEARCH`).
    return_opts: list[str] | None = None

    @property
    def save(self) -> bool:
        return bool(self.return_opts) and "SAVE" in self.return_opts


@dataclass
class SortRequest:
    criteria: list[tuple[str, bool]] = field(default_factory=list)  # (key, reverse)
    charset: str = "UTF-8"
    key: Key = ("ALL",)


def _text(r: Reader) -> str:
    return r.astring().decode("utf-8", "replace")


def search_key(r: Reader, depth: int = 0) -> Key:
    if depth > 50:
        raise r.error("search keys nested too deeply")
    if r.take(b"("):
        keys = [search_key(r, depth + 1)]
        while r.take(b" "):
            keys.append(search_key(r, depth + 1))
        r.expect(b")")
        return ("AND", keys)
    c = r.peek_byte()
    if c == ord("*") or c == ord("$") or 0x30 <= c <= 0x39:
        return ("SEQ", r.seqset())
    word = r.atom().upper()
    if word in _PLAIN:
        return (word,)
    if word in _FLAG_KEYS:
        flag, present = _FLAG_KEYS[word]
        return ("FLAG", flag, present)
    if word in ("KEYWORD", "UNKEYWORD"):
        r.sp()
        return ("KEYWORD", r.flag(), word == "KEYWORD")
    if word in _DATE_KEYS:
        r.sp()
        return (word, r.date())
    if word in ("LARGER", "SMALLER"):
        r.sp()
        return (word, r.number64())
    if word in _HEADER_KEYS:
        r.sp()
        return ("HEADER", word.capitalize() if word != "BCC" else "Bcc", _text(r))
    if word == "HEADER":
        r.sp()
        name = r.astring().decode("ascii", "replace")
        r.sp()
        return ("HEADER", name, _text(r))
    if word in ("BODY", "TEXT"):
        r.sp()
        return (word, _text(r))
    if word == "NOT":
        r.sp()
        return ("NOT", search_key(r, depth + 1))
    if word == "OR":
        r.sp()
        a = search_key(r, depth + 1)
        r.sp()
        return ("OR", a, search_key(r, depth + 1))
    if word == "UID":
        r.sp()
        return ("UID", r.seqset())
    if word == "MODSEQ":
        # RFC 7162 section 3.1.5: MODSEQ [entry-name entry-type-req] mod-sequence-valzer
        r.sp()
        if r.peek(b'"'):
            r.quoted()
            r.sp()
            r.atom()
            r.sp()
        return ("MODSEQ", r.number64())
    if word in ("OLDER", "YOUNGER"):
        r.sp()
        return (word, r.nz_number())
    raise r.error(f"unknown search key {word}")


def search_program(r: Reader) -> tuple[Key, str | None]:
    """[CHARSET x SP] 1*(search-key); the caller has consumed the SP before it."""
    charset = None
    if r.take_atom("CHARSET"):
        r.sp()
        charset = r.astring().decode("ascii", "replace").upper()
        r.sp()
    keys = [search_key(r)]
    while r.take(b" "):
        keys.append(search_key(r))
    return (keys[0] if len(keys) == 1 else ("AND", keys)), charset


def search_request(r: Reader) -> SearchRequest:
    return_opts = None
    if r.take_atom("RETURN"):
        r.sp()
        r.expect(b"(")
        return_opts = []
        if not r.take(b")"):
            while True:
                opt = r.atom().upper()
                if opt not in ("MIN", "MAX", "ALL", "COUNT", "SAVE"):
                    raise r.error(f"unknown search return option {opt}")
                return_opts.append(opt)
                if r.take(b")"):
                    break
                r.sp()
        r.sp()
    key, charset = search_program(r)
    return SearchRequest(key, charset, return_opts)


def sort_request(r: Reader) -> SortRequest:
    # RFC 5256 section 3: SORT (sort-criteria) charset search-keys
    req = SortRequest()
    r.expect(b"(")
    while True:
        reverse = bool(r.take_atom("REVERSE"))
        if reverse:
            r.sp()
        crit = r.take_atom("ARRIVAL", "CC", "DATE", "FROM", "SIZE", "SUBJECT", "TO", "DISPLAYFROM", "DISPLAYTO")
        if crit is None:
            raise r.error("unknown sort criterion")
        req.criteria.append((crit, reverse))
        if r.take(b")"):
            break
        r.sp()
    r.sp()
    req.charset = r.astring().decode("ascii", "replace").upper()
    r.sp()
    keys = [search_key(r)]
    while r.take(b" "):
        keys.append(search_key(r))
    req.key = keys[0] if len(keys) == 1 else ("AND", keys)
    return req


def key_dates(key: Key) -> list[date]:
    """All dates in a key (for tests and debugging)."""
    out: list[date] = []
    for item in key[1:]:
        if isinstance(item, date):
            out.append(item)
        elif isinstance(item, tuple):
            out.extend(key_dates(item))
        elif isinstance(item, list):
            for k in item:
                out.extend(key_dates(k))
    return out


__all__ = ["Key", "NumSet", "SearchRequest", "SortRequest", "search_key", "search_request", "sort_request"]
