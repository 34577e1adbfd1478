"""mbsync (isync) syncing mailboxes both ways with our IMAPS listener over loopback.

mbsync is a demanding real client: it authenticates with SASL (SCRAM through Cyrus
SASL), lists with patterns, selects, fetches with UID ranges, BODY.PEEK and
INTERNALDATE, appends with flags and dates (UIDPLUS APPENDUID), stores flags, expunges
and creates mailboxes. Each test syncs, changes the local Maildir, syncs again and
asserts the server's state exactly. mbsync's protocol trace (-D) is checked for BAD and
NO answers: a real client quietly working around a server bug is still a bug.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from mailstore import actions, files
from mailstore.models import Mailbox, Message
from tests.fixtures_imap import start_imap, stop_imap, imap_db

pytestmark = imap_db

MBSYNC = shutil.which("mbsync")


def message(n: int, subject: str) -> bytes:
    return (
        f"From: Carol <carol@remote.test>\r\nTo: alice@example.test\r\nSubject: {subject}\r\n"
        f"Date: Mon, 02 Jan 2023 10:0{n}:00 +0000\r\nMessage-ID: <{n}@remote.test>\r\n\r\n"
        f"Body of message {n}.\r\n"
    ).encode()


@pytest.fixture
def imaps(loop_thread, alice, tls_files):  # type: ignore[no-untyped-def]
    ctx = tls_files.server_context()
    server, address = start_imap(loop_thread, implicit_tls=True, tls=ctx, localserve=False)
    yield address
    stop_imap(loop_thread, server)


class Mbsync:
    def __init__(self, root: Path, port: int, ca: Path, patterns: str, *, ssl_type: str = "IMAPS") -> None:
        self.root = root
        self.mail = root / "mail"
        self.mail.mkdir()
        self.rc = root / "mbsyncrc"
        self.rc.write_text(
            "IMAPAccount moxweb\n"
            "Host localhost\n"
            f"Port {port}\n"
            "User alice@example.test\n"
            "Pass alicepassword\n"
            f"SSLType {ssl_type}\n"
            f"CertificateFile {ca}\n"
            "\n"
            "IMAPStore remote\n"
            "Account moxweb\n"
            "\n"
            "MaildirStore local\n"
            f"Path {self.mail}/\n"
            f"Inbox {self.mail}/INBOX\n"
            "SubFolders Verbatim\n"
            "\n"
            "Channel sync\n"
            "Far :remote:\n"
            "Near :local:\n"
            f"Patterns {patterns}\n"
            "Create Both\n"
            "Expunge Both\n"
            "CopyArrivalDate yes\n"
            f"SyncState {root}/state/\n"
        )
        (root / "state").mkdir()
        self.trace = ""

    def run(self) -> str:
        proc = subprocess.run(
            [str(MBSYNC), "-c", str(self.rc), "-D", "-a"], capture_output=True, text=True, timeout=60,
        )
        self.trace = proc.stdout + proc.stderr
        assert proc.returncode == 0, self.trace[-4000:]
        # Lines the server sent: "<tag> BAD ..." / "<tag> NO ..." would show a server bug
        # mbsync worked around (or silently ignored).
        refused = [line for line in self.trace.splitlines() if re.match(r"^\d+ (BAD|NO) ", line)]
        assert refused == [], refused
        return self.trace

    def maildir(self, name: str) -> dict[str, tuple[str, bytes]]:
        """Message files of a local mailbox: Message-ID -> (maildir flags, bytes)."""
        out = {}
        base = self.mail / name
        for sub in ("cur", "new"):
            for path in (base / sub).iterdir():
                data = path.read_bytes()
                mid = re.search(rb"Message-ID: <([^>]*)>", data, re.IGNORECASE)
                flags = path.name.split(":2,", 1)[1] if ":2," in path.name else ""
                out[mid.group(1).decode() if mid else path.name] = (flags, data)
        return out

    def path_of(self, name: str, message_id: str) -> Path:
        for sub in ("cur", "new"):
            for path in (self.mail / name / sub).iterdir():
                if f"<{message_id}>".encode() in path.read_bytes():
                    return path
        raise AssertionError(f"{message_id} not in {name}")


def strip_tuid(data: bytes) -> bytes:
    """The message without the one X-TUID header mbsync adds to what it copies."""
    stripped, count = re.subn(rb"X-TUID: [A-Za-z0-9+/]{12}\r?\n", b"", data)
    assert count == 1, data
    return stripped


def server_state(alice, mailbox: str) -> dict[str, tuple[list[str], bytes]]:  # type: ignore[no-untyped-def]
    out = {}
    for m in Message.objects.filter(account=alice, mailbox__name=mailbox).order_by("uid"):
        data = files.read_message(m.path, bytes(m.prefix))
        out[m.message_id.strip("<>") or str(m.uid)] = (m.flag_list(), data)
    return out


def _uids(alice, mailbox: str) -> list[int]:  # type: ignore[no-untyped-def]
    return list(Message.objects.filter(account=alice, mailbox__name=mailbox).values_list("uid", flat=True))


def test_it_syncs_a_mailbox_both_ways(imaps, alice, tls_files, tmp_path):
    actions.deliver_bytes(alice, "Inbox", message(1, "first"), flags={"\\Seen"})
    actions.deliver_bytes(alice, "Inbox", message(2, "second"), flags={"\\Flagged"})
    actions.deliver_bytes(alice, "Inbox", message(3, "third"))
    actions.deliver_bytes(alice, "Inbox", message(4, "fourth"), flags={"\\Seen", "\\Answered"})
    actions.deliver_bytes(alice, "Inbox", message(7, "expunged on the server later"))
    sync = Mbsync(tmp_path, imaps.port, tls_files.ca_path, "INBOX")
    trace = sync.run()
    # Cyrus SASL picks the strongest mechanism we offer that it can do without binding.
    assert "AUTHENTICATE SCRAM-SHA-256" in trace

    local = sync.maildir("INBOX")
    assert {k: v[0] for k, v in local.items()} == {
        "1@remote.test": "S", "2@remote.test": "F", "3@remote.test": "", "4@remote.test": "RS", "7@remote.test": "",
    }
    # The pulled bytes are the stored bytes, with LF line ends and the X-TUID header
    # mbsync adds to messages it stores in a Maildir (to find them again by content).
    assert strip_tuid(local["3@remote.test"][1]) == message(3, "third").replace(b"\r\n", b"\n")

    # Local changes: unflag 2 and mark it seen, mark 3 answered, delete 4, add a new one.
    p2 = sync.path_of("INBOX", "2@remote.test")
    p2.rename(p2.with_name(p2.name.split(":2,")[0] + ":2,S"))
    p3 = sync.path_of("INBOX", "3@remote.test")
    p3.rename(p3.with_name(p3.name.split(":2,")[0] + ":2,R"))
    sync.path_of("INBOX", "4@remote.test").unlink()
    new = message(5, "written locally").replace(b"\r\n", b"\n")
    (tmp_path / "mail" / "INBOX" / "cur" / "1700000000.local5.host:2,DS").write_bytes(new)
    # Meanwhile on the server: message 1 flagged, message 7 expunged, a new delivery.
    inbox = Mailbox.objects.get(account=alice, name="Inbox")
    actions.set_flags(alice.pk, inbox.pk, [1], "add", ["\\Flagged"])
    actions.set_flags(alice.pk, inbox.pk, [5], "add", ["\\Deleted"])
    actions.expunge(alice.pk, inbox.pk, [5])
    actions.deliver_bytes(alice, "Inbox", message(6, "delivered meanwhile"))
    sync.run()

    state = server_state(alice, "Inbox")
    assert {k: v[0] for k, v in state.items()} == {
        "1@remote.test": ["\\Seen", "\\Flagged"],
        "2@remote.test": ["\\Seen"],
        "3@remote.test": ["\\Answered"],
        "5@remote.test": ["\\Seen", "\\Draft"],
        "6@remote.test": [],
    }
    # The appended bytes are exactly what mbsync sent: the local file with CRLF line
    # ends and the X-TUID header it stamps on every message it copies.
    assert strip_tuid(state["5@remote.test"][1]) == message(5, "written locally")
    assert _uids(alice, "Inbox") == [1, 2, 3, 6, 7]
    inbox.refresh_from_db()
    assert inbox.uidnext == 8
    assert {k: v[0] for k, v in sync.maildir("INBOX").items()} == {
        "1@remote.test": "FS", "2@remote.test": "S", "3@remote.test": "R", "5@remote.test": "DS",
        "6@remote.test": "",
    }

    # A third sync with no changes on either side changes nothing.
    before = server_state(alice, "Inbox")
    sync.run()
    assert server_state(alice, "Inbox") == before
    assert set(sync.maildir("INBOX")) == {"1@remote.test", "2@remote.test", "3@remote.test", "5@remote.test",
                                          "6@remote.test"}


@pytest.fixture
def imap_starttls(loop_thread, alice, tls_files):  # type: ignore[no-untyped-def]
    server, address = start_imap(loop_thread, tls=tls_files.server_context(), localserve=False)
    yield address
    stop_imap(loop_thread, server)


def test_it_syncs_every_mailbox_with_patterns_star(imap_starttls, alice, tls_files, tmp_path):
    actions.create_mailbox(alice, "Lists/dev")
    actions.create_mailbox(alice, "Entwürfe")
    actions.deliver_bytes(alice, "Entwürfe", message(7, "umlaut"))
    actions.deliver_bytes(alice, "Inbox", message(1, "in inbox"))
    actions.deliver_bytes(alice, "Archive", message(2, "archived"), flags={"\\Seen"})
    actions.deliver_bytes(alice, "Lists/dev", message(3, "list mail"))
    sync = Mbsync(tmp_path, imap_starttls.port, tls_files.ca_path, "*", ssl_type="STARTTLS")
    sync.run()
    names = sorted(p.name for p in (tmp_path / "mail").iterdir())
    # isync 1.4 keeps modified UTF-7 names as they are on the wire.
    assert names == ["Archive", "Drafts", "Entw&APw-rfe", "INBOX", "Junk", "Lists", "Sent", "Trash"]
    assert set(sync.maildir("Entw&APw-rfe")) == {"7@remote.test"}
    assert sorted(p.name for p in (tmp_path / "mail" / "Lists").iterdir()) == [
        ".uidvalidity", "cur", "dev", "new", "tmp"
    ]
    assert set(sync.maildir("Lists/dev")) == {"3@remote.test"}
    assert {k: v[0] for k, v in sync.maildir("Archive").items()} == {"2@remote.test": "S"}

    # A local mailbox is created on the server; a local message in it is uploaded.
    local_box = tmp_path / "mail" / "Projects" / "moxweb"
    for sub in ("cur", "new", "tmp"):
        (local_box / sub).mkdir(parents=True)
    (local_box / "cur" / "1700000000.local6.host:2,F").write_bytes(message(6, "project").replace(b"\r\n", b"\n"))
    sync.path_of("Archive", "2@remote.test").unlink()
    sync.run()
    assert set(Mailbox.objects.filter(account=alice).values_list("name", flat=True)) >= {"Projects", "Projects/moxweb"}
    # mox's automatic junk flags: a mailbox outside the neutral/junk patterns is $NotJunk.
    assert {k: v[0] for k, v in server_state(alice, "Projects/moxweb").items()} == {
        "6@remote.test": ["\\Flagged", "$NotJunk"]
    }
    assert strip_tuid(server_state(alice, "Projects/moxweb")["6@remote.test"][1]) == message(6, "project")
    assert server_state(alice, "Archive") == {}
    assert set(server_state(alice, "Lists/dev")) == {"3@remote.test"}
