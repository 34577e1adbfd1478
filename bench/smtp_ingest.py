"""SMTP ingest benchmark: N messages of 4 KB over C concurrent SMTP sessions into
localserve, and the same load into Postfix (Debian's, accepting into its durable queue)
in the same run, with Postfix's own `smtp-source` as the client for both.

Two moxweb localserves run, with one SMTP process and with MOX_SMTP_PROCESSES set to the
number of CPUs (`--smtp-processes`), beside Postfix; all three take their loads in turn,
`--rounds` times. Prints the medians of messages per second of each and the ratios, the
machine's CPU time per message for each server, localserve's peak RSS (VmHWM), and the
RSS of localserve holding 1,000 idle SMTP sessions; writes bench/results/smtp_ingest.md.
Every message is durable (fsynced file and committed row) before its 250. Each server
first takes `--warmup` messages that are not measured (processes and threads started,
caches filled), as a server that has been running would be. The disk is settled first
(`--settle`, bench.common.settle_disk): a minute without deletions, then caches dropped.

    .venv/bin/python bench/smtp_ingest.py [--messages 5000] [--concurrency 20] [--idle 1000]
        [--smtp-processes N] [--warmup 300] [--rounds 5] [--settle 65] [--no-postfix]
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiosmtplib

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (  # noqa: E402
    RESULTS, Localserve, Profile, descendants, exit_on_sigterm, free_offset, load, proc_status_kib, publish, raise_fd_limit,
    ratio, settle_disk, source_address,
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


def machine_busy() -> float:
    """Seconds all CPUs of the machine spent not idle (nor waiting for I/O), from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


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


def measure(port: int, pid: int | None, rcpt: str, args: argparse.Namespace, use_smtp_source: bool,
            profile: Path | None = None, subprocesses: bool = False) -> tuple[float, float, float]:
    """Messages per second, CPU seconds per message of the server's processes (`pid` and
    below; 0 without `pid`) and of the whole machine, for one load of `args.messages`."""
    cpu_before, busy_before = cpu_seconds(pid) if pid else 0.0, machine_busy()
    if use_smtp_source:
        with Profile(pid or 0, profile if pid else None, subprocesses=subprocesses):
            elapsed = smtp_source(port, args.messages, args.concurrency, args.size, rcpt)
        ok = args.messages
    else:
        start = time.monotonic()
        ok, failed = asyncio.run(run_clients(port, args.messages, args.concurrency, args.size))
        elapsed = time.monotonic() - start
        if failed:
            print(f"{failed} messages failed on port {port}", file=sys.stderr)
    cpu = cpu_seconds(pid) - cpu_before if pid else 0.0
    return ok / elapsed, cpu / max(ok, 1), (machine_busy() - busy_before) / max(ok, 1)


def wait_for_listeners(pid: int, processes: int, timeout: float = 60) -> None:
    """Until the `processes - 1` smtpworker children of localserve `pid` run (the main
    process hands them port 25 connections, which wait in their channel while one starts;
    the warm-up messages cover the rest of their start)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        running = 0
        for p in descendants(pid):
            try:
                running += b"smtpworker" in Path(f"/proc/{p}/cmdline").read_bytes()
            except OSError:
                continue
        if running >= processes - 1:
            time.sleep(2)  # Django's start
            return
        time.sleep(0.2)
    raise SystemExit(f"{processes - 1} smtpworker processes did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--idle", type=int, default=1000, help="idle sessions to hold for the memory figure")
    parser.add_argument("--smtp-processes", type=int, default=os.cpu_count() or 1,
                        help="MOX_SMTP_PROCESSES of the second moxweb run (default: the number of CPUs); "
                             "the first runs with 1")
    parser.add_argument("--warmup", type=int, default=300,
                        help="messages each server takes before the measured ones (smtp-source only)")
    parser.add_argument("--no-postfix", action="store_true", help="measure moxweb only")
    parser.add_argument("--rounds", type=int, default=5,
                        help="loads each server takes in turn; the figures are their medians")
    parser.add_argument("--settle", type=float, default=65,
                        help="seconds the disk is left alone (after a sync) before the warm-ups, then clean "
                             "caches dropped (bench.common.settle_disk); negative: neither")
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

    # All servers run at once and take their loads in turns, `--rounds` times: this
    # machine's speed moved by a third within minutes, for Postfix as for moxweb, and
    # one load each, minutes apart, compared moments more than servers. Every server's
    # data stays until the end: deletions slow the file creations that follow (ext4
    # without a journal searches the recently deleted inodes; `settle_disk`).
    with tempfile.TemporaryDirectory(prefix="moxweb-bench-") as tmp, contextlib.ExitStack() as stack:
        root = Path(tmp)
        root.chmod(0o755)  # Postfix's daemons run as the postfix user
        servers: dict[str, tuple[int, int | None, str]] = {}  # label: port, pid, recipient
        moxweb: dict[str, Localserve] = {}
        for processes in sorted({1, max(1, args.smtp_processes)}):
            ls = stack.enter_context(Localserve(root / f"moxweb-{processes}", MOX_SMTP_PROCESSES=str(processes)))
            if processes > 1:
                # The other processes start after localserve says it is ready; connections
                # made before they listen would all land in the first.
                wait_for_listeners(ls.pid, processes)
            label = f"{processes} SMTP process{'es' if processes > 1 else ''}"
            moxweb[label] = ls
            servers[label] = (ls.smtp_port, ls.pid, "mox@localhost")
        if not args.no_postfix:
            from bench.postfix_peer import Postfix

            (root / "postfix").mkdir()
            peer = Postfix(root / "postfix", free_offset() + 25)
            peer.start()
            stack.callback(peer.stop)
            servers["Postfix"] = (peer.port, None, "rcpt@example.test")
        if args.settle >= 0:
            settle_disk(args.settle)
        if use_smtp_source and args.warmup:
            for port, _pid, rcpt in servers.values():
                smtp_source(port, args.warmup, args.concurrency, args.size, rcpt)
        figures: dict[str, list[tuple[float, float, float]]] = {label: [] for label in servers}
        for round_ in range(args.rounds):
            for label, (port, pid, rcpt) in servers.items():
                profile = (args.profile / f"smtp-ingest-{label.split()[0]}.txt"
                           if args.profile and pid and round_ == 0 else None)
                figures[label].append(measure(port, pid, rcpt, args, use_smtp_source, profile,
                                              subprocesses=label != "1 SMTP process"))
        first = moxweb["1 SMTP process"]
        rss = rss_total_kib(first.pid, "VmHWM")
        idle_rss = idle_sessions_rss(first.smtp_port, first.pid, args.idle) if args.idle else 0

    client = "smtp-source" if use_smtp_source else "aiosmtplib"
    median = {label: [statistics.median(values) for values in zip(*runs)] for label, runs in figures.items()}
    peer_rate, _peer_cpu, peer_busy = median.get("Postfix", [0.0, 0.0, 0.0])
    mine = [label for label in figures if label != "Postfix"]
    lines = [
        f"SMTP ingest, {args.messages} messages of {args.size} bytes over {args.concurrency} sessions "
        f"({client}), after {args.warmup} not measured; durable on both sides before the 250. moxweb runs "
        f"localserve (SQLite) with MOX_SMTP_PROCESSES as given. Medians of {args.rounds} rounds; in each "
        "round every server took its load in turn (the rounds are listed below the table).",
        "",
        "| figure | moxweb | Postfix | moxweb/Postfix | better |",
        "|---|---|---|---|---|",
    ]
    for label in mine:
        rate = median[label][0]
        lines.append(f"| messages/s, {label} | {rate:.0f} | {peer_rate:.0f} | {ratio(rate, peer_rate)} | higher |"
                     if peer_rate else f"| messages/s, {label} | {rate:.0f} | not run | | higher |")
    for label in mine:
        _rate, cpu, busy = median[label]
        peer_figure = f"{1000 * peer_busy:.2f}" if peer_busy else ""
        lines.append(f"| machine CPU per message (ms), {label} | {1000 * busy:.2f} | "
                     f"{peer_figure} | {ratio(busy, peer_busy) if peer_busy else ''} | lower |")
        lines.append(f"| moxweb's own CPU per message (ms), {label} | {1000 * cpu:.2f} | | | lower |")
    lines += [
        f"| peak RSS during ingest, 1 SMTP process (MiB) | {rss / 1024:.0f} | | | lower |",
        f"| RSS holding {args.idle} idle sessions, 1 SMTP process (MiB) | {idle_rss / 1024:.0f} | | | lower |",
        "",
        "Rounds, messages/s (" + " / ".join(figures) + "): "
        + "; ".join(" / ".join(f"{figures[label][r][0]:.0f}" for label in figures) for r in range(args.rounds))
        + ".",
        "",
        "Machine CPU is the time all CPUs were busy during a load (every server is driven by the same "
        "smtp-source, counted in each); moxweb's own is the user and system time of localserve's processes. "
        f"{load()} after the run. "
        + (f"Before the warm-ups the disk was left alone {args.settle:.0f} s after a sync and clean caches were "
           "dropped (bench.common.settle_disk)." if args.settle >= 0 else
           "The disk was not settled (--settle): figures depend on what deleted files before."),
    ]
    publish("smtp_ingest", "bench/smtp_ingest.py", "\n".join(lines), args.results_dir)


if __name__ == "__main__":
    main()
