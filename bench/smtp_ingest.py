"""SMTP ingest benchmark: N messages of 4 KB over C concurrent SMTP sessions into localserve.

Prints messages per second and localserve's peak RSS (VmHWM). Every message is durable
(fsynced file and committed row) before its 250, as in normal operation.

    .venv/bin/python bench/smtp_ingest.py [--messages 5000] [--concurrency 20]
"""
from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import aiosmtplib

ROOT = Path(__file__).resolve().parents[1]
PORTS = (25, 587, 465, 143, 993, 80, 443, 81)


def free_offset() -> int:
    for _ in range(200):
        offset = random.randrange(20000, 55000)
        ok = True
        for p in PORTS:
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", p + offset))
                except OSError:
                    ok = False
                    break
        if ok:
            return offset
    raise SystemExit("no free ports")


def message(i: int, size: int) -> bytes:
    head = (
        f"From: bench@example.org\r\nTo: mox@localhost\r\nSubject: bench {i}\r\n"
        f"Message-ID: <bench-{i}@example.org>\r\n\r\n"
    ).encode()
    line = b"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ012345678\r\n"
    body = (line * (size // len(line) + 1))[: max(0, size - len(head))]
    return head + body


def peak_rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


async def run_clients(port: int, total: int, concurrency: int, size: int) -> tuple[int, int]:
    counter = iter(range(total))
    ok = 0
    failed = 0

    async def worker() -> None:
        nonlocal ok, failed
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=60)
        await client.connect()
        await client.ehlo("bench.example")
        for i in counter:
            try:
                await client.sendmail("bench@example.org", [f"r{i % 50}@localhost"], message(i, size))
                ok += 1
            except aiosmtplib.SMTPException:
                failed += 1
        await client.quit()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return ok, failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--size", type=int, default=4096)
    args = parser.parse_args()

    offset = free_offset()
    with tempfile.TemporaryDirectory(prefix="moxweb-bench-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MOX_") and k != "DATABASE_URL"}
        env.update({"DJANGO_SETTINGS_MODULE": "moxweb.settings", "MOX_RUN_WORKER": "0", "MOX_LOG_LEVEL": "WARNING"})
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "localserve", "--dir", tmp, "--port-offset", str(offset)],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        ready = threading.Event()

        def reader() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                if "stop with ctrl-c" in line:
                    ready.set()
            ready.set()

        threading.Thread(target=reader, daemon=True).start()
        if not ready.wait(120) or proc.poll() is not None:
            raise SystemExit("localserve did not start")
        start = time.monotonic()
        ok, failed = asyncio.run(run_clients(25 + offset, args.messages, args.concurrency, args.size))
        elapsed = time.monotonic() - start
        rss = peak_rss_kib(proc.pid)
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"moxweb localserve SMTP ingest: {ok} messages of {args.size} bytes over {args.concurrency} sessions")
    print(f"  {ok / elapsed:.0f} messages/s ({elapsed:.1f} s), {failed} failed, peak RSS {rss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
