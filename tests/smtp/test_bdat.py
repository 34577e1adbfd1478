"""CHUNKING (RFC 3030): BDAT chunks streamed to the file, LAST delivers."""
from __future__ import annotations

import pytest

from mailstore.files import read_message
from mailstore.models import Message
from tests.faults.test_database_locked import locked  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db(transaction=True)


def begin(c) -> None:  # type: ignore[no-untyped-def]
    c.cmd("EHLO client.example")
    assert c.cmd("MAIL FROM:<a@example.org>") == "250 2.1.0 looking good"
    assert c.cmd("RCPT TO:<b@example.org>") == "250 2.1.0 now on the list"


def test_it_joins_chunks_and_delivers_at_last(smtp_listener, raw_smtp, localserve_account):
    c = raw_smtp(smtp_listener())
    begin(c)
    part1 = b"Subject: chunks\r\n\r\n"
    part2 = b".not stuffed\r\n"
    c.send(b"BDAT %d\r\n" % len(part1) + part1)
    assert c.reply() == [f"250 2.0.0 {len(part1)} octets received"]
    c.send(b"BDAT %d LAST\r\n" % len(part2) + part2)
    assert c.reply() == ["250 2.2.0 it is done"]
    [m] = Message.objects.filter(account=localserve_account)
    assert read_message(m.path) == part1 + part2


def test_pipelined_bdat_and_empty_last(smtp_listener, raw_smtp, localserve_account):
    c = raw_smtp(smtp_listener())
    c.send(b"EHLO c.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nBDAT 4\r\nab\r\nBDAT 0 LAST\r\n")
    replies = [c.reply() for _ in range(5)]
    assert replies[3:] == [["250 2.0.0 4 octets received"], ["250 2.2.0 it is done"]]
    [m] = Message.objects.filter(account=localserve_account)
    assert read_message(m.path) == b"ab\r\n"


def test_bdat_without_transaction_still_reads_the_octets(smtp_listener, raw_smtp, localserve_account):
    c = raw_smtp(smtp_listener())
    c.cmd("EHLO client.example")
    c.send(b"BDAT 6 LAST\r\nNOOP\r\n")
    assert c.reply() == ["503 5.5.1 missing MAIL FROM/RCPT TO"]
    assert c.cmd("NOOP") == "250 2.0.0 alrighty"


def test_bdat_refuses_bare_lf_and_too_big(smtp_listener, raw_smtp, localserve_account):
    c = raw_smtp(smtp_listener(max_message_size=10))
    begin(c)
    c.send(b"BDAT 4 LAST\r\na\nb\n")
    assert c.reply() == [
        "500 5.5.2 bare linefeed in message data, lines must end with CRLF (smtp smuggling protection)"]
    begin(c)
    c.send(b"BDAT 8\r\n12345678")
    assert c.reply() == ["250 2.0.0 8 octets received"]
    c.send(b"BDAT 8 LAST\r\n12345678")
    assert c.reply() == ["552 5.3.4 message too large, max is 10 bytes"]
    assert Message.objects.filter(account=localserve_account).count() == 0
    assert c.cmd("BDAT x") == "501 5.5.2 bad syntax: BDAT size [LAST]"
    assert c.closed()


def test_data_after_bdat_is_refused(smtp_listener, raw_smtp, localserve_account):
    c = raw_smtp(smtp_listener())
    begin(c)
    c.send(b"BDAT 2\r\nab")
    assert c.reply() == ["250 2.0.0 2 octets received"]
    assert c.cmd("DATA") == "503 5.5.1 cannot mix BDAT and DATA"


def test_a_database_error_at_bdat_last_answers_451_and_the_session_goes_on(
        locked, smtp_listener, raw_smtp, localserve_account):
    # `locked`: the database locked by another connection, new connections giving up
    # after half a second (tests/faults/test_database_locked.py).
    c = raw_smtp(smtp_listener())
    begin(c)
    body = b"Subject: locked\r\n\r\nx\r\n"
    with locked():
        c.send(b"BDAT %d LAST\r\n" % len(body) + body)
        assert c.reply() == ["451 4.3.0 error delivering message"]
        assert c.cmd("NOOP") == "250 2.0.0 alrighty"
    assert Message.objects.count() == 0
    # The transaction ended: a new one in the same session delivers.
    assert c.cmd("RCPT TO:<b@example.org>") == "503 5.5.1 missing MAIL FROM"
    assert c.cmd("MAIL FROM:<a@example.org>") == "250 2.1.0 looking good"
    assert c.cmd("RCPT TO:<b@example.org>") == "250 2.1.0 now on the list"
    c.send(b"BDAT %d LAST\r\n" % len(body) + body)
    assert c.reply() == ["250 2.2.0 it is done"]
    [m] = Message.objects.filter(account=localserve_account)
    assert read_message(m.path) == body
