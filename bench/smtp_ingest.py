"""SMTP ingest benchmark: N messages of 4 KB over C concurrent SMTP sessions into
localserve, and the same load into Postfix (Debian's, accepting into its durable queue)
in the same run, with Postfix's own `smtp-source` as the client for both.

Prints messages per second of each and the ratio, localserve's peak RSS (VmHWM), and
the RSS of localserve holding 1,000 idle SMTP sessions; writes bench/results/smtp_ingest.md.
Every message is durable (fsynced file and committed row) before its 250.

    .venv/bin/python bench/smtp_ingest.py [--messages 5000] [--concurrency 20] [--idle 1000] [--no-postfix]
"""
from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiosmtplib

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (  # noqa: E402
    RESULTS, Localserve, Profile, descendants, exit_on_sigterm, free_offset, load, proc_status_kib, publish, raise_fd_limit,
    ratio, source_address,
)
from bench.corpus import smtp_message as message  # noqa: E402


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


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of `pid` and the processes below it."""
    total = 0
    for p in descendants(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (stat fields 14, 15)
    return total / os.sysconf("SC_CLK_TCK")


def rss_total_kib(pid: int, field: str) -> int:
    """A memory field summed over `pid` and the processes below it."""
    return sum(proc_status_kib(p, field) for p in descendants(pid))


def idle_sessions_rss(port: int, pid: int, count: int) -> int:
    """RSS (KiB) of the server while it holds `count` sessions that said EHLO. Each comes
    from its own loopback address (bench.common.source_address), so the per-network
    connection limits (mox's, rightly strict) do not turn them away."""
    socks = []
    try:
        for i in range(count):
            s = socket.create_connection(("127.0.0.1", port), timeout=30, source_address=(source_address(i), 0))
            s.recv(1024)
            s.sendall(b"EHLO idle.example\r\n")
            socks.append(s)
        for s in socks:
            s.recv(4096)
        time.sleep(1)
        return rss_total_kib(pid, "VmRSS")
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
    parser.add_argument("--profile", type=Path, default=None,
                        help="directory for a py-spy profile of localserve during the ingest (needs py-spy)")
    parser.add_argument("--results-dir", type=Path, default=RESULTS, help="where smtp_ingest.md goes")
    args = parser.parse_args()
    exit_on_sigterm()
    raise_fd_limit()
    use_smtp_source = bool(shutil.which("smtp-source"))
    if not args.no_postfix:
        from bench.postfix_peer import ensure_installed

        ensure_installed()
        use_smtp_source = True

    with tempfile.TemporaryDirectory(prefix="moxweb-bench-") as tmp, Localserve(Path(tmp)) as ls:
        cpu_before = cpu_seconds(ls.pid)
        if use_smtp_source:
            with Profile(ls.pid, args.profile / "smtp-ingest.txt" if args.profile else None):
                elapsed = smtp_source(ls.smtp_port, args.messages, args.concurrency, args.size, "mox@localhost")
            ok, failed = args.messages, 0
        else:
            start = time.monotonic()
            ok, failed = asyncio.run(run_clients(ls.smtp_port, args.messages, args.concurrency, args.size))
            elapsed = time.monotonic() - start
        cpu = cpu_seconds(ls.pid) - cpu_before
        rss = rss_total_kib(ls.pid, "VmHWM")
        idle_rss = idle_sessions_rss(ls.smtp_port, ls.pid, args.idle) if args.idle else 0

    peer_rate = 0.0
    if not args.no_postfix:
        from bench.postfix_peer import Postfix

        with tempfile.TemporaryDirectory(prefix="moxweb-bench-postfix-") as tmp:
            peer = Postfix(Path(tmp), free_offset() + 25)
            peer.start()
            try:
                peer_elapsed = smtp_source(peer.port, args.messages, args.concurrency, args.size, "rcpt@example.test")
            finally:
                peer.stop()
        peer_rate = args.messages / peer_elapsed

    rate = ok / elapsed
    lines = [
        f"SMTP ingest, {args.messages} messages of {args.size} bytes over {args.concurrency} sessions "
        f"({'smtp-source' if use_smtp_source else 'aiosmtplib'}); durable on both sides before the 250.",
        "",
        "| figure | moxweb | Postfix | moxweb/Postfix | better |",
        "|---|---|---|---|---|",
        f"| messages/s | {rate:.0f} | {peer_rate:.0f} | {ratio(rate, peer_rate)} | higher |" if peer_rate else
        f"| messages/s | {rate:.0f} | not run | | higher |",
        f"| peak RSS during ingest (MiB) | {rss / 1024:.0f} | | | lower |",
        f"| RSS holding {args.idle} idle sessions (MiB) | {idle_rss / 1024:.0f} | | | lower |",
    ]
    lines.append(f"\nmoxweb used {1000 * cpu / max(ok, 1):.2f} ms of CPU per message (user and system, all its "
                 f"processes); {load()} after the run.")
    if failed:
        lines.append(f"\n{failed} messages failed.")
    publish("smtp_ingest", "bench/smtp_ingest.py", "\n".join(lines), args.results_dir)


if __name__ == "__main__":
    main()
