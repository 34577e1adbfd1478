"""FETCH responses (RFC 9051 section 6.4.5 and 7.5.2, RFC 3516 BINARY, RFC 7162 MODSEQ),
built synchronously in the connection's database thread."""
from __future__ import annotations

import base64
import binascii
import json
import logging
import quopri
from datetime import datetime, timezone
from typing import Any

from django.db import DatabaseError, connection

from imapserver.rows import BASE_FIELDS, CONTENT_FIELDS, date_value, rows_of, tuples
from mailcore.imap.fetchatt import FetchAtt, FetchRequest, Section
from mailcore.imap.render import bodystructure, envelope, envelope_from_store, stored_envelope
from mailcore.imap.response import flags as format_flags
from mailcore.imap.response import literal
from mailcore.message.headers import split_fields
from mailcore.message.structure import VERSION, find_part, parse_structure
from mailstore import files
from mailstore.models import Mailbox, Message

log = logging.getLogger(__name__)

_CONTENT_ATTS = {"ENVELOPE", "BODYSTRUCTURE", "BODY", "BODY[]", "BINARY", "BINARY.SIZE", "RFC822",
                 "RFC822.HEADER", "RFC822.TEXT"}
_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


class FetchError(Exception):
    """Answered NO with the code, e.g. UNKNOWN-CTE (RFC 3516 section 4.3)."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code


def internaldate(when: datetime) -> str:
    # date-time: DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE
    when = when.astimezone(timezone.utc) if when.tzinfo else when.replace(tzinfo=timezone.utc)
    return f'"{when.day:2d}-{_MONTHS[when.month - 1]}-{when.year:04d} {when:%H:%M:%S} +0000"'


class MessageData:
    """A message's bytes (prefix + file) and structure, loaded once per FETCH."""

    def __init__(self, message: Any) -> None:
        self.message = message
        self._data: bytes | None = None
        self._tree: dict[str, Any] | None = None

    @property
    def data(self) -> bytes:
        if self._data is None:
            self._data = files.read_message(self.message.path, bytes(self.message.prefix))
        return self._data

    @property
    def shift(self) -> int:
        return len(bytes(self.message.prefix))

    @property
    def tree(self) -> dict[str, Any]:
        if self._tree is None:
            parsed = self.message.parsed
            if not parsed or parsed.get("v") != VERSION:
                parsed = parse_structure(self.data[self.shift :])
                _store_upgraded(self.message, parsed)
            self._tree = parsed
        return self._tree

    def slice(self, rng: list[int], *, top_header: bool = False) -> bytes:
        start = 0 if top_header else rng[0] + self.shift
        return self.data[start : rng[1] + self.shift]


def _store_upgraded(message: Any, parsed: dict[str, Any]) -> None:
    """A row parsed by an older parser version gets the new structure saved, so only
    its first FETCH after an upgrade pays for the parse (mox's "ensureparsed")."""
    pk = message.__dict__.get("id")  # a model instance or an imapserver.rows.Row
    if pk is None or connection.in_atomic_block:
        return
    try:
        Message.objects.filter(pk=pk).update(parsed=parsed, envelope=stored_envelope(parsed))
    except DatabaseError:
        log.warning("could not save the re-parsed structure", extra={"message": pk})
        return
    message.parsed = parsed


def _header_fields(block: bytes, names: tuple[str, ...], negate: bool) -> bytes:
    wanted = {n.lower() for n in names}
    out = [raw for name, raw in split_fields(block) if (name.lower() in wanted) != negate and name]
    return b"".join(out) + b"\r\n"


def section_bytes(md: MessageData, section: Section | None) -> bytes:
    """The bytes BODY[section] answers (RFC 9051 6.4.5); empty for missing parts."""
    if section is None or (not section.part and section.text is None):
        return md.data
    tree = md.tree
    node: dict[str, Any] | None = tree
    if section.part:
        node = find_part(tree, section.part)
        if node is None:
            return b""
        if section.text is None:
            return md.slice(node["b"])
        if section.text == "MIME":
            return md.slice(node["h"])
        msg = node.get("msg")
        if msg is None:
            return b""
        node = msg
    assert node is not None
    top = node is tree
    if section.text == "TEXT":
        return md.slice(node["b"])
    header = md.slice(node["h"], top_header=top)
    if section.text == "HEADER":
        return header
    return _header_fields(header, section.fields, section.text == "HEADER.FIELDS.NOT")


def decoded_part(md: MessageData, part: tuple[int, ...]) -> bytes:
    """BINARY[part]: the part's body without its content-transfer-encoding (RFC 3516)."""
    if not part:
        return md.data
    node = find_part(md.tree, part)
    if node is None:
        return b""
    body = md.slice(node["b"])
    enc = (node.get("enc") or "7BIT").upper()
    if enc in ("7BIT", "8BIT", "BINARY"):
        return body
    if enc == "BASE64":
        try:
            return base64.b64decode(b"".join(body.split()), validate=False)
        except (binascii.Error, ValueError) as exc:
            raise FetchError("invalid base64 data", "UNKNOWN-CTE") from exc
    if enc == "QUOTED-PRINTABLE":
        return quopri.decodestring(body)
    raise FetchError(f"unknown content-transfer-encoding {enc}", "UNKNOWN-CTE")


def _partial(data: bytes, partial: tuple[int, int] | None) -> bytes:
    if partial is None:
        return data
    start, length = partial
    return data[start : start + length]


def _lit(data: bytes, *, binary: bool = False) -> bytes:
    # An empty section is answered as "" rather than a zero-length literal.
    return b'""' if not data else literal(data, binary=binary)


def render_att(att: FetchAtt, md: MessageData, *, condstore: bool) -> bytes:
    m = md.message
    name = att.name
    if name == "UID":
        return b"UID %d" % m.uid
    if name == "FLAGS":
        return b"FLAGS " + format_flags(m.flag_list())
    if name == "INTERNALDATE":
        return b"INTERNALDATE " + internaldate(m.received).encode()
    if name == "RFC822.SIZE":
        return b"RFC822.SIZE %d" % m.size
    if name == "MODSEQ":
        return b"MODSEQ (%d)" % m.modseq
    if name == "ENVELOPE":
        stored = envelope_from_store(m.__dict__.get("envelope"), VERSION)
        return b"ENVELOPE " + (stored if stored is not None else envelope(md.tree.get("env")))
    if name == "BODYSTRUCTURE":
        return b"BODYSTRUCTURE " + bodystructure(md.tree)
    if name == "BODY":
        return b"BODY " + bodystructure(md.tree, extended=False)
    if name == "RFC822":
        return b"RFC822 " + _lit(md.data)
    if name == "RFC822.HEADER":
        return b"RFC822.HEADER " + _lit(section_bytes(md, Section(text="HEADER")))
    if name == "RFC822.TEXT":
        return b"RFC822.TEXT " + _lit(section_bytes(md, Section(text="TEXT")))
    if name == "BODY[]":
        return att.response_name().encode() + b" " + _lit(_partial(section_bytes(md, att.section), att.partial))
    if name == "BINARY":
        data = _partial(decoded_part(md, att.section.part if att.section else ()), att.partial)
        return att.response_name().encode() + b" " + _lit(data, binary=b"\x00" in data)
    if name == "BINARY.SIZE":
        return att.response_name().encode() + b" %d" % len(decoded_part(md, att.section.part if att.section else ()))
    raise FetchError(f"unsupported fetch attribute {name}")


def needs_content(req: FetchRequest) -> bool:
    return any(a.name in _CONTENT_ATTS for a in req.atts)


def fetch_lines(
    messages: list[tuple[int, Any]], req: FetchRequest, *, uid_command: bool, condstore: bool,
    flags_changed: set[int],
) -> list[bytes]:
    """`* seq FETCH (...)` lines, in the order of `messages` (seq, row)."""
    atts = _with_implicit(req, uid_command=uid_command, condstore=condstore)
    names = {a.name for a in req.atts}
    out = []
    for seq, message in messages:
        md = MessageData(message)
        items = [render_att(a, md, condstore=condstore) for a in atts]
        if message.uid in flags_changed and "FLAGS" not in names:
            # RFC 9051 6.4.5: a \Seen set implicitly is reported as a FLAGS change.
            items.append(render_att(FetchAtt("FLAGS"), md, condstore=condstore))
        out.append(b"* %d FETCH (" % seq + b" ".join(items) + b")")
    return out


# Items answered from columns alone: no structure, no file.
_COLUMN_ATTS = {"UID", "FLAGS", "INTERNALDATE", "RFC822.SIZE", "MODSEQ", "ENVELOPE"}
_COLUMN_OF = {"INTERNALDATE": "received", "RFC822.SIZE": "size", "MODSEQ": "modseq", "ENVELOPE": "envelope"}
_FLAG_NAMES = tuple(Message.FLAG_NAMES.values())
def _flag_columns() -> tuple[str, str]:
    """The keywords as JSON text, NULL when there are none (a None costs the driver less
    than a string per row), and the flags as a bit mask (`Message.flagmask`)."""
    if connection.vendor == "sqlite":
        return "NULLIF(keywords, '[]')", "flagmask"
    return "CAST(NULLIF(keywords, '[]'::jsonb) AS TEXT)", "flagmask"


def fetch_responses(
    mailbox_id: int, pairs: list[tuple[int, int]], req: FetchRequest, *, uid_command: bool, condstore: bool,
    flags_changed: set[int],
) -> list[bytes]:
    """`* seq FETCH (...)` lines for the (seq, uid) pairs, in UID order: column items
    (UID, FLAGS, INTERNALDATE, RFC822.SIZE, MODSEQ, and ENVELOPE as stored at delivery)
    from one narrow query over plain tuples, anything else through rows and `fetch_lines`."""
    if not pairs:
        return []
    atts = _with_implicit(req, uid_command=uid_command, condstore=condstore)
    names = [a.name for a in atts]
    if names == ["UID", "FLAGS"] or names == ["FLAGS"]:
        return _flags_lines(mailbox_id, pairs, req, with_uid=names[0] == "UID")
    seq_of = {u: s for s, u in pairs}
    if all(a.name in _COLUMN_ATTS for a in atts):
        return _column_lines(mailbox_id, pairs[0][1], pairs[-1][1], seq_of, atts, req, uid_command, condstore,
                             flags_changed)
    return _row_lines(mailbox_id, seq_of, req, uid_command, condstore, flags_changed)


def _mask_names(mask: int) -> list[str]:
    """The flags of a `Message.flagmask` value, in canonical spelling and order."""
    return [n for bit, n in enumerate(_FLAG_NAMES) if mask >> bit & 1]


class _FlagItems(dict[tuple[str | None, int], bytes]):
    """`FLAGS (...)` items by (keywords as JSON text or None, flag bit mask): a mailbox
    has few distinct combinations, so each is formatted once per answer."""

    def __missing__(self, key: tuple[str | None, int]) -> bytes:
        keywords, mask = key
        item = self[key] = b"FLAGS " + format_flags(_mask_names(mask) + json.loads(keywords or "[]"))
        return item


# The FLAGS item of each mask without keywords (1,024 of them, made once).
_ITEMS_BY_MASK: tuple[bytes, ...] = tuple(
    b"FLAGS " + format_flags(_mask_names(mask)) for mask in range(1 << len(_FLAG_NAMES)))


def _flag_rows(mailbox_id: int, lo: int, hi: int, changedsince: int | None
               ) -> tuple[list[tuple[int, str | None, int]], bool]:
    """(uid, keywords as JSON text or None, flag mask) of the mailbox's messages lo..hi,
    and whether keywords were read.
    A mailbox none of whose messages has a keyword (`Mailbox.keywords`, which every
    writer keeps a superset of its messages' keywords, is empty) is read without the
    keywords column, a fifth of the time, decided inside the same statement so that a
    keyword added meanwhile cannot be missed; otherwise, or when that finds no rows,
    the keywords are read."""
    message, mailbox = Message._meta.db_table, Mailbox._meta.db_table
    empty = "'[]'" if connection.vendor == "sqlite" else "'[]'::jsonb"
    keywords, mask = _flag_columns()
    where = "mailbox_id = %s AND uid >= %s AND uid <= %s" + (" AND modseq > %s" if changedsince is not None else "")
    params: list[Any] = [mailbox_id, lo, hi] + ([changedsince] if changedsince is not None else [])
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT uid, NULL, {mask} FROM {message} WHERE {where} AND NOT EXISTS"
            f" (SELECT 1 FROM {mailbox} WHERE id = %s AND keywords <> {empty}) ORDER BY uid", [*params, mailbox_id])
        found = cursor.fetchall()
        if found:
            return found, False
        cursor.execute(f"SELECT uid, {keywords}, {mask} FROM {message} WHERE {where} ORDER BY uid", params)
        return cursor.fetchall(), True


def _flags_lines(mailbox_id: int, pairs: list[tuple[int, int]], req: FetchRequest, *, with_uid: bool) -> list[bytes]:
    """(UID) FETCH 1:* (FLAGS), a client's resynchronization: the shortest path. `pairs`
    ascend, as `resolve` gives them."""
    lo, hi = pairs[0][1], pairs[-1][1]
    found, with_keywords = _flag_rows(mailbox_id, lo, hi, req.changedsince)
    items = _FlagItems()
    if len(found) == len(pairs) and pairs[-1][0] - pairs[0][0] == len(pairs) - 1:
        # The messages asked for are all of the view's lo..hi, and the rows of lo..hi
        # can only be some of those (a new message has a higher UID), so with as many
        # rows they are the same: sequence numbers count up from the first.
        numbered = enumerate(found, pairs[0][0])
    else:
        seq_of = {u: s for s, u in pairs}
        numbered = ((seq_of[row[0]], row) for row in found if row[0] in seq_of)  # type: ignore[assignment]
    if with_keywords:
        if with_uid:
            return [b"* %d FETCH (UID %d %s)" % (seq, uid, items[k, m]) for seq, (uid, k, m) in numbered]
        return [b"* %d FETCH (%s)" % (seq, items[k, m]) for seq, (_, k, m) in numbered]
    # No keywords: the item by the mask alone, from a tuple (cheaper than a keyed lookup).
    by_mask = _ITEMS_BY_MASK
    if with_uid:
        return [b"* %d FETCH (UID %d %s)" % (seq, uid, by_mask[m]) for seq, (uid, _, m) in numbered]
    return [b"* %d FETCH (%s)" % (seq, by_mask[m]) for seq, (_, _, m) in numbered]


def _row_lines(
    mailbox_id: int, seq_of: dict[int, int], req: FetchRequest, uid_command: bool,
    condstore: bool, flags_changed: set[int],
) -> list[bytes]:
    fields = BASE_FIELDS + (CONTENT_FIELDS if needs_content(req) else ())
    messages = rows_of(mailbox_id, seq_of, fields, changedsince=req.changedsince)
    return fetch_lines([(seq_of[m.uid], m) for m in messages], req, uid_command=uid_command, condstore=condstore,
                       flags_changed=flags_changed)


def _with_implicit(req: FetchRequest, *, uid_command: bool, condstore: bool) -> list[FetchAtt]:
    """The requested items plus UID for UID FETCH (RFC 9051 6.4.9) and MODSEQ with
    CHANGEDSINCE (RFC 7162 3.1.4.1)."""
    atts = list(req.atts)
    names = {a.name for a in atts}
    if uid_command and "UID" not in names:
        atts.insert(0, FetchAtt("UID"))
    if condstore and "MODSEQ" not in names and (req.changedsince is not None):
        atts.append(FetchAtt("MODSEQ"))
    return atts


def _column_lines(
    mailbox_id: int, lo: int, hi: int, seq_of: dict[int, int], atts: list[FetchAtt], req: FetchRequest,
    uid_command: bool, condstore: bool, flags_changed: set[int],
) -> list[bytes]:
    names = [a.name for a in atts]
    extra = [_COLUMN_OF[n] for n in names if n in _COLUMN_OF]
    # The flags as one bit mask and the keywords as JSON text: two plain values a FLAGS
    # answer is cached by (no per-column conversions of ten booleans per row).
    columns = ("uid", *_flag_columns(), *extra)
    flag_items = _FlagItems()
    want_flags = "FLAGS" in names
    out: list[bytes] = []

    # Rows whose stored ENVELOPE is missing or of another parser version: (index, uid).
    stale: list[tuple[int, int]] = []
    for row in tuples(mailbox_id, lo, hi, columns, changedsince=req.changedsince):
        uid = row[0]
        seq = seq_of.get(uid)
        if seq is None:
            continue
        items = []
        k = 3
        for name in names:
            if name == "UID":
                items.append(b"UID %d" % uid)
            elif name == "FLAGS":
                items.append(flag_items[row[1], row[2]])
            elif name == "INTERNALDATE":
                items.append(b"INTERNALDATE " + internaldate(date_value(row[k])).encode())  # type: ignore[arg-type]
                k += 1
            elif name == "RFC822.SIZE":
                items.append(b"RFC822.SIZE %d" % row[k])
                k += 1
            elif name == "MODSEQ":
                items.append(b"MODSEQ (%d)" % row[k])
                k += 1
            else:
                env = envelope_from_store(row[k], VERSION)
                k += 1
                if env is None:
                    break
                items.append(b"ENVELOPE " + env)
        else:
            if not want_flags and uid in flags_changed:
                items.append(flag_items[row[1], row[2]])
            out.append(b"* %d FETCH (" % seq + b" ".join(items) + b")")
            continue
        stale.append((len(out), uid))
        out.append(b"")
    if stale:
        # Answered from the structure (which stores the envelope again).
        wanted = {uid: seq_of[uid] for _, uid in stale}
        lines = _row_lines(mailbox_id, wanted, req, uid_command, condstore, flags_changed)
        for (index, _), line in zip(stale, lines):
            out[index] = line
        # A stale row expunged between the two queries has no line: no empty one is sent.
        return [line for line in out if line]
    return out

