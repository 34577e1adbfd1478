"""MIME parameters as BODYSTRUCTURE returns them: RFC 2231 continuations merged.

RFC 9051 section 7.5.2 asks servers to decode parameter value continuations (RFC 2231
section 3). A value split as `filename*0="long "; filename*1="name"` is returned as
`("filename" "long name")`. When any segment carries a charset (RFC 2231 section 4,
`name*0*=utf-8''%E2%82%AC; name*1*=%20rate`), the merged value stays in that encoded
form under the name with one star, `("name*" "utf-8''%E2%82%AC%20rate")`, with plain
segments percent-encoded into it: the value then reaches 7-bit clients intact and
clients decode it as they decode a single `name*=` parameter. Dovecot answers the same.
"""
from __future__ import annotations

import re

_SEGMENT = re.compile(r"\A(.+?)\*(\d{1,4})(\*?)\Z")
# RFC 2231 section 7: attribute-char, any US-ASCII CHAR except SPACE, CTLs, "*", "'",
# "%" or tspecials.
_ATTRIBUTE_CHARS = frozenset(
    c for c in range(0x21, 0x7F) if chr(c) not in "*'%()<>@,;:\\\"/[]?="
)


def _percent_encode(text: str) -> str:
    return "".join(chr(b) if b in _ATTRIBUTE_CHARS else f"%{b:02X}" for b in text.encode("utf-8"))


def merge_continuations(params: list[list[str]]) -> list[tuple[str, str]]:
    """(name, value) pairs (values unquoted by mailcore.message.structure) with
    continuations merged, each merged
    parameter in the place of its first segment. Segments after a missing number are
    left out (RFC 2231 section 3: numbering starts at 0 and goes up by one)."""
    out: list[tuple[str, str] | str] = []
    groups: dict[str, dict[int, tuple[bool, str]]] = {}
    names: dict[str, str] = {}
    for name, value in params:
        m = _SEGMENT.match(name)
        if m is None:
            out.append((name, value))
            continue
        base, number, extended = m.group(1), int(m.group(2)), m.group(3) == "*"
        key = base.lower()
        if key not in groups:
            groups[key] = {}
            names[key] = base
            out.append(key)  # placeholder, filled in below
        groups[key].setdefault(number, (extended, value))
    merged: dict[str, tuple[str, str]] = {}
    for key, segments in groups.items():
        ordered = []
        n = 0
        while n in segments:
            ordered.append(segments[n])
            n += 1
        if not ordered:
            continue
        if not any(ext for ext, _ in ordered):
            merged[key] = (names[key], "".join(v for _, v in ordered))
            continue
        parts = []
        for i, (ext, value) in enumerate(ordered):
            if not ext:
                value = _percent_encode(value)
            if i == 0 and (not ext or value.count("'") < 2):
                # The charset and language go in front of the first segment only; a
                # first segment without them gets empty ones.
                value = "''" + value
            parts.append(value)
        merged[key] = (names[key] + "*", "".join(parts))
    return [merged[item] if isinstance(item, str) else item for item in out if not isinstance(item, str) or item in merged]
