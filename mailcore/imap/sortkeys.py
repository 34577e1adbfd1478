"""SORT's address criteria (RFC 5256 section 3, RFC 5957 section 3) from a message's
envelope as `mailcore.message.structure` keeps it: lists of (name, adl, mailbox, host).

Strings are compared with the i;ascii-casemap collation (RFC 4790 section 9.2): ASCII
letters map to upper case, every other character stays as it is.
"""
from __future__ import annotations

import string
from typing import Any

from mailcore.imap.searchtext import decode_header_value

_CASEMAP = str.maketrans(string.ascii_lowercase, string.ascii_uppercase)

# Envelope fields (RFC 9051 section 7.5.2) of SORT's address criteria.
_FIELD = {"FROM": 2, "DISPLAYFROM": 2, "TO": 5, "DISPLAYTO": 5, "CC": 6}


def casemap(value: str) -> str:
    return value.translate(_CASEMAP)


def first_address(env: list[Any] | None, criterion: str) -> list[Any] | None:
    """The first address of the criterion's field, or None. As in the ENVELOPE (and as
    Dovecot sorts), a group's start counts as an address whose mailbox is the group's
    name (RFC 9051 section 7.5.2)."""
    addresses = env[_FIELD[criterion]] if env else None
    return addresses[0] if addresses else None


def address_key(env: list[Any] | None, criterion: str) -> str:
    """FROM, TO, CC: the first address's mailbox (RFC 5256 "addr-mailbox"); DISPLAYFROM,
    DISPLAYTO: its display name decoded (RFC 2047), or its addr-spec when it has none
    (RFC 5957; a group's name for a group). The empty string when there is no such
    address."""
    address = first_address(env, criterion)
    if address is None:
        return ""
    if criterion.startswith("DISPLAY"):
        name = decode_header_value(address[0]).strip() if address[0] else ""
        mailbox, host = address[2] or "", address[3]
        return casemap(name or (f"{mailbox}@{host}" if host is not None else mailbox))
    return casemap(address[2] or "")
