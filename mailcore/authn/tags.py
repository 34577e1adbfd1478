"""Tag=value lists, as DKIM (RFC 6376 section 3.2) and DMARC (RFC 7489 section 6.4)
write their records and headers."""
from __future__ import annotations

import re

from mailcore.authn.errors import ParseError

# RFC 6376 section 3.2: tag-name = ALPHA *ALNUMPUNC; tag-value chars are VCHAR except
# ";" with FWS allowed between them.
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
_VALUE = re.compile(r"[\x21-\x3a\x3c-\x7e]+(?:[ \t\r\n]+[\x21-\x3a\x3c-\x7e]+)*\Z")


def parse_tags(text: str, *, lowercase_names: bool = False) -> list[tuple[str, str]]:
    """The (name, value) pairs in order. Whitespace around names and values, and a
    trailing ";", are allowed; duplicate names are not (RFC 6376 section 3.2)."""
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    parts = text.split(";")
    if parts and not parts[-1].strip(" \t\r\n"):
        parts.pop()
    for part in parts:
        name, sep, value = part.partition("=")
        name = name.strip(" \t\r\n")
        value = value.strip(" \t\r\n")
        if not sep:
            raise ParseError(f"tag without '=': {part.strip()[:40]!r}")
        if not _NAME.match(name):
            raise ParseError(f"bad tag name {name[:40]!r}")
        if lowercase_names:
            name = name.lower()
        if value and not _VALUE.match(value):
            raise ParseError(f"bad characters in value of tag {name!r}")
        if name in seen:
            raise ParseError(f"duplicate tag {name!r}")
        seen.add(name)
        out.append((name, value))
    return out
