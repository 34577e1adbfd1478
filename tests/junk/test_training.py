"""Training and untraining messages in the database, exactly once per flag change."""
from __future__ import annotations

import pytest

from mailstore.actions import deliver_bytes
from mailstore.junk import retrain_account, retrain_for_flags, train, untrain
from mailstore.models import JunkWord, Message

HAM = b"Subject: project lunch\r\n\r\nmeeting about the project\r\n"
SPAM = b"Subject: cheap pills\r\n\r\ncheap pills winner\r\n"


def counts(account) -> dict[str, tuple[int, int]]:  # type: ignore[no-untyped-def]
    return {w: (h, s) for w, h, s in JunkWord.objects.filter(account=account).values_list("word", "ham", "spam")}


def state(message: Message) -> bool | None:
    return Message.objects.get(pk=message.pk).trained_junk


def set_flags(message: Message, *, junk: bool, notjunk: bool) -> None:
    # As the IMAP STORE verb will: write the flags, then retrain.
    Message.objects.filter(pk=message.pk).update(junk=junk, notjunk=notjunk)
    retrain_for_flags(message)


SPAM_COUNTS = {
    "-": (0, 1),
    "Subject:cheap": (0, 1),
    "Subject:pills": (0, 1),
    "cheap": (0, 1),
    "pills": (0, 1),
    "winner": (0, 1),
}
HAM_COUNTS = {
    "-": (1, 0),
    "Subject:project": (1, 0),
    "Subject:lunch": (1, 0),
    "meeting": (1, 0),
    "about": (1, 0),
    "the": (1, 0),
    "project": (1, 0),
}


def test_it_trains_a_message_once(alice) -> None:  # type: ignore[no-untyped-def]
    m = deliver_bytes(alice, "Inbox", SPAM)
    train(alice, m, True)
    assert counts(alice) == SPAM_COUNTS
    assert state(m) is True
    train(alice, m, True)
    assert counts(alice) == SPAM_COUNTS


def test_it_untrains_the_old_training_when_trained_the_other_way(alice) -> None:  # type: ignore[no-untyped-def]
    m = deliver_bytes(alice, "Inbox", SPAM)
    train(alice, m, True)
    train(alice, m, False)
    assert counts(alice) == {w: (s, h) for w, (h, s) in SPAM_COUNTS.items()}
    assert state(m) is False
    untrain(alice, m)
    assert counts(alice) == {"-": (0, 0)}
    assert state(m) is None
    untrain(alice, m)
    assert counts(alice) == {"-": (0, 0)}


def test_it_follows_flag_changes_exactly_once(alice) -> None:  # type: ignore[no-untyped-def]
    spam = deliver_bytes(alice, "Inbox", SPAM, flags={"$Junk"})
    ham = deliver_bytes(alice, "Inbox", HAM)
    retrain_for_flags(spam)
    retrain_for_flags(spam)
    retrain_for_flags(ham)  # no flags: nothing to train
    assert counts(alice) == SPAM_COUNTS
    assert (state(spam), state(ham), spam.trained_junk) == (True, None, True)

    set_flags(ham, junk=False, notjunk=True)
    set_flags(ham, junk=False, notjunk=True)
    both = {w: (HAM_COUNTS.get(w, (0, 0))[0], SPAM_COUNTS.get(w, (0, 0))[1]) for w in {*HAM_COUNTS, *SPAM_COUNTS}}
    both["-"] = (1, 1)
    assert counts(alice) == both

    # $Junk -> $NotJunk: untrain as junk, train as ham.
    set_flags(spam, junk=False, notjunk=True)
    assert counts(alice)["-"] == (2, 0)
    assert counts(alice)["cheap"] == (1, 0)
    assert counts(alice)["project"] == (1, 0)
    assert state(spam) is False

    # Both flags: trained as neither. Neither flag: untrained.
    set_flags(spam, junk=True, notjunk=True)
    assert counts(alice) == HAM_COUNTS
    set_flags(ham, junk=False, notjunk=False)
    assert counts(alice) == {"-": (0, 0)}
    assert (state(spam), state(ham)) == (None, None)


def test_it_trusts_the_stored_state_over_a_stale_object(alice) -> None:  # type: ignore[no-untyped-def]
    m = deliver_bytes(alice, "Inbox", SPAM, flags={"$Junk"})
    stale = Message.objects.get(pk=m.pk)
    retrain_for_flags(m)
    retrain_for_flags(stale)  # still says untrained, but the database knows better
    assert counts(alice) == SPAM_COUNTS


def test_it_keeps_accounts_apart(alice, bob) -> None:  # type: ignore[no-untyped-def]
    train(alice, deliver_bytes(alice, "Inbox", SPAM), True)
    train(bob, deliver_bytes(bob, "Inbox", HAM), False)
    assert counts(alice) == SPAM_COUNTS
    assert counts(bob) == HAM_COUNTS


def test_it_trains_a_large_message_in_a_few_queries(alice, django_assert_max_num_queries) -> None:  # type: ignore[no-untyped-def]
    body = " ".join(f"word{a}{b}{c}" for a in "abcdefghij" for b in "klmnopqrst" for c in "uvwxyz")
    m = deliver_bytes(alice, "Inbox", f"Subject: many words\r\n\r\n{body}\r\n".encode(), flags={"$Junk"})
    with django_assert_max_num_queries(16):
        retrain_for_flags(m)
    assert len(counts(alice)) == 600 + 2 + 1
    with django_assert_max_num_queries(16):
        set_flags(m, junk=False, notjunk=True)
    assert counts(alice)["wordaku"] == (1, 0)
    with django_assert_max_num_queries(1):
        retrain_for_flags(m)


def test_it_does_nothing_without_a_junk_filter(alice) -> None:  # type: ignore[no-untyped-def]
    alice.junk_filter = {}
    alice.save()
    m = deliver_bytes(alice, "Inbox", SPAM, flags={"$Junk"})
    m.account = alice
    retrain_for_flags(m)
    assert counts(alice) == {}
    assert state(m) is None


def test_it_rebuilds_counts_from_flags(alice) -> None:  # type: ignore[no-untyped-def]
    spam = deliver_bytes(alice, "Junk", SPAM, flags={"$Junk"})
    ham = deliver_bytes(alice, "Archive", HAM, flags={"$NotJunk"})
    neither = deliver_bytes(alice, "Inbox", b"Subject: ignored\r\n\r\nnot trained\r\n")
    both = deliver_bytes(alice, "Inbox", b"Subject: ignored\r\n\r\nnot trained\r\n", flags={"$Junk", "$NotJunk"})
    # Counts and states gone wrong: the rebuild takes only the flags into account.
    JunkWord.objects.create(account=alice, word="stale", ham=7, spam=3)
    Message.objects.filter(pk__in=[neither.pk, both.pk]).update(trained_junk=True)
    calls: list[tuple[int, int]] = []
    result = retrain_account(alice, progress=lambda done, total: calls.append((done, total)))
    assert (result.messages, result.junk, result.ham, result.words) == (2, 1, 1, 11)
    assert calls == [(0, 2), (1, 2), (2, 2)]
    expected = {w: (HAM_COUNTS.get(w, (0, 0))[0], SPAM_COUNTS.get(w, (0, 0))[1]) for w in {*HAM_COUNTS, *SPAM_COUNTS}}
    expected["-"] = (1, 1)
    assert counts(alice) == expected
    assert [state(m) for m in (spam, ham, neither, both)] == [True, False, None, None]
    # Afterwards flag changes continue from the rebuilt state, still exactly once.
    retrain_for_flags(spam)
    set_flags(spam, junk=False, notjunk=False)
    assert counts(alice) == HAM_COUNTS


def test_it_refuses_to_retrain_without_a_junk_filter(alice) -> None:  # type: ignore[no-untyped-def]
    from mailstore.junk import JunkFilterDisabled

    alice.junk_filter = {}
    with pytest.raises(JunkFilterDisabled):
        retrain_account(alice)


def test_it_leaves_a_message_whose_file_is_gone_untrained(alice) -> None:  # type: ignore[no-untyped-def]
    from mailstore import files

    gone = deliver_bytes(alice, "Junk", SPAM, flags={"$Junk"})
    files.remove_files([gone.path])
    retrain_for_flags(gone)
    assert (state(gone), counts(alice)) == (None, {"-": (0, 0)})
    ham = deliver_bytes(alice, "Archive", HAM, flags={"$NotJunk"})
    result = retrain_account(alice)
    assert (result.messages, result.ham, result.junk) == (1, 1, 0)
    assert counts(alice) == HAM_COUNTS
    assert (state(gone), state(ham)) == (None, False)


def test_it_counts_word_pairs_when_the_account_asks(alice) -> None:  # type: ignore[no-untyped-def]
    alice.junk_filter = {**alice.junk_filter, "onegrams": False, "twograms": True}
    alice.save()
    m = deliver_bytes(alice, "Junk", SPAM, flags={"$Junk"})
    m.account = alice
    retrain_for_flags(m)
    assert counts(alice) == {
        "-": (0, 1),
        "Subject:cheap pills": (0, 1),
        "cheap pills": (0, 1),
        "pills winner": (0, 1),
    }


def test_it_retrains_many_messages_looking_up_their_states_at_once(alice, django_assert_max_num_queries) -> None:  # type: ignore[no-untyped-def]
    from mailstore.junk import retrain_messages

    spam = deliver_bytes(alice, "Junk", SPAM, flags={"$Junk"})
    ham = deliver_bytes(alice, "Archive", HAM, flags={"$NotJunk"})
    plain = [deliver_bytes(alice, "Inbox", HAM) for _ in range(3)]
    messages = list(Message.objects.filter(account=alice).select_related("account").order_by("pk"))
    assert retrain_messages(messages) == 2
    assert counts(alice)["-"] == (1, 1)
    assert [m.trained_junk for m in messages] == [True, False, None, None, None]
    with django_assert_max_num_queries(1):
        assert retrain_messages(messages) == 0
    assert [state(m) for m in (spam, ham, *plain)] == [True, False, None, None, None]


def test_a_store_on_many_messages_trains_as_one_by_one_in_one_batch(alice, bob, django_assert_max_num_queries) -> None:  # type: ignore[no-untyped-def]
    from mailstore import files
    from mailstore.junk import retrain_messages

    bodies = [SPAM, HAM, b"Subject: cheap lunch\r\n\r\nthe winner of the project\r\n", HAM, SPAM, b"Subject: x\r\n\r\ngone\r\n"]
    flags = [{"$Junk"}, {"$NotJunk"}, set(), {"$Junk"}, {"$NotJunk"}, set()]
    per_account = {}
    for account in (alice, bob):
        msgs = [deliver_bytes(account, "Inbox", b, flags=f) for b, f in zip(bodies, flags)]
        for m in msgs:
            m.account = account
            retrain_for_flags(m)
        assert [state(m) for m in msgs] == [True, False, None, True, False, None]
        files.remove_files([msgs[-1].path])
        # Then flags change: junk <-> ham, untrained -> junk, a file gone -> junk.
        new_flags = [(False, True), (True, False), (True, False), (False, False), (True, True), (True, False)]
        for m, (junk, notjunk) in zip(msgs, new_flags):
            Message.objects.filter(pk=m.pk).update(junk=junk, notjunk=notjunk)
        per_account[account.pk] = list(Message.objects.filter(pk__in=[m.pk for m in msgs]).select_related("account").order_by("pk"))
    # One by one this took about ten queries a message.
    with django_assert_max_num_queries(16):
        assert retrain_messages(per_account[alice.pk]) == 6
    for m in per_account[bob.pk]:
        retrain_for_flags(m)
    assert counts(alice) == counts(bob)
    assert counts(alice)["-"] == (1, 2)
    assert [state(m) for m in per_account[alice.pk]] == [False, True, True, None, None, None]
    assert [state(m) for m in per_account[bob.pk]] == [False, True, True, None, None, None]
