"""The classifier maths on an in-memory word store, checked against hand computation."""
from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailcore.junk import (
    Counts,
    MemoryWordStore,
    Params,
    WordScore,
    adjust,
    classify_words,
    combine,
    word_probability,
)

P = Params()


def tiny_store() -> MemoryWordStore:
    store = MemoryWordStore()
    store.train(["meeting", "lunch", "project"], junk=False)
    store.train(["meeting", "project", "report"], junk=False)
    store.train(["cheap", "pills", "lunch"], junk=True)
    store.train(["cheap", "pills", "winner"], junk=True)
    store.train(["cheap", "winner", "prize"], junk=True)
    return store


def test_it_counts_training_per_word_and_in_totals() -> None:
    assert tiny_store().counts == {
        "meeting": Counts(2, 0),
        "lunch": Counts(1, 1),
        "project": Counts(2, 0),
        "report": Counts(1, 0),
        "cheap": Counts(0, 3),
        "pills": Counts(0, 2),
        "winner": Counts(0, 2),
        "prize": Counts(0, 1),
        "-": Counts(2, 3),
    }


def test_it_computes_word_probabilities_with_clamping_and_rare_words() -> None:
    totals = Counts(ham=2, spam=3)
    # Only in ham: r = 0 -> max power 0.01; seen 2 (<= rare words 2): + 1 * (0.5 - 0.01) / 10.
    assert word_probability(Counts(2, 0), totals, P) == pytest.approx(0.059)
    # Seen once: + 2 * (0.5 - 0.01) / 10.
    assert word_probability(Counts(1, 0), totals, P) == pytest.approx(0.108)
    # Only in spam, seen 3 times: not rare, clamped to 1 - max power.
    assert word_probability(Counts(0, 3), totals, P) == pytest.approx(0.99)
    assert word_probability(Counts(0, 2), totals, P) == pytest.approx(0.941)
    # Both: (1/3) / (1/3 + 1/2) = 0.4, rare: + 1 * 0.1 / 10.
    assert word_probability(Counts(1, 1), totals, P) == pytest.approx(0.41)
    # A word whose counts were all untrained says nothing.
    assert word_probability(Counts(0, 0), totals, P) is None


def test_it_combines_the_significant_words_as_computed_by_hand() -> None:
    result = classify_words(["cheap", "meeting", "report", "lunch", "unknownword"], tiny_store(), P)
    # lunch (0.41) is within ignore words 0.1 of 0.5; unknownword was never trained.
    expected = 1 / (1 + (0.01 / 0.99) * (0.941 / 0.059) * (0.892 / 0.108))
    assert result.probability == pytest.approx(expected, rel=1e-12)
    assert result.probability == pytest.approx(0.429076, abs=1e-6)
    assert not result.is_junk
    assert [w for w, _ in result.significant] == ["cheap", "meeting", "report"]
    assert [r for _, r in result.significant] == pytest.approx([0.99, 0.059, 0.108])


def test_it_marks_junk_above_the_threshold() -> None:
    store = tiny_store()
    result = classify_words(["cheap", "pills", "winner", "prize"], store, P)
    expected = 1 / (1 + (0.01 / 0.99) * (0.059 / 0.941) ** 2 * (0.108 / 0.892))
    assert result.probability == pytest.approx(expected, rel=1e-12)
    assert result.is_junk
    assert result.significant == (
        WordScore("cheap", pytest.approx(0.99)),  # type: ignore[arg-type]
        WordScore("winner", pytest.approx(0.941)),  # type: ignore[arg-type]
        WordScore("pills", pytest.approx(0.941)),  # type: ignore[arg-type]
        WordScore("prize", pytest.approx(0.892)),  # type: ignore[arg-type]
    )
    # A caller's threshold (the SMTP server adds jitter) overrides the account's.
    assert not classify_words(["cheap", "pills"], store, P, threshold=0.9999).is_junk


def test_it_uses_only_the_top_words_of_each_side() -> None:
    counts = {f"spam{i:02d}": Counts(0, 10 + i) for i in range(15)}
    counts.update({f"ham{i:02d}": Counts(10 + i, 0) for i in range(15)})
    counts["-"] = Counts(100, 100)
    store = MemoryWordStore(counts)
    result = classify_words(sorted(counts), store, Params(top_words=3))
    assert [w for w, _ in result.significant] == ["spam00", "spam01", "spam02", "ham00", "ham01", "ham02"]
    assert result.probability == pytest.approx(0.5)


def test_it_gives_one_half_without_known_words() -> None:
    result = classify_words(["nothing", "known"], MemoryWordStore(), P)
    assert (result.probability, result.is_junk, result.significant) == (0.5, False, ())


def test_it_untrains_to_nothing_and_never_below_zero() -> None:
    store = tiny_store()
    store.untrain(["cheap", "winner", "prize"], junk=True)
    store.untrain(["cheap", "pills", "winner"], junk=True)
    store.untrain(["cheap", "pills", "lunch"], junk=True)
    store.untrain(["cheap", "never-trained"], junk=True)
    assert store.counts == {
        "meeting": Counts(2, 0),
        "lunch": Counts(1, 0),
        "project": Counts(2, 0),
        "report": Counts(1, 0),
        "-": Counts(2, 0),
    }
    assert adjust(Counts(0, 0), junk=False, delta=-1) == Counts(0, 0)


def test_it_keeps_logarithms_finite_for_extreme_parameters() -> None:
    assert combine([0.0, 0.0]) == pytest.approx(0.0, abs=1e-20)
    assert combine([1.0]) == pytest.approx(1.0)
    assert combine([1e-300] * 100) == 0.0
    assert math.isclose(combine([0.75, 0.25]), 0.5)


def test_it_reads_parameters_from_account_settings() -> None:
    params = Params.from_dict({"threshold": 0.9, "twograms": True, "top_words": 15, "rare_words": 1, "extra": 1})
    assert params == Params(threshold=0.9, twograms=True, top_words=15, rare_words=1)
    assert Params.from_dict({}) == Params(0.95, True, False, False, 0.01, 10, 0.1, 2)
    with pytest.raises(ValueError, match="top_words"):
        Params.from_dict({"top_words": "ten"})
    with pytest.raises(ValueError, match="threshold"):
        Params.from_dict({"threshold": 2})


@settings(max_examples=200, deadline=None)
@given(
    counts=st.dictionaries(
        st.text(alphabet="abcdefgh", min_size=3, max_size=5),
        st.tuples(st.integers(0, 30), st.integers(0, 30)),
        max_size=40,
    ),
    totals=st.tuples(st.integers(0, 60), st.integers(0, 60)),
    rare=st.integers(0, 4),
    max_power=st.sampled_from([0.0, 0.01, 0.2]),
)
def test_every_significant_word_scores_as_word_probability_says(
    counts: dict[str, tuple[int, int]], totals: tuple[int, int], rare: int, max_power: float
) -> None:
    params = Params(rare_words=rare, max_power=max_power, top_words=100)
    store = MemoryWordStore({**counts, "-": totals})
    result = classify_words(list(counts), store, params)
    expected = {}
    for w, c in counts.items():
        r = word_probability(Counts(*c), Counts(*totals), params)
        if r is not None and abs(0.5 - r) >= params.ignore_words:
            expected[w] = r
    assert dict(result.significant) == expected
    assert result.probability == combine(s.probability for s in result.significant)
