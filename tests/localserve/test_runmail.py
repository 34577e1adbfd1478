"""runmail as a real installation: submission with STARTTLS queues the message, the
supervised django-q2 worker delivers it, and IMAP shows it in the recipient's Inbox."""
from __future__ import annotations

import imaplib
import smtplib
import subprocess
import sys
import threading
import time

import pytest

from tests.localserve.conftest import ROOT, child_env, free_offset
from tests.localserve.test_localserve import make_message

pytestmark = pytest.mark.slow


def manage(env: dict[str, str], *args: str, stdin: str = "") -> str:
    out = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, input=stdin,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_submitted_mail_is_delivered_by_the_worker(tmp_path, tls_files) -> None:
    offset = free_offset()
    ports = {"submission": 587 + offset, "imap": 143 + offset}
    env = child_env(
        MOX_DATA_DIR=str(tmp_path / "data"), MOX_HOSTNAME="mail.example.test", MOX_LISTEN_IPS="127.0.0.1",
        MOX_TLS_CERT=str(tls_files.cert_path), MOX_TLS_KEY=str(tls_files.key_path),
        MOX_SMTP_PORT="0", MOX_SUBMISSION_PORT=str(ports["submission"]), MOX_SUBMISSIONS_PORT="0",
        MOX_IMAP_PORT=str(ports["imap"]), MOX_IMAPS_PORT="0", MOX_HTTP_PORT="0", MOX_HTTPS_PORT="0",
        MOX_METRICS_PORT="0", MOX_WORKERS="1",
    )
    manage(env, "migrate", "--noinput")
    manage(env, "adddomain", "example.test")
    manage(env, "addaccount", "alice", "alice@example.test")
    manage(env, "addaccount", "bob", "bob@example.test")
    for name in ("alice", "bob"):
        manage(env, "setaccountpassword", "--stdin", name, stdin=f"{name}password\n")

    proc = subprocess.Popen([sys.executable, "manage.py", "runmail"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    output: list[str] = []
    ready = threading.Event()

    def reader() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            output.append(line)
            if "moxweb runmail:" in line:
                ready.set()
        ready.set()

    threading.Thread(target=reader, daemon=True).start()
    try:
        assert ready.wait(60) and proc.poll() is None, "".join(output)
        with smtplib.SMTP("127.0.0.1", ports["submission"], timeout=10) as smtp:
            smtp.starttls(context=tls_files.client_context())
            smtp.login("alice@example.test", "alicepassword")
            msg = make_message("queued", to="bob@example.test", frm="alice@example.test")
            assert smtp.sendmail("alice@example.test", ["bob@example.test"], msg) == {}

        imap = imaplib.IMAP4("127.0.0.1", ports["imap"], timeout=10)
        imap.starttls(ssl_context=tls_files.client_context())
        imap.login("bob@example.test", "bobpassword")
        deadline = time.monotonic() + 30
        count = 0
        while time.monotonic() < deadline:
            typ, data = imap.select("Inbox", readonly=True)
            count = int(data[0])
            if count:
                break
            time.sleep(0.5)
        assert count == 1, "the worker did not deliver the queued message:\n" + "".join(output)
        typ, data = imap.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert data[0][1].strip() == b"Subject: queued"
        imap.logout()
    finally:
        proc.terminate()
        assert proc.wait(30) == 0
    assert "moxweb stopped" in "".join(output)
