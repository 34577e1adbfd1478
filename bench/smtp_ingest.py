"""SMTP ingest benchmark: N messages of 4 KB over C concurrent SMTP sessions into
localserve, and the same load into Postfix (Debian's, accepting into its durable queue)
in the same run, with Postfix's own `smtp-source` as the client for both.

Prints messages per second of each and the ratio, localserve's peak RSS (VmHWM), and
the RSS of localserve holding 1,000 idle SMTP sessions; writes bench/results/latest.md.
Every message is durable (fsynced file and committed row) before its 250.

    .venv/bin/python bench/smtp_ingest.py [--messages 5000] [--concurrency 20] [--no-postfix]
"""
from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import shutil
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
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=60, start_tls=False, local_hostname="bench.example")
        await client.connect()
        await client.ehlo()
        for i in counter:
            try:
                await client.sendmail("bench@example.org", [f"r{i % 50}@localhost"], message(i, size))
                ok += 1
            except aiosmtplib.SMTPException:
                failed += 1
        await client.quit()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return ok, failed


def smtp_source(port: int, total: int, concurrency: int, size: int, rcpt: str) -> float:
    """Seconds smtp-source takes to deliver `total` messages over `concurrency` sessions."""
    start = time.monotonic()
    subprocess.run(
        ["smtp-source", "-d", "-s", str(concurrency), "-m", str(total), "-l", str(size), "-f", "bench@example.org",
         "-t", rcpt, f"127.0.0.1:{port}"],
        check=True, stdout=subprocess.DEVNULL,
    )
    return time.monotonic() - start


def vm_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def idle_sessions_rss(port: int, pid: int, count: int) -> int:
    """RSS (KiB) of the server while it holds `count` sessions that said EHLO. Each comes
    from its own loopback address in its own /21, so the per-network connection limits
    (mox's, rightly strict) do not turn them away."""
    socks = []
    try:
        for i in range(count):
            source = f"127.{i // 8 + 1}.{(i % 8) * 32}.1"
            s = socket.create_connection(("127.0.0.1", port), timeout=30, source_address=(source, 0))
            s.recv(1024)
            s.sendall(b"EHLO idle.example\r\n")
            socks.append(s)
        for s in socks:
            s.recv(4096)
        time.sleep(1)
        return vm_rss_kib(pid)
    finally:
        for s in socks:
            s.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--idle", type=int, default=1000, help="idle sessions to hold for the memory figure")
    parser.add_argument("--no-postfix", action="store_true", help="measure moxweb only")
    args = parser.parse_args()
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))
    use_smtp_source = bool(shutil.which("smtp-source"))
    if not args.no_postfix:
        from postfix_peer import ensure_installed

        ensure_installed()
        use_smtp_source = True

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
        try:
            if not ready.wait(120) or proc.poll() is not None:
                raise SystemExit("localserve did not start")
            if use_smtp_source:
                elapsed = smtp_source(25 + offset, args.messages, args.concurrency, args.size, "mox@localhost")
                ok, failed = args.messages, 0
            else:
                start = time.monotonic()
                ok, failed = asyncio.run(run_clients(25 + offset, args.messages, args.concurrency, args.size))
                elapsed = time.monotonic() - start
            rss = peak_rss_kib(proc.pid)
            idle_rss = idle_sessions_rss(25 + offset, proc.pid, args.idle) if args.idle else 0
        finally:
            proc.send_signal(signal.SIGTERM)
        proc.wait(30)

    peer_rate = 0.0
    if not args.no_postfix:
        from postfix_peer import Postfix

        with tempfile.TemporaryDirectory(prefix="moxweb-bench-postfix-") as tmp:
            peer = Postfix(Path(tmp), free_offset() + 25)
            peer.start()
            try:
                peer_elapsed = smtp_source(peer.port, args.messages, args.concurrency, args.size, "rcpt@example.test")
            finally:
                peer.stop()
        peer_rate = args.messages / peer_elapsed

    rate = ok / elapsed
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    lines = [
        f"SMTP ingest, {args.messages} messages of {args.size} bytes over {args.concurrency} sessions "
        f"({'smtp-source' if use_smtp_source else 'aiosmtplib'}), machine: {machine}",
        "",
        "| figure | moxweb | Postfix | moxweb/Postfix |",
        "|---|---|---|---|",
        f"| messages/s | {rate:.0f} | {peer_rate:.0f} | {rate / peer_rate:.2f} |" if peer_rate else
        f"| messages/s | {rate:.0f} | not run | |",
        f"| peak RSS during ingest | {rss / 1024:.0f} MiB | | |",
        f"| RSS holding {args.idle} idle sessions | {idle_rss / 1024:.0f} MiB | | |",
    ]
    if failed:
        lines.append(f"\n{failed} messages failed.")
    text = "\n".join(lines)
    print(text)
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / "latest.md").write_text(f"# bench/smtp_ingest.py, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n\n{text}\n")


if __name__ == "__main__":
    main()
