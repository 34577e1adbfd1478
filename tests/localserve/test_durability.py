"""kill -9 while clients deliver: every message that got 250 is in the Inbox exactly once
after a restart, and nothing half-written is visible."""
from __future__ import annotations

import imaplib
import re
import smtplib
import threading
import time

import pytest

from tests.localserve.conftest import Localserve
from tests.localserve.test_localserve import make_message

pytestmark = pytest.mark.slow


def test_it_keeps_every_acknowledged_message_across_kill_9(tmp_path) -> None:
    ls = Localserve(tmp_path / "data", MOX_RUN_WORKER="0")
    ls.start()
    acknowledged: list[str] = []
    attempted: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def client(n: int) -> None:
        i = 0
        while not stop.is_set():
            try:
                smtp = smtplib.SMTP("127.0.0.1", ls.ports["smtp"], timeout=5)
            except OSError:
                return
            try:
                while not stop.is_set():
                    subject = f"msg-{n}-{i}"
                    i += 1
                    with lock:
                        attempted.append(subject)
                    smtp.sendmail("sender@example.org", [f"rcpt{n}@localhost"], make_message(subject))
                    with lock:
                        acknowledged.append(subject)
            except (smtplib.SMTPException, OSError):
                return
            finally:
                try:
                    smtp.close()
                except OSError:
                    pass

    threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 20
    while len(acknowledged) < 40 and time.monotonic() < deadline:
        time.sleep(0.05)
    ls.kill9()
    stop.set()
    for t in threads:
        t.join(10)
    assert len(acknowledged) >= 40, "too few deliveries before the kill to prove anything"
    killed = ls.proc.pid if ls.proc else 0
    # A large message being received at the kill leaves its temp file (a small one is
    # written straight into place, unreferenced until its row commits); one is planted
    # so the sweep at the next start is always exercised.
    (ls.data_dir / "tmp").mkdir(exist_ok=True)
    (ls.data_dir / "tmp" / f"{killed}-planted").write_bytes(b"half a message")

    ls.start()
    try:
        left = sorted(p.name for p in (ls.data_dir / "tmp").iterdir() if p.name.startswith(f"{killed}-"))
        assert left == [], f"temp files of the killed process were not swept at start: {left}"
        check_inbox(ls, acknowledged, attempted)
    finally:
        ls.stop()


def check_inbox(ls: Localserve, acknowledged: list[str], attempted: list[str]) -> None:
    imap = imaplib.IMAP4("127.0.0.1", ls.ports["imap"], timeout=30)
    imap.login("mox@localhost", "moxmoxmox")
    typ, data = imap.select("Inbox", readonly=True)
    count = int(data[0])
    subjects: list[str] = []
    if count:
        typ, data = imap.fetch(f"1:{count}", "(BODY.PEEK[])")
        assert typ == "OK"
        for item in data:
            if isinstance(item, tuple):
                body = item[1]
                m = re.search(rb"^Subject: (msg-\d+-\d+)\r$", body, re.M)
                assert m, f"message without its subject (half-written?): {body[:200]!r}"
                assert body.rstrip().endswith(b"."), "truncated body"
                subjects.append(m.group(1).decode())
    imap.logout()
    for subject in acknowledged:
        assert subjects.count(subject) == 1, f"{subject} acknowledged but found {subjects.count(subject)} times"
    # Messages in flight at the kill may or may not be stored, but at most once, and only attempted ones.
    assert len(subjects) == len(set(subjects))
    assert set(subjects) <= set(attempted)
