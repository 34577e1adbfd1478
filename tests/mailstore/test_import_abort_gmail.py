"""The import engine: stopping an import between messages, and Google Takeout mbox
files filed by their X-Gmail-Labels."""
from __future__ import annotations

import pytest

from mailstore import files
from mailstore.gmaillabels import filing, parse_labels
from mailstore.importexport import import_mailboxes
from mailstore.models import Message
from tests.commands.helpers import stored

pytestmark = pytest.mark.django_db


def mbox(n: int) -> bytes:
    return b"".join(
        b"From sender@example.org Mon Jan  1 00:00:00 2024\n" + f"Subject: m{i}\n\nbody {i}\n\n".encode() for i in range(n)
    )


def test_it_stops_before_the_next_message_and_leaves_no_temporary_file(alice, tmp_path):
    path = tmp_path / "in.mbox"
    path.write_bytes(mbox(10))
    asked = []
    before = set(files.tmp_dir().iterdir())

    def should_stop() -> bool:
        asked.append(1)
        return len(asked) > 3

    result = import_mailboxes(alice, "mbox", "Old", path, should_stop=should_stop)
    assert (result.aborted, result.counts, result.total) == (True, {"Old": 3}, 3)
    assert stored(alice, "Old") == [(f"Subject: m{i}\r\n\r\nbody {i}\r\n".encode(), []) for i in range(3)]
    assert set(files.tmp_dir().iterdir()) == before


def test_an_import_not_stopped_is_not_aborted(alice, tmp_path):
    path = tmp_path / "in.mbox"
    path.write_bytes(mbox(2))
    result = import_mailboxes(alice, "mbox", "Old", path, should_stop=lambda: False)
    assert (result.aborted, result.counts) == (False, {"Old": 2})


TAKEOUT = (
    b"From 1780000000000000001@xxx Mon Jan 01 00:00:00 +0000 2024\n"
    b"X-GM-THRID: 1780000000000000001\n"
    b"X-Gmail-Labels: Inbox,Opened,Category Personal\n"
    b"Subject: in the inbox\n\nhello\n\n"
    b"From 2@xxx Mon Jan 01 00:00:01 +0000 2024\n"
    b"X-Gmail-Labels: Sent,Opened\n"
    b"Subject: sent\n\nhello\n\n"
    b"From 3@xxx Mon Jan 01 00:00:02 +0000 2024\n"
    b"X-Gmail-Labels: Spam,Unread\n"
    b"Subject: spam\n\nhello\n\n"
    b"From 4@xxx Mon Jan 01 00:00:03 +0000 2024\n"
    b"X-Gmail-Labels: Trash,Opened,Inbox\n"
    b"Subject: trashed\n\nhello\n\n"
    b"From 5@xxx Mon Jan 01 00:00:04 +0000 2024\n"
    b"X-Gmail-Labels: Important,Work/Projects,Unread,Starred\n"
    b"Subject: custom\n\nhello\n\n"
    b"From 6@xxx Mon Jan 01 00:00:05 +0000 2024\n"
    b"X-Gmail-Labels: Archived,Opened\n"
    b"Subject: archived\n\nhello\n\n"
    b"From 7@xxx Mon Jan 01 00:00:06 +0000 2024\n"
    b"X-Gmail-Labels: \"Clients, big\",\n =?UTF-8?Q?K=C3=A4se?=\n"
    b"Subject: folded\n\nhello\n\n"
)


def _boxes(account) -> dict[str, list[tuple[str, list[str]]]]:  # type: ignore[no-untyped-def]
    out: dict[str, list[tuple[str, list[str]]]] = {}
    for m in Message.objects.filter(account=account).select_related("mailbox").order_by("id"):
        out.setdefault(m.mailbox.name, []).append((m.subject, m.flag_list()))
    return out


def _import_takeout(account, tmp_path, data: bytes, mailbox: str = ""):  # type: ignore[no-untyped-def]
    path = tmp_path / "All mail Including Spam and Trash.mbox"
    path.write_bytes(data)
    return import_mailboxes(account, "mbox", mailbox, path)


def test_a_takeout_mbox_is_filed_by_label_at_the_top_level(alice, tmp_path):
    result = _import_takeout(alice, tmp_path, TAKEOUT)
    assert result.counts == {"Inbox": 1, "Sent": 1, "Junk": 1, "Trash": 1, "Work/Projects": 1, "Archive": 1,
                             "Clients, big": 1, "Käse": 1}
    assert _boxes(alice) == {
        "Inbox": [("in the inbox", ["\\Seen"])],
        "Sent": [("sent", ["\\Seen"])],
        "Junk": [("spam", [])],
        "Trash": [("trashed", ["\\Seen"])],
        "Work/Projects": [("custom", ["\\Flagged"])],
        "Archive": [("archived", ["\\Seen"])],
        "Clients, big": [("folded", [])],
        "Käse": [("folded", [])],  # its second label: a copy
    }
    # The bytes stay as they were, labels header included.
    first = Message.objects.get(account=alice, subject="in the inbox")
    assert files.read_message(first.path, bytes(first.prefix)) == (
        b"X-GM-THRID: 1780000000000000001\r\nX-Gmail-Labels: Inbox,Opened,Category Personal\r\n"
        b"Subject: in the inbox\r\n\r\nhello\r\n"
    )


def test_a_takeout_mbox_imported_into_a_mailbox_is_filed_under_it(alice, tmp_path):
    result = _import_takeout(alice, tmp_path, TAKEOUT, "Gmail")
    assert sorted(result.counts) == [
        "Gmail/Archive", "Gmail/Clients, big", "Gmail/Inbox", "Gmail/Junk", "Gmail/Käse", "Gmail/Sent", "Gmail/Trash",
        "Gmail/Work/Projects",
    ]


def test_label_values_are_parsed_quoted_and_encoded():
    assert parse_labels(b' "Clients, big",\r\n =?UTF-8?Q?K=C3=A4se?=\r\n') == ["Clients, big", "Käse"]
    assert parse_labels(b" Inbox, Opened \n") == ["Inbox", "Opened"]


@pytest.mark.parametrize(
    ("labels", "mailbox", "seen", "flagged"),
    [
        (["Inbox", "Sent"], "Inbox", None, False),
        (["Sent", "Work"], "Sent", None, False),
        (["Drafts", "Opened"], "Drafts", True, False),
        (["Category Updates", "Unread", "Starred"], "Archive", False, True),
        (["Chat"], "Chat", None, False),
        ([], "Archive", None, False),
    ],
)
def test_the_most_specific_label_wins(labels, mailbox, seen, flagged):
    f = filing(labels)
    assert (f.mailbox, f.seen, f.flagged) == (mailbox, seen, flagged)


LABELLED = (
    b"From 1@xxx Mon Jan 01 00:00:00 +0000 2024\n"
    b"X-Gmail-Labels: Inbox,Work,Opened,Family/Kids\n"
    b"Subject: three labels\n\nhello\n\n"
    b"From 2@xxx Mon Jan 01 00:00:01 +0000 2024\n"
    b"X-Gmail-Labels: Trash,Work\n"
    b"Subject: trashed\n\nhello\n\n"
    b"From 3@xxx Mon Jan 01 00:00:02 +0000 2024\n"
    b"X-Gmail-Labels: Work,Play,Work,Starred\n"
    b"Subject: own labels\n\nhello\n\n"
)


def test_each_further_label_of_the_users_own_gets_a_copy(alice, tmp_path):
    # As Gmail's IMAP shows a message in every folder of its labels; Trash keeps it alone.
    result = _import_takeout(alice, tmp_path, LABELLED)
    assert result.counts == {"Inbox": 1, "Work": 2, "Family/Kids": 1, "Trash": 1, "Play": 1}
    assert _boxes(alice) == {
        "Inbox": [("three labels", ["\\Seen"])],
        "Work": [("three labels", ["\\Seen"]), ("own labels", ["\\Flagged"])],
        "Family/Kids": [("three labels", ["\\Seen"])],
        "Trash": [("trashed", [])],
        "Play": [("own labels", ["\\Flagged"])],
    }
    copies = Message.objects.filter(account=alice, subject="three labels")
    assert {files.read_message(m.path, bytes(m.prefix)) for m in copies} == {
        b"X-Gmail-Labels: Inbox,Work,Opened,Family/Kids\r\nSubject: three labels\r\n\r\nhello\r\n"}
    assert filing(["Inbox", "Work", "Opened"]).copies == ("Work",)
    assert filing(["Spam", "Work"]).copies == ()
