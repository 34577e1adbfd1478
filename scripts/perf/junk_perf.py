"""Messages per second the junk filter classifies for a trained account, on one core.

    .venv/bin/python scripts/perf/junk_perf.py [--messages 300] [--train 400] [--rounds 5] [--profile out.prof]
        [--flags 50]

Uses a scratch data directory and database: SQLite in it by default, or the
PostgreSQL database named by --database-url (tables are created by migrate; the
account made here is deleted at the end). Trains an account with --train ~20 KB
messages (half ham, half junk, scripts/perf/corpus.py, several thousand distinct
words: delivered with $NotJunk/$Junk, then retrained from the flags), then classifies
--messages other ~20 KB messages with mailstore.junk.classify (outside a
transaction, as the SMTP server does), as the SMTP server
does for each recipient account. Prints CPU time per message (time.process_time, the
best of --rounds passes after a first pass that fills the caches, since the machine
may be shared) and the messages per second that makes on one core. With --flags N,
also the time training takes on N flag changes made as IMAP STORE makes them, and a
retrain of the account (`manage.py retrain`).
"""
from __future__ import annotations

import argparse
import cProfile
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

# PERF_TREE=/path/to/other/checkout measures that tree's code with this script (for
# before/after figures taken back to back).
ROOT = Path(os.environ.get("PERF_TREE") or Path(__file__).resolve().parents[2])
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]


def setup(database_url: str, data_dir: str) -> None:
    os.environ["MOX_DATA_DIR"] = data_dir
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    else:
        os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "moxweb.settings")
    import django

    django.setup()
    logging.disable(logging.INFO)
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--train", type=int, default=400)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", default="", help="write a cProfile of the measured passes to this file")
    parser.add_argument("--flags", type=int, default=0, help="also time training on this many flag changes and retrain")
    args = parser.parse_args()
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory(prefix="junkperf-") as data_dir:
        setup(args.database_url, data_dir)
        run(args.messages, args.train, args.profile, args.rounds, args.flags)


def _pass(call: Callable[[bytes], object], messages: list[bytes]) -> float:
    """CPU ms per message of one pass over the messages."""
    c0 = time.process_time()
    for m in messages:
        call(m)
    return (time.process_time() - c0) * 1000 / len(messages)


def _timed(what: str, count: int, call: Callable[[], object]) -> None:
    w0, c0 = time.perf_counter(), time.process_time()
    call()
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    print(f"{what}: {wall:.2f} s wall, {cpu:.2f} s CPU; {wall * 1000 / count:.1f} ms wall per message")


def measure_training(account: object, n: int) -> None:
    """Training on flag changes as IMAP STORE makes them (one message per STORE, then
    one STORE on all), and `manage.py retrain`'s rebuild of all trained messages."""
    from mailstore import junk
    from mailstore.actions import set_flags
    from mailstore.models import Mailbox, Message

    archive = Mailbox.objects.get(account=account, name="Archive")
    uids = list(Message.objects.filter(mailbox=archive).order_by("uid").values_list("uid", flat=True)[:n])

    def one_by_one() -> None:
        for uid in uids:
            set_flags(archive.account_id, archive.pk, [uid], "replace", ["$Junk"])

    _timed(f"flag change trains, {len(uids)} STOREs of one message (ham -> junk)", len(uids), one_by_one)
    _timed(
        f"flag change trains, one STORE of {len(uids)} messages (junk -> ham)",
        len(uids),
        lambda: set_flags(archive.account_id, archive.pk, uids, "replace", ["$NotJunk"]),
    )
    trained = Message.objects.filter(account=account).exclude(trained_junk=None).count()
    _timed(f"retrain_account, {trained} messages", trained, lambda: junk.retrain_account(account))  # type: ignore[arg-type]


def run(n: int, n_train: int, profile: str, rounds: int, flags: int = 0) -> None:
    import corpus
    from django.db import connection

    from accounts.actions import create_account, create_domain
    from accounts.models import Account, Domain
    from mailcore.junk import tokenize
    from mailstore import junk
    from mailstore.actions import deliver_bytes
    from mailstore.models import JunkWord

    Account.objects.filter(name="junkperf").delete()
    Domain.objects.filter(name="junkperf.test").delete()
    create_domain("junkperf.test")
    account = create_account("junkperf", "perf@junkperf.test", "junkperfpassword")
    try:
        ham_vocab = corpus.vocabulary(3000, seed=1)
        spam_vocab = corpus.COMMON + corpus.vocabulary(3000, seed=2)[len(corpus.COMMON):]
        t0 = time.perf_counter()
        for i in range(n_train):
            spam = i % 2 == 1
            data = corpus.message(i, spam_vocab if spam else ham_vocab, sender="perf@sender.test")
            deliver_bytes(account, "Junk" if spam else "Archive", data, flags={"$Junk" if spam else "$NotJunk"})
        junk.retrain_account(account)
        words = JunkWord.objects.filter(account=account).count()
        print(f"{connection.vendor}: trained {n_train} messages, {words} words, in {time.perf_counter() - t0:.1f} s")
        messages = [
            corpus.message(10_000 + i, spam_vocab if i % 2 else ham_vocab, sender="perf@sender.test") for i in range(n)
        ]
        params = junk.params_for(account)
        # The machine may be shared: each figure is the best of `rounds` passes.
        tok = min(_pass(lambda m: tokenize(m, params), messages) for _ in range(rounds))
        print(f"tokenize alone: {tok:.2f} ms CPU per message (best of {rounds} passes)")
        junky = sum(junk.classify(account, m).is_junk for m in messages)  # first pass: fills caches
        print(f"{junky}/{n} classified as junk")
        prof = cProfile.Profile() if profile else None
        if prof:
            prof.enable()
        cpu = min(_pass(lambda m: junk.classify(account, m), messages) for _ in range(rounds))
        if prof:
            prof.disable()
            prof.dump_stats(profile)
        print(f"classify: {cpu:.2f} ms CPU per message (best of {rounds} passes), {1000 / cpu:.0f} messages/s")
        if flags:
            measure_training(account, flags)
    finally:
        account.delete()
        Domain.objects.filter(name="junkperf.test").delete()


if __name__ == "__main__":
    main()
