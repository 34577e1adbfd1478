"""SORT's address keys (RFC 5256 section 3, RFC 5957 section 3)."""
from __future__ import annotations

from mailcore.imap.sortkeys import address_key, casemap

ENV = [
    "Mon, 1 Jan 2024 10:00:00 +0000", "s",
    [["=?utf-8?q?=C3=A9mile_Zola?=", None, "emile", "x.example"], [None, None, "other", "y.example"]],
    None, None,
    [[None, None, "friends", None], [None, None, "zoe", "x.example"], [None, None, None, None]],
    None, None, None, None,
]


def test_address_keys_take_the_first_address_of_the_field():
    assert address_key(ENV, "FROM") == "EMILE"
    assert address_key(ENV, "DISPLAYFROM") == "éMILE ZOLA"  # only ASCII letters are mapped
    assert address_key(ENV, "TO") == "FRIENDS"  # a group's start: the group's name
    assert address_key(ENV, "DISPLAYTO") == "FRIENDS"
    assert address_key([None, None, [[None, None, "Bo", "x.example"]]], "DISPLAYFROM") == "BO@X.EXAMPLE"
    assert address_key(ENV, "CC") == ""
    assert address_key(None, "FROM") == ""


def test_ascii_casemap_sorts_underscore_after_letters():
    assert sorted(["_a", "b", "A"], key=casemap) == ["A", "b", "_a"]
