"""The tokenizer as it was before mailcore.junk.mime (commit 1a132a4), the parts that
changed: the email package's parser for the MIME walk, and a regular expression over
whole texts for the words. Kept as the reference the new tokenizer is compared with in
test_tokenize_equivalence.py; not used by moxweb. The unchanged parts (word verdicts,
HTML text, header decoding, media type) are the tokenizer's own."""
from __future__ import annotations

import email.message
import email.parser
import email.policy
import itertools
from collections.abc import Iterable

from mailcore.junk.params import Params
from mailcore.junk.tokenize import (
    HEADER_FIELDS,
    MAX_DEPTH,
    MAX_MESSAGE_BYTES,
    MAX_TEXT_CHARS,
    MAX_WORD_LENGTH,
    MAX_WORDS,
    Tokens,
    _header_text,
    _kept,
    _media_type,
    _raw_words,
    _verdicts,
    html_text,
)


def _distinct_kept(raw: Iterable[str]) -> list[str]:
    """The distinct words worth keeping, in order of first appearance."""
    get = _verdicts.get
    return [w for w in dict.fromkeys(raw) if (keep := get(w)) or (keep is None and _kept(w))]


def tokenize_text(text: str, params: Params) -> list[str]:
    """Distinct words of a text (with 2- and 3-grams per params), in order of appearance."""
    raw = _raw_words(text)
    if not params.twograms and not params.threegrams:
        return _distinct_kept(raw) if params.onegrams else []
    out: dict[str, None] = {}
    prev = prev2 = ""
    for w in raw:
        if not _kept(w):
            continue
        if params.threegrams and prev2:
            out[f"{prev2} {prev} {w}"] = None
        if params.twograms and prev:
            out[f"{prev} {w}"] = None
        if params.onegrams:
            out[w] = None
        prev2, prev = prev, w
    return [w for w in out if len(w) <= MAX_WORD_LENGTH]


def _part_text(part: email.message.Message, limit: int) -> str:
    try:
        payload = part.get_payload(decode=True)
    except Exception:  # noqa: BLE001
        return ""
    if not isinstance(payload, bytes):
        return ""
    payload = payload[: limit * 4]
    charset = "utf-8"
    try:
        charset = part.get_content_charset() or "utf-8"
        text = payload.decode(charset, "replace")
    except Exception:  # noqa: BLE001 - unknown or non-text codecs: read as UTF-8
        text = payload.decode("utf-8", "replace")
    return text[:limit]


class _Walker:
    def __init__(self, params: Params) -> None:
        self.params = params
        self._words: dict[str, None] = {}
        # Single words only (the default): the raw words of all texts, filtered once at
        # the end, since a text part and its HTML alternative share most words.
        self._raw: list[list[str]] | None = None if params.twograms or params.threegrams else []
        self.budget = MAX_TEXT_CHARS
        self.bad_content_type = False

    def add_text(self, text: str) -> None:
        self.budget -= len(text)
        if self._raw is None:
            self._words.update(dict.fromkeys(tokenize_text(text, self.params)))
        elif self.params.onegrams:
            self._raw.append(_raw_words(text))

    def words(self) -> list[str]:
        """Distinct words of all texts added, in order of first appearance."""
        if self._raw:
            self._words.update(dict.fromkeys(_distinct_kept(itertools.chain.from_iterable(self._raw))))
            self._raw = []
        return list(self._words)

    def walk(self, part: email.message.Message, depth: int) -> None:
        if depth > MAX_DEPTH or self.budget <= 0:
            return
        media, bad = _media_type(part)
        if bad:
            self.bad_content_type = True
            return
        payload = part.get_payload()
        if media == "text/html":
            self.add_text(html_text(_part_text(part, self.budget)))
        elif media == "" or media.startswith("text/"):
            if not isinstance(payload, list):
                self.add_text(_part_text(part, self.budget))
        elif isinstance(payload, list):
            # Multiparts, and message/rfc822 whose payload is the nested message.
            for sub in payload:
                if isinstance(sub, email.message.Message):
                    self.walk(sub, depth + 1)


def _header_words(msg: email.message.Message, params: Params) -> dict[str, None]:
    words: dict[str, None] = {}
    for name, value in msg.items():
        canonical = HEADER_FIELDS.get(name.strip().lower())
        if canonical is None:
            continue
        for w in tokenize_text(_header_text(value), params):
            if len(w) > 3:
                word = f"{canonical}:{w}"
                if len(word) <= MAX_WORD_LENGTH:
                    words[word] = None
    return words


def tokenize(data: bytes, params: Params | None = None) -> Tokens:
    """The words of a message's bytes (header and text parts)."""
    params = params or Params()
    data = data[:MAX_MESSAGE_BYTES]
    try:
        msg = email.parser.BytesParser(policy=email.policy.compat32).parsebytes(data)
    except Exception:  # noqa: BLE001 - e.g. RecursionError on absurd nesting
        msg = None
    walker = _Walker(params)
    if msg is None:
        # Read what cannot be parsed as plain text, as mox's fallback part does.
        walker.add_text(data[:MAX_TEXT_CHARS].decode("utf-8", "replace"))
        return Tokens(tuple(walker.words()[:MAX_WORDS]))
    try:
        header = _header_words(msg, params)
    except Exception:  # noqa: BLE001
        header = {}
    try:
        walker.walk(msg, 0)
    except Exception:  # noqa: BLE001 - keep the words found before the failure
        pass
    words = list({**header, **dict.fromkeys(walker.words())})
    return Tokens(tuple(words[:MAX_WORDS]), walker.bad_content_type)
