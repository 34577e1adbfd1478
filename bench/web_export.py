"""Export and import throughput of the account pages' mail engine: a mailbox of --mb MB
exported through the download view (Django's test client reading the streamed
response, as a browser would) as mbox and maildir in zip and tgz, with the process's
memory sampled while it streams; then --import-count messages imported from one mbox
file by the engine the import page runs in the background (import_mailboxes).

    flock /tmp/moxweb-bench.lock .venv/bin/python bench/web_export.py [--db sqlite|postgresql] [--mb 1024]

There is no Debian peer for a web download; the figures are moxweb's against the
targets (export >= 50 MB/s with flat memory, 100,000 messages imported in < 5 minutes).
The mailbox is a mix like real mail: three in four messages are text of about 20 KB,
one in four carries a base64 attachment of about 200 KB (random bytes, which hardly
compress). Its files are written directly (set-up, not measured)."""
from __future__ import annotations

import argparse
import base64
import logging
import os
import random
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import load, machine, proc_status_kib  # noqa: E402
from bench.web_common import run_children  # noqa: E402

ADDRESS = "export@bench.example"
PASSWORD = "exportpassword"


def mail(i: int) -> bytes:
    from bench.corpus import message

    if i % 4 != 3:
        return message(i, 20000)
    rnd = random.Random(i)
    att = base64.encodebytes(rnd.randbytes(150_000)).replace(b"\n", b"\r\n")
    head = message(i, 500).replace(b"Content-Type: text/plain; charset=utf-8\r\n",
                                   b'Content-Type: multipart/mixed; boundary="b"\r\n')
    header, _, body = head.partition(b"\r\n\r\n")
    return (header + b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n" + body + b"\r\n--b\r\n"
            b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n" + att + b"--b--\r\n")


def fill_mailbox(account: object, megabytes: int) -> tuple[int, int]:
    """Message rows and files for `megabytes` of mail in Inbox; (messages, bytes)."""
    from django.utils import timezone

    from mailstore import files
    from mailstore.models import Mailbox, Message

    box = Mailbox.objects.get(account=account, name="Inbox")
    now = timezone.now()
    rows, total, i = [], 0, 0
    while total < megabytes * 1_000_000:
        data = mail(i)
        dest, rel = files.new_message_path(account.pk)  # type: ignore[attr-defined]
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
        rows.append(Message(account=account, mailbox=box, uid=i + 1, modseq=i + 2, created_modseq=i + 2,
                            received=now - timedelta(minutes=i), size=len(data), path=str(rel),
                            seen=i % 2 == 0, keywords=["$label1"] if i % 5 == 0 else []))
        total += len(data)
        i += 1
        if len(rows) == 1000:
            Message.objects.bulk_create(rows)
            rows = []
    Message.objects.bulk_create(rows)
    Mailbox.objects.filter(pk=box.pk).update(uidnext=i + 1)
    return i, total


class RSS:
    """The process's resident memory, sampled every 50 ms while running."""

    def __init__(self) -> None:
        self.peak = self.start = self.now()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    @staticmethod
    def now() -> int:
        return proc_status_kib(os.getpid(), "VmRSS") * 1024

    def run(self) -> None:
        while not self.stop.wait(0.05):
            self.peak = max(self.peak, self.now())

    def __enter__(self) -> RSS:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


def export_runs(args: argparse.Namespace) -> None:
    from django.test import Client

    from accounts import actions

    account = actions.create_account("export", ADDRESS, PASSWORD)
    t0 = time.monotonic()
    n, size = fill_mailbox(account, args.mb)
    print(f"mailbox: {n} messages, {size / 1e6:.0f} MB (written in {time.monotonic() - t0:.0f} s)", flush=True)
    client = Client()
    assert client.post("/account/login/", {"email": ADDRESS, "password": PASSWORD}).status_code == 302
    print("| export | archive MB | seconds | MB/s of mail | RSS start MB | RSS peak MB | >= 50 MB/s |")
    print("|---|---|---|---|---|---|---|")
    for fmt, archive in [("mbox", "zip"), ("mbox", "tgz"), ("maildir", "zip"), ("maildir", "tgz")][: args.exports]:
        with RSS() as rss:
            t = time.perf_counter()
            resp = client.get("/account/export/download/", {"format": fmt, "archive": archive, "mailbox": "Inbox"})
            assert resp.status_code == 200, resp.status_code
            out = 0
            for chunk in resp.streaming_content:
                out += len(chunk)
            dt = time.perf_counter() - t
        rate = size / dt / 1e6
        print(f"| {fmt}.{archive} | {out / 1e6:.0f} | {dt:.1f} | {rate:.0f} | {rss.start / 1e6:.0f} | {rss.peak / 1e6:.0f} | "
              f"{'yes' if rate >= 50 else 'NO'} |", flush=True)
    print(load(), flush=True)


def import_run(args: argparse.Namespace) -> None:
    from accounts import actions
    from bench.corpus import message
    from mailstore import files
    from mailstore.importexport import import_mailboxes
    from mailstore.models import Message

    account = actions.create_account("importer", "importer@bench.example", PASSWORD)
    mbox = files.tmp_dir() / "bench-import.mbox"
    with open(mbox, "wb") as out:
        for i in range(args.import_count):
            out.write(f"From sender@example.org Thu Jan  1 00:{i % 60:02d}:00 2026\n".encode())
            out.write(message(i).replace(b"\r\n", b"\n").replace(b"\nFrom ", b"\n>From "))
            out.write(b"\n")
    size = mbox.stat().st_size
    with RSS() as rss:
        t = time.perf_counter()
        result = import_mailboxes(account, "mbox", "Imported", mbox)
        dt = time.perf_counter() - t
    assert result.total == args.import_count == Message.objects.filter(account=account).count()
    rate = args.import_count / dt
    print(f"import: {args.import_count} messages ({size / 1e6:.0f} MB mbox) in {dt:.1f} s = {rate:.0f} msg/s; "
          f"100,000 would take {100_000 / rate / 60:.1f} min (target < 5); RSS {rss.start / 1e6:.0f} -> peak "
          f"{rss.peak / 1e6:.0f} MB; {load()}", flush=True)


def child(args: argparse.Namespace) -> None:
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    settings.ALLOWED_HOSTS = ["*"]
    logging.disable(logging.INFO)
    call_command("migrate", verbosity=0)
    from webadmin import actions as console

    console.add_domain("bench.example", "")
    print(f"{connection.vendor}:", flush=True)
    if args.mb:
        export_runs(args)
    if args.import_count:
        import_run(args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument("--mb", type=int, default=1024, help="mailbox size to export (0: no export)")
    parser.add_argument("--exports", type=int, default=4, help="how many of mbox.zip, mbox.tgz, maildir.zip, maildir.tgz")
    parser.add_argument("--import-count", type=int, default=100_000, help="messages to import (0: no import)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    print(machine())
    run_children(__file__, args.db, ["--mb", str(args.mb), "--exports", str(args.exports),
                                     "--import-count", str(args.import_count)])


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "moxweb.settings")
    main()
