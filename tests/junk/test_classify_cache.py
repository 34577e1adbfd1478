"""The per-process cache of word counts that classification keeps: it gives exactly
what the database says, and training done through another connection (another
thread here, another process in production) is seen by the next classification."""
from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from mailcore.junk import classify_words
from mailstore import junk
from mailstore.actions import deliver_bytes
from mailstore.junk import DatabaseWordStore, classify, params_for, retrain_account, retrain_for_flags
from tests.junk.test_classify_account import train_corpus

MESSAGE = b"Subject: lunch and prize\r\n\r\nShall we meet for lunch? Claim the prize money at the meeting.\r\n"


def uncached(account, data: bytes) -> junk.Result:  # type: ignore[no-untyped-def]
    params = params_for(account)
    words = junk.tokenize(data, params).words
    return classify_words(words, DatabaseWordStore(account.pk, cache=False), params)


def in_other_connection(work: Callable[[], None]) -> None:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            connections.close_all()

    t = threading.Thread(target=run)
    t.start()
    t.join(timeout=60)
    assert errors == []


@pytest.fixture
def fresh_cache():  # type: ignore[no-untyped-def]
    junk.clear_cache()
    yield
    junk.clear_cache()


@pytest.mark.django_db(transaction=True)
def test_it_sees_training_done_through_another_connection(alice, fresh_cache) -> None:  # type: ignore[no-untyped-def]
    train_corpus(alice)
    before = classify(alice, MESSAGE)
    assert classify(alice, MESSAGE) == before == uncached(alice, MESSAGE)

    # Another connection trains the message itself as junk, three times over.
    def train_as_junk() -> None:
        for _ in range(3):
            retrain_for_flags(deliver_bytes(alice, "Junk", MESSAGE, flags={"$Junk"}))

    in_other_connection(train_as_junk)
    after = classify(alice, MESSAGE)
    assert after == uncached(alice, MESSAGE)
    assert after.probability > before.probability
    # "Subject:lunch" was a ham word (one ham message); now it is a junk word.
    assert dict(before.significant)["Subject:lunch"] < 0.5 < dict(after.significant)["Subject:lunch"]

    # A rebuild from the flags elsewhere is seen too.
    in_other_connection(lambda: retrain_account(alice))
    assert classify(alice, MESSAGE) == uncached(alice, MESSAGE)


@pytest.mark.django_db(transaction=True)
def test_a_known_message_costs_one_query_for_the_totals_alone(alice, fresh_cache) -> None:  # type: ignore[no-untyped-def]
    train_corpus(alice)
    first = classify(alice, MESSAGE)
    with CaptureQueriesContext(connection) as queries:
        again = classify(alice, MESSAGE)
    assert again == first
    assert len(queries) == 1
    # Only the totals row ("-") is asked for: every word is cached.
    assert queries[0]["sql"].endswith("IN ('-')")


@pytest.mark.django_db(transaction=True)
def test_it_does_not_cache_inside_a_transaction(alice, fresh_cache) -> None:  # type: ignore[no-untyped-def]
    train_corpus(alice)
    with transaction.atomic():
        expected = uncached(alice, MESSAGE)
        assert classify(alice, MESSAGE) == expected
    assert junk._cache == {}
    assert classify(alice, MESSAGE) == expected
    assert set(junk._cache) == {alice.pk}


@pytest.mark.django_db(transaction=True)
def test_a_message_with_more_words_than_one_query_takes_is_looked_up_in_chunks(alice, fresh_cache) -> None:  # type: ignore[no-untyped-def]
    train_corpus(alice)
    body = " ".join(f"word{a}{b}{c}" for a in "abcdefghij" for b in "klmnopqrst" for c in "uvwxyz")
    data = f"Subject: claim bonus\r\n\r\n{body} click here lunch\r\n".encode()
    with CaptureQueriesContext(connection) as queries:
        result = classify(alice, data)
    assert len(queries) == 2  # 605 words, at most 499 per query beside the totals row
    assert result == uncached(alice, data)
    assert result.is_junk


@pytest.mark.django_db(transaction=True)
def test_a_full_cache_starts_over_and_still_answers_exactly(alice, fresh_cache, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    train_corpus(alice)
    monkeypatch.setattr(junk, "CACHE_WORDS", 5)
    words = junk.tokenize(MESSAGE, params_for(alice)).words
    assert len(words) > 5
    first = classify(alice, MESSAGE)
    assert first == uncached(alice, MESSAGE)
    with CaptureQueriesContext(connection) as queries:
        assert classify(alice, MESSAGE) == first
    # The cache held more than 5 words: it started over and asked for them again.
    assert len(queries) == 2
    assert set(junk._cache[alice.pk].counts) == set(words)


@pytest.mark.django_db(transaction=True)
def test_cached_word_scores_follow_the_accounts_parameters(alice, fresh_cache) -> None:  # type: ignore[no-untyped-def]
    train_corpus(alice)
    first = classify(alice, MESSAGE)
    alice.junk_filter = {**alice.junk_filter, "rare_words": 0, "max_power": 0.2}
    changed = classify(alice, MESSAGE)
    assert changed == uncached(alice, MESSAGE)
    assert changed != first
    assert len(junk._cache[alice.pk].scores) == 2
