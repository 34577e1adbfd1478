"""The tokenizer (light MIME walk, words per whitespace-separated piece) gives exactly
the words of the previous one (the email package's parser, tests/junk/legacy_tokenize.py)
on tricky messages, in the same order. The one deliberate difference, nesting deeper
than MAX_DEPTH, has its own test."""
from __future__ import annotations

import base64
import random
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailcore.junk import Params, tokenize
from mailcore.junk.tokenize import MAX_DEPTH
from tests.junk import legacy_tokenize

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts" / "perf"))
import corpus  # noqa: E402

PARAMS = [Params(), Params(twograms=True), Params(onegrams=False, threegrams=True)]

B64_HTML = base64.encodebytes(
    b"<html><body><p>Cheap</p><p>pills</p><b>V</b>iagra &amp; more<img alt=\"free gift\"></body></html>"
)

TRICKY: dict[str, bytes] = {
    "crlf multipart with qp and base64": (
        b"From: Shop <shop@deals.example>\r\nTo: a@b.example\r\nSubject: =?utf-8?b?w4lub3JtZQ==?= deals\r\n"
        b'Content-Type: multipart/alternative; boundary="=_b1"\r\n\r\npreamble words\r\n--=_b1\r\n'
        b"Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
        b"Gr=FC=DFe, the m=\r\nusic shop's best_offer=E2=80=99s\r\n--=_b1\r\n"
        b"Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + B64_HTML.replace(b"\n", b"\r\n")
        + b"--=_b1--\r\nepilogue words\r\n"
    ),
    "lf line ends and an unterminated multipart": (
        b"Subject: lf only\nContent-Type: multipart/mixed; boundary=xyz\n\n--xyz\n\nfirst part text\n"
        b"--xyz\nContent-Type: text/plain\n\nsecond part never closed\n"
    ),
    "bare cr line ends": b"Subject: old mac\rContent-Type: multipart/mixed; boundary=q\r\r--q\r\rmac text here\r--q--\r",
    "boundary look-alikes": (
        b'Content-Type: multipart/mixed; boundary="ab"\r\n\r\n--ab\r\n\r\nkeep one\r\n--abc\r\nstill one\r\n'
        b" --ab\r\nstill one too\r\n--ab \t\r\nnext part\r\n--ab--x\r\nstill next\r\n--ab--\r\n--ab\r\nepilogue\r\n"
    ),
    "repeated boundary lines and an end right after a start": (
        b"Content-Type: multipart/mixed; boundary=r\r\n\r\n--r\r\n--r\r\n\r\nafter two\r\n--r\r\n--r--\r\n"
        b"\r\nswallowed end then text\r\n--r--\r\nepilogue\r\n"
    ),
    "end boundary first": b"Content-Type: multipart/mixed; boundary=e\r\n\r\n--e--\r\n--e\r\n\r\nnot a part\r\n",
    "no boundary parameter": b"Content-Type: multipart/mixed\r\n\r\n--x\r\n\r\nnothing here\r\n--x--\r\n",
    "nested multiparts closed by the outer boundary": (
        b'Content-Type: multipart/mixed; boundary="out"\r\n\r\n--out\r\n'
        b'Content-Type: multipart/alternative; boundary="in"\r\n\r\n--in\r\n\r\ninner plain\r\n--in\r\n'
        b"Content-Type: text/html\r\n\r\n<p>inner html</p>\r\n--out\r\n\r\nouter second\r\n--out--\r\n"
    ),
    "same boundary inside": (
        b"Content-Type: multipart/mixed; boundary=s\r\n\r\n--s\r\nContent-Type: multipart/mixed; boundary=s\r\n\r\n"
        b"inner preamble\r\n--s\r\n\r\nthird text\r\n--s--\r\n"
    ),
    "message/rfc822 and a digest": (
        b"Content-Type: multipart/mixed; boundary=m\r\n\r\n--m\r\nContent-Type: message/rfc822\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\nSubject: inner subject\r\n\r\nforwarded body text\r\n--m\r\n"
        b"Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\nSubject: digest one\r\n\r\ndigest body\r\n"
        b"--d\r\nContent-Type: text/plain\r\n\r\ntyped digest text\r\n--d--\r\n--m--\r\n"
    ),
    "delivery status": (
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=ds\r\n\r\n--ds\r\n\r\n"
        b"your message bounced\r\n--ds\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\n"
        b"Final-Recipient: rfc822; x@y\r\nAction: failed\r\n--ds--\r\n"
    ),
    "header oddities": (
        b"From sender@example Mon Jan  1 00:00:00 2024\r\n continuation first\r\n: no name\r\n folded after\r\n"
        b"Subject: folded\r\n  across lines\r\nFrom misplaced line\r\nTo: =?iso-8859-1?q?J=F6rg?= <j@x.example>\r\n"
        b"Cc: =?bogus?x?zz?= \xff\xfe raw \xc3\xa9t\xc3\xa9\r\nsubject: second subject field\r\n"
        b"Reply-To: reply@example.test\r\nFrom: last@example.test\r\nX-Not-Counted: ignored words\r\n\r\nbody here\r\n"
    ),
    "header ended by a non-header line": b"Subject: short\r\nthis line has no colon so it starts the body\r\nmore\r\n",
    "from line last in the header": b"Subject: x\r\nTo: someone@example.test\r\nFrom the body: line\r\n\r\nbody\r\n",
    "charsets and encodings": (
        b"Content-Type: multipart/mixed; boundary=c\r\n\r\n--c\r\nContent-Type: text/plain; charset=\"koi8-r\"\r\n\r\n"
        b"\xf0\xd2\xc9\xd7\xc5\xd4 \xcd\xc9\xd2\r\n--c\r\nContent-Type: text/plain; charset=utf-16\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.b64encode("utf sixteen words".encode("utf-16")) + b"\r\n"
        b"--c\r\nContent-Type: text/plain; charset=no-such\r\nContent-Transfer-Encoding: BASE64\r\n\r\n"
        b"dW5rbm93biBjaGFyc2V0\r\n--c\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64 \r\n\r\n"
        b"dHJhaWxpbmcgc3BhY2U=\r\n--c\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        b"bm8gcGFkZGluZw\r\n--c\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        b"!!bad*chars dGV4dA==\r\n--c\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\n"
        b"begin 644 f.txt\r\n,=75E;F-O9&5D('=O<F1S\r\n`\r\nend\r\n--c\r\nContent-Type: text/plain\r\n"
        b"Content-Transfer-Encoding: uuencode\r\n\r\nno begin line uuencoded\r\n--c--\r\n"
    ),
    "content types": (
        b"Content-Type: multipart/mixed; boundary=t\r\n\r\n--t\r\nContent-Type: TEXT/Plain ; charset=us-ascii\r\n\r\n"
        b"upper case type\r\n--t\r\nContent-Type: text\r\n\r\nno subtype\r\n--t\r\nContent-Type: application/pdf\r\n\r\n"
        b"pdf words skipped\r\n--t\r\nContent-Type: multipart / mixed; boundary=z\r\n\r\n--z\r\n\r\nspaced type\r\n"
        b"--t\r\nContent-Type: text/enriched\r\n\r\nenriched text\r\n--t\r\nContent-Type: text/plain\r\n"
        b"Content-Type: text/html\r\n\r\n<b>first</b> header wins\r\n--t--\r\n"
    ),
    "bad content type": b"Subject: judged\r\nContent-Type: text/plain(\r\n\r\nnever read\r\n",
    "bad content type in a part": (
        b"Content-Type: multipart/mixed; boundary=p\r\n\r\n--p\r\n\r\nbefore bad\r\n--p\r\nContent-Type: /\r\n\r\nbad\r\n--p--\r\n"
    ),
    "rfc 2231 and quoted boundary": (
        b"Content-Type: multipart/mixed;\r\n boundary*0=\"two\";\r\n boundary*1=\"parts\"\r\n\r\n--twoparts\r\n"
        b"Content-Type: text/plain; charset*=utf-8''\r\n\r\ncontinued boundary text\r\n--twoparts--\r\n"
    ),
    "non-ascii boundary": (
        b"Content-Type: multipart/mixed; boundary=\"\xc3\xa9b\"\r\n\r\n--\xc3\xa9b\r\n\r\neight bit boundary\r\n"
        b"--\xc3\xa9b--\r\n"
    ),
    "html edge cases": (
        b"Content-Type: text/html; charset=utf-8\r\n\r\n<html><!-- hidden comment --><style>p{x}</style>"
        b"<script>evil()</script><td>price</td><td>free</td><span>in</span>line &eacute;t&eacute; &#x263a;"
        b"<img src=x alt=unquoted> <img alt='single quoted'> <p unterminated tag words\r\n"
    ),
    "empty": b"",
    "header only": b"Subject: nothing else",
    "no header": b"\r\njust a body with no header at all\r\n",
    "underscores apostrophes and numbers": (
        b"Subject: don't_stop 2024 id-12345\r\n\r\nit\xe2\x80\x99s rock'n'roll ''quoted'' a1b2c3d4 deadbeef caf\xc3\xa9 "
        b"2fvu9stm9yxhnlu ABC \xce\x9f\xce\x94\xce\x9f\xce\xa3 \xce\x9f\xce\x94\xce\x9f\xce\xa3. \xc4\xb0stanbul "
        b"tab\tseparated\x0bvertical\x1cfile\xc2\xa0nbsp word\xe3\x80\x80ideographic\r\n"
    ),
}


def _same(data: bytes, params: Params) -> None:
    new, old = tokenize(data, params), legacy_tokenize.tokenize(data, params)
    assert (new.words, new.bad_content_type) == (old.words, old.bad_content_type)


@pytest.mark.parametrize("name", sorted(TRICKY))
def test_it_gives_the_previous_tokens_on_tricky_messages(name: str) -> None:
    for params in PARAMS:
        _same(TRICKY[name], params)


def test_it_gives_the_previous_tokens_on_the_perf_corpus_with_damage() -> None:
    vocab = corpus.vocabulary(3000, seed=1)
    rng = random.Random(5)
    for i in range(12):
        data = corpus.message(i, vocab, size=6 * 1024)
        if i % 3 == 1:  # cut anywhere
            data = data[: rng.randrange(len(data))]
        elif i % 3 == 2:  # a few bytes changed
            b = bytearray(data)
            for _ in range(8):
                b[rng.randrange(len(b))] = rng.choice(b"-\r\n=:;\" \xff\xc3<>")
            data = bytes(b)
        for params in PARAMS:
            _same(data, params)


_PIECES = st.sampled_from(
    [
        b"Content-Type: multipart/mixed; boundary=x\r\n",
        b"Content-Type: multipart/alternative; boundary=\"y\"\n",
        b"Content-Type: multipart/digest; boundary=x\r\n",
        b"Content-Type: text/html\r\n",
        b"Content-Type: text/plain; charset=iso-8859-2\r\n",
        b"Content-Type: message/rfc822\r\n",
        b"Content-Type: message/delivery-status\r\n",
        b"Content-Type: text/plain; charset=utf-16\r\n",
        b"Content-Transfer-Encoding: base64\r\n",
        b"Content-Transfer-Encoding: quoted-printable\r\n",
        b"Subject: =?utf-8?b?w6k=?= =?x?q?=ZZ?= subject words\r\n",
        b"From: Someone <some@one.example>\n",
        b"From mbox line\r\n",
        b" folded continuation\r\n",
        b": nameless\r\n",
        b"\r\n",
        b"\n",
        b"\r",
        b"--x\r\n",
        b"--x--\r\n",
        b"--x \t\n",
        b"--y\n",
        b"--y--",
        b"<script>hidden</script><img alt=",
        b"<p>para</p><b>bo</b>ld &amp; &#xffffffff; &bogus; <!--",
        b"=\r\n=C3=A9t=C3=A9 soft=\r\nbreak",
        b"aGVsbG8gYmFzZTY0IHdvcmxk\r\n",
        b"hello world \xc3\x28 caf\xc3\xa9 don't_panic",
        b"ordinary words here ",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=40), st.sampled_from(PARAMS))
def test_it_gives_the_previous_tokens_on_mime_shaped_garbage(pieces: list[bytes], params: Params) -> None:
    _same(b"".join(pieces), params)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=300))
def test_it_gives_the_previous_tokens_on_any_text(text: str) -> None:
    for params in PARAMS:
        _same(b"Subject: " + text.encode("utf-8", "surrogatepass")[:80] + b"\r\n\r\n" + text.encode(), params)


# Characters where word edges are decided: punctuation, apostrophes, underscores, digits,
# letters whose lower case changes length or depends on context, odd whitespace.
_EDGY = st.text(alphabet=st.sampled_from(list("abcXYZ_'\u2019.,;:!?()[]\"<>*- \t\n0123456789\u00e9\u0130\u03a3\u03c2\u0307\u00a0\u2028")), max_size=400)


@settings(max_examples=200, deadline=None)
@given(_EDGY)
def test_it_gives_the_previous_tokens_on_text_with_edgy_characters(text: str) -> None:
    for params in PARAMS:
        _same(b"Content-Type: text/plain; charset=utf-8\r\n\r\n" + text.encode(), params)


def test_nesting_deeper_than_max_depth_is_cut_not_read_as_text() -> None:
    """The deliberate difference: the email package recursed until Python's recursion
    limit and the tokenizer then read the whole message as text (markup and all);
    now the first MAX_DEPTH levels are read and deeper ones ignored."""
    depth = 400
    data = b"".join(b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (i, i) for i in range(depth))
    data = b"Subject: deep\r\n" + data + b"\r\ninnermost words\r\n"
    shallow = b"Content-Type: message/rfc822\r\n\r\n" * (MAX_DEPTH - 1) + b"\r\nshallow words\r\n"
    assert tokenize(data).words == ("Subject:deep",)
    assert tokenize(shallow).words == ("shallow", "words")
    _same(shallow, Params())
