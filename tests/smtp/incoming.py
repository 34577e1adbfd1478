"""Helpers for tests of the incoming pipeline on port 25 (analysis, reputation, rejects,
rulesets, subjectpass, DSNs): sender zones in the test DNS server, one-call sending,
and reading what was stored."""
from __future__ import annotations

from typing import Any

import pytest

# sender.example and other.example pass SPF for 127.0.0.1 (sender.example with a DMARC
# policy of reject), soft.example softfails it, client.example is the EHLO. The
# smtp_listener fixture gives 127.0.0.1 a forward-confirmed name (iprev pass).
ZONE = """
$ORIGIN sender.example.
@       A    192.0.2.1
@       TXT  "v=spf1 ip4:127.0.0.1 -all"
_dmarc  TXT  "v=DMARC1; p=reject"
$ORIGIN other.example.
@       A    192.0.2.4
@       TXT  "v=spf1 ip4:127.0.0.1 -all"
$ORIGIN soft.example.
@       A    192.0.2.2
@       TXT  "v=spf1 ip4:192.0.2.0/24 ~all"
$ORIGIN client.example.
@       A    127.0.0.1
@       TXT  "v=spf1 ip4:127.0.0.1 -all"
"""


def message(from_addr: str, *, subject: str = "test", body: str = "hello", msgid: str = "",
            to: str = "alice@example.test", extra: str = "") -> str:
    head = f"From: <{from_addr}>\r\nTo: {to}\r\nSubject: {subject}\r\n"
    if msgid:
        head += f"Message-ID: <{msgid}>\r\n"
    return head + extra + f"\r\n{body}\r\n."


def send(c: Any, sender: str, data: str, rcpts: tuple[str, ...] = ("alice@example.test",),
         ehlo: str = "client.example") -> str:
    """One transaction; returns the reply to the message data (earlier replies asserted)."""
    assert c.cmd(f"EHLO {ehlo}").startswith("250")
    assert c.cmd(f"MAIL FROM:<{sender}>") == "250 2.1.0 looking good"
    for r in rcpts:
        assert c.cmd(f"RCPT TO:<{r}>") == "250 2.1.0 now on the list"
    assert c.cmd("DATA") == "354 see you at the bare dot"
    return c.cmd(data)


def prefix_of(msg: Any) -> str:
    return bytes(msg.prefix).decode()


def reason_of(msg: Any) -> str:
    first = prefix_of(msg).split("\r\n", 1)[0]
    assert first.startswith("X-Mox-Reason: "), first
    return first.removeprefix("X-Mox-Reason: ")


@pytest.fixture
def listener(smtp_listener, dns_server):  # type: ignore[no-untyped-def]
    """Port 25 as mail.example.test, with ZONE in the test DNS server (import it)."""
    dns_server.add_zone(ZONE)
    return smtp_listener(localserve=False, hostname="mail.example.test")


def in_mailbox(account: Any, name: str = "Inbox") -> list[Any]:
    from mailstore.models import Message

    return list(Message.objects.filter(account=account, mailbox__name=name).order_by("id"))
