"""Address lists of header fields (RFC 5322 section 3.4) as (display name, address) pairs.

`address_pairs(text)` answers exactly as the standard library's
`email.utils.getaddresses([text])`, which the summary and ENVELOPE have always used,
but reads the common shapes itself: `a@b`, `<a@b>` and `Name Words <a@b>`, separated by
commas, in dot-atoms of ASCII. Anything else (quoted strings, comments, groups, address
literals, non-ASCII, empty list members) goes to the standard library. At delivery the
From, To and Cc fields are read for the summary and for ENVELOPE; the standard
library's tokenizer was a tenth of the delivery's time.
"""
from __future__ import annotations

import email.utils
import re

_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_DOT_ATOM = rf"{_ATOM}(?:\.{_ATOM})*"
_ADDRESS = rf"{_DOT_ATOM}@{_DOT_ATOM}"
# A display name of plain words (no dots, quotes or comments), then the address in
# angle brackets; or the bare address.
_MEMBER = re.compile(rf"[ \t]*(?:({_ADDRESS})|({_ATOM}(?:[ \t]+{_ATOM})*)?[ \t]*<({_ADDRESS})>)[ \t]*")
# Characters the fast path leaves to the standard library.
_HARD = re.compile(r'["()\\:;\[\]\r\n]|[^\x00-\x7f]')


def address_pairs(text: str) -> list[tuple[str, str]]:
    """(display name, address) of each member of an address list; as
    `email.utils.getaddresses([text])`."""
    if not _HARD.search(text):
        pairs: list[tuple[str, str]] = []
        for member in text.split(","):
            m = _MEMBER.fullmatch(member)
            if m is None:
                break
            bare, name, address = m.groups()
            # The standard library joins a display name's words with one space.
            pairs.append(("", bare) if bare else (" ".join(name.split()) if name else "", address))
        else:
            return pairs
    return email.utils.getaddresses([text])
