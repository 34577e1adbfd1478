"""The junk filter's tokenizer: words of headers and text parts, exactly."""
from __future__ import annotations

import base64
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from mailcore.junk import Params, Tokens, tokenize, tokenize_text
from mailcore.junk.tokenize import MAX_WORD_LENGTH, MAX_WORDS, html_text, looks_numeric, looks_random

P = Params()


def test_it_lowercases_words_and_drops_short_digit_random_and_numeric_ones() -> None:
    text = (
        "Don't MISS the ticket 12345, id a1b2c3d4, 0x1f2e, deadbeef, caf\u00e9 2fvu9stm9yxhnlu "
        "it's rock'n'roll ''quoted'' snake_case_word ab 2023 Stra\u00dfe \u00c9COLE"
    )
    assert tokenize_text(text, P) == [
        "don't", "miss", "the", "ticket", "0x1f2e", "deadbeef", "caf\u00e9", "it's", "rock'n'roll", "quoted",
        "snake", "case", "word", "stra\u00dfe", "\u00e9cole",
    ]  # fmt: skip


def test_it_treats_a_typographic_apostrophe_as_one() -> None:
    assert tokenize_text("we don\u2019t", P) == ["don't"]


def test_it_makes_two_and_three_grams_of_kept_words() -> None:
    text = "The quick brown fox 99 jumps over xkcdqzwrt lazy dogs"
    assert tokenize_text(text, Params(onegrams=False, twograms=True)) == [
        "the quick", "quick brown", "brown fox", "fox jumps", "jumps over", "over lazy", "lazy dogs",
    ]  # fmt: skip
    assert tokenize_text("one two three four", Params(onegrams=True, twograms=True, threegrams=True)) == [
        "one", "one two", "two", "one two three", "two three", "three", "two three four", "three four", "four",
    ]  # fmt: skip


def test_it_recognizes_random_and_numeric_looking_words() -> None:
    assert looks_random("2fvu9stm9yxhnlu")
    assert not looks_random("strengths")
    assert not looks_random("bcdfghj\u00e9")  # non-ASCII never counts as random
    assert looks_numeric("a1b2c3d4")  # four digits in all, as mox counts
    assert looks_numeric("abc123")  # hex-only with three digits
    assert looks_numeric("0xabc123")
    assert not looks_numeric("mp3player")
    assert not looks_numeric("xyz123")


PLAIN = (
    b"From: Alice Smith <alice@example.org>\r\n"
    b"To: bob@example.test, Carol <carol@example.test>\r\n"
    b"CC: dave@elsewhere.example\r\n"
    b"Subject: =?utf-8?q?Caf=C3=A9_meeting?= tomorrow\r\n"
    b"Message-ID: <abcdef@example.org>\r\n"
    b"X-Mailer: Unlisted header words do not count\r\n"
    b"\r\n"
    b"Hello Bob,\r\n\r\nThe meeting is at 10:30 in room 4012.\r\n"
)


def test_it_tokenizes_listed_headers_with_field_prefix_and_the_body() -> None:
    assert tokenize(PLAIN) == Tokens(
        (
            "From:alice", "From:smith", "From:example", "To:example", "To:test", "To:carol", "Cc:dave",
            "Cc:elsewhere", "Cc:example", "Subject:caf\u00e9", "Subject:meeting", "Subject:tomorrow",
            "hello", "bob", "the", "meeting", "room",
        )
    )  # fmt: skip


MULTIPART = (
    b"From: shop@deals.example\r\n"
    b"Subject: Offer\r\n"
    b'Content-Type: multipart/mixed; boundary="outer"\r\n'
    b"\r\n"
    b"preamble words are not a part\r\n"
    b"--outer\r\n"
    b'Content-Type: multipart/alternative; boundary="inner"\r\n'
    b"\r\n"
    b"--inner\r\n"
    b"Content-Type: text/plain; charset=iso-8859-1\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"\r\n"
    b"Gr=FC=DFe from the m=\r\nusic shop\r\n"
    b"--inner\r\n"
    b"Content-Type: text/html; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n"
    + base64.encodebytes(
        b"<html><head><style>.hidden{color:red}</style></head><body><p>Price</p><p>Free</p>"
        b"<b>V</b>iagra <img src=x alt='Cheap pills'><script>var evil=1</script><!-- secret --> caf&eacute;"
        b"</body></html>"
    ).replace(b"\n", b"\r\n")
    + b"--inner--\r\n"
    b"--outer\r\n"
    b"Content-Type: application/pdf\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n"
    + base64.encodebytes(b"binary attachment words are skipped")
    + b"--outer\r\n"
    b"Content-Type: message/rfc822\r\n"
    b"\r\n"
    b"From: forwarded@inner.example\r\n"
    b"Subject: nested subject\r\n"
    b"\r\n"
    b"forwarded body text\r\n"
    b"--outer--\r\n"
)


def test_it_follows_mime_parts_decoding_transfer_encodings_charsets_and_html() -> None:
    assert tokenize(MULTIPART).words == (
        "From:shop", "From:deals", "From:example", "Subject:offer",
        "gr\u00fc\u00dfe", "from", "the", "music", "shop",
        "price", "free", "viagra", "cheap", "pills", "caf\u00e9",
        "forwarded", "body", "text",
    )  # fmt: skip


def test_it_extracts_html_text_without_scripts_styles_or_comments() -> None:
    assert html_text("<p>a&amp;b</p><SCRIPT type=x>no</SCRIPT><span>in</span>line<IMG ALT=\"alt text\">") == (
        " a&b  inline alt text "
    )


def test_it_reports_a_malformed_content_type() -> None:
    assert tokenize(b"Subject: hello world\r\nContent-Type: text/plain(\r\n\r\nbody words\r\n") == Tokens(
        ("Subject:hello", "Subject:world"), bad_content_type=True
    )
    # Parameters are not judged, and a missing subtype reads as text.
    assert tokenize(b"Content-Type: text; charset\r\n\r\nbody words\r\n") == Tokens(("body", "words"))


def test_it_reads_invalid_utf8_and_broken_mime() -> None:
    broken = (
        b"Subject: \xff\xfe broken \x80 subject\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n'
        b"\r\n"
        b"--b\r\n"
        b"Content-Type: text/plain; charset=no-such-charset\r\n"
        b"Content-Transfer-Encoding: base64\r\n"
        b"\r\n"
        b"!!!! not base64 at all\r\n"
        b"--b\r\n"
        b"Content-Type: text/plain; charset=rot13\r\n"
        b"\r\n"
        b"unterminated \xc3 part without closing boundary\r\n"
    )
    assert tokenize(broken) == Tokens(
        ("Subject:broken", "Subject:subject", "unterminated", "part", "without", "closing", "boundary")
    )


def test_it_drops_words_longer_than_the_store_holds() -> None:
    long = "a" * (MAX_WORD_LENGTH + 1)
    assert tokenize(f"Subject: {'b' * 250}\r\n\r\n{long} short\r\n".encode()).words == ("short",)


def test_it_bounds_the_work_for_big_messages() -> None:
    words = " ".join(f"word{chr(97 + i % 26)}{chr(97 + i // 26 % 26)}{chr(97 + i // 676 % 26)}" for i in range(30000))
    data = b"Content-Type: text/plain\r\n\r\n" + (words.encode() + b"\r\n") * 200
    assert len(data) > 40_000_000
    start = time.monotonic()
    tokens = tokenize(data, Params(twograms=True))
    # A guard against unbounded work on huge messages, not a benchmark.
    assert time.monotonic() - start < 20
    assert len(tokens.words) == MAX_WORDS
    assert tokens.words[:3] == ("wordaaa", "wordaaa wordbaa", "wordbaa")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_it_never_raises_on_arbitrary_bytes(data: bytes) -> None:
    tokens = tokenize(data, Params(twograms=True, threegrams=True))
    assert all(isinstance(w, str) and 0 < len(w) <= MAX_WORD_LENGTH for w in tokens.words)
    assert len(set(tokens.words)) == len(tokens.words)


_MIME_PIECES = st.sampled_from(
    [
        b"Content-Type: multipart/mixed; boundary=x\r\n",
        b"Content-Type: text/html\r\n",
        b"Content-Type: message/rfc822\r\n",
        b"Content-Type: text/plain; charset=utf-16\r\n",
        b"Content-Transfer-Encoding: base64\r\n",
        b"Content-Transfer-Encoding: quoted-printable\r\n",
        b"Subject: =?utf-8?b?w6k=?= =?x?q?=ZZ?=\r\n",
        b"\r\n",
        b"--x\r\n",
        b"--x--\r\n",
        b"<script><img alt=",
        b"&#xffffffff; &bogus; <!--",
        b"=\r\n=C3",
        b"hello world \xc3\x28",
    ]
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_MIME_PIECES, max_size=30))
def test_it_never_raises_on_mime_shaped_garbage(pieces: list[bytes]) -> None:
    tokens = tokenize(b"".join(pieces))
    assert all(isinstance(w, str) and 0 < len(w) <= MAX_WORD_LENGTH for w in tokens.words)
