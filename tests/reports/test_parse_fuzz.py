"""Property tests: whatever bytes arrive, the report parsers answer a report or raise
ParseError, nothing else (STYLE.md practice 2)."""
from __future__ import annotations

import base64
import gzip
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailcore.reports import ParseError, dmarcrpt, tlsrpt
from tests.reports import samples

XML = samples.feedback_xml()
TLS = json.dumps(samples.tls_report()).encode()
MESSAGES = [shape(XML) for shape in (samples.google_dmarc, samples.outlook_dmarc, samples.yahoo_dmarc,
                                     samples.plain_dmarc)]
TLS_MESSAGE = samples.tls_message(TLS)
TEMPLATE = (b"From: a@reporter.example\r\nContent-Type: application/SUBTYPE\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\nBODY")


def _mutate(base: bytes, edits: list[tuple[int, bytes]]) -> bytes:
    out = bytearray(base)
    for pos, piece in edits:
        pos %= len(out) + 1
        out[pos : pos + len(piece)] = piece
    return bytes(out)


_EDITS = st.lists(st.tuples(st.integers(0, 10_000), st.binary(max_size=8)), max_size=6)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.sampled_from(
        ["policies", "policy", "summary", "date-range", "report-id", "organization-name", "start-datetime",
         "end-datetime", "policy-type", "policy-domain", "failure-details", "result-type", "x"]), kids, max_size=5),
    max_leaves=20,
)


def _only_parse_error(fn, data) -> None:  # type: ignore[no-untyped-def]
    try:
        fn(data)
    except ParseError:
        pass


@settings(max_examples=100, deadline=None)
@given(_EDITS)
def test_dmarc_xml_mutations_raise_only_parse_error(edits):
    _only_parse_error(dmarcrpt.parse_report_xml, _mutate(XML, edits))


@settings(max_examples=60, deadline=None)
@given(_EDITS, st.sampled_from(MESSAGES))
def test_dmarc_message_mutations_raise_only_parse_error(edits, message):
    _only_parse_error(dmarcrpt.parse_report_message, _mutate(message, edits))


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=500), st.sampled_from(["gzip", "zip", "octet-stream", "xml"]))
def test_dmarc_arbitrary_attachments_raise_only_parse_error(data, subtype):
    part = TEMPLATE.replace(b"SUBTYPE", subtype.encode()).replace(b"BODY", base64.encodebytes(data))
    _only_parse_error(dmarcrpt.parse_report_message, part)
    _only_parse_error(dmarcrpt.parse_report_message, gzip.compress(data))


@settings(max_examples=100, deadline=None)
@given(_EDITS)
def test_tls_json_mutations_raise_only_parse_error(edits):
    _only_parse_error(tlsrpt.parse_report_json, _mutate(TLS, edits))


@settings(max_examples=60, deadline=None)
@given(_JSON)
def test_tls_arbitrary_json_raises_only_parse_error(doc):
    _only_parse_error(tlsrpt.parse_report_json, json.dumps(doc).encode())


@settings(max_examples=40, deadline=None)
@given(_EDITS)
def test_tls_message_mutations_raise_only_parse_error(edits):
    _only_parse_error(tlsrpt.parse_report_message, _mutate(TLS_MESSAGE, edits))


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126, exclude_characters='"'), max_size=12))
def test_dmarc_any_declared_encoding_raises_only_parse_error(name):
    # Python codec names that are not text encodings (rot13, hex) raise LookupError.
    _only_parse_error(dmarcrpt.parse_report_xml, XML.replace(b"UTF-8", name.encode()))


@pytest.mark.parametrize("name, error", [
    (b"bogus", "unknown encoding: bogus"),
    (b"rot13", "'rot13' is not a text encoding; use codecs.decode() to handle arbitrary codecs"),
    (b"utf-32", "multi-byte encodings are not supported"),
])
def test_an_unknown_encoding_is_a_parse_error(name, error):
    with pytest.raises(ParseError) as exc:
        dmarcrpt.parse_report_xml(XML.replace(b"UTF-8", name))
    assert str(exc.value) == f"malformed XML: {error}"
