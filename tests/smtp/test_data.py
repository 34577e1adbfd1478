"""DATA over a real socket: dot-unstuffing, bare CR/LF and every smuggling variant
refused whole, size limits; 250 only with the message stored."""
from __future__ import annotations

import pytest

from mailstore.files import read_message
from mailstore.models import Message

HEAD = "EHLO client.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n"


def start_data(c) -> None:  # type: ignore[no-untyped-def]
    c.send(HEAD)
    assert len(c.reply()) == 8
    assert c.reply() == ["250 2.1.0 looking good"]
    assert c.reply() == ["250 2.1.0 now on the list"]
    assert c.reply() == ["354 see you at the bare dot"]


def messages(account) -> list[bytes]:  # type: ignore[no-untyped-def]
    return [read_message(m.path) for m in Message.objects.filter(account=account).order_by("id")]


@pytest.mark.django_db(transaction=True)
def test_it_unstuffs_dots_and_stores_exact_bytes(smtp_listener, raw_smtp, localserve_account):
    c = raw_smtp(smtp_listener())
    start_data(c)
    c.send(b"Subject: x\r\n\r\n..leading\r\n.\r\n")
    assert c.reply() == ["250 2.2.0 it is done"]
    assert messages(localserve_account) == [b"Subject: x\r\n\r\n.leading\r\n"]


SMUGGLING = [
    b"Subject: x\r\n\r\nbody\n.\nMAIL FROM:<evil@example.org>\r\n",
    b"Subject: x\r\n\r\nbody\n.\r\nMAIL FROM:<evil@example.org>\r\n",
    b"Subject: x\r\n\r\nbody\r\n.\nMAIL FROM:<evil@example.org>\r\n",
    b"Subject: x\r\n\r\nbody\r.\rMAIL FROM:<evil@example.org>\r\n",
    b"Subject: x\r\n\r\nbody\r.\r\nMAIL FROM:<evil@example.org>\r\n",
    b"Subject: x\r\n\r\nbody\r\n.\rMAIL FROM:<evil@example.org>\r\n",
    b"Subject: x\r\n\r\nbody\r\r\n.\r\r\nMAIL FROM:<evil@example.org>\r\n",
    b"Subject: x\r\n\r\nbody\n\n.\n\nMAIL FROM:<evil@example.org>\r\n",
]


@pytest.mark.django_db(transaction=True)
def test_it_refuses_every_smuggling_variant_whole(smtp_listener, raw_smtp, localserve_account):
    c = raw_smtp(smtp_listener())
    for payload in SMUGGLING:
        start_data(c)
        c.send(payload + b".\r\n")
        kind = "bare linefeed" if b"\n" in payload.replace(b"\r\n", b"") else "bare carriage return"
        assert c.reply() == [
            f"500 5.5.2 {kind} in message data, lines must end with CRLF (smtp smuggling protection)"], payload
        # Nothing stored, the smuggled MAIL was never a command, and the session goes on.
        assert messages(localserve_account) == []
        assert c.cmd("RCPT TO:<b@example.org>") == "503 5.5.1 missing MAIL FROM"
        assert c.cmd("NOOP") == "250 2.0.0 alrighty"


@pytest.mark.django_db(transaction=True)
def test_it_refuses_a_bare_lf_split_across_writes(smtp_listener, raw_smtp, localserve_account):
    c = raw_smtp(smtp_listener())
    start_data(c)
    c.send(b"Subject: x\r")
    c.send(b"\n\r\nline\n")
    c.send(b"more\r\n.\r\n")
    assert c.reply()[0].startswith("500 5.5.2 bare linefeed")
    assert messages(localserve_account) == []


@pytest.mark.django_db(transaction=True)
def test_it_refuses_size_over_the_limit_in_mail(smtp_listener, raw_smtp, localserve_account):
    c = raw_smtp(smtp_listener(max_message_size=1000))
    c.cmd("EHLO client.example")
    assert c.cmd("MAIL FROM:<a@example.org> SIZE=1001") == "552 5.3.4 message too large, max is 1000 bytes"
    assert c.cmd("MAIL FROM:<a@example.org> SIZE=1000") == "250 2.1.0 looking good"


@pytest.mark.django_db(transaction=True)
def test_it_reads_and_discards_data_over_the_limit(smtp_listener, raw_smtp, localserve_account):
    c = raw_smtp(smtp_listener(max_message_size=1000))
    start_data(c)
    c.send(b"Subject: big\r\n\r\n" + b"x" * 998 + b"\r\n.\r\n")
    assert c.reply() == ["552 5.3.4 message too large, max is 1000 bytes"]
    assert messages(localserve_account) == []
    assert c.cmd("MAIL FROM:<a@example.org>") == "250 2.1.0 looking good"


@pytest.mark.django_db(transaction=True)
def test_it_accepts_long_lines_in_pieces_but_refuses_endless_ones(smtp_listener, raw_smtp, localserve_account):
    c = raw_smtp(smtp_listener())
    start_data(c)
    body = b"Subject: long\r\n\r\n" + b"y" * 5000 + b"\r\n"
    c.send(body + b".\r\n")
    assert c.reply() == ["250 2.2.0 it is done"]
    assert messages(localserve_account) == [body]
    c.send("MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n")
    assert c.reply()[0].startswith("250")
    assert c.reply()[0].startswith("250")
    assert c.reply()[0].startswith("354")
    c.send(b"z" * (70 * 1024) + b"\r\n.\r\n")
    assert c.reply() == ["500 5.5.0 line too long in message data"]


@pytest.mark.django_db(transaction=True)
def test_it_handles_pipelined_commands_after_the_end_of_data(smtp_listener, raw_smtp, localserve_account):
    c = raw_smtp(smtp_listener())
    c.send(HEAD + "Subject: p\r\n\r\nx\r\n.\r\nMAIL FROM:<c@example.org>\r\nQUIT\r\n")
    replies = [c.reply() for _ in range(7)]
    assert replies[4:] == [["250 2.2.0 it is done"], ["250 2.1.0 looking good"], ["221 2.0.0 okay thanks bye"]]
    assert messages(localserve_account) == [b"Subject: p\r\n\r\nx\r\n"]


@pytest.mark.django_db(transaction=True)
def test_it_stores_an_empty_message(smtp_listener, raw_smtp, localserve_account):
    c = raw_smtp(smtp_listener())
    start_data(c)
    c.send(b".\r\n")
    assert c.reply() == ["250 2.2.0 it is done"]
    assert messages(localserve_account) == [b""]
