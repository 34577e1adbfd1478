"""MIME structure with offsets (mailcore.message.structure) and BODYSTRUCTURE/ENVELOPE
rendering: never raises, and answers match RFC 9051 section 7.5.2."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from mailcore.imap.render import bodystructure, envelope
from mailcore.message.structure import find_part, parse_structure

NESTED = (
    b"From: =?utf-8?q?J=C3=B6rg?= <joerg@example.org>\r\n"
    b"To: a@example.test, \"B, C\" <bc@example.test>\r\n"
    b"Subject: nested\r\n"
    b"Message-ID: <n@x>\r\n"
    b"Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
    b"\r\n"
    b"preamble\r\n"
    b"--outer\r\n"
    b"Content-Type: multipart/alternative; boundary=inner\r\n"
    b"\r\n"
    b"--inner\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"\r\n"
    b"caf=C3=A9\r\n"
    b"--inner\r\n"
    b"Content-Type: text/html\r\n"
    b"\r\n"
    b"<p>x</p>\r\n"
    b"--inner--\r\n"
    b"--outer\r\n"
    b"Content-Type: message/rfc822\r\n"
    b"\r\n"
    b"Subject: inner\r\n"
    b"\r\n"
    b"body\r\n"
    b"--outer--\r\n"
)


def test_it_builds_bodystructure_for_nested_multiparts():
    tree = parse_structure(NESTED)
    assert bodystructure(tree) == (
        b'((("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "QUOTED-PRINTABLE" 9 0 NIL NIL NIL NIL)'
        b'("TEXT" "HTML" ("CHARSET" "us-ascii") NIL NIL "7BIT" 8 0 NIL NIL NIL NIL) "ALTERNATIVE" ("BOUNDARY" "inner")'
        b' NIL NIL NIL)'
        b'("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 22 (NIL "inner" NIL NIL NIL NIL NIL NIL NIL NIL) '
        b'("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 4 0 NIL NIL NIL NIL) 2 NIL NIL NIL NIL) '
        b'"MIXED" ("BOUNDARY" "outer") NIL NIL NIL)'
    )
    assert bodystructure(tree, extended=False) == (
        b'((("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "QUOTED-PRINTABLE" 9 0)'
        b'("TEXT" "HTML" ("CHARSET" "us-ascii") NIL NIL "7BIT" 8 0) "ALTERNATIVE")'
        b'("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 22 (NIL "inner" NIL NIL NIL NIL NIL NIL NIL NIL) '
        b'("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 4 0) 2) "MIXED")'
    )


def test_it_builds_the_envelope_with_raw_encoded_words():
    tree = parse_structure(NESTED)
    assert envelope(tree["env"]) == (
        b'(NIL "nested" (("=?utf-8?q?J=C3=B6rg?=" NIL "joerg" "example.org")) '
        b'(("=?utf-8?q?J=C3=B6rg?=" NIL "joerg" "example.org")) (("=?utf-8?q?J=C3=B6rg?=" NIL "joerg" "example.org")) '
        b'((NIL NIL "a" "example.test")("B, C" NIL "bc" "example.test")) NIL NIL NIL "<n@x>")'
    )


def test_it_finds_parts_by_section_number():
    tree = parse_structure(NESTED)
    assert NESTED[slice(*find_part(tree, (1, 1))["b"])] == b"caf=C3=A9"
    assert NESTED[slice(*find_part(tree, (1, 2))["h"])] == b"Content-Type: text/html\r\n\r\n"
    assert NESTED[slice(*find_part(tree, (2, 1))["b"])] == b"body"
    assert find_part(tree, (3,)) is None


def test_it_treats_a_multipart_without_boundary_as_text():
    tree = parse_structure(b"Content-Type: multipart/mixed\r\n\r\nno parts here\r\n")
    assert bodystructure(tree) == b'("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 15 1 NIL NIL NIL NIL)'


def test_it_handles_a_message_without_header_or_body():
    assert bodystructure(parse_structure(b"")) == b'("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 0 0 NIL NIL NIL NIL)'
    assert envelope(parse_structure(b"Subject: x")["env"]) == b'(NIL "x" NIL NIL NIL NIL NIL NIL NIL NIL)'


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from([
    b"Content-Type: multipart/mixed; boundary=b\r\n", b"Content-Type: message/rfc822\r\n", b"\r\n", b"--b\r\n",
    b"--b--\r\n", b"From: <x@y>\r\n", b" folded\r\n", b"text\n", b"\xff\xfe", b"Content-Type: ;;=\"\r\n",
    b"Content-Transfer-Encoding: base64\r\n", b"To: \"unterminated\r\n",
]), max_size=30))
def test_it_never_raises_on_broken_mime(parts):
    data = b"".join(parts)
    tree = parse_structure(data)
    bodystructure(tree)
    envelope(tree["env"])


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list('ab @.,;<>"\\() \t:é')), max_size=40))
def test_address_lists_without_a_colon_split_as_the_walk_splits_them(value: str) -> None:
    """ENVELOPE's group split takes a value without ':' whole, as walking it gives."""
    from mailcore.message.structure import _top_level, _walk_top_level

    assert _top_level(value) == _walk_top_level(value)
    if ":" not in value:
        assert _top_level(value) == [("text", value)]
