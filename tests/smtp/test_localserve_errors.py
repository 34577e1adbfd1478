"""mox localserve's special localparts: temperror, permerror, NNN and timeout, at DATA,
or at MAIL/RCPT with the mailfrom/rcptto prefixes."""
from __future__ import annotations

import pytest

from mailstore.models import Message

pytestmark = pytest.mark.django_db(transaction=True)


def transaction(c, sender: str, rcpt: str) -> list[str]:  # type: ignore[no-untyped-def]
    c.cmd("EHLO client.example")
    out = [c.cmd(f"MAIL FROM:<{sender}>")]
    if out[-1].startswith("250"):
        out.append(c.cmd(f"RCPT TO:<{rcpt}>"))
        if out[-1].startswith("250"):
            out.append(c.cmd("DATA"))
            out.append(c.cmd("Subject: t\r\n\r\nx\r\n."))
    return out


DATA_ERRORS = [
    ("usertemperror@example.org", "451 4.0.0 failure with code 451 due to special localpart"),
    ("userpermerror@example.org", "550 5.0.0 failure with code 550 due to special localpart"),
    ("user452@example.org", "452 4.0.0 failure with code 452 due to special localpart"),
    ("user554@example.org", "554 5.0.0 failure with code 554 due to special localpart"),
    ("user350@example.org", "250 2.2.0 it is done"),
]


def test_errors_happen_at_data(smtp_listener, raw_smtp, localserve_account):
    c = raw_smtp(smtp_listener())
    for rcpt, result in DATA_ERRORS:
        assert transaction(c, "a@example.org", rcpt)[-1] == result


def test_mailfrom_prefix_fails_at_mail(smtp_listener, raw_smtp, localserve_account):
    c = raw_smtp(smtp_listener())
    assert transaction(c, "mailfrompermerror@example.org", "b@example.org") == [
        "550 5.0.0 failure with code 550 due to special localpart"]


def test_rcptto_prefix_fails_at_rcpt(smtp_listener, raw_smtp, localserve_account):
    c = raw_smtp(smtp_listener())
    assert transaction(c, "a@example.org", "rcptto421@example.org") == [
        "250 2.1.0 looking good", "421 4.0.0 failure with code 421 due to special localpart"]


def test_timeout_hangs_then_fails(smtp_listener, raw_smtp, localserve_account):
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    c = raw_smtp(smtp_listener(sleep=sleep))
    assert transaction(c, "a@example.org", "rcpttotimeout@example.org")[-1] == (
        "451 4.0.0 timeout due to special localpart")
    assert slept == [3600.0]
    assert c.closed()


def test_some_failing_recipients_still_deliver_the_others(smtp_listener, raw_smtp, localserve_account):
    c = raw_smtp(smtp_listener())
    c.cmd("EHLO client.example")
    c.cmd("MAIL FROM:<a@example.org>")
    c.cmd("RCPT TO:<good@example.org>")
    c.cmd("RCPT TO:<badtemperror@example.org>")
    c.cmd("DATA")
    assert c.cmd("Subject: t\r\n\r\nx\r\n.") == "250 2.2.0 it is done"
    assert Message.objects.filter(account=localserve_account).count() == 1


def test_different_failures_are_listed(smtp_listener, raw_smtp, localserve_account):
    c = raw_smtp(smtp_listener())
    c.cmd("EHLO client.example")
    c.cmd("MAIL FROM:<a@example.org>")
    c.cmd("RCPT TO:<atemperror@example.org>")
    c.cmd("RCPT TO:<bpermerror@example.org>")
    c.cmd("DATA")
    assert c.cmd("Subject: t\r\n\r\nx\r\n.").split("\n") == [
        "554-5.0.0 451 4.0.0 failure with code 451 due to special localpart",
        "554-5.0.0 550 5.0.0 failure with code 550 due to special localpart",
        "554 5.0.0 multiple errors",
    ]
