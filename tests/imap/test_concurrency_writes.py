"""Concurrent writers: ten imaplib clients append, store and expunge in one mailbox at the
same time. Database contention (SQLite's single writer, PostgreSQL row locks) must be
waited out or retried by the server, never answered with NO [UNAVAILABLE] (issue 4)."""
from __future__ import annotations

import imaplib
import re
import threading
import time

from mailstore.actions import deliver_bytes
from mailstore.models import Message
from tests.fixtures_imap import MESSAGE, imap_db

pytestmark = imap_db

CLIENTS = 10
SECONDS = 2.0


def writer(address, n: int, deadline: float, replies: list[str], done: list[int]) -> None:  # type: ignore[no-untyped-def]
    client = imaplib.IMAP4(address.host, address.port, timeout=60)
    try:
        client.login("alice@example.test", "alicepassword")
        typ, _ = client.select("Inbox")
        replies.append(typ)
        i = 0
        while time.monotonic() < deadline:
            body = MESSAGE.replace(b"Subject: hello", b"Subject: w%d-%d" % (n, i))
            typ, data = client.append("Inbox", "(\\Seen)", None, body)
            replies.append(typ)
            # RFC 4315 APPENDUID: this client's own message, untouched by the others.
            m = re.search(rb"APPENDUID \d+ (\d+)", data[0] or b"")
            assert m is not None, data
            uid = m.group(1).decode()
            # The shared messages, by sequence number in this session's view.
            replies.append(client.store("1:3", "+FLAGS.SILENT", "(\\Flagged)")[0])
            replies.append(client.store("1:3", "-FLAGS.SILENT", "(\\Flagged)")[0])
            replies.append(client.uid("STORE", uid, "+FLAGS.SILENT", "(\\Deleted)")[0])
            replies.append(client.uid("EXPUNGE", uid)[0])
            i += 1
        done.append(i)
        client.logout()
    except imaplib.IMAP4.error as exc:
        replies.append(f"error: {exc}")
    finally:
        try:
            client.shutdown()
        except OSError:
            pass


def test_ten_clients_writing_at_once_get_no_error(imap, alice):
    for _ in range(3):
        deliver_bytes(alice, "Inbox", MESSAGE)
    replies: list[str] = []
    done: list[int] = []
    deadline = time.monotonic() + SECONDS
    threads = [threading.Thread(target=writer, args=(imap, n, deadline, replies, done)) for n in range(CLIENTS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(120)  # a hang guard, not a timing assert
    assert not any(th.is_alive() for th in threads)
    assert [r for r in replies if r != "OK"] == []
    assert len(done) == CLIENTS and all(k >= 1 for k in done), done
    # Every appended message was expunged again; the three shared ones stay, unflagged.
    messages = Message.objects.filter(account=alice)
    assert messages.count() == 3
    assert not messages.filter(flagged=True).exists()
