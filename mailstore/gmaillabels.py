"""Google Takeout mbox: the `X-Gmail-Labels` header of each message says where it was
in Gmail. Labels are not folders (a message may carry several); on import each message
goes to the mailbox of the most specific label:

    Trash -> Trash, Spam -> Junk, Drafts -> Drafts, Inbox -> Inbox, Sent -> Sent,
    else the first label of the user's own ("Work/Projects" nests), else Archive
    (Gmail's "All Mail" without a label),

and a copy to each further label of the user's own, as Gmail's IMAP shows a message
in every folder of its labels; a message in Trash or Spam gets no copies (Gmail shows
it there only).

Gmail's own markers are not mailboxes: "Opened" and "Unread" say whether the message
was read (\\Seen), "Starred" is \\Flagged; "Important", "Archived" and the "Category
..." tabs are dropped.
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
    # Further labels of the user's own: a copy goes to each.
    copies: tuple[str, ...] = ()


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
    folders = {label for label, _ in _FOLDER_LABELS}
    own = [label for label, low in zip(labels, lowered)
           if low not in folders and low not in _MARKERS and not low.startswith("category ")]
    own = list(dict.fromkeys(own))  # a label named twice is one mailbox
    for label, mailbox in _FOLDER_LABELS:
        if label in lowered:
            return Filing(mailbox, seen, flagged, () if mailbox in ("Trash", "Junk") else tuple(own))
    if own:
        return Filing(own[0], seen, flagged, tuple(own[1:]))
    return Filing("Archive", seen, flagged)
