"""The benchmark mailbox: deterministic messages of a few KB with varied headers, so both
servers store the same bytes. One in 100 has SUBJECT_WORD in its subject and another one
in 100 has BODY_WORD in its body; `expected_*` say which (1-based sequence numbers)."""
from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

SUBJECT_WORD = "quarterly"
BODY_WORD = "zebrafish"
WORDS = (
    "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa "
    "quebec romeo sierra tango uniform victor whiskey xray yankee zulu meeting report invoice travel "
    "update lunch project review notes budget draft plan release server client mail"
).split()
BASE = datetime(2026, 1, 1, tzinfo=UTC)


def message(i: int, size: int = 3000) -> bytes:
    """Message number i (0-based), about `size` bytes, CRLF line endings."""
    rnd = random.Random(i)
    subject = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(2, 6)))
    if i % 100 == 0:
        subject = f"{SUBJECT_WORD} {subject}"
    head = (
        f"Date: {format_datetime(BASE + timedelta(minutes=i))}\r\n"
        f"From: \"Sender {i % 97}\" <sender{i % 97}@example{i % 13}.org>\r\n"
        f"To: mox@localhost\r\n"
        f"Cc: team{i % 7}@example.net\r\n"
        f"Subject: {subject} {i}\r\n"
        f"Message-ID: <bench-{i}@example.org>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
    )
    lines = []
    length = len(head)
    while length < size:
        line = " ".join(rnd.choice(WORDS) for _ in range(12)) + "\r\n"
        lines.append(line)
        length += len(line)
    if i % 100 == 7:
        lines.insert(len(lines) // 2, f"the {BODY_WORD} is in here\r\n")
    return (head + "".join(lines)).encode()


def messages(count: int, start: int = 0) -> Iterator[bytes]:
    return (message(i) for i in range(start, start + count))


def expected_subject(count: int) -> list[int]:
    return [i + 1 for i in range(count) if i % 100 == 0]


def expected_body(count: int) -> list[int]:
    return [i + 1 for i in range(count) if i % 100 == 7]


def smtp_message(i: int, size: int) -> bytes:
    """A plain message of exactly `size` bytes (at least its header) for the SMTP benches."""
    head = (
        f"From: bench@example.org\r\nTo: mox@localhost\r\nSubject: bench {i}\r\n"
        f"Message-ID: <bench-{i}@example.org>\r\n\r\n"
    ).encode()
    line = b"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ012345678\r\n"
    body = (line * (size // len(line) + 1))[: max(0, size - len(head))]
    return head + body
