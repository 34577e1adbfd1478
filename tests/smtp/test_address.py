"""The RFC 5321/6531 address grammar (pure, no database)."""
from __future__ import annotations

import ipaddress
import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mailcore.smtp.address import Address, Domain, parse_address, parse_domain, parse_path, quote_localpart
from mailcore.smtp.errors import NonASCIIAddress, ParseError


@pytest.mark.parametrize(
    ("text", "localpart", "formatted"),
    [
        ("john@example.org", "john", "john@example.org"),
        ('"john..doe"@example.org', "john..doe", '"john..doe"@example.org'),
        ('"a b"@example.org', "a b", '"a b"@example.org'),
        ('"abc"@example.org', "abc", "abc@example.org"),
        ('"a\\"b\\\\c"@example.org', 'a"b\\c', '"a\\"b\\\\c"@example.org'),
        ('"\\a"@example.org', "a", "a@example.org"),
        ("jörg@example.org", "jörg", "jörg@example.org"),
        ("x+tag@Example.ORG", "x+tag", "x+tag@example.org"),
        ("!#$%&'*+-/=?^_`{|}~@example.org", "!#$%&'*+-/=?^_`{|}~", "!#$%&'*+-/=?^_`{|}~@example.org"),
    ],
)
def test_it_parses_localparts_exactly(text, localpart, formatted):
    addr = parse_address(text)
    assert addr.localpart == localpart
    assert addr.format() == formatted


def test_it_keeps_idna_domains_in_both_forms():
    addr = parse_address("user@Bücher.example")
    assert addr.domain == Domain("xn--bcher-kva.example", "bücher.example")
    assert addr.format(utf8=False) == "user@xn--bcher-kva.example"
    assert parse_address("user@xn--bcher-kva.example").domain == addr.domain


def test_it_parses_address_literals():
    assert parse_address("u@[192.0.2.1]").ip == ipaddress.IPv4Address("192.0.2.1")
    a6 = parse_address("u@[IPv6:2001:db8::1]")
    assert a6.ip == ipaddress.IPv6Address("2001:db8::1")
    assert a6.format() == "u@[IPv6:2001:db8::1]"


@pytest.mark.parametrize(
    "text",
    ["", "@example.org", "a@", "a..b@example.org", ".a@example.org", "a.@example.org", "a b@example.org",
     '"unterminated@example.org', "a@-bad.example", "a@bad-.example", "a@ex..ample", "a@[300.1.1.1]",
     "a@[IPv6:zz::1]", "a@[tag:general]", "a@exa_mple.org", "x" * 129 + "@example.org",
     "a@" + "l" * 64 + ".example", '"a\x01"@example.org', "a@xn--zz.example"],
)
def test_it_refuses_malformed_addresses(text):
    with pytest.raises(ParseError):
        parse_address(text)


def test_it_refuses_utf8_without_smtputf8():
    with pytest.raises(NonASCIIAddress):
        parse_address("jörg@example.org", utf8=False)


def test_paths_null_postmaster_and_source_routes():
    assert parse_path("<>", allow_null=True) == (None, "")
    with pytest.raises(ParseError):
        parse_path("<>")
    assert parse_path("<Postmaster> NOTIFY=NEVER", allow_postmaster=True) == (Address("Postmaster"), " NOTIFY=NEVER")
    addr, rest = parse_path("<@relay.example,@other.example:u@example.org>")
    assert (addr.format(), rest) == ("u@example.org", "")
    with pytest.raises(ParseError):
        parse_path("u@example.org")


def test_quoting_round_trips():
    for lp in ["a", "a.b", "a..b", " ", 'q"q', "back\\slash", "ü"]:
        assert parse_address(quote_localpart(lp) + "@example.org").localpart == lp


def test_domains_are_lower_cased():
    assert parse_domain("MAIL.Example.COM") == Domain("mail.example.com", "mail.example.com")


DOMAIN_PIECES = st.sampled_from(["a", "Z", "0", "9", "-", ".", "xn--", "_", "é", "a" * 62, "q" * 64, "bcher-kva"])


@settings(max_examples=400, deadline=None)
@given(st.lists(DOMAIN_PIECES, min_size=1, max_size=10).map("".join))
@example("a" * 63 + ".x")
@example("a" * 64 + ".x")
@example("a-.b")
@example("xn--bcher-kva.example")
def test_the_one_match_for_a_plain_name_answers_as_the_label_walk(text):
    """parse_domain settles a plain ASCII name with one match (`_LDH_NAME`); the label
    walk it skips gives the same Domain or the same error."""
    from mailcore.smtp import address

    def outcome() -> object:
        try:
            return parse_domain(text)
        except ParseError as exc:
            return str(exc)

    fast = outcome()
    with pytest.MonkeyPatch.context() as m:
        m.setattr(address, "_LDH_NAME", re.compile(r"(?!)"))  # matches nothing: the walk decides
        walked = outcome()
    assert fast == walked


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=80))
def test_only_parse_error_escapes_the_address_parser(text):
    for fn in (lambda t: parse_address(t), lambda t: parse_path(t, allow_null=True, allow_postmaster=True)):
        try:
            fn(text)
        except ParseError:
            pass


@settings(max_examples=150, deadline=None)
@given(st.text(st.characters(min_codepoint=32, max_codepoint=0x2FF), min_size=1, max_size=40))
def test_any_localpart_value_round_trips_through_quoting(localpart):
    try:
        addr = parse_address(quote_localpart(localpart) + "@example.org")
    except ParseError:
        # Only too-long or control characters may fail.
        assert len(localpart.encode()) > 128 or any(ord(c) < 32 or ord(c) == 127 for c in localpart)
        return
    assert addr.localpart == localpart


def _scanned(text: str, **kwargs: bool) -> tuple[object, str]:
    """parse_path's answer from the grammar's scanner alone (no one-match fast path)."""
    from mailcore.smtp.address import _path, _Scanner

    sc = _Scanner(text)
    try:
        return _path(sc, **kwargs), sc.rest()
    except ParseError as exc:
        return ("error", str(exc)), ""


def _parsed(text: str, **kwargs: bool) -> tuple[object, str]:
    try:
        return parse_path(text, **kwargs)
    except ParseError as exc:
        return ("error", str(exc)), ""


PATH_PIECES = st.sampled_from(["a", "b.c", "..", ".", "@", "x-y", "Ex", "-", "xn--bcher-kva", "é", '"q"', " ", "<",
                               ">", "[1.2.3.4]", "postmaster", ":", ",", "a" * 70, "SIZE=1", "+t", "'"])


LOCAL = st.lists(st.sampled_from(["a", "Bob", ".", "x+y", "a" * 70, "é", '"', "'", "-", "Postmaster"]), min_size=1,
                 max_size=4).map("".join)
DOMAIN = st.lists(st.sampled_from(["Example", "org", "xn--bcher-kva", "-x", "b" * 64, "a" * 60, "é", "", "1"]),
                  min_size=1, max_size=5).map(".".join)
# Mostly well-formed paths, whose edges (case, lengths, labels) the fast path must get right.
PATHS = st.builds(lambda local, domain: f"<{local}@{domain}>", LOCAL, DOMAIN)


@settings(max_examples=500, deadline=None)
@given(st.one_of(PATHS, st.lists(PATH_PIECES, max_size=12).map("".join)), st.booleans(), st.booleans(), st.booleans())
@example("<" + "a" * 129 + "@example.org>", False, False, False)  # localpart too long
@example("<" + "a" * 128 + "@example.org>", False, False, False)
@example("<a@" + ".".join(["b" * 60] * 5) + ">", False, False, False)  # path too long
@example("<Bob@Example.ORG> SIZE=10", False, False, False)
def test_the_one_match_path_reading_answers_as_the_scanner(inner, bracket, allow_null, allow_postmaster):
    text = f"<{inner}> SIZE=10" if bracket else inner
    kwargs = {"allow_null": allow_null, "allow_postmaster": allow_postmaster}
    assert _parsed(text, **kwargs) == _scanned(text, **kwargs)


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(min_codepoint=1, max_codepoint=0x10FFFF, blacklist_categories=("Cs",)), max_size=12)
       | st.lists(st.sampled_from(["a", ".", "é", " ", "!", "\x7f", "~", '"']), max_size=8).map("".join))
def test_dot_strings_are_atoms_joined_by_dots(text):
    from mailcore.smtp.address import is_atext, is_dot_string

    expected = bool(text) and all(atom and all(is_atext(c) for c in atom) for atom in text.split("."))
    assert is_dot_string(text) == expected
