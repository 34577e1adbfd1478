"""Words of a message for the junk filter, as mox's junk/parse.go picks them.

Words come from the top-level header fields that say who and what (From, To, Cc, Bcc,
Reply-To, Subject, Sender, Return-Path; words longer than 3 characters, prefixed with
the field name as in "Subject:viagra"), and from every text part of the message (MIME,
RFC 2045/2046), decoded from its transfer encoding and charset; HTML parts give their
text and the alt text of images, never scripts or styles. Nested messages
(message/rfc822) are followed.

A word is a run of letters and digits, lower-cased. Ignored like mox: words of at most
2 characters, all digits, random-looking (6 or more consonants or digits 2-9 in a row,
ASCII only) and numeric-looking (4 or more digits, or 3 or more in a word of only hex
digits). With twograms/threegrams, runs of two/three consecutive kept words are words
too ("free money").

Deliberate differences from mox v0.0.5:
- An apostrophe between letters or digits stays in the word ("don't"), as mox's
  comments intend; mox's condition is inverted and splits before a letter. A
  typographic apostrophe (U+2019) counts as one.
- Header values are decoded from RFC 2047 encoded-words first, so an encoded Subject
  gives its words rather than base64 fragments.
- In HTML, elements other than inline ones (b, i, span, a, font...) break words: mox
  runs "<td>price</td><td>free</td>" together into one word "pricefree". Comments
  are skipped.
- The work is bounded: only the first MAX_MESSAGE_BYTES of a message are parsed, at most
  MAX_TEXT_CHARS of decoded text are tokenized, and at most MAX_WORDS distinct words
  are returned. Words longer than MAX_WORD_LENGTH are dropped (mox drops words longer
  than its database's key limit).

The parts are found by mailcore.junk.mime, which cuts a message as the email package's
parser does, without its line-by-line work; words are found per whitespace-separated
piece of text, and each piece's words are remembered across messages. Both give the
words the email package and a regular expression over whole texts gave
(tests/junk/test_tokenize_equivalence.py), except beyond MAX_DEPTH levels of nesting.

Never raises on any input: parts that cannot be decoded give what could be read.
"""
from __future__ import annotations

import email.header
import email.message
import html
import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass

from mailcore.junk import mime
from mailcore.junk.mime import Entity, decoded_body
from mailcore.junk.params import Params

MAX_MESSAGE_BYTES = 4 * 1024 * 1024
MAX_TEXT_CHARS = 1024 * 1024
MAX_WORDS = 10_000
# The word column of the store holds 255 characters.
MAX_WORD_LENGTH = 255
# Nested multiparts/messages followed; deeper ones are not tokenized.
MAX_DEPTH = 25

# Header fields whose words count, in mox's canonical spelling.
HEADER_FIELDS = {
    name.lower(): name for name in ("From", "To", "Cc", "Bcc", "Reply-To", "Subject", "Sender", "Return-Path")
}

# Letters and digits (`\w` without "_", which is replaced by a space first), joined by
# inner apostrophes.
_WORD_RE = re.compile(r"\w+(?:'\w+)*")
_RANDOM_RE = re.compile(r"[b-df-hj-np-tv-z2-9]{6}")
_HEX_RE = re.compile(r"[0-9a-f]*")
# RFC 2045 token characters, for a media type "type/subtype".
_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_MEDIA_TYPE_RE = re.compile(rf"\s*(?:{_TOKEN}(?:\s*/\s*{_TOKEN})?)?\s*(?:;.*)?", re.DOTALL)


@dataclass(frozen=True)
class Tokens:
    """Distinct words in order of first appearance: header words, then body words."""

    words: tuple[str, ...]
    # A Content-Type that is not a media type: mox treats this as a sure sign of spam.
    bad_content_type: bool = False


def looks_random(word: str) -> bool:
    """Random-looking strings such as "2fvu9stm9yxhnlu" (0 and 1 pass as o and l)."""
    return word.isascii() and _RANDOM_RE.search(word) is not None


def looks_numeric(word: str) -> bool:
    """Numbers and hex strings. Like mox, digits are counted over the whole word, not per
    run: mox v0.0.5 never resets its run counter, and counting all of them is a sensible
    rule for ID-like words."""
    if word.startswith("0x"):
        word = word[2:]
    digits = sum(map(word.count, "0123456789"))
    return digits >= 4 or (digits >= 3 and _HEX_RE.fullmatch(word) is not None)


def _keep(word: str) -> bool:
    if not 2 < len(word) <= MAX_WORD_LENGTH:
        return False
    if word.isalpha():
        # Most words: no digits, so only randomness to check.
        return not (word.isascii() and _RANDOM_RE.search(word))
    return not word.isdigit() and not looks_random(word) and not looks_numeric(word)


# _keep's verdicts, shared by all messages: most words of a message were seen before.
# Emptied when full, so hostile mail cannot make it grow without bound.
_verdicts: dict[str, bool] = {}
VERDICTS_MAX = 100_000


def _kept(word: str) -> bool:
    keep = _verdicts.get(word)
    if keep is None:
        if len(_verdicts) >= VERDICTS_MAX:
            _verdicts.clear()
        keep = _verdicts[word] = _keep(word)
    return keep


def _raw_words(text: str) -> list[str]:
    return _WORD_RE.findall(text.replace("_", " ").replace("\u2019", "'").lower())


# The kept words of a whitespace-separated piece of text ("Price," gives ("price",)),
# shared by all messages: the pieces of one message are mostly pieces seen before, and
# one dictionary lookup per distinct piece replaces the regular expression and the
# keep/drop verdicts. A word never spans whitespace (no whitespace character is a
# letter, digit or apostrophe, and lower-casing never crosses it), so the words of a
# text are the words of its pieces in order. Emptied when full; long pieces are not
# kept.
_piece_words: dict[str, tuple[str, ...]] = {}
PIECES_MAX = 100_000
PIECE_MAX_LENGTH = 64


# Punctuation that sticks to words ("word," "(word)"); never part of a word.
_EDGE_PUNCTUATION = ".,;:!?()[]\"<>*"


def _words_of_piece(piece: str) -> tuple[str, ...]:
    core = piece.strip(_EDGE_PUNCTUATION)
    if core.isascii() and core.isalpha():
        # The common case, one ASCII word: what the regular expression would find.
        word = core.lower()
        words: tuple[str, ...] = (word,) if _kept(word) else ()
    else:
        words = tuple(w for w in _raw_words(piece) if _kept(w))
    if len(piece) <= PIECE_MAX_LENGTH:
        if len(_piece_words) >= PIECES_MAX:
            _piece_words.clear()
        _piece_words[piece] = words
    return words


def _kept_sequence(text: str) -> list[str]:
    """The kept words of a text in order, repeats included (for n-grams)."""
    get = _piece_words.get
    out: list[str] = []
    for piece in text.split():
        words = get(piece)
        out.extend(words if words is not None else _words_of_piece(piece))
    return out


def _distinct_kept_of(pieces: Iterable[str]) -> Iterable[str]:
    """The distinct kept words of whitespace-separated pieces (in order of first
    appearance of the pieces), with repeats: a piece's words are those of its first
    appearance, so the order of first appearance of the words is kept."""
    distinct = dict.fromkeys(pieces)
    found = list(map(_piece_words.get, distinct))
    if None in found:
        found = [w if w is not None else _words_of_piece(p) for p, w in zip(distinct, found)]
    return itertools.chain.from_iterable(found)  # type: ignore[arg-type]


def tokenize_text(text: str, params: Params) -> list[str]:
    """Distinct words of a text (with 2- and 3-grams per params), in order of appearance."""
    if not params.twograms and not params.threegrams:
        return list(dict.fromkeys(_distinct_kept_of(text.split()))) if params.onegrams else []
    out: dict[str, None] = {}
    prev = prev2 = ""
    for w in _kept_sequence(text):
        if params.threegrams and prev2:
            out[f"{prev2} {prev} {w}"] = None
        if params.twograms and prev:
            out[f"{prev} {w}"] = None
        if params.onegrams:
            out[w] = None
        prev2, prev = prev, w
    return [w for w in out if len(w) <= MAX_WORD_LENGTH]


# Inline elements do not separate words ("<b>V</b>iagra" is one word); other tags do.
_INLINE_TAGS = (
    "a abbr b bdi bdo big cite code del dfn em font i ins kbd mark q s samp small span strike strong sub sup "
    "tt u var"
).split()
# Regular expressions rather than an HTML parser: html.parser costs 10 times more, and
# only text is wanted. `[^<>]` keeps every scan linear on unterminated tags.
_HIDDEN_RE = re.compile(r"<(script|style|svg)\b[^<>]*>.*?(?:</\1\s*>|\Z)", re.IGNORECASE | re.DOTALL)
_COMMENT_RE = re.compile(r"<!--.*?(?:-->|\Z)", re.DOTALL)
_IMG_RE = re.compile(r"<img\b[^<>]*>", re.IGNORECASE)
_ALT_RE = re.compile(r"""\balt\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""", re.IGNORECASE)
_INLINE_TAG_RE = re.compile(rf"</?(?:{'|'.join(_INLINE_TAGS)})\b[^<>]*>", re.IGNORECASE)
_TAG_RE = re.compile(r"</?[a-zA-Z][^<>]*>|<![^<>]*>|<\?[^<>]*>")


def _alt_text(m: re.Match[str]) -> str:
    alt = _ALT_RE.search(m.group())
    if alt is None:
        return " "
    return f" {alt.group(1) or alt.group(2) or alt.group(3) or ''} "


def html_text(source: str) -> str:
    """The visible text of HTML: text outside script/style/svg and image alt texts, with
    character references resolved and spaces where elements break words."""
    text = _COMMENT_RE.sub(" ", source)
    text = _HIDDEN_RE.sub(" ", text)
    text = _IMG_RE.sub(_alt_text, text)
    text = _INLINE_TAG_RE.sub("", text)
    text = _TAG_RE.sub(" ", text)
    return html.unescape(text)


def _header_text(value: object) -> str:
    """A header value as text, RFC 2047 encoded-words decoded, invalid bytes replaced."""
    raw = str(value).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    try:
        return str(email.header.make_header(email.header.decode_header(raw)))
    except Exception:  # noqa: BLE001 - undecodable encoded-words stay as they are
        return raw


def _media_type(part: email.message.Message) -> tuple[str, bool]:
    """Lower-cased "type/subtype" ("" when absent or without subtype) and whether the
    Content-Type header is malformed."""
    value = part.get("Content-Type")
    if value is None:
        return "", False
    text = str(value)
    if not _MEDIA_TYPE_RE.fullmatch(text):
        return "", True
    media = text.split(";", 1)[0].replace(" ", "").replace("\t", "").lower()
    return (media if "/" in media else ""), False


def _part_text(part: Entity, limit: int) -> str:
    if part.parts is not None:
        return ""
    try:
        payload = decoded_body(part)
    except Exception:  # noqa: BLE001
        return ""
    payload = payload[: limit * 4]
    charset = "utf-8"
    try:
        charset = part.header.get_content_charset() or "utf-8"
        text = payload.decode(charset, "replace")
    except Exception:  # noqa: BLE001 - unknown or non-text codecs: read as UTF-8
        text = payload.decode("utf-8", "replace")
    return text[:limit]


class _Walker:
    def __init__(self, params: Params) -> None:
        self.params = params
        self._words: dict[str, None] = {}
        # Single words only (the default): the whitespace-separated pieces of all
        # texts, made words once at the end, since a text part and its HTML
        # alternative share most of them.
        self._pieces: list[list[str]] | None = None if params.twograms or params.threegrams else []
        self.budget = MAX_TEXT_CHARS
        self.bad_content_type = False

    def add_text(self, text: str) -> None:
        self.budget -= len(text)
        if self._pieces is None:
            self._words.update(dict.fromkeys(tokenize_text(text, self.params)))
        elif self.params.onegrams:
            self._pieces.append(text.split())

    def words(self) -> dict[str, None]:
        """Distinct words of all texts added, in order of first appearance."""
        if self._pieces:
            words = _distinct_kept_of(itertools.chain.from_iterable(self._pieces))
            if self._words:
                self._words.update(dict.fromkeys(words))
            else:
                self._words = dict.fromkeys(words)
            self._pieces = []
        return self._words

    def walk(self, part: Entity, depth: int) -> None:
        if depth > MAX_DEPTH or self.budget <= 0:
            return
        media, bad = _media_type(part.header)
        if bad:
            self.bad_content_type = True
            return
        if media == "text/html":
            self.add_text(html_text(_part_text(part, self.budget)))
        elif media == "" or media.startswith("text/"):
            if part.parts is None:
                self.add_text(_part_text(part, self.budget))
        elif part.parts is not None:
            # Multiparts, and message/rfc822 whose part is the nested message.
            for sub in part.parts:
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
        msg: Entity | None = mime.parse(data, max_depth=MAX_DEPTH)
    except Exception:  # noqa: BLE001 - never expected; read as text then
        msg = None
    walker = _Walker(params)
    if msg is None:
        # Read what cannot be parsed as plain text, as mox's fallback part does.
        walker.add_text(data[:MAX_TEXT_CHARS].decode("utf-8", "replace"))
        return Tokens(tuple(walker.words())[:MAX_WORDS])
    try:
        header = _header_words(msg.header, params)
    except Exception:  # noqa: BLE001
        header = {}
    try:
        walker.walk(msg, 0)
    except Exception:  # noqa: BLE001 - keep the words found before the failure
        pass
    header.update(walker.words())
    return Tokens(tuple(header)[:MAX_WORDS], walker.bad_content_type)
