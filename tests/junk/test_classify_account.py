"""Classifying messages for an account after training its messages."""
from __future__ import annotations

import pytest

from mailstore.actions import deliver_bytes
from mailstore.junk import JunkFilterDisabled, classify, retrain_for_flags

HAMS = [
    "Subject: Minutes of the planning meeting\r\n\r\nHi team, attached are the minutes of Tuesday's planning "
    "meeting. Please review the action items before the next sprint.\r\n",
    "Subject: Lunch on Friday?\r\n\r\nShall we have lunch on Friday with the project group? The Italian place "
    "near the office has a table for six.\r\n",
    "Subject: Re: quarterly report draft\r\n\r\nThanks, I read the draft of the quarterly report. The section "
    "about the budget needs the figures from finance.\r\n",
    "Subject: Code review request\r\n\r\nCould you review my change to the parser before Thursday? The tests "
    "pass and the documentation is updated.\r\n",
    "Subject: Holiday schedule\r\n\r\nReminder: the office is closed next Monday. The team calendar shows who "
    "covers support during the holiday.\r\n",
    "Subject: Meeting notes and next steps\r\n\r\nNotes from the customer meeting are in the shared folder. Next "
    "steps: update the project plan and schedule a review.\r\n",
]
SPAMS = [
    "Subject: You are a WINNER!!!\r\n\r\nCongratulations winner! Claim your cash prize now, click here to "
    "claim your free money today. Limited offer!\r\n",
    "Subject: Cheap pills online\r\n\r\nBuy cheap pills online without prescription. Best price guaranteed, "
    "discreet shipping, order now!\r\n",
    "Subject: Free casino bonus\r\n\r\nGet your free casino bonus now! Play and win big money, claim the bonus "
    "today, click here.\r\n",
    "Subject: Urgent: claim your prize\r\n\r\nDear winner, your prize money is waiting. Click here and send "
    "your bank details to claim the cash now.\r\n",
    "Subject: Lose weight fast\r\n\r\nAmazing pills make you lose weight fast! Order now at the best price, "
    "free shipping, limited offer, click here.\r\n",
    "Subject: Make money from home\r\n\r\nMake easy money from home, free signup! Earn cash today, click here "
    "now to claim your bonus.\r\n",
]


def train_corpus(account) -> None:  # type: ignore[no-untyped-def]
    for text in HAMS:
        retrain_for_flags(deliver_bytes(account, "Archive", text.encode(), flags={"$NotJunk"}))
    for text in SPAMS:
        retrain_for_flags(deliver_bytes(account, "Junk", text.encode(), flags={"$Junk"}))


def test_it_classifies_a_spammy_message_as_junk_after_training(alice) -> None:  # type: ignore[no-untyped-def]
    train_corpus(alice)
    spammy = b"Subject: Claim your free prize\r\n\r\nWinner! Click here now to claim free cash and money.\r\n"
    result = classify(alice, spammy)
    assert result.is_junk
    assert result.probability > 0.999
    assert [w for w, _ in result.significant][:3] == ["claim", "click", "money"]

    hammy = b"Subject: Project meeting\r\n\r\nCan we review the project plan at the team meeting on Tuesday?\r\n"
    result = classify(alice, hammy)
    assert not result.is_junk
    assert result.probability < 0.001


def test_it_computes_the_probability_by_hand_for_a_tiny_training_set(alice) -> None:  # type: ignore[no-untyped-def]
    # The same training as tests/junk/test_classify.py, through messages and the database.
    for words in ("meeting lunch project", "meeting project report"):
        retrain_for_flags(deliver_bytes(alice, "Archive", f"\r\n{words}\r\n".encode(), flags={"$NotJunk"}))
    for words in ("cheap pills lunch", "cheap pills winner", "cheap winner prize"):
        retrain_for_flags(deliver_bytes(alice, "Junk", f"\r\n{words}\r\n".encode(), flags={"$Junk"}))
    result = classify(alice, b"\r\ncheap meeting report lunch unknownword\r\n")
    assert result.probability == pytest.approx(1 / (1 + (0.01 / 0.99) * (0.941 / 0.059) * (0.892 / 0.108)), rel=1e-12)
    assert [w for w, _ in result.significant] == ["cheap", "meeting", "report"]
    assert not result.is_junk


def test_it_uses_the_account_threshold_and_a_callers_override(alice) -> None:  # type: ignore[no-untyped-def]
    train_corpus(alice)
    message = b"Subject: bonus\r\n\r\nclaim your bonus\r\n"
    result = classify(alice, message)
    assert result.is_junk
    alice.junk_filter = {**alice.junk_filter, "threshold": result.probability}
    assert not classify(alice, message).is_junk
    assert classify(alice, message, threshold=0.5).is_junk


def test_it_takes_a_bad_content_type_for_junk(alice) -> None:  # type: ignore[no-untyped-def]
    result = classify(alice, b"Content-Type: text/plain(\r\n\r\nhello\r\n")
    assert (result.probability, result.is_junk, result.significant, result.bad_content_type) == (1.0, True, (), True)


def test_it_gives_one_half_before_any_training(alice) -> None:  # type: ignore[no-untyped-def]
    result = classify(alice, b"\xff\xfe\r\n\r\n\x80 invalid utf-8 --boundary\r\n")
    assert (result.probability, result.is_junk, result.significant) == (0.5, False, ())


def test_it_needs_a_junk_filter(alice) -> None:  # type: ignore[no-untyped-def]
    alice.junk_filter = {}
    with pytest.raises(JunkFilterDisabled):
        classify(alice, b"\r\nhello\r\n")


def test_it_classifies_a_big_message_in_one_query_per_500_words(alice, django_assert_max_num_queries) -> None:  # type: ignore[no-untyped-def]
    train_corpus(alice)
    body = " ".join(f"word{a}{b}{c}" for a in "abcdefghij" for b in "klmnopqrst" for c in "uvwxyz")
    with django_assert_max_num_queries(2):
        result = classify(alice, f"Subject: claim bonus\r\n\r\n{body} click here\r\n".encode())
    assert result.is_junk
