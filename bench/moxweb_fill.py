"""Fill a moxweb account's mailbox with the benchmark corpus through the store's own verb
(`mailstore.actions.deliver`, durable per message), from several threads so concurrent
deliveries share commits (mailstore/groupcommit.py). Run in the environment of the
server's data (bench.common.Localserve.manage_env):

    python bench/moxweb_fill.py ACCOUNT MAILBOX:COUNT[:START] ... [--threads 16]

Message numbers START.. of the corpus go into each MAILBOX (created if missing; COUNT may
be 0). Prints "filled N in S s".
"""
from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("account")
    parser.add_argument("specs", nargs="+", metavar="MAILBOX:COUNT[:START]")
    parser.add_argument("--threads", type=int, default=16)
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

    def one(job: tuple[str, int]) -> None:
        name, i = job
        deliver_bytes(account, name, message(i), received=BASE + timedelta(minutes=i))

    start = time.monotonic()
    # Chunks in order keep UIDs close to corpus order; group commit batches within a chunk.
    with ThreadPoolExecutor(args.threads) as pool:
        chunk = args.threads * 8
        for base in range(0, len(jobs), chunk):
            list(pool.map(one, jobs[base: base + chunk]))
    print(f"filled {len(jobs)} in {time.monotonic() - start:.1f} s", flush=True)


if __name__ == "__main__":
    main()
