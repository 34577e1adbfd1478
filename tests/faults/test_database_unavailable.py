"""The database unavailable while runmail serves: SMTP DATA answers a temporary 451,
IMAP answers NO, runmail does not crash, and once the database is back the same SMTP
and IMAP sessions work again, without a restart.

PostgreSQL: runmail reaches the database through a TCP proxy in this test, which is
cut (every connection reset, new ones closed at once) and restored. SQLite: another
process holds the write lock on the database file (runmail's busy timeout is made
short), so writes fail while reads still work (WAL)."""
from __future__ import annotations

import imaplib
import re
import smtplib
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.db import connection

from mailstore.models import Message
from tests.commands.procs import database_url
from tests.faults.processes import Process, installation_env, port, runmail, without_junk_checks
from tests.faults.tcpproxy import TCPProxy

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


TEMPORARY = {"locked": b"4.3.0 error delivering message", "unreachable": b"4.3.0 temporary error, try again later"}


def without_id(answer: tuple[int, bytes]) -> tuple[int, bytes]:
    """A reply without the connection id runmail appends to error replies (mox's
    received id), which must be there: `(16 hex digits)`."""
    code, text = answer
    match = re.fullmatch(rb"(.*) \([0-9a-f]{16}\)", text, re.DOTALL)
    assert match is not None, text
    return code, match.group(1)


class Outage:
    """`begin()` makes the database unavailable to runmail, `end()` brings it back."""

    def __init__(self, begin: Callable[[], None], end: Callable[[], None], kind: str) -> None:
        self.begin, self.end, self.kind = begin, end, kind


@pytest.fixture
def served(tmp_path: Path, settings, tls_files, dns_server, loop_thread, bob) -> Iterator[tuple[Process, Outage]]:  # type: ignore[no-untyped-def]
    dns_server.add("remote.test", "MX", "10 mx.remote.test.")
    without_junk_checks(bob)
    settings.DATA_DIR = tmp_path / "data"
    extra: dict[str, str] = {}
    proxy = None
    if connection.vendor == "postgresql":
        sd = connection.settings_dict
        proxy = TCPProxy(loop_thread, (sd["HOST"] or "127.0.0.1", int(sd["PORT"] or 5432)))
        url = database_url().replace(f":{sd['PORT'] or 5432}/", f":{proxy.port}/")
        extra["DATABASE_URL"] = url + "?connect_timeout=2&options=-c%20lock_timeout%3D2s"
        outage = Outage(proxy.cut, proxy.restore, "unreachable")
    else:
        holder: list[sqlite3.Connection] = []

        def lock() -> None:
            other = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None)
            other.execute("BEGIN IMMEDIATE")
            holder.append(other)

        def unlock() -> None:
            other = holder.pop()
            other.execute("ROLLBACK")
            other.close()

        extra["MOX_TEST_SQLITE_TIMEOUT"] = "0.5"
        outage = Outage(lock, unlock, "locked")
    env = installation_env(settings.DATA_DIR, tls_files, dns_server.address, **extra)
    proc = runmail(env)
    proc.start()
    try:
        yield proc, outage
    finally:
        code = proc.stop()
        print(proc.log())  # shown when the test fails
        if proxy is not None:
            proxy.close()
    assert code == 0, proc.log()


def message(subject: str) -> bytes:
    return (f"From: carol@remote.test\r\nTo: bob@example.test\r\nSubject: {subject}\r\n"
            f"Message-ID: <{subject}@remote.test>\r\n\r\nhello\r\n").encode()


def deliver(smtp: smtplib.SMTP, subject: str) -> tuple[int, bytes]:
    """One transaction on an open session; the reply to the end of DATA."""
    assert smtp.mail("carol@remote.test")[0] == 250
    assert smtp.rcpt("bob@example.test")[0] == 250
    return smtp.data(message(subject))


def test_it_answers_temporary_errors_while_the_database_is_away_and_recovers_without_restart(
        served, tls_files, bob) -> None:
    proc, outage = served
    env = proc.env
    smtp = smtplib.SMTP("127.0.0.1", port(env, "smtp"), timeout=30)
    smtp.ehlo("client.remote.test")
    imap = imaplib.IMAP4("127.0.0.1", port(env, "imap"), timeout=30)
    imap.starttls(ssl_context=tls_files.client_context())
    imap.login("bob@example.test", "bobpassword")
    assert imap.select("Inbox")[1] == [b"0"]
    assert deliver(smtp, "before") == (250, b"2.2.0 it is done"), proc.log()

    # A transaction under way when the database goes away: DATA answers 451.
    assert smtp.mail("carol@remote.test")[0] == 250
    assert smtp.rcpt("bob@example.test")[0] == 250
    outage.begin()
    try:
        # (SQLite: the delivery's write fails; PostgreSQL: its first query does.)
        assert without_id(smtp.data(message("during"))) == (451, TEMPORARY[outage.kind]), proc.log()
        assert smtp.noop()[0] == 250
        # A new transaction: without a database the recipient cannot be looked up.
        assert smtp.mail("carol@remote.test")[0] == 250
        if outage.kind == "unreachable":
            assert without_id(smtp.rcpt("bob@example.test")) == (451, TEMPORARY[outage.kind]), proc.log()
        else:  # SQLite: reads go on while another process holds the write lock
            assert smtp.rcpt("bob@example.test")[0] == 250
            assert without_id(smtp.data(message("during2"))) == (451, b"4.3.0 error delivering message")
        smtp.rset()
        typ, data = imap.append("Inbox", None, None, message("append-during"))
        assert (typ, data) == ("NO", [b"[UNAVAILABLE] temporary database error, try again later"]), proc.log()
        if outage.kind == "unreachable":
            typ, data = imap.select("Inbox")
            assert (typ, data) == ("NO", [b"[UNAVAILABLE] temporary database error, try again later"]), proc.log()
        assert proc.proc is not None and proc.proc.poll() is None, "runmail died:\n" + proc.log()
    finally:
        outage.end()

    # The same sessions work again.
    assert deliver(smtp, "after") == (250, b"2.2.0 it is done"), proc.log()
    typ, data = imap.append("Inbox", None, None, message("append-after"))
    assert typ == "OK", (data, proc.log())
    typ, data = imap.select("Inbox")
    assert (typ, data) == ("OK", [b"3"])
    smtp.quit()
    imap.logout()
    subjects = sorted(Message.objects.filter(account=bob).values_list("subject", flat=True))
    assert subjects == ["after", "append-after", "before"]
