"""The summary stored with each message (listings, reputation, the Rejects check): read
from the same header fields as the MIME structure and ENVELOPE (`headers.message_fields`)."""
from __future__ import annotations

from datetime import datetime, timezone

from mailcore.message.headers import message_fields
from mailcore.message.structure import parse_structure
from mailcore.message.summary import summarize, summarize_fields

MESSAGE = (
    b"Received: from x by y; Thu, 26 Nov 2026 07:00:00 +0000\r\n"
    b"From: =?utf-8?q?J=C3=A9r=C3=B4me?= <jerome@example.org>\r\n"
    b"To: Bob  Smith <bob@example.org>,\r\n carol@example.org\r\n"
    b"Cc: \"Doe, Jane\" <jane@example.org>\r\n"
    b"Subject: =?utf-8?q?caf=C3=A9?=   au\r\n\tlait\r\n"
    b"Message-ID: <m1@example.org>\r\n"
    b"Date: Thu, 26 Nov 2026 07:00:00 +0100\r\n"
    b"\r\n"
    b"Subject: not a header\r\n"
)


def test_summary_fields() -> None:
    s = summarize(MESSAGE)
    assert s.from_address == "jerome@example.org"
    assert s.to_addresses == ["bob@example.org", "carol@example.org", "jane@example.org"]
    assert s.subject == "café au lait"
    assert s.message_id == "<m1@example.org>"
    assert s.date == datetime(2026, 11, 26, 6, 0, tzinfo=timezone.utc)


def test_summary_from_shared_fields_is_the_same() -> None:
    fields = message_fields(MESSAGE)
    assert summarize_fields(fields) == summarize(MESSAGE)
    assert parse_structure(MESSAGE, fields) == parse_structure(MESSAGE)


def test_a_line_that_is_no_field_does_not_end_the_header() -> None:
    """As ENVELOPE and SEARCH read it (the standard library's parser stopped there)."""
    data = b"From: a@example.org\r\n--junk\r\nSubject: still read\r\nMessage-ID: <x@y>\r\n\r\nbody\r\n"
    s = summarize(data)
    assert (s.subject, s.message_id) == ("still read", "<x@y>")
    assert parse_structure(data)["env"][1] == "still read"


def test_broken_values() -> None:
    s = summarize(b"Subject: bad \xff byte\r\nDate: 31 Feb 2026 25:61\r\nFrom: nobody\r\n\r\n")
    assert s.subject == "bad \ufffd byte"
    assert s.date is None
    assert s.from_address == "nobody"
    assert summarize(b"") == summarize(b"\r\n\r\n")
