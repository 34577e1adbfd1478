"""The per-account junk filter's word counts in the database, training and classification.

Counts live in `JunkWord` rows (account, word, ham, spam); the row with word "-" holds
the numbers of trained ham and spam messages. The maths and the tokenizer are in
mailcore.junk.

A message's training state is `Message.trained_junk` (None untrained, True trained as
junk, False as ham); it changes in the same transaction as the counts, so every flag
change trains or untrains exactly once (mox store/train.go). A message is trained when
exactly one of $Junk and $NotJunk is set. All training of an account is serialised by
locking its `Store` row (the lock every mailstore verb takes first) and then its "-"
row, always in that order.

Accounts whose `junk_filter` is empty have no filter: training does nothing and
classification raises `JunkFilterDisabled`, as mox without a JunkFilter block.

Classification keeps the counts it read in a per-process cache per account, valid
for one generation of the counts. The generation is the id of the account's "-"
row: every training writes that row anew (delete and insert), so it gets a new id,
which neither SQLite (AUTOINCREMENT) nor PostgreSQL (a sequence) ever hands out
again. Each classification reads the "-" row in the same statement as the words it
does not have yet, so it always works with counts of one committed generation, and
training in any process is seen by the next classification everywhere. The cache
is not used inside a transaction, where uncommitted (and on SQLite, reusable) ids
could be seen.
"""
from __future__ import annotations

import atexit
import hashlib
import itertools
import logging
import os
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from django.db import connection, transaction
from django.db.models import F

from accounts.models import Account
from mailcore.junk import (
    TOTALS_WORD,
    Counts,
    Params,
    Result,
    Tokens,
    adjust,
    adjusted,
    RankKey,
    bad_content_type_result,
    decide,
    decide_ranked,
    rank_key,
    tokenize,
    word_scores,
)
from mailstore import files
from mailstore.models import JunkWord, Message, Store

log = logging.getLogger(__name__)

# Words per query: below SQLite's limit on query parameters, small enough for any database.
CHUNK = 500
_T = TypeVar("_T")

__all__ = [
    "JunkFilterDisabled",
    "RetrainResult",
    "Result",
    "classify",
    "enabled",
    "params_for",
    "retrain_account",
    "retrain_for_flags",
    "retrain_messages",
    "train",
    "train_later",
    "trainer",
    "untrain",
    "untrain_removed",
    "wanted_training",
]


class JunkFilterDisabled(Exception):
    """The account has no junk filter configured."""


def enabled(account: Account) -> bool:
    return bool(account.junk_filter)


def params_for(account: Account) -> Params:
    if not account.junk_filter:
        raise JunkFilterDisabled(f"account {account.name} has no junk filter")
    return Params.from_dict(account.junk_filter)


def _chunks(items: Sequence[_T]) -> Iterable[Sequence[_T]]:
    for i in range(0, len(items), CHUNK):
        yield items[i : i + CHUNK]


def _select_counts(account_id: int, words: Sequence[str]) -> list[tuple[int, str, int, int]]:
    """(id, word, ham, spam) of those of the words the account has. Plain SQL: the
    ORM's `word__in` costs about 20 us per word to prepare, more than the database
    needs to find it."""
    if not words:
        return []
    quote = connection.ops.quote_name
    sql = (
        f"SELECT {quote('id')}, {quote('word')}, {quote('ham')}, {quote('spam')} "
        f"FROM {quote(JunkWord._meta.db_table)} "
        f"WHERE {quote('account_id')} = %s AND {quote('word')} IN ({', '.join(['%s'] * len(words))})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [account_id, *words])
        return cursor.fetchall()


# Per-process cache of counts read, per account (see the module docstring). A word
# the account does not have is cached as None. Entries are only ever added to, never
# emptied, so a lookup can read the one it holds while others replace it.
CACHE_ACCOUNTS = 64
CACHE_WORDS = 200_000
# Generation changes seen during one lookup before giving up on the cache for it.
MAX_GENERATION_CHANGES = 3


@dataclass
class _Ranked:
    """Per filter parameters, what classification needs of the words of one
    generation: the decide rank keys (mailcore.junk.rank_key) of the significant ones."""

    # Words whose spamminess was computed (significant or not).
    done: set[str] = field(default_factory=set)
    spammy: dict[str, RankKey] = field(default_factory=dict)
    hammy: dict[str, RankKey] = field(default_factory=dict)


@dataclass
class _Generation:
    generation: int
    totals: Counts
    counts: dict[str, Counts | None] = field(default_factory=dict)
    # Per filter parameters (an account's rarely change; a few are kept).
    scores: dict[Params, _Ranked] = field(default_factory=dict)

    def ranked(self, params: Params) -> _Ranked:
        ranked = self.scores.get(params)
        if ranked is None:
            if len(self.scores) >= 4:
                self.scores = {}
            ranked = self.scores.setdefault(params, _Ranked())
        return ranked


_cache: dict[int, _Generation] = {}
_cache_lock = threading.Lock()


def _remember(account_id: int, entry: _Generation) -> None:
    with _cache_lock:
        if account_id not in _cache and len(_cache) >= CACHE_ACCOUNTS:
            _cache.pop(next(iter(_cache)))
        _cache[account_id] = entry


def clear_cache() -> None:
    """Forget all cached counts (tests, tools)."""
    with _cache_lock:
        _cache.clear()


class DatabaseWordStore:
    """A mailcore.junk.WordStore over an account's JunkWord rows. The totals come
    with the words, so classifying a typical message costs one query; with the cache
    (outside transactions) that query asks only for words not seen before."""

    def __init__(self, account_id: int, *, cache: bool = True) -> None:
        self.account_id = account_id
        self.cache = cache
        self._totals: Counts | None = None

    def lookup(self, words: Sequence[str]) -> Mapping[str, Counts]:
        if self.cache and not connection.in_atomic_block:
            found = self._cached_lookup(words)
            if found is not None:
                return found
        return self._uncached_lookup(words)

    def _uncached_lookup(self, words: Sequence[str]) -> Mapping[str, Counts]:
        found: dict[str, Counts] = {}
        wanted = [TOTALS_WORD, *words]
        for chunk in _chunks(wanted):
            for _id, word, ham, spam in _select_counts(self.account_id, chunk):
                found[word] = Counts(ham, spam)
        self._totals = found.pop(TOTALS_WORD, Counts())
        return found

    def _cached_lookup(self, words: Sequence[str]) -> Mapping[str, Counts] | None:
        """Counts through the cache, all of one generation; None when training kept
        changing them meanwhile, or when the account was never trained."""
        entry = self._cached_entry(words)
        if entry is None:
            return None
        return {w: c for w in words if (c := entry.counts.get(w)) is not None}

    def _cached_entry(self, words: Sequence[str]) -> _Generation | None:
        """The cache entry of the current generation, holding the counts (or their
        absence) of all the words; None as for _cached_lookup."""
        entry = _cache.get(self.account_id)
        changes = 0
        while True:
            counts = entry.counts if entry is not None else {}
            need = list(itertools.filterfalse(counts.__contains__, words))
            chunk = need[: CHUNK - 1]
            rows = _select_counts(self.account_id, [TOTALS_WORD, *chunk])
            totals_row = next((r for r in rows if r[1] == TOTALS_WORD), None)
            if totals_row is None:
                return None
            # Complete when this answer held all that was missing from this generation.
            complete = len(need) <= len(chunk)
            if entry is None or entry.generation != totals_row[0]:
                if entry is not None:
                    changes += 1
                    if changes > MAX_GENERATION_CHANGES:
                        return None
                    complete = False
                entry = _Generation(totals_row[0], Counts(totals_row[2], totals_row[3]))
                _remember(self.account_id, entry)
            if entry.counts and len(entry.counts) + len(chunk) > CACHE_WORDS:
                # Full: start an empty one (others may still be reading this one).
                entry = _Generation(entry.generation, entry.totals)
                _remember(self.account_id, entry)
                complete = False
            if chunk:
                got = {word: Counts(ham, spam) for _id, word, ham, spam in rows if word != TOTALS_WORD}
                for w in chunk:
                    entry.counts[w] = got.get(w)
            if complete:
                break
        self._totals = entry.totals
        return entry

    def classify(self, words: Sequence[str], params: Params, threshold: float | None = None) -> Result:
        """mailcore.junk.classify_words over these counts, for distinct words. Through
        the cache each word's spamminess and rank are computed once per generation,
        and a message's significant words are picked with a few dictionary lookups."""
        entry = self._cached_entry(words) if self.cache and not connection.in_atomic_block else None
        if entry is None:
            known = self._uncached_lookup(words)
            scores = word_scores(known, self.totals(), params)
            return decide(((w, r) for w, r in scores.items() if r is not None), params, threshold)
        ranked = entry.ranked(params)
        new = list(itertools.filterfalse(ranked.done.__contains__, words))
        if new:
            counts = entry.counts
            known = {w: c for w in new if (c := counts.get(w)) is not None}
            for w, r in word_scores(known, entry.totals, params).items():
                key = None if r is None else rank_key(w, r)
                if key is not None:
                    (ranked.spammy if r > 0.5 else ranked.hammy)[w] = key  # type: ignore[operator]
            ranked.done.update(new)
        return decide_ranked(
            list(filter(None, map(ranked.spammy.get, words))),
            list(filter(None, map(ranked.hammy.get, words))),
            params,
            threshold,
        )

    def totals(self) -> Counts:
        if self._totals is None:
            self.lookup([])
        assert self._totals is not None
        return self._totals


# The tokens of the last few messages classified: the SMTP server classifies one
# message once per recipient account, usually with the same parameters.
_recent_tokens: dict[tuple[bytes, Params], Tokens] = {}
RECENT_TOKENS = 8


def _tokens(data: bytes, params: Params) -> Tokens:
    key = (hashlib.blake2b(data, digest_size=20).digest(), params)
    tokens = _recent_tokens.get(key)
    if tokens is None:
        tokens = tokenize(data, params)
        with _cache_lock:
            while len(_recent_tokens) >= RECENT_TOKENS:
                _recent_tokens.pop(next(iter(_recent_tokens)), None)
            _recent_tokens[key] = tokens
    return tokens


def classify(account: Account, data: bytes, *, threshold: float | None = None) -> Result:
    """The junk probability of a message's bytes for this account. `threshold` overrides
    the account's (the SMTP server adds jitter). Raises JunkFilterDisabled."""
    params = params_for(account)
    tokens = _tokens(data, params)
    if tokens.bad_content_type:
        return bad_content_type_result()
    return DatabaseWordStore(account.pk).classify(tokens.words, params, threshold)


def wanted_training(junk: bool, notjunk: bool) -> bool | None:
    """The training that flags ask for: junk, ham (False), or none when neither or both
    of $Junk and $NotJunk are set."""
    if junk == notjunk:
        return None
    return junk


def _lock(account_id: int) -> JunkWord:
    """Lock the account's Store row, then its totals row (created when missing)."""
    list(Store.objects.select_for_update().filter(account_id=account_id).values_list("pk"))
    totals = JunkWord.objects.select_for_update().filter(account_id=account_id, word=TOTALS_WORD).first()
    if totals is None:
        JunkWord.objects.bulk_create([JunkWord(account_id=account_id, word=TOTALS_WORD)], ignore_conflicts=True)
        totals = JunkWord.objects.select_for_update().get(account_id=account_id, word=TOTALS_WORD)
    return totals


def _message_words(message: Message, params: Params) -> Sequence[str]:
    data = files.read_message(message.path, bytes(message.prefix))
    return tokenize(data, params).words


def _execute_per_chunk(sql: str, params: Sequence[object], ids: Sequence[int]) -> None:
    """Run `sql` (ending in "IN ({})") for the ids, a chunk at a time. Plain SQL: the
    ORM takes longer to build such a statement than the database takes to run it."""
    with connection.cursor() as cursor:
        for chunk in _chunks(ids):
            cursor.execute(sql.format(", ".join(["%s"] * len(chunk))), [*params, *chunk])


# The (un)training of one message: its words, and (junk, delta) changes in order.
_Training = tuple[Sequence[str], Sequence[tuple[bool, int]]]


class RemovedMessage(Protocol):
    """What untraining a removed message needs (mailstore.flagrows.GoneRow)."""

    pk: int
    path: str
    prefix: bytes
    trained_junk: bool | None


def _apply(account_id: int, totals_row: JunkWord, trainings: Sequence[_Training]) -> None:
    """Untrain (delta -1) and/or train (delta 1) messages' words as junk or ham, one
    message after the other as if each were applied alone, in a few batched queries:
    the rows of all their words are read once and written once. Must run under _lock."""
    wanted = list(dict.fromkeys(itertools.chain.from_iterable(words for words, _ in trainings)))
    rows: dict[str, tuple[int, int, int]] = {}
    for chunk in _chunks(wanted):
        for pk, word, ham, spam in _select_counts(account_id, chunk):
            rows[word] = (pk, ham, spam)
    new = {w: Counts(ham, spam) for w, (_pk, ham, spam) in rows.items()}
    totals = Counts(totals_row.ham, totals_row.spam)
    for words, changes in trainings:
        for junk, delta in changes:
            new.update(adjusted(new, words, junk, delta))
            totals = adjust(totals, junk, delta)
    # The totals row is written anew, with a new id: the generation of the counts
    # that classification caches (see the module docstring).
    create: list[JunkWord] = [JunkWord(account_id=account_id, word=TOTALS_WORD, ham=totals.ham, spam=totals.spam)]
    # Changed rows grouped by how much they change: a message's words nearly all move
    # by the same amounts, so a few `SET ham = ham + d` statements do what bulk_update's
    # CASE per row did (which cost ~0.5 s a message once an account had 10,000 words).
    # Relative updates are exact here: the rows are read and written under _lock.
    update: dict[tuple[int, int], list[int]] = {}
    delete: list[int] = [totals_row.pk]
    for word, counts in new.items():
        row = rows.get(word)
        if row is None:
            if counts != (0, 0):
                create.append(JunkWord(account_id=account_id, word=word, ham=counts.ham, spam=counts.spam))
        elif counts == (0, 0):
            # Words no message is trained with any more take no room (mox does the same).
            delete.append(row[0])
        elif counts != row[1:]:
            update.setdefault((counts.ham - row[1], counts.spam - row[2]), []).append(row[0])
    quote = connection.ops.quote_name
    table = quote(JunkWord._meta.db_table)
    _execute_per_chunk(f"DELETE FROM {table} WHERE {quote('id')} IN ({{}})", [], delete)
    JunkWord.objects.bulk_create(create, batch_size=CHUNK)
    for (d_ham, d_spam), pks in update.items():
        _execute_per_chunk(
            f"UPDATE {table} SET {quote('ham')} = {quote('ham')} + %s, {quote('spam')} = {quote('spam')} + %s "
            f"WHERE {quote('id')} IN ({{}})",
            [d_ham, d_spam],
            pks,
        )


def _current_state(message: Message) -> tuple[bool, bool | None, bool, bool]:
    """(exists, trained_junk, junk, notjunk) from the database; the object's own values
    when the row is gone."""
    row = Message.objects.filter(pk=message.pk).values_list("trained_junk", "junk", "notjunk").first()
    if row is None:
        return False, message.trained_junk, message.junk, message.notjunk
    return True, row[0], row[1], row[2]


def _words_to_train(message: Message, params: Params) -> Sequence[str] | None:
    """The message's words; None (logged) when it cannot be read: as mox, such a
    message keeps its training state."""
    try:
        return _message_words(message, params)
    except OSError as exc:
        log.error("junk filter: reading message", extra={"message_pk": message.pk, "error": str(exc)})
        return None


def _changes(trained: bool | None, want: bool | None) -> list[tuple[bool, int]]:
    """From one training state to another: untrain the old, then train the new."""
    changes = [] if trained is None else [(trained, -1)]
    if want is not None:
        changes.append((want, 1))
    return changes


def _set_training(account: Account, message: Message, want: bool | None, use_db_flags: bool) -> None:
    try:
        params = params_for(account)
    except JunkFilterDisabled:
        return
    # Nothing to do is the common case (most flag changes are \Seen): one query, no lock.
    # Seeing a state that needs no work means any later change calls again itself.
    _, trained, junk, notjunk = _current_state(message)
    if (wanted_training(junk, notjunk) if use_db_flags else want) == trained:
        message.trained_junk = trained
        return
    with transaction.atomic():
        totals_row = _lock(account.pk)
        exists, trained, junk, notjunk = _current_state(message)
        if use_db_flags:
            want = wanted_training(junk, notjunk)
        if trained == want:
            message.trained_junk = trained
            return
        words = _words_to_train(message, params)
        if words is None:
            return
        _apply(account.pk, totals_row, [(words, _changes(trained, want))])
        if exists:
            Message.objects.filter(pk=message.pk).update(trained_junk=want)
        message.trained_junk = want
    log.debug(
        "junk filter trained",
        extra={"account": account.name, "message_pk": message.pk, "from": trained, "to": want, "words": len(words)},
    )


def train(account: Account, message: Message, junk: bool) -> None:
    """Train the message as junk (or ham). Nothing happens when it already is trained
    so; a message trained the other way is untrained first."""
    _set_training(account, message, junk, use_db_flags=False)


def untrain(account: Account, message: Message) -> None:
    """Undo the message's training, if any (before expunging it, for example)."""
    _set_training(account, message, None, use_db_flags=False)


def untrain_removed(account_id: int, removed: Sequence[RemovedMessage]) -> None:
    """Undo the training of messages about to be removed, in the removing transaction
    (which holds the account's Store lock): their words in one _apply. Their training
    state is not written, their rows go. A message whose file cannot be read keeps its
    counts (logged), as in `untrain`."""
    junk_filter = Account.objects.filter(pk=account_id).values_list("junk_filter", flat=True).first()
    if not junk_filter:
        return
    params = Params.from_dict(junk_filter)
    trainings: list[_Training] = []
    for message in removed:
        if message.trained_junk is None:
            continue
        try:
            words = tokenize(files.read_message(message.path, message.prefix), params).words
        except OSError as exc:
            log.error("junk filter: reading message", extra={"message_pk": message.pk, "error": str(exc)})
            continue
        trainings.append((words, [(message.trained_junk, -1)]))
    if trainings:
        _apply(account_id, _lock(account_id), trainings)
        log.debug("junk filter untrained", extra={"account_id": account_id, "messages": len(trainings)})


def retrain_for_flags(message: Message) -> None:
    """Bring the message's training in line with its $Junk/$NotJunk flags as stored:
    train as junk for $Junk, as ham for $NotJunk, untrain when neither (or both) is set,
    untraining the old before training the new when the flag changed. Calling it again
    without a flag change does nothing. Call it after the new flags are written (in the
    same transaction is fine)."""
    account = message.account
    _set_training(account, message, None, use_db_flags=True)


def retrain_messages(messages: Sequence[Message]) -> int:
    """retrain_for_flags for many messages of one account (IMAP STORE on a range): one
    query finds those whose training differs from their flags, only they are retrained.
    Returns how many were."""
    if not messages or not enabled(messages[0].account):
        return 0
    pending: list[Message] = []
    for i in range(0, len(messages), CHUNK):
        batch = {m.pk: m for m in messages[i : i + CHUNK]}
        rows = Message.objects.filter(pk__in=list(batch)).values_list("pk", "trained_junk", "junk", "notjunk")
        for pk, trained, junk, notjunk in rows:
            if wanted_training(junk, notjunk) != trained:
                pending.append(batch[pk])
            else:
                batch[pk].trained_junk = trained
    if len(pending) == 1:
        retrain_for_flags(pending[0])
    else:
        for i in range(0, len(pending), CHUNK):
            _retrain_batch(pending[0].account, pending[i : i + CHUNK])
    return len(pending)


class DeferredTraining:
    """Training of appended messages by one background thread, in batches, after the
    APPEND was answered (issue 4: training was a fifth of the mixed IMAP workload's time,
    in the command's path and under the account's lock).

    The thread waits `delay` seconds after the first message so that one transaction
    and one `_apply` train all that arrived meanwhile. The training state lives in the
    message's row (`trained_junk`), set in the same transaction as the counts, so the
    counts stay those of the trained rows whenever training happens: a message expunged
    before its turn was never trained and is not untrained (a draft saved and replaced
    costs nothing), a flag change before its turn trains it at once and leaves the
    thread nothing to do. The queue is in memory, and drained at interpreter exit: a
    crash loses at most `delay` seconds of it, and those messages stay untrained,
    consistently, until `retrain` (retrain_account) rebuilds the account's counts from
    its flags. Training is derived data; this is the price chosen for not paying it
    inside the command."""

    def __init__(self, delay: float = 0.5) -> None:
        self.delay = delay
        self._reset()
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._cond = threading.Condition()
        self._pending: dict[int, list[int]] = {}
        self._thread: threading.Thread | None = None
        self._busy = False
        self._hurry = False
        # Messages trained and threads started (for tests and metrics).
        self.trained = 0
        self.threads_started = 0

    def submit(self, account_id: int, message_pk: int) -> None:
        with self._cond:
            self._pending.setdefault(account_id, []).append(message_pk)
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name="junk-training", daemon=True)
                self._thread.start()
                self.threads_started += 1

    def drain(self, timeout: float | None = None) -> bool:
        """Train what is queued now, without the batching delay; whether all was done
        within `timeout` seconds."""
        with self._cond:
            self._hurry = True
            self._cond.notify_all()
            done = self._cond.wait_for(lambda: not self._pending and not self._busy, timeout)
            self._hurry = False
            return done

    def _serve(self) -> None:
        from django.db import connections

        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._hurry, self.delay)
                batch, self._pending = self._pending, {}
                if not batch:
                    self._thread = None
                    self._cond.notify_all()
                    return
                self._busy = True
            try:
                for account_id, pks in sorted(batch.items()):
                    self.trained += self._train(account_id, pks)
            except Exception:  # noqa: BLE001 - logged; the messages stay untrained, consistently
                log.exception("junk filter: deferred training failed", extra={"accounts": sorted(batch)})
            finally:
                # No connection is kept between batches (nor left behind a test database).
                connections.close_all()
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    @staticmethod
    def _train(account_id: int, pks: list[int]) -> int:
        trained = 0
        for chunk in _chunks(pks):
            messages = list(
                Message.objects.filter(account_id=account_id, pk__in=list(chunk)).select_related("account")
                .only("pk", "path", "prefix", "junk", "notjunk", "trained_junk", "account")
            )
            if messages:
                trained += retrain_messages(messages)
        return trained


trainer = DeferredTraining()
atexit.register(trainer.drain, 10.0)


def train_later(message: Message) -> None:
    """Have the deferred trainer bring a new message's training in line with its flags,
    once the current transaction commits (nothing when it rolls back)."""
    if not enabled(message.account) or wanted_training(message.junk, message.notjunk) == message.trained_junk:
        return
    account_id, pk = message.account_id, message.pk
    transaction.on_commit(lambda: trainer.submit(account_id, pk))


def _retrain_batch(account: Account, messages: Sequence[Message]) -> None:
    """retrain_for_flags for several messages in one transaction: the words of all of
    them applied in one _apply (IMAP STORE on 50 messages, PostgreSQL: 1.74 -> 0.20 s)."""
    try:
        params = params_for(account)
    except JunkFilterDisabled:
        return
    by_pk = {m.pk: m for m in messages}
    with transaction.atomic():
        totals_row = _lock(account.pk)
        states = {
            pk: (trained, junk, notjunk)
            for pk, trained, junk, notjunk in Message.objects.filter(pk__in=list(by_pk)).values_list(
                "pk", "trained_junk", "junk", "notjunk"
            )
        }
        trainings: list[_Training] = []
        done: dict[bool | None, list[int]] = {}
        for message in messages:
            trained, junk, notjunk = states.get(message.pk, (message.trained_junk, message.junk, message.notjunk))
            want = wanted_training(junk, notjunk)
            if want == trained:
                message.trained_junk = trained
                continue
            words = _words_to_train(message, params)
            if words is None:
                continue
            trainings.append((words, _changes(trained, want)))
            if message.pk in states:
                done.setdefault(want, []).append(message.pk)
            message.trained_junk = want
        if trainings:
            _apply(account.pk, totals_row, trainings)
        for want, pks in done.items():
            Message.objects.filter(pk__in=pks).update(trained_junk=want)
    log.debug("junk filter trained", extra={"account": account.name, "messages": len(trainings)})


@dataclass(frozen=True)
class RetrainResult:
    messages: int
    junk: int
    ham: int
    words: int


def retrain_account(account: Account, progress: Callable[[int, int], None] | None = None) -> RetrainResult:
    """Rebuild the account's word counts from scratch from the flags of all its
    messages (mox retrain), and set every message's training state to match.
    `progress(done, total)` is called as messages are read. Raises JunkFilterDisabled.

    The account's store stays locked until done, so no flag change or delivery can
    slip between reading the messages and writing the counts."""
    params = params_for(account)
    counts: dict[str, list[int]] = {}
    hams = spams = 0
    with transaction.atomic():
        _lock(account.pk)
        trainable = Message.objects.filter(account=account).exclude(junk=F("notjunk"))
        total = trainable.count()
        if progress is not None:
            progress(0, total)
        done = 0
        junk_ids: list[int] = []
        ham_ids: list[int] = []
        for message in trainable.only("pk", "path", "prefix", "junk").order_by("pk").iterator(chunk_size=200):
            done += 1
            try:
                words = _message_words(message, params)
            except OSError as exc:
                log.error("junk filter: reading message", extra={"message_pk": message.pk, "error": str(exc)})
                if progress is not None:
                    progress(done, total)
                continue
            index = 1 if message.junk else 0
            for w in words:
                c = counts.get(w)
                if c is None:
                    c = counts[w] = [0, 0]
                c[index] += 1
            if message.junk:
                spams += 1
                junk_ids.append(message.pk)
            else:
                hams += 1
                ham_ids.append(message.pk)
            if progress is not None:
                progress(done, total)
        JunkWord.objects.filter(account=account).delete()
        rows = [JunkWord(account_id=account.pk, word=TOTALS_WORD, ham=hams, spam=spams)]
        rows += [JunkWord(account_id=account.pk, word=w, ham=c[0], spam=c[1]) for w, c in counts.items()]
        JunkWord.objects.bulk_create(rows, batch_size=1000)
        Message.objects.filter(account=account).exclude(trained_junk=None).update(trained_junk=None)
        for ids, state in ((junk_ids, True), (ham_ids, False)):
            for i in range(0, len(ids), CHUNK):
                Message.objects.filter(pk__in=ids[i : i + CHUNK]).update(trained_junk=state)
    log.info("junk filter retrained", extra={"account": account.name, "ham": hams, "spam": spams, "words": len(counts)})
    return RetrainResult(messages=hams + spams, junk=spams, ham=hams, words=len(counts))
