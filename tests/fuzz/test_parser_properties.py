"""Property tests for parsers that had none (the SMTP command and address parsers, the
IMAP command parser, DKIM/DMARC records, MTA-STS and DSN composition have theirs beside
their other tests): header sections and MIME structure, the From domain, the message
summary, modified UTF-7 mailbox names and SPF records as served by DNS. Each asserts
that only the module's own parse error can escape, plus what must hold of the result.
The same parsers get longer atheris campaigns in `make fuzz` (tests/fuzz/fuzz_*.py)."""
from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailcore.authn import spf
from mailcore.authn.fromheader import from_domain
from mailcore.imap import utf7
from mailcore.imap.errors import ParseError as IMAPParseError
from mailcore.message.headers import field_value, header_end, header_values, split_fields
from mailcore.message.structure import find_part, parse_structure
from mailcore.message.summary import summarize
from tests.fixtures_dns import DNSTestServer

# Pieces that make MIME-shaped input: headers, boundaries, line ends, encodings.
MIME_PIECES = st.sampled_from([
    b"Content-Type: multipart/mixed; boundary=b\r\n", b"Content-Type: multipart/alternative; boundary=\"c d\"\r\n",
    b"Content-Type: message/rfc822\r\n", b"Content-Type: text/plain; charset=utf-8; name*0=a; name*1=b\r\n",
    b"Content-Transfer-Encoding: base64\r\n", b"Content-Disposition: attachment; filename=\"x\r\n",
    b"From: =?utf-8?q?A=C3=A9?= <a@example.org>, (comment) b@\r\n", b"To: undisclosed:;\r\n",
    b"Subject: =?bogus?x?abc?=\r\n", b"Message-ID: <a@b>\r\n", b"Date: Wed, 31 Feb 2026 25:61:00 +9999\r\n",
    b" folded continuation\r\n", b"\r\n", b"\n", b"\r", b"--b\r\n", b"--b--\r\n", b"--c d\r\n", b"--c d--\r\n",
    b"body text\r\n", b"\xff\xfe\x00", b"=?utf-8?b?w6k=?=", b":", b"Header-Without-Value\r\n",
])
MESSAGES = st.one_of(st.binary(max_size=400), st.lists(MIME_PIECES, max_size=40).map(b"".join))


@settings(max_examples=100, deadline=None)
@given(MESSAGES, st.integers(min_value=0, max_value=50))
def test_header_sections_split_without_losing_bytes(data: bytes, start: int) -> None:
    start = min(start, len(data))
    end = header_end(data, start)
    assert start <= end <= len(data)
    if end < len(data):
        assert data[:end].endswith(b"\n")
    fields = split_fields(data)
    joined = b"".join(raw for _, raw in fields)
    # Everything before the empty line that ends the section is kept, in order.
    assert data.startswith(joined)
    rest = data[len(joined):]
    assert rest == b"" or rest.startswith((b"\r\n", b"\n"))
    for name, raw in fields:
        value = field_value(raw)
        assert "\r" not in value and "\n" not in value
        if name:
            assert field_value(raw) in header_values(data, name)


@settings(max_examples=150, deadline=None)
@given(MESSAGES, st.lists(st.lists(st.integers(min_value=0, max_value=4), max_size=4), max_size=4))
def test_mime_structure_offsets_stay_inside_the_message(data: bytes, paths: list[list[int]]) -> None:
    root = parse_structure(data)

    def check(node: dict, lo: int, hi: int) -> None:  # type: ignore[type-arg]
        (h0, h1), (b0, b1) = node["h"], node["b"]
        assert lo <= h0 <= h1 <= b0 <= b1 <= hi, node
        for child in node.get("parts", []):
            check(child, b0, b1)
        if node.get("msg"):
            check(node["msg"], b0, b1)

    check(root, 0, len(data))
    for path in paths:
        find_part(root, tuple(path))


@settings(max_examples=100, deadline=None)
@given(MESSAGES)
def test_from_domain_and_summary_never_raise(data: bytes) -> None:
    domain = from_domain(data)
    assert domain == "" or (domain.isascii() and "@" not in domain and domain == domain.lower())
    summary = summarize(data)
    assert len(summary.message_id) <= 998
    assert all(isinstance(a, str) for a in summary.to_addresses)


@settings(max_examples=150, deadline=None)
@given(st.one_of(st.text(max_size=40), st.lists(st.sampled_from(["&", "-", "&-", "&AGE-", "&Jjo", "a", "/", "&U,BTF2XlZyyKng-", "\x7f", "\u00e9"]), max_size=12).map("".join)))
def test_modified_utf7_names_decode_or_raise_parse_error(name: str) -> None:
    try:
        decoded = utf7.decode(name)
    except IMAPParseError:
        return
    assert utf7.decode(utf7.encode(decoded)) == decoded


@pytest.fixture(scope="module")
def dns() -> Iterator[DNSTestServer]:
    server = DNSTestServer()
    server.add("a.spf.test", "A", "192.0.2.1")
    server.add("spf.test", "MX", "10 a.spf.test.")
    yield server
    server.stop()


SPF_TERMS = st.sampled_from([
    "v=spf1", "v=spf1", "-all", "~all", "?all", "+all", "all", "a", "mx", "a:a.spf.test", "mx:spf.test/24",
    "ip4:192.0.2.0/24", "ip4:192.0.2.1/33", "ip6:2001:db8::/32", "ip6:::1/129", "include:inc.spf.test",
    "exists:%{i}.%{l}.spf.test", "redirect=r.spf.test", "exp=%{x}", "ptr", "ptr:spf.test", "%{z}", "a:%{d1r}",
    "ip4:", "include:", "mx:", "v=spf1 v=spf1", "unknown=foo", "a//0", "a:.", "a:-x-.test", "\u00e9", "  ",
])
SPF_RESULTS = {"none", "neutral", "pass", "fail", "softfail", "temperror", "permerror"}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(SPF_TERMS, max_size=8), st.integers(min_value=0, max_value=10**6))
def test_any_spf_record_gives_an_rfc_result(dns: DNSTestServer, terms: list[str], n: int) -> None:
    # Each example its own name, so no answer of an earlier example is reused.
    domain = f"d{n}.spf.test"
    dns.remove(domain)
    dns.add(domain, "TXT", " ".join(terms))
    result = asyncio.run(spf.check_host(dns.resolver(timeout=1, lifetime=2), "192.0.2.1", f"x@{domain}", "a.spf.test"))
    assert str(result.status) in SPF_RESULTS
