"""Another process that delivers on request, for the IDLE latency figure: for each line
"go" on stdin it stores one message and prints the monotonic time (system-wide on Linux)
at which the delivery started.

    python bench/deliverer.py moxweb ACCOUNT MAILBOX     (in the server's environment)
    python bench/deliverer.py maildir PATH UID GID       (a Dovecot Maildir: tmp/ then new/)
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    mode = sys.argv[1]
    if mode == "moxweb":
        import django

        django.setup()
        from accounts.models import Account
        from mailstore.actions import deliver_bytes

        account = Account.objects.get(name=sys.argv[2])
        mailbox = sys.argv[3]

        def deliver(data: bytes) -> None:
            deliver_bytes(account, mailbox, data)
    elif mode == "maildir":
        path, uid, gid = Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])

        def deliver(data: bytes) -> None:
            name = f"{time.time():.6f}.P{os.getpid()}.idle,S={len(data)}"
            with open(path / "tmp" / name, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chown(path / "tmp" / name, uid, gid)
            os.rename(path / "tmp" / name, path / "new" / name)
    else:
        raise SystemExit(f"unknown mode {mode!r}: moxweb or maildir")
    from bench.corpus import message

    for n, line in enumerate(sys.stdin):
        if line.strip() != "go":
            break
        data = message(1_000_000 + n, 1000)
        start = time.monotonic()
        deliver(data)
        print(f"{start:.6f}", flush=True)


if __name__ == "__main__":
    main()
