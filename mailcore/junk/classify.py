"""Bayesian junk classification over trained word counts, with mox's maths (junk/filter.go).

For each known word, with H and S the numbers of trained ham and spam messages:

    r = (spam/S) / (spam/S + ham/H)                  the word's spamminess
    r clamped to [max_power, 1 - max_power]
    if ham + spam <= rare_words:                     rare words pulled towards 0.5
        r += (1 + rare_words - (ham + spam)) * (0.5 - r) / 10
    ignored if |0.5 - r| < ignore_words

The top_words most hammy and top_words most spammy words are combined (Robinson's
geometric form of naive Bayes, as in Paul Graham's and SpamBayes' filters):

    eta = sum(ln(1 - r) - ln(r))
    probability = 1 / (1 + e^eta)

Counts are read through a small `WordStore` so the maths runs on a dict in tests and on
the database in mailstore.junk. The totals are kept under the word "-", which no
tokenized word can be.
"""
from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from mailcore.junk.params import Params

TOTALS_WORD = "-"


class Counts(NamedTuple):
    ham: int = 0
    spam: int = 0


class WordScore(NamedTuple):
    word: str
    # The word's spamminess r after clamping and rare-word adjustment.
    probability: float


@dataclass(frozen=True)
class Result:
    probability: float
    is_junk: bool
    # The words that decided: spammy ones (most spammy first), then hammy ones (most
    # hammy first).
    significant: tuple[WordScore, ...] = ()
    # mox gives probability 1 for a malformed Content-Type without looking at words.
    bad_content_type: bool = False


class WordStore(Protocol):
    def totals(self) -> Counts:
        """Numbers of trained ham and spam messages."""
        ...

    def lookup(self, words: Sequence[str]) -> Mapping[str, Counts]:
        """Counts of those words that were ever trained; unknown words are left out."""
        ...


class MemoryWordStore:
    """A WordStore in a dict, with training: for tests and tools."""

    def __init__(self, counts: Mapping[str, Counts | tuple[int, int]] | None = None) -> None:
        self.counts: dict[str, Counts] = {w: Counts(*c) for w, c in (counts or {}).items()}

    def totals(self) -> Counts:
        return self.counts.get(TOTALS_WORD, Counts())

    def lookup(self, words: Sequence[str]) -> Mapping[str, Counts]:
        return {w: self.counts[w] for w in words if w in self.counts}

    def train(self, words: Iterable[str], junk: bool) -> None:
        self._apply(words, junk, 1)

    def untrain(self, words: Iterable[str], junk: bool) -> None:
        self._apply(words, junk, -1)

    def _apply(self, words: Iterable[str], junk: bool, delta: int) -> None:
        words = list(words)
        updated = adjusted(self.lookup(words), words, junk, delta)
        totals = adjust(self.totals(), junk, delta)
        for w, c in updated.items():
            if c == (0, 0):
                self.counts.pop(w, None)
            else:
                self.counts[w] = c
        self.counts[TOTALS_WORD] = totals


def adjust(counts: Counts, junk: bool, delta: int) -> Counts:
    """Counts after training (delta 1) or untraining (delta -1) once; never below zero."""
    if junk:
        return Counts(counts.ham, max(0, counts.spam + delta))
    return Counts(max(0, counts.ham + delta), counts.spam)


def adjusted(current: Mapping[str, Counts], words: Iterable[str], junk: bool, delta: int) -> dict[str, Counts]:
    """New counts of the words of one message (un)trained. Untraining a word that was
    never trained changes nothing, as in mox."""
    out: dict[str, Counts] = {}
    for w in words:
        c = current.get(w)
        if c is None:
            if delta < 0:
                continue
            c = Counts()
        out[w] = adjust(c, junk, delta)
    return out


def word_probability(counts: Counts, totals: Counts, params: Params) -> float | None:
    """A word's spamminess r, or None when it has no counts (mox computes NaN, which
    never counts)."""
    spam = counts.spam / totals.spam if totals.spam else 0.0
    ham = counts.ham / totals.ham if totals.ham else 0.0
    if spam + ham == 0:
        return None
    r = spam / (spam + ham)
    r = min(max(r, params.max_power), 1 - params.max_power)
    seen = counts.ham + counts.spam
    if seen <= params.rare_words:
        r += (1 + params.rare_words - seen) * (0.5 - r) / 10
    return r


def combine(scores: Iterable[float]) -> float:
    """Probability of spam from word spamminesses: 1 / (1 + e^eta)."""
    eta = 0.0
    for r in scores:
        # Keep the logarithms finite when max_power is 0.
        r = min(max(r, 1e-12), 1 - 1e-12)
        eta += math.log(1 - r) - math.log(r)
    if eta > 700:
        return 0.0
    return 1 / (1 + math.exp(eta))


def word_scores(known: Mapping[str, Counts], totals: Counts, params: Params) -> dict[str, float | None]:
    """Each word's spamminess r, None for a word that says nothing (no counts, or
    closer to 0.5 than params.ignore_words). word_probability inlined (the same
    arithmetic in the same order): this runs for every known word of every message."""
    out: dict[str, float | None] = {}
    total_spam, total_ham = totals.spam, totals.ham
    low, high = params.max_power, 1 - params.max_power
    rare, ignore = params.rare_words, params.ignore_words
    for w, (ham, spam) in known.items():
        if w == TOTALS_WORD:
            continue
        s = spam / total_spam if total_spam else 0.0
        h = ham / total_ham if total_ham else 0.0
        if s + h == 0:
            out[w] = None
            continue
        r = min(max(s / (s + h), low), high)
        seen = ham + spam
        if seen <= rare:
            r += (1 + rare - seen) * (0.5 - r) / 10
        out[w] = None if abs(0.5 - r) < ignore else r
    return out


# decide's ordering of a significant word: (-r, -len, word) for spammy words, (r, -len,
# word) for hammy ones; the smallest keys are the strongest words.
RankKey = tuple[float, int, str]


def rank_key(word: str, r: float) -> RankKey | None:
    """The word's key among the spammy (r > 0.5) or hammy (r < 0.5) words; None at 0.5."""
    if r < 0.5:
        return (r, -len(word), word)
    if r > 0.5:
        return (-r, -len(word), word)
    return None


def decide(scored: Iterable[tuple[str, float]], params: Params, threshold: float | None = None) -> Result:
    """The result from the significant words' spamminess (see classify_words)."""
    hams: list[RankKey] = []
    spams: list[RankKey] = []
    for w, r in scored:
        # Strongest first; on equal strength longer words first (as mox), then by
        # spelling so the outcome does not depend on order.
        key = rank_key(w, r)
        if key is not None:
            (spams if r > 0.5 else hams).append(key)
    return decide_ranked(spams, hams, params, threshold)


def decide_ranked(
    spams: Iterable[RankKey], hams: Iterable[RankKey], params: Params, threshold: float | None = None
) -> Result:
    """decide, from the rank keys (rank_key) of the spammy and the hammy words."""
    top = params.top_words
    significant = tuple(
        [WordScore(w, -r) for r, _, w in heapq.nsmallest(top, spams)]
        + [WordScore(w, r) for r, _, w in heapq.nsmallest(top, hams)]
    )
    probability = combine(s.probability for s in significant)
    limit = params.threshold if threshold is None else threshold
    return Result(probability, probability > limit, significant)


def classify_words(
    words: Sequence[str], store: WordStore, params: Params, threshold: float | None = None
) -> Result:
    """Classify a message by its words. `threshold` overrides params.threshold (the SMTP
    server adds jitter); a message is junk when its probability is above it."""
    known = store.lookup(words)
    scores = word_scores(known, store.totals(), params)
    return decide(((w, r) for w, r in scores.items() if r is not None), params, threshold)


def bad_content_type_result() -> Result:
    return Result(1.0, True, (), bad_content_type=True)
