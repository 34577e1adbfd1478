"""MOX_SMTP_PROCESSES=2: localserve starts one `manage.py smtpworker` child, and its main
process hands it port 25 connections (smtpserver/handoff.py). Connections are spread
evenly between the two, every message reaches the Inbox (and an IDLE session in the main
process hears of those the child stored), mox's open-connection limit holds for both
together, a killed child is started again and its connections released, and SIGTERM
stops both."""
from __future__ import annotations

import contextlib
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


def served_by(pids: tuple[int, ...], port: int) -> dict[int, int]:
    return {pid: tcp_sockets(pid, port, "01") for pid in pids}


def test_two_smtp_processes_share_port_25(tmp_path) -> None:
    ls = Localserve(tmp_path / "data", MOX_RUN_WORKER="0", MOX_SMTP_PROCESSES="2")
    ls.start()
    assert ls.proc is not None
    main, port = ls.proc.pid, ls.ports["smtp"]
    try:
        child = wait_for(lambda: smtp_children(main))[0]
        # Only the main process listens.
        assert tcp_sockets(main, port, "0A") == 1 and tcp_sockets(child, port, "0A") == 0

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
        # Each connection goes to the process serving fewer: half each.
        assert served_by((main, child), port) == {main: 8, child: 8}
        for i, c in enumerate(clients):
            assert c.sendmail("sender@example.org", [f"r{i}@localhost"], make_message(f"spread {i}")) == {}
            c.quit()
        # The child's deliveries wake the IDLE session of the main process too.
        expected = f"* {before + 16} EXISTS".encode()
        assert expected in read_until(imap, expected, timeout=10)
        imap.sendall(b"DONE\r\n")
        read_until(imap, b"c OK")
        imap.close()

        # mox's limit of 30 open connections from one address holds for both processes
        # together (each had its own 30 before), and a connection the child ends frees
        # its place.
        held = [smtplib.SMTP("127.0.0.1", port, timeout=10) for _ in range(30)]
        for c in held:
            c.ehlo("client.example")
        assert served_by((main, child), port) == {main: 15, child: 15}
        refused = socket.create_connection(("127.0.0.1", port), timeout=10)
        assert read_until(refused, b"\r\n").startswith(b"421 4.7.0 too many open connections")
        refused.close()
        in_child = [c for c in held if tcp_sockets(child, port, "01") and _served_in(c, child)]
        in_child[0].quit()
        held.remove(in_child[0])
        wait_for(lambda: served_by((main, child), port)[child] == 14)
        again = wait_for(lambda: _greeted(port))
        held.append(again)

        # A child that dies is started again; its connections are released with it.
        os.kill(child, signal.SIGKILL)
        restarted = wait_for(lambda: [p for p in smtp_children(main) if p != child])[0]
        for c in held:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                c.close()
        for i in range(16, 24):
            with smtplib.SMTP("127.0.0.1", port, timeout=10) as c:
                assert c.sendmail("sender@example.org", ["x@localhost"], make_message(f"spread {i}")) == {}
        client = imaplib.IMAP4("127.0.0.1", ls.ports["imap"], timeout=10)
        client.login("mox@localhost", "moxmoxmox")
        client.select("Inbox")
        typ, data = client.search(None, "SUBJECT", "spread")
        assert typ == "OK" and len(data[0].split()) == 24
        client.logout()
        # 30 open connections are admitted again once the dead child's are released.
        fresh = [smtplib.SMTP("127.0.0.1", port, timeout=10) for _ in range(30)]
        assert served_by((main, restarted), port) == {main: 15, restarted: 15}
        for c in fresh:
            c.quit()
    finally:
        assert ls.stop() == 0
    assert smtp_children(main) == []
    with pytest.raises(ProcessLookupError):
        os.kill(restarted, 0)


def _served_in(client: smtplib.SMTP, pid: int) -> bool:
    """Whether `pid` holds the server side of `client`'s connection."""
    local = client.sock.getsockname()[1]  # type: ignore[union-attr]
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[2].split(":")[1], 16) == local and fields[9] in inodes:
            return True
    return False


def _greeted(port: int) -> smtplib.SMTP | None:
    """A connection that got its 220 (None while the freed place is not yet known)."""
    try:
        client = smtplib.SMTP("127.0.0.1", port, timeout=10)
    except smtplib.SMTPConnectError:
        return None
    return client
