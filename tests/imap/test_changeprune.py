"""Pruning the change log (mailstore.changeprune) while keeping QRESYNC correct: a
client resynchronizing from before the oldest kept change gets every UID of its known
range that is gone (RFC 7162 section 3.2.5.2), where an unpruned log names only those
expunged since its modseq; a session that fell behind the pruned log rebuilds its view."""
from __future__ import annotations

import time
from io import StringIO

import pytest
from django.core.management import call_command
from hypothesis import given
from hypothesis import strategies as st

from imapserver import listener
from mailcore.imap.numset import compact
from mailstore import actions
from mailstore.changeprune import history_complete, prune_account, prune_all
from mailstore.models import Change, Mailbox, Message
from tests.fixtures_imap import MESSAGE, imap_db, start_imap, stop_imap

pytestmark = imap_db


def modseqs(account) -> list[int]:  # type: ignore[no-untyped-def]
    return list(Change.objects.filter(account=account).order_by("modseq").values_list("modseq", flat=True))


def delete(account, uids: list[int]) -> None:  # type: ignore[no-untyped-def]
    inbox = Mailbox.objects.get(account=account, name="Inbox")
    actions.set_flags(account.pk, inbox.pk, uids, "add", ["\\Deleted"])
    actions.expunge(account.pk, inbox.pk, uids)


def test_it_keeps_the_newest_rows_per_account(alice, bob):
    for _ in range(5):
        actions.deliver_bytes(alice, "Inbox", MESSAGE)
        actions.deliver_bytes(bob, "Inbox", MESSAGE)
    alice_all, bob_all = modseqs(alice), modseqs(bob)
    assert prune_account(alice.pk, keep=3) == len(alice_all) - 3
    assert modseqs(alice) == alice_all[-3:] and modseqs(bob) == bob_all
    assert prune_account(alice.pk, keep=3) == 0
    assert prune_all(keep=4) == len(bob_all) - 4
    assert modseqs(bob) == bob_all[-4:] and modseqs(alice) == alice_all[-3:]
    out = StringIO()
    call_command("prunechanges", "--keep", "1", "--account", "alice", stdout=out)
    assert out.getvalue() == "removed 2 change log rows, keeping 1 per account\n"
    assert modseqs(alice) == alice_all[-1:]
    # The log is complete after a modseq up to one before the oldest kept row.
    assert history_complete(alice.pk, alice_all[-1] - 1) and not history_complete(alice.pk, alice_all[-1] - 2)


def test_qresync_after_pruning_reports_every_missing_uid(raw, alice):
    for _ in range(6):
        actions.deliver_bytes(alice, "Inbox", MESSAGE)
    delete(alice, [1])
    inbox = Mailbox.objects.get(account=alice, name="Inbox")
    known = inbox.highest_modseq  # the client has seen uid 1 go
    delete(alice, [2, 5])
    actions.set_flags(alice.pk, inbox.pk, [3], "add", ["\\Seen"])
    m3 = Message.objects.get(mailbox=inbox, uid=3)
    raw.login()
    assert raw.cmd("a1 ENABLE QRESYNC") == ["* ENABLED QRESYNC", "a1 OK ENABLE done"]
    # The whole log: exactly what was expunged since the client's modseq.
    lines = raw.cmd(f"a2 SELECT Inbox (QRESYNC ({inbox.uidvalidity} {known} 1:6))")
    assert lines[-3:] == ["* VANISHED (EARLIER) 2,5", f"* 1 FETCH (UID 3 FLAGS (\\Seen) MODSEQ ({m3.modseq}))",
                          "a2 OK [READ-WRITE] x"]
    raw.cmd("a3 UNSELECT")
    prune_account(alice.pk, keep=1)
    assert not history_complete(alice.pk, known)
    # Pruned: every UID of the known range not in the mailbox, 1 included.
    lines = raw.cmd(f"a4 SELECT Inbox (QRESYNC ({inbox.uidvalidity} {known} 1:6))")
    assert lines[-3:] == ["* VANISHED (EARLIER) 1:2,5", f"* 1 FETCH (UID 3 FLAGS (\\Seen) MODSEQ ({m3.modseq}))",
                          "a4 OK [READ-WRITE] x"]
    # Without known UIDs: up to the highest UID the mailbox has used.
    lines = raw.cmd(f"a5 SELECT Inbox (QRESYNC ({inbox.uidvalidity} {known}))")
    assert lines[-3] == "* VANISHED (EARLIER) 1:2,5"
    assert raw.cmd(f"a6 UID FETCH 3:* (FLAGS) (CHANGEDSINCE {known} VANISHED)") == [
        "* VANISHED (EARLIER) 5",
        f"* 1 FETCH (UID 3 FLAGS (\\Seen) MODSEQ ({m3.modseq}))",
        "a6 OK UID FETCH done",
    ]


def test_a_session_behind_the_pruned_log_rebuilds_its_view(raw, alice):
    for _ in range(4):
        actions.deliver_bytes(alice, "Inbox", MESSAGE)
    raw.login()
    assert raw.cmd("a1 SELECT Inbox")[-1] == "a1 OK [READ-WRITE] x"
    # Meanwhile elsewhere: two expunged, one flagged, two delivered, the log pruned.
    delete(alice, [1, 3])
    inbox = Mailbox.objects.get(account=alice, name="Inbox")
    actions.set_flags(alice.pk, inbox.pk, [4], "add", ["\\Flagged"])
    actions.deliver_bytes(alice, "Inbox", MESSAGE)
    actions.deliver_bytes(alice, "Inbox", MESSAGE)
    prune_account(alice.pk, keep=1)
    assert raw.cmd("a2 NOOP") == [
        "* 3 EXPUNGE", "* 1 EXPUNGE", "* 4 EXISTS", "* 2 FETCH (UID 4 FLAGS (\\Flagged))", "a2 OK NOOP done",
    ]
    assert raw.cmd("a3 UID SEARCH ALL") == ["* SEARCH 2 4 5 6", "a3 OK UID SEARCH done"]
    # From here on the log is replayed as usual.
    delete(alice, [5])
    assert raw.cmd("a4 NOOP") == ["* 3 EXPUNGE", "a4 OK NOOP done"]


@pytest.fixture
def quick_housekeeping(monkeypatch, settings):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(listener, "HOUSEKEEPING_INTERVAL", 0.1)
    settings.MOX_CHANGE_LOG_KEEP = 2


def test_the_imap_listener_prunes_periodically(quick_housekeeping, loop_thread, alice):
    for _ in range(5):
        actions.deliver_bytes(alice, "Inbox", MESSAGE)
    newest = modseqs(alice)[-2:]
    server, _ = start_imap(loop_thread)
    try:
        deadline = time.monotonic() + 20  # a hang guard on a loaded machine
        while modseqs(alice) != newest and time.monotonic() < deadline:
            time.sleep(0.05)
        assert modseqs(alice) == newest
    finally:
        stop_imap(loop_thread, server)


def test_the_command_refuses_bad_arguments(db):  # type: ignore[no-untyped-def]
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--keep must be at least 1"):
        call_command("prunechanges", "--keep", "0")
    with pytest.raises(CommandError, match="no account 'nobody'"):
        call_command("prunechanges", "--account", "nobody")


@given(st.sets(st.integers(1, 40)), st.sets(st.integers(1, 40)), st.lists(st.tuples(st.integers(1, 45),
       st.integers(1, 45)), max_size=3), st.integers(0, 45))
def test_vanished_ranges_match_a_brute_force_count(present, expunged, known_ranges, upto) -> None:  # type: ignore[no-untyped-def]
    from mailcore.imap.numset import NumSet, vanished

    known = NumSet(tuple(known_ranges)) if known_ranges else None
    in_known = (lambda n: known.contains(n, upto)) if known is not None else (lambda n: True)  # noqa: E731
    present_sorted = sorted(present)
    # Pruned history: every UID up to `upto` in the known set that is not present.
    got = vanished(None, present_sorted, known, upto)
    want = [n for n in range(1, upto + 1) if n not in present and in_known(n)]
    assert got == compact(want)
    # Whole history: the expunged UIDs in the known set that are not present.
    largest = max(upto, max(expunged, default=0))
    in_known = (lambda n: known.contains(n, largest)) if known is not None else (lambda n: True)  # noqa: E731
    assert vanished(sorted(expunged), present_sorted, known, upto) == compact(
        n for n in expunged if n not in present and in_known(n)
    )
