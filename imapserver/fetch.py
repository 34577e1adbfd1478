"""FETCH responses (RFC 9051 section 6.4.5 and 7.5.2, RFC 3516 BINARY, RFC 7162 MODSEQ),
built synchronously in the connection's database thread."""
from __future__ import annotations

import base64
import binascii
import logging
import quopri
from datetime import datetime, timezone
from typing import Any

from django.db import DatabaseError, connection

from mailcore.imap.fetchatt import FetchAtt, FetchRequest, Section
from mailcore.imap.render import bodystructure, envelope
from mailcore.imap.response import flags as format_flags
from mailcore.imap.response import literal
from mailcore.message.headers import split_fields
from mailcore.message.structure import VERSION, find_part, parse_structure
from mailstore import files
from mailstore.models import Message

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
        Message.objects.filter(pk=pk).update(parsed=parsed)
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
        return b"ENVELOPE " + envelope(md.tree.get("env"))
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
    atts = list(req.atts)
    names = {a.name for a in atts}
    if uid_command and "UID" not in names:
        atts.insert(0, FetchAtt("UID"))
    if condstore and "MODSEQ" not in names and (req.changedsince is not None):
        atts.append(FetchAtt("MODSEQ"))
    out = []
    for seq, message in messages:
        md = MessageData(message)
        items = [render_att(a, md, condstore=condstore) for a in atts]
        if message.uid in flags_changed and "FLAGS" not in names:
            # RFC 9051 6.4.5: a \Seen set implicitly is reported as a FLAGS change.
            items.append(render_att(FetchAtt("FLAGS"), md, condstore=condstore))
        out.append(b"* %d FETCH (" % seq + b" ".join(items) + b")")
    return out
