"""The moxweb side of the queue benchmark, run in the environment of a fresh data
directory (migrated): queue COUNT messages of SIZE bytes for relay through a transport
to 127.0.0.1:PORT (smtp-sink), held; print "ready"; on "go" from stdin release them all
and kick the queue (the `manage.py qcluster` worker started by the benchmark delivers),
then wait until the queue is empty and print "done SECONDS FAILED".

    python bench/moxweb_queue.py COUNT PORT [--size 4096] [--domains 10]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("count", type=int)
    parser.add_argument("port", type=int)
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--domains", type=int, default=10, help="recipient domains (the queue's per-domain limit)")
    args = parser.parse_args()
    from bench.common import skip_fsync_for_setup

    skip_fsync_for_setup()  # queueing is set-up; the worker process delivering keeps its fsyncs
    import django

    django.setup()
    from django.db import transaction

    from bench.corpus import smtp_message
    from mailqueue.actions import QueueRecipient, enqueue
    from mailqueue.models import QueuedMessage, Route, Transport
    from mailqueue.queueops import hold, release
    from mailqueue.tasks import scan_queue
    from mailstore import files

    transport = Transport.objects.create(name="sink", kind=Transport.Kind.SMTP, host="127.0.0.1", port=args.port,
                                         no_starttls=True)
    Route.objects.create(transport=transport)
    for i in range(args.count):
        path = files.write_temp(smtp_message(i, args.size))
        try:
            (qm,) = enqueue(None, "bench", "example.org", [QueueRecipient(f"r{i}", f"d{i % args.domains}.example")],
                            path, message_id=f"<bench-{i}@example.org>")
        finally:
            path.unlink(missing_ok=True)
        hold(qm)
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        return
    start = time.monotonic()
    with transaction.atomic():
        for qm in QueuedMessage.objects.all():
            release(qm)
    scan_queue()
    while QueuedMessage.objects.filter(last_error="").exists():
        time.sleep(0.05)
    elapsed = time.monotonic() - start
    failed = QueuedMessage.objects.count()
    print(f"done {elapsed:.3f} {failed}", flush=True)
    if failed:
        print(f"first error: {QueuedMessage.objects.first().last_error}", flush=True)


if __name__ == "__main__":
    main()
