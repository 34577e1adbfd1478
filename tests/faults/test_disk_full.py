"""A full disk: with the data directory on a 2 MB tmpfs, SMTP DATA that does not fit
answers 452 (RFC 5321 section 4.2.3: insufficient system storage) and a large IMAP APPEND
answers NO; neither leaves a partial file or a message row behind, and the same session
stores the message once space is freed. Needs root
to mount the tmpfs (CI runs as root)."""
from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailstore.files import read_message
from mailstore.models import Message

pytestmark = pytest.mark.django_db(transaction=True)

HEAD = "EHLO client.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<mox@localhost>\r\nDATA\r\n"


@pytest.fixture
def small_disk(tmp_path, settings) -> Iterator[Path]:  # type: ignore[no-untyped-def]
    assert os.geteuid() == 0, "mounting a tmpfs needs root (as in CI)"
    mnt = tmp_path / "data"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)], check=True)
    settings.DATA_DIR = mnt
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=True)


def files_under(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file())


def send(c, body: bytes) -> str:  # type: ignore[no-untyped-def]
    c.send(HEAD)
    assert len(c.reply()) > 1
    assert c.reply() == ["250 2.1.0 looking good"]
    assert c.reply() == ["250 2.1.0 now on the list"]
    assert c.reply() == ["354 see you at the bare dot"]
    c.send(body + b".\r\n")
    return "\n".join(c.reply())


def test_data_answers_452_on_a_full_disk_and_delivers_once_space_is_freed(
        small_disk, smtp_listener, raw_smtp, localserve_account) -> None:
    srv = smtp_listener()
    c = raw_smtp(srv)
    filler = small_disk / "filler"
    filler.write_bytes(b"x" * (1900 * 1024))
    before = files_under(small_disk)
    big = b"Subject: big\r\n\r\n" + (b"y" * 998 + b"\r\n") * 400  # 400 KB
    assert send(c, big) == "452 4.3.1 insufficient storage space"
    assert Message.objects.count() == 0
    assert files_under(small_disk) == before
    # The session goes on, and delivers once there is room again.
    assert c.cmd("NOOP") == "250 2.0.0 alrighty"
    filler.unlink()
    assert send(c, big) == "250 2.2.0 it is done"
    [msg] = Message.objects.filter(account=localserve_account)
    assert read_message(msg.path) == big


def test_a_small_message_held_in_memory_answers_452_on_a_full_disk(
        small_disk, smtp_listener, raw_smtp, localserve_account) -> None:
    # A message under the spooling threshold is written only when it is delivered
    # (smtpserver/spool.py): the full disk is still answered 452, not as a failed delivery.
    srv = smtp_listener()
    c = raw_smtp(srv)
    filler = small_disk / "filler"
    with open(filler, "wb", buffering=0) as fh:
        try:
            while fh.write(b"x" * 4096):
                pass
        except OSError:
            pass  # full
    before = files_under(small_disk)
    small = b"Subject: small\r\n\r\n" + (b"z" * 98 + b"\r\n") * 40  # 4 KB
    assert send(c, small) == "452 4.3.1 insufficient storage space"
    assert Message.objects.count() == 0
    assert files_under(small_disk) == before
    filler.unlink()
    assert send(c, small) == "250 2.2.0 it is done"
    [msg] = Message.objects.filter(account=localserve_account)
    assert read_message(msg.path) == small


@pytest.fixture
def imap_on_small_disk(small_disk, loop_thread, alice):  # type: ignore[no-untyped-def]
    from tests.fixtures_imap import RawClient, start_imap, stop_imap

    server, address = start_imap(loop_thread)
    client = RawClient(address.host, address.port)
    assert client.line().startswith("* OK [CAPABILITY IMAP4rev2 ")
    client.login()
    yield client
    client.close()
    stop_imap(loop_thread, server)


def test_imap_append_answers_no_on_a_full_disk_and_works_once_space_is_freed(small_disk, imap_on_small_disk) -> None:
    c = imap_on_small_disk
    filler = small_disk / "filler"
    filler.write_bytes(b"x" * (1900 * 1024))
    before = files_under(small_disk)
    big = b"Subject: big\r\n\r\n" + (b"y" * 998 + b"\r\n") * 400

    def append(tag: str) -> list[str]:
        c.send(f"{tag} APPEND INBOX {{{len(big)}}}")
        assert c.line().startswith("+ ")
        c.sock.sendall(big + b"\r\n")
        return c.until_tagged(tag)

    reply = append("a1")
    assert reply[-1] == "a1 NO insufficient storage space", reply
    assert Message.objects.count() == 0
    assert files_under(small_disk) == before
    filler.unlink()
    reply = append("a2")
    assert reply[-1].startswith("a2 OK [APPENDUID "), reply
    [msg] = Message.objects.all()
    assert read_message(msg.path) == big
