"""localserve end to end: a real process, real clients, the slice through the whole house."""
from __future__ import annotations

import imaplib
import smtplib
import socket
import subprocess
import sys
import time
from email.message import EmailMessage

import pytest

from tests.localserve.conftest import ROOT, Localserve, child_env

pytestmark = pytest.mark.slow


def make_message(subject: str, to: str = "anyone@example.org", frm: str = "sender@example.org") -> bytes:
    msg = EmailMessage()
    msg["From"] = frm
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{subject}@test>"
    msg.set_content(f"This is {subject}.\n")
    return msg.as_bytes().replace(b"\n", b"\r\n")


def read_until(sock: socket.socket, marker: bytes, timeout: float = 10) -> bytes:
    sock.settimeout(timeout)
    buf = b""
    while marker not in buf:
        chunk = sock.recv(4096)
        if not chunk:
            break
        buf += chunk
    return buf


def test_it_prints_the_banner_with_every_listener(localserve: Localserve) -> None:
    out = "".join(localserve.output)
    p = localserve.ports
    assert f"smtp        localhost:{p['smtp']}" in out
    assert f"imap        localhost:{p['imap']} (STARTTLS optional), localhost:{p['imaps']} (TLS)" in out
    assert "mox@localhost with password moxmoxmox" in out
    assert f"http://localhost:{p['http']}/admin/ with password moxadmin" in out


def test_it_delivers_smtp_into_the_inbox_and_serves_it_over_imap_with_idle(localserve: Localserve) -> None:
    p = localserve.ports
    first = make_message("first", to="whoever@elsewhere.example")
    with smtplib.SMTP("127.0.0.1", p["smtp"], timeout=10) as smtp:
        smtp.ehlo("client.example")
        refused = smtp.sendmail("sender@example.org", ["whoever@elsewhere.example"], first)
        assert refused == {}

    imap = imaplib.IMAP4("127.0.0.1", p["imap"], timeout=10)
    assert imap.login("mox@localhost", "moxmoxmox")[0] == "OK"
    typ, boxes = imap.list()
    assert typ == "OK"
    names = [b.decode().rsplit(" ", 1)[-1].strip('"') for b in boxes]
    assert {"Inbox", "Sent", "Archive", "Trash", "Drafts", "Junk"} <= set(names)
    typ, data = imap.select("INBOX")
    assert typ == "OK"
    n = int(data[0])
    typ, data = imap.fetch(str(n), "(FLAGS RFC822.SIZE BODY.PEEK[])")
    assert typ == "OK"
    meta, body = data[0]
    assert b"FLAGS ()" in meta
    assert body.endswith(first)  # the stored bytes, after the headers we added
    assert f"RFC822.SIZE {len(body)}".encode() in meta

    # IDLE on a raw connection: the next delivery shows up as "* 2 EXISTS".
    raw = socket.create_connection(("127.0.0.1", p["imap"]), timeout=10)
    read_until(raw, b"\r\n")
    raw.sendall(b"a LOGIN mox@localhost moxmoxmox\r\n")
    read_until(raw, b"a OK")
    raw.sendall(b"b SELECT Inbox\r\n")
    read_until(raw, b"b OK")
    raw.sendall(b"c IDLE\r\n")
    assert read_until(raw, b"\r\n").startswith(b"+ ")
    with smtplib.SMTP("127.0.0.1", p["smtp"], timeout=10) as smtp:
        smtp.sendmail("sender@example.org", ["second@localhost"], make_message("second"))
    assert f"* {n + 1} EXISTS".encode() in read_until(raw, b"EXISTS", timeout=5)
    raw.sendall(b"DONE\r\n")
    assert b"c OK" in read_until(raw, b"c OK")
    raw.close()
    imap.logout()


def test_it_delivers_submitted_mail_back_into_the_account(localserve: Localserve) -> None:
    p = localserve.ports
    with smtplib.SMTP("127.0.0.1", p["submission"], timeout=10) as smtp:
        smtp.ehlo("client.example")
        smtp.login("mox@localhost", "moxmoxmox")
        refused = smtp.sendmail("mox@localhost", ["friend@example.org"], make_message("submitted", frm="mox@localhost"))
        assert refused == {}
    imap = imaplib.IMAP4("127.0.0.1", p["imap"], timeout=10)
    imap.login("mox@localhost", "moxmoxmox")
    typ, data = imap.select("Inbox")
    typ, data = imap.fetch(data[0].decode(), "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert typ == "OK"
    assert data[0][1].strip() == b"Subject: submitted"
    imap.logout()


def test_it_exits_naming_a_port_in_use(tmp_path) -> None:
    ls = Localserve(tmp_path / "data", MOX_RUN_WORKER="0")
    blocker = socket.socket()
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    blocker.bind(("127.0.0.1", ls.ports["imap"]))
    blocker.listen(1)
    try:
        proc = subprocess.run(
            [sys.executable, "manage.py", "localserve", "--dir", str(ls.data_dir), "--port-offset", str(ls.offset)],
            cwd=ROOT, env=ls.env, capture_output=True, text=True, timeout=60,
        )
    finally:
        blocker.close()
    assert proc.returncode == 1
    assert f"cannot listen on 127.0.0.1:{ls.ports['imap']} (imap): Address already in use" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_it_reports_an_invalid_setting_as_a_system_check(tmp_path) -> None:
    env = child_env(MOX_DATA_DIR=str(tmp_path), MOX_SMTP_PORT="twenty-five")
    proc = subprocess.run(
        [sys.executable, "manage.py", "runmail"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 1
    assert "moxweb.E002" in proc.stderr
    assert "MOX_SMTP_PORT='twenty-five' is not an integer" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_it_reports_an_unwritable_data_directory(tmp_path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    env = child_env(MOX_DATA_DIR=str(blocked / "data"))
    proc = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 1
    assert "moxweb.E001" in proc.stderr
    assert f"data directory {blocked / 'data'} cannot be created" in proc.stderr


def test_it_stops_cleanly_on_sigterm_with_its_worker(tmp_path) -> None:
    ls = Localserve(tmp_path / "data")  # with the django-q2 worker
    ls.start()
    assert ls.proc is not None
    time.sleep(2)  # let the worker start
    children = subprocess.run(["pgrep", "-P", str(ls.proc.pid), "-f", "qcluster"], capture_output=True, text=True).stdout.split()
    assert children, "the delivery worker is not running"
    assert ls.stop() == 0
    assert "moxweb stopped" in "".join(ls.output)
    time.sleep(1)
    for pid in children:
        assert subprocess.run(["ps", "-p", pid], capture_output=True).returncode == 1, f"worker {pid} still running"


def test_it_serves_the_web_pages_static_files_and_metrics(localserve: Localserve) -> None:
    import re
    import ssl
    import urllib.request

    p = localserve.ports
    with urllib.request.urlopen(f"http://127.0.0.1:{p['http']}/admin/", timeout=10) as resp:
        page = resp.read().decode()
        assert resp.status == 200
    assert "<form" in page and 'name="password"' in page
    css = re.search(r'href="([^"]+\.css)"', page)
    assert css, page[:500]
    with urllib.request.urlopen(f"http://127.0.0.1:{p['http']}{css.group(1)}", timeout=10) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/css")
    # HTTPS with the self-signed certificate.
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with urllib.request.urlopen(f"https://127.0.0.1:{p['https']}/account/", timeout=10, context=ctx) as resp:
        assert resp.status == 200
        assert "password" in resp.read().decode()
    with urllib.request.urlopen(f"http://127.0.0.1:{p['metrics']}/metrics", timeout=10) as resp:
        assert resp.status == 200
        assert "python_info" in resp.read().decode()
