"""Per-account Bayesian junk filter maths, without storage (storage: mailstore.junk).

- tokenize: a message's words (mox junk/parse.go)
- classify: word spamminess and combining (mox junk/filter.go), over a `WordStore`
- params: the parameters with mox's defaults
"""
from __future__ import annotations

from mailcore.junk.classify import (
    TOTALS_WORD,
    Counts,
    MemoryWordStore,
    RankKey,
    Result,
    WordScore,
    WordStore,
    adjust,
    adjusted,
    bad_content_type_result,
    classify_words,
    combine,
    decide,
    decide_ranked,
    rank_key,
    word_probability,
    word_scores,
)
from mailcore.junk.params import Params
from mailcore.junk.tokenize import Tokens, tokenize, tokenize_text

__all__ = [
    "TOTALS_WORD",
    "Counts",
    "MemoryWordStore",
    "Params",
    "RankKey",
    "Result",
    "Tokens",
    "WordScore",
    "WordStore",
    "adjust",
    "adjusted",
    "bad_content_type_result",
    "classify_words",
    "combine",
    "decide",
    "decide_ranked",
    "rank_key",
    "tokenize",
    "tokenize_text",
    "word_probability",
    "word_scores",
]
