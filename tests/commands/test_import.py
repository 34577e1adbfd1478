from __future__ import annotations

import io
import os
import tarfile
import zipfile
from datetime import UTC, datetime

from mailstore.models import Mailbox, Message
from tests.commands.helpers import fails, run, stored

MBOX = (
    b"From sender@remote.test Thu Nov 25 13:51:46 2026\n"
    b"Status: RO\n"
    b"X-Status: AF\n"
    b"X-Keywords: $Junk,project\n"
    b"From: Carol <carol@remote.test>\n"
    b"Subject: one\n"
    b"\n"
    b">From here\n"
    b">>From there\n"
    b"body\n"
    b"\n"
    b"From MAILER-DAEMON Fri Nov 26 01:02:03 2026\n"
    b"Subject: two\r\n"
    b"\r\n"
    b"text\r\n"
)
ONE = b"From: Carol <carol@remote.test>\r\nSubject: one\r\n\r\nFrom here\r\n>From there\r\nbody\r\n"
TWO = b"Subject: two\r\n\r\ntext\r\n"


def test_it_imports_an_mbox_with_flags_unescaping_and_crlf(alice, tmp_path):
    path = tmp_path / "in.mbox"
    path.write_bytes(MBOX)
    lines = run("import", "mbox", "alice", "Old", str(path))
    assert lines[-2:] == ["Old: 2 messages imported", "imported 2 messages into account alice"]
    assert stored(alice, "Old") == [
        (ONE, ["\\Seen", "\\Answered", "\\Flagged", "$Junk", "project"]),
        (TWO, []),
    ]
    received = list(Message.objects.filter(account=alice, mailbox__name="Old").values_list("received", flat=True))
    assert received == [datetime(2026, 11, 25, 13, 51, 46, tzinfo=UTC), datetime(2026, 11, 26, 1, 2, 3, tzinfo=UTC)]


def test_it_finds_the_account_by_address_and_prints_plain_progress(alice, tmp_path):
    path = tmp_path / "in.mbox"
    path.write_bytes(MBOX)
    lines = run("import", "mbox", "alice@example.test", "Inbox", str(path))
    assert lines == [
        "import 72%: 1 messages",
        "import 100%: 2 messages",
        "Inbox: 2 messages imported",
        "imported 2 messages into account alice",
    ]


def test_it_rejects_a_file_that_is_not_an_mbox(alice, tmp_path):
    path = tmp_path / "bad.mbox"
    path.write_bytes(b"Subject: no from line\n\nbody\n")
    assert fails("import", "mbox", "alice", "Inbox", str(path)) == (
        f'bad.mbox: not an mbox file (the first line does not start with "From ")'
    )
    assert Message.objects.count() == 0


def test_it_names_a_missing_file_and_an_unknown_account(alice, tmp_path):
    missing = tmp_path / "nope.mbox"
    assert fails("import", "mbox", "alice", "Inbox", str(missing)) == f"{missing}: no such file or directory"
    assert fails("import", "mbox", "nobody", "Inbox", str(missing)) == (
        "no account 'nobody' (give an account name or one of its addresses)"
    )


def make_maildir(root, files):
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True)
    for rel, data in files.items():
        (root / rel).write_bytes(data)


def test_it_imports_a_maildir_with_letters_and_dovecot_keywords(alice, tmp_path):
    root = tmp_path / "Maildir"
    make_maildir(
        root,
        {
            "cur/1700000100.M2.host:2,PSab": b"Subject: b\n\nsecond\n",
            "cur/1700000000.M1.host:2,DFRT": b"Subject: a\r\n\r\nfirst\r\n",
            "new/1700000200.M3.host": b"Subject: c\n\nthird\n",
            "dovecot-keywords": b"0 $NotJunk\n1 Work\n",
        },
    )
    lines = run("import", "maildir", "alice", "Inbox", str(root))
    assert lines[-1] == "imported 3 messages into account alice"
    assert stored(alice, "Inbox") == [
        (b"Subject: a\r\n\r\nfirst\r\n", ["\\Answered", "\\Flagged", "\\Deleted", "\\Draft"]),
        (b"Subject: b\r\n\r\nsecond\r\n", ["\\Seen", "$Forwarded", "$NotJunk", "work"]),
        (b"Subject: c\r\n\r\nthird\r\n", []),
    ]
    first = Message.objects.get(account=alice, uid=1, mailbox__name="Inbox")
    assert first.received == datetime.fromtimestamp(1700000000, tz=UTC)


def test_it_imports_a_zip_of_mboxes_mapping_special_names(alice, tmp_path):
    path = tmp_path / "thunderbird.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("Sent Items.mbox", b"From a Thu Nov 25 13:51:46 2026\nSubject: s\n\nsent\n")
        zf.writestr("Spam", b"From a Thu Nov 25 13:51:46 2026\nSubject: j\n\njunk\n")
        zf.writestr("Spam.msf", b"index")
        zf.writestr("Lists/python.mbox", b"From a Thu Nov 25 13:51:46 2026\nSubject: p\n\nlist\n")
    lines = run("import", "mbox", "alice", "/", str(path))
    assert lines[-5:] == [
        "Sent: 1 messages imported",
        "Junk: 1 messages imported",
        "Lists/python: 1 messages imported",
        "skipped Spam.msf: not a mbox mailbox",
        "imported 3 messages into account alice",
    ]
    assert stored(alice, "Sent") == [(b"Subject: s\r\n\r\nsent\r\n", [])]
    assert stored(alice, "Junk") == [(b"Subject: j\r\n\r\njunk\r\n", [])]
    assert Mailbox.objects.get(account=alice, name="Lists").special_use == ""


def test_it_imports_maildirs_from_a_tgz_under_the_given_mailbox(alice, tmp_path):
    path = tmp_path / "mail.tgz"
    with tarfile.open(path, "w:gz") as tf:
        for name, data in (
            ("Maildir/cur/1700000000.a:2,S", b"Subject: inbox\n\nx\n"),
            ("Maildir/.Sent/cur/1700000000.b:2,S", b"Subject: sent\n\ny\n"),
            ("Maildir/.Lists.dev/new/1700000000.c", b"Subject: dev\n\nz\n"),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    lines = run("import", "maildir", "alice", "Old", str(path))
    assert lines[-4:] == [
        "Old/Inbox: 1 messages imported",
        "Old/Lists/dev: 1 messages imported",
        "Old/Sent: 1 messages imported",
        "imported 3 messages into account alice",
    ]
    assert stored(alice, "Old/Sent") == [(b"Subject: sent\r\n\r\ny\r\n", ["\\Seen"])]


def test_it_reads_a_maildir_import_without_holding_it(alice, tmp_path):
    # Over-long lines are streamed in pieces; a CRLF split between pieces stays one CRLF.
    root = tmp_path / "md"
    body = b"x" * (64 * 1024 - 1) + b"\r\n" + b"y" * 100 + b"\n"
    make_maildir(root, {"cur/1700000000.a:2,": b"Subject: long\n\n" + body})
    run("import", "maildir", "alice", "Long", str(root))
    assert stored(alice, "Long") == [(b"Subject: long\r\n\r\n" + body[:-1] + b"\r\n", [])]
    assert not os.listdir(root.parent / "md" / "tmp")


def test_it_names_a_broken_archive(alice, tmp_path):
    path = tmp_path / "broken.zip"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    message = fails("import", "mbox", "alice", "/", str(path))
    assert message.startswith(f"{path}: not a readable zip archive: ")
    path = tmp_path / "broken.tgz"
    path.write_bytes(b"\x1f\x8b\x08\x00 not really gzip")
    message = fails("import", "maildir", "alice", "/", str(path))
    assert message.startswith(f"{path}: ")
    assert Message.objects.count() == 0


def test_it_refuses_a_single_file_as_maildir(alice, tmp_path):
    path = tmp_path / "one.eml"
    path.write_bytes(b"Subject: x\n\ny\n")
    assert fails("import", "maildir", "alice", "Inbox", str(path)) == (
        f"{path}: a maildir is a directory (with cur/ and new/) or a .zip/.tgz archive"
    )
