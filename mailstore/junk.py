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
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import F

from accounts.models import Account
from mailcore.junk import (
    TOTALS_WORD,
    Counts,
    Params,
    Result,
    adjust,
    adjusted,
    bad_content_type_result,
    classify_words,
    tokenize,
)
from mailstore import files
from mailstore.models import JunkWord, Message, Store

log = logging.getLogger(__name__)

# Words per query: below SQLite's limit on query parameters, small enough for any database.
CHUNK = 500

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
    "untrain",
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


def _chunks(words: Sequence[str]) -> Iterable[Sequence[str]]:
    for i in range(0, len(words), CHUNK):
        yield words[i : i + CHUNK]


def _select_counts(account_id: int, words: Sequence[str]) -> list[tuple[str, int, int]]:
    """Plain SQL: the ORM's `word__in` costs about 20 us per word to prepare, more than
    the database needs to find it."""
    if not words:
        return []
    quote = connection.ops.quote_name
    sql = (
        f"SELECT {quote('word')}, {quote('ham')}, {quote('spam')} FROM {quote(JunkWord._meta.db_table)} "
        f"WHERE {quote('account_id')} = %s AND {quote('word')} IN ({', '.join(['%s'] * len(words))})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [account_id, *words])
        return cursor.fetchall()


class DatabaseWordStore:
    """A mailcore.junk.WordStore over an account's JunkWord rows. The totals are fetched
    with the first lookup, so classifying a typical message costs one query."""

    def __init__(self, account_id: int) -> None:
        self.account_id = account_id
        self._totals: Counts | None = None

    def lookup(self, words: Sequence[str]) -> Mapping[str, Counts]:
        found: dict[str, Counts] = {}
        wanted = [TOTALS_WORD, *words] if self._totals is None else list(words)
        for chunk in _chunks(wanted):
            for word, ham, spam in _select_counts(self.account_id, chunk):
                found[word] = Counts(ham, spam)
        if self._totals is None:
            self._totals = found.pop(TOTALS_WORD, Counts())
        return found

    def totals(self) -> Counts:
        if self._totals is None:
            self.lookup([])
        assert self._totals is not None
        return self._totals


def classify(account: Account, data: bytes, *, threshold: float | None = None) -> Result:
    """The junk probability of a message's bytes for this account. `threshold` overrides
    the account's (the SMTP server adds jitter). Raises JunkFilterDisabled."""
    params = params_for(account)
    tokens = tokenize(data, params)
    if tokens.bad_content_type:
        return bad_content_type_result()
    return classify_words(tokens.words, DatabaseWordStore(account.pk), params, threshold)


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


def _apply(account_id: int, totals_row: JunkWord, words: Sequence[str], changes: Sequence[tuple[bool, int]]) -> None:
    """Untrain (delta -1) and/or train (delta 1) one message's words as junk or ham, in a
    few batched queries: the rows are read once and written once. Must run under _lock."""
    rows: dict[str, JunkWord] = {}
    for chunk in _chunks(words):
        for row in JunkWord.objects.filter(account_id=account_id, word__in=chunk).only("pk", "word", "ham", "spam"):
            rows[row.word] = row
    new = {w: Counts(r.ham, r.spam) for w, r in rows.items()}
    totals = Counts(totals_row.ham, totals_row.spam)
    for junk, delta in changes:
        new.update(adjusted(new, words, junk, delta))
        totals = adjust(totals, junk, delta)
    create: list[JunkWord] = []
    update: list[JunkWord] = [totals_row]
    delete: list[int] = []
    for word, counts in new.items():
        row = rows.get(word)
        if row is None:
            if counts != (0, 0):
                create.append(JunkWord(account_id=account_id, word=word, ham=counts.ham, spam=counts.spam))
        elif counts == (0, 0):
            # Words no message is trained with any more take no room (mox does the same).
            delete.append(row.pk)
        elif counts != (row.ham, row.spam):
            row.ham, row.spam = counts
            update.append(row)
    totals_row.ham, totals_row.spam = totals
    if create:
        JunkWord.objects.bulk_create(create, batch_size=CHUNK)
    JunkWord.objects.bulk_update(update, ["ham", "spam"], batch_size=CHUNK)
    for i in range(0, len(delete), CHUNK):
        JunkWord.objects.filter(pk__in=delete[i : i + CHUNK]).delete()


def _current_state(message: Message) -> tuple[bool, bool | None, bool, bool]:
    """(exists, trained_junk, junk, notjunk) from the database; the object's own values
    when the row is gone."""
    row = Message.objects.filter(pk=message.pk).values_list("trained_junk", "junk", "notjunk").first()
    if row is None:
        return False, message.trained_junk, message.junk, message.notjunk
    return True, row[0], row[1], row[2]


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
        try:
            words = _message_words(message, params)
        except OSError as exc:
            # As mox: a message that cannot be read keeps its training state.
            log.error("junk filter: reading message", extra={"message_pk": message.pk, "error": str(exc)})
            return
        changes = [] if trained is None else [(trained, -1)]
        if want is not None:
            changes.append((want, 1))
        _apply(account.pk, totals_row, words, changes)
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
    for message in pending:
        retrain_for_flags(message)
    return len(pending)


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
