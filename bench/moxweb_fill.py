"""Fill a moxweb account's mailbox with the benchmark corpus. Run in the environment of
the server's data (bench.common.Localserve.manage_env):

    python bench/moxweb_fill.py ACCOUNT MAILBOX:COUNT[:START] ... [--threads 16] [--bulk]

Message numbers START.. of the corpus go into each MAILBOX (created if missing; COUNT may
be 0). Prints "filled N in S s".

Default: through the store's own verb (`mailstore.actions.deliver`), from several
threads so concurrent deliveries share commits (mailstore/groupcommit.py).

--bulk: the same rows, files and changes, made quickly for a large benchmark mailbox.
Messages are parsed by the verb's own parse (`actions._parse_bytes`, which also makes
the search columns) in worker processes, their files are written straight into place, and
each message is inserted by the verb's own insert (`actions._insert_message`: modseq,
UID, Message row, Change row), a few thousand to a transaction instead of a group commit
per few. Only for set-up: no fsync, no delivery log lines, no notifications matter here.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

BULK_CHUNK = 2000


def _prepare(args: tuple[int, int]) -> list[tuple[str, int, dict[str, Any], Any]]:
    """Worker: parse and write the files of corpus messages [start, stop); returns
    (rel path, size, parsed, summary) for each, in order."""
    from bench.corpus import message
    from mailstore import actions, files

    start, stop = args
    account_id = _ACCOUNT_ID
    out = []
    made: set[Path] = set()
    for i in range(start, stop):
        data = message(i)
        parsed, summary = actions._parse_bytes(data)
        dest, rel = files.new_message_path(account_id)
        if dest.parent not in made:
            dest.parent.mkdir(parents=True, exist_ok=True)
            made.add(dest.parent)
        dest.write_bytes(data)
        out.append((rel, len(data), parsed, summary))
    return out


_ACCOUNT_ID = 0


def _init_worker(account_id: int) -> None:
    global _ACCOUNT_ID
    _ACCOUNT_ID = account_id
    import django

    django.setup()


def bulk_fill(account: Any, jobs: list[tuple[str, int]], workers: int) -> None:
    from django.db import transaction

    from bench.corpus import BASE
    from mailstore import actions

    # Consecutive runs of one mailbox, cut into chunks parsed in parallel.
    chunks: list[tuple[str, int, int]] = []
    for name, i in jobs:
        if chunks and chunks[-1][0] == name and chunks[-1][2] == i and chunks[-1][2] - chunks[-1][1] < BULK_CHUNK:
            chunks[-1] = (name, chunks[-1][1], i + 1)
        else:
            chunks.append((name, i, i + 1))
    with ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(account.pk,)) as pool:
        prepared = pool.map(_prepare, [(lo, hi) for _, lo, hi in chunks])
        for (name, lo, _hi), items in zip(chunks, prepared):
            with transaction.atomic():
                for k, (rel, size, parsed, summary) in enumerate(items):
                    received = BASE + timedelta(minutes=lo + k)
                    actions._insert_message(account, name, rel, size, b"", parsed, summary, received, None, None, None)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("account")
    parser.add_argument("specs", nargs="+", metavar="MAILBOX:COUNT[:START]")
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--bulk", action="store_true", help="the quick set-up path (see the module doc)")
    parser.add_argument("--durable", action="store_true",
                        help="fsync each message as a real delivery does (default: no fsync, it is only set-up)")
    args = parser.parse_args()
    import django

    if not args.durable:
        from bench.common import skip_fsync_for_setup

        skip_fsync_for_setup()
    django.setup()
    from accounts.models import Account
    from bench.corpus import BASE, message
    from mailstore.actions import create_mailbox, deliver_bytes
    from mailstore.models import Mailbox

    account = Account.objects.get(name=args.account)
    jobs: list[tuple[str, int]] = []
    for spec in args.specs:
        name, count, start = (spec.split(":") + ["0"])[:3]
        if not Mailbox.objects.filter(account=account, name=name).exists():
            create_mailbox(account, name)
        jobs.extend((name, i) for i in range(int(start), int(start) + int(count)))

    start = time.monotonic()
    if args.bulk:
        bulk_fill(account, jobs, max(1, min(4, os.cpu_count() or 1)))
    else:
        def one(job: tuple[str, int]) -> None:
            name, i = job
            deliver_bytes(account, name, message(i), received=BASE + timedelta(minutes=i))

        # Chunks in order keep UIDs close to corpus order; group commit batches within a chunk.
        with ThreadPoolExecutor(args.threads) as pool:
            chunk = args.threads * 8
            for base in range(0, len(jobs), chunk):
                list(pool.map(one, jobs[base: base + chunk]))
    print(f"filled {len(jobs)} in {time.monotonic() - start:.1f} s", flush=True)


if __name__ == "__main__":
    main()
