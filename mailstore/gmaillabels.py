"""Google Takeout mbox: the `X-Gmail-Labels` header of each message says where it was
in Gmail. Labels are not folders (a message may carry several); on import each message
goes to one mailbox, chosen by the most specific label:

    Trash -> Trash, Spam -> Junk, Drafts -> Drafts, Inbox -> Inbox, Sent -> Sent,
    else the first label of the user's own ("Work/Projects" nests), else Archive
    (Gmail's "All Mail" without a label).

Gmail's own markers are not mailboxes: "Opened" and "Unread" say whether the message
was read (\\Seen), "Starred" is \\Flagged; "Important", "Archived" and the "Category
..." tabs are dropped.
# todo: a second label of the user's own is not kept (no copy, no keyword).
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from email.header import decode_header, make_header

HEADER = b"x-gmail-labels:"

# Labels in the order they win, with the mailbox each files the message into.
_FOLDER_LABELS: list[tuple[str, str]] = [
    ("trash", "Trash"),
    ("spam", "Junk"),
    ("drafts", "Drafts"),
    ("draft", "Drafts"),
    ("inbox", "Inbox"),
    ("sent", "Sent"),
]
_MARKERS = {"opened", "unread", "starred", "important", "archived"}


@dataclass(frozen=True)
class Filing:
    mailbox: str
    # True: read, False: unread, None: the labels do not say (the mbox headers may).
    seen: bool | None
    flagged: bool


def parse_labels(raw: bytes) -> list[str]:
    """The labels of a header value: comma-separated, quoted when a label holds a
    comma, RFC 2047 encoded words for non-ASCII names."""
    text = raw.decode("utf-8", "replace").replace("\r", "").replace("\n", "")
    try:
        text = str(make_header(decode_header(text)))
    except (ValueError, LookupError):
        pass
    row = next(csv.reader([text], skipinitialspace=True), [])
    return [label.strip() for label in row if label.strip()]


def filing(labels: list[str]) -> Filing:
    lowered = [label.lower() for label in labels]
    seen = False if "unread" in lowered else True if "opened" in lowered else None
    flagged = "starred" in lowered
    for label, mailbox in _FOLDER_LABELS:
        if label in lowered:
            return Filing(mailbox, seen, flagged)
    for label, low in zip(labels, lowered):
        if low in _MARKERS or low.startswith("category "):
            continue
        return Filing(label, seen, flagged)
    return Filing("Archive", seen, flagged)
