"""THREAD (RFC 5256): base subjects, ORDEREDSUBJECT, REFERENCES, thread-list syntax."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from mailcore.imap.thread import Node, ThreadMessage, base_subject, format_threads
from mailstore.actions import deliver_bytes
from tests.fixtures_imap import imap_db


def test_it_computes_base_subjects():
    assert base_subject("Re: [list] Fwd: Hello   World (fwd)") == "hello world"
    assert base_subject("[Fwd: re: x]") == "x"
    # A leader is removed even when nothing is left (only a blob must leave something).
    assert base_subject("RE:") == ""
    assert base_subject("[list]") == "[list]"
    assert base_subject("[a] [b] Re[2]: x") == "x"


def test_it_formats_thread_lists():
    t = datetime(2024, 1, 1, tzinfo=timezone.utc)

    def n(num: int, *children: Node) -> Node:
        return Node(ThreadMessage(num, "", t), list(children))

    assert format_threads([n(1), n(2, n(3, n(4))), n(5, n(6), n(7, n(8)))]) == "(1)(2 3 4)(5 (6)(7 8))"


def message(subject: str, day: int, msgid: str, refs: str = "") -> bytes:
    date = (datetime(2024, 1, 1, tzinfo=timezone.utc) + timedelta(days=day)).strftime("%a, %d %b %Y %H:%M:%S +0000")
    extra = f"References: {refs}\r\n" if refs else ""
    return f"Subject: {subject}\r\nDate: {date}\r\nMessage-ID: {msgid}\r\n{extra}\r\nx\r\n".encode()


@imap_db
def test_it_threads_by_subject_and_by_references(raw_alice, alice):
    deliver_bytes(alice, "Inbox", message("Plans", 3, "<a@x>"))
    deliver_bytes(alice, "Inbox", message("Other", 1, "<b@x>"))
    deliver_bytes(alice, "Inbox", message("Re: plans", 4, "<c@x>", "<a@x>"))
    deliver_bytes(alice, "Inbox", message("Re: Re: Plans", 5, "<d@x>", "<a@x> <c@x>"))
    deliver_bytes(alice, "Inbox", message("Changed subject", 6, "<e@x>", "<a@x>"))
    raw_alice.cmd("a0 SELECT Inbox")
    assert raw_alice.cmd("a1 THREAD ORDEREDSUBJECT UTF-8 ALL") == [
        "* THREAD (2)(1 (3)(4))(5)", "a1 OK THREAD done"
    ]
    assert raw_alice.cmd("a2 UID THREAD REFERENCES UTF-8 ALL") == [
        "* THREAD (2)(1 (3 4)(5))", "a2 OK UID THREAD done"
    ]
    assert raw_alice.cmd("a3 THREAD REFERENCES UTF-8 SUBJECT nothing") == ["* THREAD", "a3 OK THREAD done"]
