"""MOX_SMTP_PROCESSES=2: localserve starts one `manage.py smtpworker` child that shares
port 25 through SO_REUSEPORT. Connections land in both processes, every message reaches
the Inbox (and an IDLE session in the main process hears of those the child stored), a
killed child is started again, and SIGTERM stops both."""
from __future__ import annotations

import imaplib
import os
import re
import signal
import smtplib
import socket
import time
from pathlib import Path

import pytest

from tests.localserve.conftest import Localserve
from tests.localserve.test_localserve import make_message, read_until

pytestmark = pytest.mark.slow


def smtp_children(parent: int) -> list[int]:
    """PIDs of `smtpworker` processes whose parent is `parent`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue
        if ppid == parent and b"smtpworker" in cmdline:
            found.append(int(entry.name))
    return found


def tcp_sockets(pid: int, port: int, state: str) -> int:
    """How many TCP sockets of `pid` have local port `port` in `state` ("0A" LISTEN,
    "01" ESTABLISHED), from /proc/net/tcp and the process's descriptors."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port and fields[3] == state and fields[9] in inodes:
            count += 1
    return count


def wait_for(check, timeout: float = 20):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_two_smtp_processes_share_port_25(tmp_path) -> None:
    ls = Localserve(tmp_path / "data", MOX_RUN_WORKER="0", MOX_SMTP_PROCESSES="2")
    ls.start()
    assert ls.proc is not None
    main, port = ls.proc.pid, ls.ports["smtp"]
    try:
        child = wait_for(lambda: [p for p in smtp_children(main) if tcp_sockets(p, port, "0A")])[0]
        assert tcp_sockets(main, port, "0A") == 1

        imap = socket.create_connection(("127.0.0.1", ls.ports["imap"]), timeout=10)
        read_until(imap, b"\r\n")
        imap.sendall(b"a LOGIN mox@localhost moxmoxmox\r\nb SELECT Inbox\r\n")
        selected = read_until(imap, b"b OK")
        before = int(re.search(rb"\* (\d+) EXISTS", selected).group(1))  # type: ignore[union-attr]
        imap.sendall(b"c IDLE\r\n")
        assert read_until(imap, b"\r\n").startswith(b"+ ")

        clients = [smtplib.SMTP("127.0.0.1", port, timeout=10) for _ in range(16)]
        for c in clients:
            c.ehlo("client.example")
        # The kernel spreads connections by their addresses: with 16, both get some.
        served = {pid: tcp_sockets(pid, port, "01") for pid in (main, child)}
        assert sum(served.values()) == 16 and all(served.values()), served
        for i, c in enumerate(clients):
            assert c.sendmail("sender@example.org", [f"r{i}@localhost"], make_message(f"spread {i}")) == {}
            c.quit()
        # The child's deliveries wake the IDLE session of the main process too.
        expected = f"* {before + 16} EXISTS".encode()
        assert expected in read_until(imap, expected, timeout=10)
        imap.sendall(b"DONE\r\n")
        read_until(imap, b"c OK")
        imap.close()

        # A child that dies is started again, and serves.
        os.kill(child, signal.SIGKILL)
        again = wait_for(lambda: [p for p in smtp_children(main) if p != child and tcp_sockets(p, port, "0A")])[0]
        for i in range(16, 24):
            with smtplib.SMTP("127.0.0.1", port, timeout=10) as c:
                assert c.sendmail("sender@example.org", ["x@localhost"], make_message(f"spread {i}")) == {}
        client = imaplib.IMAP4("127.0.0.1", ls.ports["imap"], timeout=10)
        client.login("mox@localhost", "moxmoxmox")
        client.select("Inbox")
        typ, data = client.search(None, "SUBJECT", "spread")
        assert typ == "OK" and len(data[0].split()) == 24
        client.logout()
    finally:
        assert ls.stop() == 0
    assert smtp_children(main) == []
    with pytest.raises(ProcessLookupError):
        os.kill(again, 0)
