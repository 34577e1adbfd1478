"""The text SEARCH matches against (RFC 9051 section 6.4.4), made once from a message's
bytes and stored with it, so BODY, TEXT and header keys need not read the file.

Matching is a case-insensitive substring test: the stored text is lower-cased here, the
needle by the caller, and the database tests the substring exactly (instr/strpos, no
pattern characters). Both the stored columns and the file-reading fallback come from
these functions, so the two paths answer alike.

- `body_text`: the bodies of the text parts (and the headers of encapsulated messages),
  each decoded from its content-transfer-encoding and charset, joined by newlines.
- `header_text`: one line "\\nname:value" per header field, the value unfolded and its
  RFC 2047 encoded-words decoded; `header_match` evaluates HEADER keys on it.

A text the database cannot hold (a NUL character) or a header value with a line break
(which would blur the lines) is None: such a message is searched from its file.
"""
from __future__ import annotations

import base64
import binascii
import email.header
import quopri
from typing import Any

from mailcore.message.headers import field_value, split_fields


def decode_header_value(value: str) -> str:
    if "=?" not in value:
        return value  # no encoded-word: the standard library would return it as it is
    try:
        return str(email.header.make_header(email.header.decode_header(value)))
    except Exception:  # noqa: BLE001 - undecodable words are searched as they are
        return value


def decoded_fields(fields: list[tuple[str, bytes]]) -> list[tuple[str, str]]:
    """(lower-cased name, lower-cased decoded value) of each of `split_fields`'s fields."""
    return [(name.lower(), decode_header_value(field_value(raw)).lower()) for name, raw in fields]


def header_fields(block: bytes) -> list[tuple[str, str]]:
    """`decoded_fields` of a header block."""
    return decoded_fields(split_fields(block))


def header_text(block: bytes) -> str | None:
    return fields_text(header_fields(block))


def fields_text(fields: list[tuple[str, str]]) -> str | None:
    """The `header_text` of `header_fields`' answer."""
    out = []
    for name, value in fields:
        if "\n" in value or "\n" in name or "\x00" in value or "\x00" in name:
            return None
        out.append(f"\n{name}:{value}")
    return "".join(out)


def header_match(text: str, name: str, needle: str) -> bool:
    """HEADER name needle on a `header_text`: some field `name` contains `needle` (both
    lower-cased); an empty needle matches any message with the field (RFC 9051)."""
    prefix = name + ":"
    for line in text.split("\n"):
        if line.startswith(prefix) and needle in line[len(prefix):]:
            return True
    return False


def any_header_match(text: str, needle: str) -> bool:
    """TEXT's header half: some field's value contains `needle`."""
    for line in text.split("\n")[1:]:
        name, _, value = line.partition(":")
        if needle in value:
            return True
    return False


def _decode(body: bytes, enc: str | None) -> bytes:
    enc = (enc or "7BIT").upper()
    try:
        if enc == "BASE64":
            return base64.b64decode(b"".join(body.split()), validate=False)
        if enc == "QUOTED-PRINTABLE":
            return quopri.decodestring(body)
    except (binascii.Error, ValueError):
        pass
    return body


def _walk(data: bytes, node: dict[str, Any], out: list[str]) -> None:
    if node.get("parts"):
        for child in node["parts"]:
            _walk(data, child, out)
        return
    if "msg" in node:
        msg = node["msg"]
        h = msg["h"]
        out.append(data[h[0]:h[1]].decode("utf-8", "replace"))
        _walk(data, msg, out)
        return
    if node.get("t") not in ("TEXT", "MESSAGE", None, ""):
        return
    b = node["b"]
    raw = _decode(data[b[0]:b[1]], node.get("enc"))
    charset = next((v for k, v in node.get("p") or [] if k == "CHARSET"), "utf-8").strip('"')
    try:
        out.append(raw.decode(charset, "replace"))
    except LookupError:
        out.append(raw.decode("utf-8", "replace"))


def body_text(data: bytes, tree: dict[str, Any]) -> str:
    """The lower-cased searchable body of `data` (the stored file) with its structure."""
    out: list[str] = []
    _walk(data, tree, out)
    return "\n".join(out).lower()


def storable(text: str | None) -> str | None:
    return None if text is None or "\x00" in text else text
