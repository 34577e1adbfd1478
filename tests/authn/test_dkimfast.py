"""The faster dkimpy helpers give exactly what dkimpy's own give."""
from __future__ import annotations

import dkim as dkimpy
from hypothesis import given, settings
from hypothesis import strategies as st

from mailcore.authn import dkimfast

original = dkimfast._original
# Bytes rich in what the helpers look at: spaces, tabs, CR, LF and a colon.
text = st.lists(st.sampled_from([b" ", b"\t", b"\r", b"\n", b"\r\n", b":", b"a", b"B", b"x: y", b"From "]), max_size=40).map(b"".join)


@settings(max_examples=200, deadline=None)
@given(text)
def test_whitespace_helpers_match_dkimpy(data: bytes) -> None:
    assert dkimfast.compress_whitespace(data) == original["compress_whitespace"](data)
    assert dkimfast.strip_trailing_whitespace(data) == original["strip_trailing_whitespace"](data)


@settings(max_examples=200, deadline=None)
@given(text)
def test_message_split_matches_dkimpy(data: bytes) -> None:
    try:
        expected = original["rfc822_parse"](data)
    except (dkimpy.MessageFormatError, IndexError) as e:
        # IndexError: dkimpy's answer to a continuation line before any field.
        try:
            dkimfast.rfc822_parse(data)
        except type(e) as e2:
            assert str(e2) == str(e)
            return
        raise AssertionError("dkimfast.rfc822_parse accepted what dkimpy refuses") from None
    assert dkimfast.rfc822_parse(data) == expected


@given(st.integers(min_value=0, max_value=2**2100), st.integers(min_value=-1, max_value=270))
def test_integer_helpers_match_dkimpy(n: int, length: int) -> None:
    assert dkimfast.int2str(n, length) == original["int2str"](n, length)
    assert dkimfast.str2int(original["int2str"](n)) == original["str2int"](original["int2str"](n)) == n


def test_the_helpers_are_installed_in_dkimpy() -> None:
    import dkim.canonicalization
    import dkim.crypto

    import mailcore.authn.dkim  # noqa: F401 - installs them

    assert dkim.canonicalization.compress_whitespace is dkimfast.compress_whitespace
    assert dkim.crypto.int2str is dkimfast.int2str


def test_it_keeps_a_crlf_body_without_copying() -> None:
    body = b"line one  \r\nline\ttwo\r\n" * 100
    message = b"From: a@example.test\r\nSubject: x\r\n\r\n" + body
    headers, got = dkimfast.rfc822_parse(message)
    assert headers == [[b"From", b" a@example.test\r\n"], [b"Subject", b" x\r\n"]]
    assert got == body
    assert dkimfast.rfc822_parse(b"From: a\n\nx\ny\r\n") == ([[b"From", b" a\r\n"]], b"x\r\ny\r\n")
    assert dkimfast.compress_whitespace(body.replace(b"\t", b" ").replace(b"  ", b" ")) is not None
