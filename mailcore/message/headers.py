"""Header sections as bytes: split into fields without decoding (RFC 5322 section 2.2)."""
from __future__ import annotations


def header_end(data: bytes, start: int = 0) -> int:
    """Offset just past the empty line that ends the header section starting at `start`
    (CRLF or bare LF line ends); len(data) when there is none."""
    if data.startswith(b"\r\n", start):
        return start + 2
    if data.startswith(b"\n", start):
        return start + 1
    pos = start
    while True:
        nl = data.find(b"\n", pos)
        if nl < 0:
            return len(data)
        nxt = nl + 1
        if data.startswith(b"\r\n", nxt):
            return nxt + 2
        if data.startswith(b"\n", nxt):
            return nxt + 1
        pos = nxt


def split_fields(block: bytes) -> list[tuple[str, bytes]]:
    """(name, raw field bytes including its line ends) in order. Lines that are not a
    field and not a continuation are kept with an empty name, so nothing is lost."""
    fields: list[tuple[str, bytes]] = []
    for line in block.splitlines(keepends=True):
        if line in (b"\r\n", b"\n"):
            break
        if line[:1] in (b" ", b"\t") and fields:
            name, raw = fields[-1]
            fields[-1] = (name, raw + line)
            continue
        colon = line.find(b":")
        name = line[:colon].strip().decode("ascii", "replace") if colon > 0 else ""
        fields.append((name, line))
    return fields


def message_fields(data: bytes) -> list[tuple[str, bytes]]:
    """The fields of a message's header section: what the MIME structure
    (`structure.parse_structure`) and the summary (`summary.summarize_fields`) read, split
    once at delivery."""
    return split_fields(data[: header_end(data)])


def field_value(raw: bytes) -> str:
    """The unfolded value of a raw field, as text (invalid UTF-8 replaced)."""
    colon = raw.find(b":")
    value = raw[colon + 1 :] if colon >= 0 else raw
    value = value.replace(b"\r\n", b"").replace(b"\n", b"").replace(b"\r", b"")
    return value.strip().decode("utf-8", "replace")


def header_values(block: bytes, name: str) -> list[str]:
    lname = name.lower()
    return [field_value(raw) for n, raw in split_fields(block) if n.lower() == lname]
