from __future__ import annotations

import base64
import random
import shutil
import subprocess
import tarfile
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mailstore.actions import DeliveryInfo, deliver_bytes
from tests.commands.helpers import fails, run, stored

T1 = datetime(2026, 11, 5, 9, 8, 7, tzinfo=UTC)
T2 = datetime(2026, 11, 25, 13, 51, 46, tzinfo=UTC)
ONE = b"Subject: one\r\n\r\nFrom the start\r\n>From quoted\r\nend\r\n"
TWO = b"Subject: two\r\n\r\nno newline at end"


def fill(account):
    deliver_bytes(
        account, "Inbox", ONE, prefix=b"Received: by us\r\n", received=T1,
        flags={"\\Seen", "\\Flagged", "$Junk"}, keywords=["project"],
        info=DeliveryInfo(mail_from="carol@remote.test"),
    )
    deliver_bytes(account, "Inbox", TWO, received=T2, flags={"\\Answered", "$Forwarded"})
    deliver_bytes(account, "Lists/dev", b"Subject: dev\r\n\r\nx\r\n", received=T2)


MBOX_INBOX = (
    b"From carol@remote.test Thu Nov  5 09:08:07 2026\n"
    b"Status: RO\n"
    b"X-Status: F\n"
    b"X-Keywords: $Junk,project\n"
    b"Received: by us\n"
    b"Subject: one\n"
    b"\n"
    b">From the start\n"
    b">>From quoted\n"
    b"end\n"
    b"\n"
    b"From MAILER-DAEMON Wed Nov 25 13:51:46 2026\n"
    b"X-Status: A\n"
    b"X-Keywords: $Forwarded\n"
    b"Subject: two\n"
    b"\n"
    b"no newline at end\n"
    b"\n"
)


def test_it_exports_mboxrd_files_with_flags_and_escaping(alice, tmp_path):
    fill(alice)
    dest = tmp_path / "out"
    lines = run("export", "mbox", "alice", str(dest))
    assert lines[-9:] == [
        "Archive: 0 messages exported",
        "Drafts: 0 messages exported",
        "Inbox: 2 messages exported",
        "Junk: 0 messages exported",
        "Lists: 0 messages exported",
        "Lists/dev: 1 messages exported",
        "Sent: 0 messages exported",
        "Trash: 0 messages exported",
        f"exported 3 messages of account alice to {dest}",
    ]
    assert lines[-1] == f"exported 3 messages of account alice to {dest}"
    assert (dest / "Inbox.mbox").read_bytes() == MBOX_INBOX
    assert (dest / "Lists" / "dev.mbox").read_bytes() == b"From MAILER-DAEMON Wed Nov 25 13:51:46 2026\nSubject: dev\n\nx\n\n"
    assert (dest / "Sent.mbox").read_bytes() == b""


def test_it_round_trips_an_mbox_export_through_import(alice, bob, tmp_path):
    fill(alice)
    run("export", "mbox", "alice", str(tmp_path / "out"), "Inbox")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["Inbox.mbox"]
    run("import", "mbox", "bob", "Inbox", str(tmp_path / "out" / "Inbox.mbox"))
    assert stored(bob, "Inbox") == [
        (b"Received: by us\r\n" + ONE, ["\\Seen", "\\Flagged", "$Junk", "project"]),
        (TWO + b"\r\n", ["\\Answered", "$Forwarded"]),
    ]


def test_it_exports_maildirs_with_flag_letters_and_dovecot_keywords(alice, tmp_path):
    fill(alice)
    dest = tmp_path / "md"
    run("export", "maildir", "alice", str(dest), "Inbox")
    inbox = alice.mailboxes.get(name="Inbox")
    v = inbox.uidvalidity
    names = sorted(p.name for p in (dest / "Inbox" / "cur").iterdir())
    assert names == [f"{int(T1.timestamp())}.{v}_1.moxweb:2,FSab", f"{int(T2.timestamp())}.{v}_2.moxweb:2,PR"]
    assert (dest / "Inbox" / "cur" / names[0]).read_bytes() == b"Received: by us\r\n" + ONE
    assert (dest / "Inbox" / "cur" / names[1]).read_bytes() == TWO
    assert (dest / "Inbox" / "dovecot-keywords").read_bytes() == b"0 $Junk\n1 project\n"
    assert sorted(p.name for p in (dest / "Inbox").iterdir()) == ["cur", "dovecot-keywords", "new", "tmp"]


def test_it_round_trips_all_mailboxes_through_zip_and_tgz(alice, bob, charlie_factory, tmp_path):
    fill(alice)
    for fmt, ext in (("maildir", "zip"), ("mbox", "tgz")):
        target = charlie_factory(f"{fmt}{ext}")
        archive = tmp_path / f"alice-{fmt}.{ext}"
        run("export", fmt, "alice", str(archive))
        run("import", fmt, target.name, "/", str(archive))
        assert stored(target, "Inbox")[0] == (b"Received: by us\r\n" + ONE, ["\\Seen", "\\Flagged", "$Junk", "project"])
        expected_two = TWO if fmt == "maildir" else TWO + b"\r\n"
        assert stored(target, "Inbox")[1] == (expected_two, ["\\Answered", "$Forwarded"])
        assert stored(target, "Lists/dev") == [(b"Subject: dev\r\n\r\nx\r\n", [])]
    with zipfile.ZipFile(tmp_path / "alice-maildir.zip") as zf:
        assert "Inbox/new/" in zf.namelist() and "Inbox/dovecot-keywords" in zf.namelist()
    with tarfile.open(tmp_path / "alice-mbox.tgz") as tf:
        assert sorted(tf.getnames()) == [
            "Archive.mbox", "Drafts.mbox", "Inbox.mbox", "Junk.mbox", "Lists.mbox", "Lists/dev.mbox",
            "Sent.mbox", "Trash.mbox",
        ]
        assert tf.extractfile("Inbox.mbox").read() == MBOX_INBOX


def test_it_refuses_to_overwrite_and_names_unknown_mailboxes(alice, tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    assert fails("export", "mbox", "alice", str(tmp_path / "full")) == f"{tmp_path / 'full'} exists and is not an empty directory"
    assert fails("export", "mbox", "alice", str(tmp_path / "e"), "Nope") == "account alice has no mailbox 'Nope'"
    assert fails("export", "mbox", "alice", str(tmp_path / "no" / "x.zip")) == f"{tmp_path / 'no'}: no such directory"


@pytest.mark.skipif(not (shutil.which("unzip") and shutil.which("tar")), reason="needs Debian's unzip and tar")
def test_its_zip_and_tgz_archives_unpack_with_unzip_and_tar_as_the_directory_export(alice, tmp_path):
    fill(alice)
    # A large message, partly random, so the deflate streams span many blocks.
    rnd = random.Random(7)
    big = b"Subject: big\r\n\r\n" + b"".join(
        base64.b64encode(rnd.randbytes(300)) + b"\r\n" + b"plain text line %d\r\n" % i for i in range(3000))
    deliver_bytes(alice, "Inbox", big, received=T2)
    for fmt in ("mbox", "maildir"):
        run("export", fmt, "alice", str(tmp_path / f"{fmt}-dir"))
        expected = _tree(tmp_path / f"{fmt}-dir")
        assert len(expected) > 8
        run("export", fmt, "alice", str(tmp_path / f"{fmt}.zip"))
        run("export", fmt, "alice", str(tmp_path / f"{fmt}.tgz"))
        for ext, unpack in (("zip", ["unzip", "-q"]), ("tgz", ["tar", "-xzf"])):
            out = tmp_path / f"{fmt}-{ext}"
            out.mkdir()
            subprocess.run([*unpack, str(tmp_path / f"{fmt}.{ext}")], cwd=out, check=True)
            assert _tree(out) == expected, (fmt, ext)


def _tree(root: Path) -> dict[str, bytes | None]:
    """Relative path -> bytes of every file (None for a directory) under `root`."""
    return {p.relative_to(root).as_posix(): (p.read_bytes() if p.is_file() else None) for p in root.rglob("*")}
