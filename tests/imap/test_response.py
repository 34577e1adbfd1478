"""Response strings (RFC 9051 section 4.3) and ENVELOPE (section 7.5.2) rendering."""
from __future__ import annotations

from mailcore.imap.render import envelope
from mailcore.imap.response import nstring, string, utf8_string


def test_strings_are_quoted_or_literals():
    assert string("plain") == b'"plain"'
    assert string(b'say "hi" \\ bye') == b'"say \\"hi\\" \\\\ bye"'
    assert nstring(b'a"b') == b'"a\\"b"'
    assert nstring(None) == b"NIL"
    assert nstring("") == b'""'
    assert string("café") == b"{5}\r\ncaf\xc3\xa9"  # 8-bit: a literal
    assert nstring("a\r\nb") == b"{4}\r\na\r\nb"
    assert string(b"a\x00") == b"{2}\r\na\x00"
    assert nstring(b"x" * 1024) == b"{1024}\r\n" + b"x" * 1024
    assert nstring(b"x" * 1023) == b'"' + b"x" * 1023 + b'"'
    assert utf8_string("café \"q\"") == b'"caf\xc3\xa9 \\"q\\""'


def test_envelopes_render_nil_fields_and_address_lists():
    assert envelope(None) == b"(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)"
    env = ["Mon, 1 Jan 2024", "Hi", [["A", None, "a", "x.org"], [None, None, "b", "y.org"]], None, None, None,
           [], None, None, "<i@x>"]
    assert envelope(env) == (
        b'("Mon, 1 Jan 2024" "Hi" (("A" NIL "a" "x.org")(NIL NIL "b" "y.org")) NIL NIL NIL NIL NIL NIL "<i@x>")'
    )
