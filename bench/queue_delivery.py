"""Outgoing delivery benchmark: N queued messages delivered to Postfix's `smtp-sink` on
loopback, by moxweb's queue worker (`manage.py qcluster`, relaying through a transport
named by a route) and by Postfix (relayhost = the same sink), in the same run.

Both queues are filled first and held (moxweb: queue rows on hold; Postfix: accepted by
smtp-source into its hold queue); the clock runs from the release until the queue is
empty and the sink has counted every message.

    .venv/bin/python bench/queue_delivery.py [--messages 2000] [--size 4096]

Prints a table and writes bench/results/queue_delivery.md.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (  # noqa: E402
    RESULTS, ROOT, Profile, child_env, exit_on_sigterm, free_offset, load, ratio, publish,
)
from bench.postfix_peer import Postfix, ensure_installed  # noqa: E402


class Sink:
    """smtp-sink on a free loopback port, counting the messages it accepted."""

    def __init__(self) -> None:
        self.port = free_offset() + 25
        self.count = 0
        self.proc = subprocess.Popen(
            ["smtp-sink", "-c", *(["-u", "postfix"] if os.geteuid() == 0 else []), f"127.0.0.1:{self.port}", "1024"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        threading.Thread(target=self._read, daemon=True).start()
        time.sleep(0.3)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        buf = b""
        while chunk := self.proc.stdout.read1(65536):  # type: ignore[attr-defined]
            buf = (buf + chunk)[-4096:]
            found = re.findall(rb"mesg=(\d+)", buf)
            if found:
                self.count = int(found[-1])

    def wait_for(self, total: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.count < total and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.count >= total

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def moxweb_run(tmp: Path, sink: Sink, messages: int, size: int, profile: Path | None = None,
               settings: dict[str, str] | None = None) -> tuple[float, str]:
    env = child_env()
    env.update({"MOX_DATA_DIR": str(tmp), "MOX_LOG_LEVEL": "WARNING", "MOX_HOSTNAME": "bench.localhost"})
    env.update(settings or {})
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    driver = subprocess.Popen([sys.executable, "bench/moxweb_queue.py", str(messages), str(sink.port),
                               "--size", str(size)], cwd=ROOT, env=env, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    worker: subprocess.Popen[bytes] | None = None
    assert driver.stdin is not None and driver.stdout is not None
    try:
        if driver.stdout.readline().strip() != "ready":
            raise SystemExit("moxweb queue driver failed")
        worker = subprocess.Popen([sys.executable, "manage.py", "qcluster"], cwd=ROOT, env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(3)  # the cluster's workers start
        before = sink.count
        with Profile(worker.pid, profile / "queue-worker.txt" if profile else None, subprocesses=True):
            driver.stdin.write("go\n")
            driver.stdin.flush()
            done = driver.stdout.readline().split()
        if not done or done[0] != "done":
            raise SystemExit(f"moxweb queue driver: {done}")
        elapsed, failed = float(done[1]), int(done[2])
        note = "" if not failed else f"{failed} messages not delivered: {driver.stdout.readline().strip()}"
        if not sink.wait_for(before + messages - failed, 30):
            note += f" sink counted {sink.count - before} of {messages}"
        return elapsed, note.strip()
    finally:
        driver.stdin.close()
        driver.wait(30)
        if worker is not None:
            worker.terminate()
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait(10)


def postfix_run(tmp: Path, sink: Sink, messages: int, size: int) -> tuple[float, str]:
    peer = Postfix(tmp, free_offset() + 25, relay_port=sink.port, hold=True)
    peer.start()
    try:
        subprocess.run(["smtp-source", "-s", "10", "-m", str(messages), "-l", str(size), "-f", "bench@example.org",
                        "-t", "rcpt@example.test", f"127.0.0.1:{peer.port}"], check=True, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while peer.queued() < messages and time.monotonic() < deadline:
            time.sleep(0.1)
        if peer.queued() < messages:
            raise SystemExit(f"Postfix holds {peer.queued()} of {messages} messages; see {tmp}/maillog")
        before = sink.count
        start = time.monotonic()
        peer.release_held()
        while peer.queued() and time.monotonic() - start < 600:
            time.sleep(0.02)
        elapsed = time.monotonic() - start
        note = "" if sink.wait_for(before + messages, 30) else f"sink counted {sink.count - before} of {messages}"
        return elapsed, note
    finally:
        peer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--profile", type=Path, default=None,
                        help="directory for a py-spy profile of the queue worker (needs py-spy)")
    parser.add_argument("--results-dir", type=Path, default=RESULTS, help="where queue_delivery.md goes")
    parser.add_argument("--set", action="append", default=[], metavar="MOX_NAME=VALUE",
                        help="a moxweb setting for the worker, other than as shipped (repeatable)")
    parser.add_argument("--skip-postfix", action="store_true", help="measure moxweb only (for quick comparisons)")
    args = parser.parse_args()
    settings = dict(s.split("=", 1) for s in args.set)
    exit_on_sigterm()
    ensure_installed()
    sink = Sink()
    try:
        with tempfile.TemporaryDirectory(prefix="moxweb-queuebench-") as tmp:
            mox_s, mox_note = moxweb_run(Path(tmp), sink, args.messages, args.size, args.profile, settings)
        if args.skip_postfix:
            print(f"moxweb: {args.messages / mox_s:.1f} messages/s ({mox_s:.2f} s) {mox_note}; {load()}")
            return
        with tempfile.TemporaryDirectory(prefix="moxweb-queuebench-postfix-") as tmp:
            pf_s, pf_note = postfix_run(Path(tmp), sink, args.messages, args.size)
    finally:
        sink.stop()
    mox_rate, pf_rate = args.messages / mox_s, args.messages / pf_s
    lines = [
        f"Outgoing delivery of {args.messages} queued messages of {args.size} bytes to smtp-sink on loopback: "
        "moxweb's queue worker (qcluster, relay transport, 10 recipient domains) beside Postfix (relayhost).",
        "",
        "| figure | moxweb | Postfix | moxweb/Postfix | better |",
        "|---|---|---|---|---|",
        f"| messages/s | {mox_rate:.1f} | {pf_rate:.1f} | {ratio(mox_rate, pf_rate)} | higher |",
        f"| seconds for the queue | {mox_s:.2f} | {pf_s:.2f} | {ratio(mox_s, pf_s)} | lower |",
        "",
        f"Settings {'as shipped' if not settings else 'as shipped but ' + ', '.join(args.set)}: moxweb MOX_WORKERS=2, "
        f"MOX_QUEUE_CONCURRENCY=10, MOX_QUEUE_PER_DOMAIN=1, MOX_QUEUE_CONNECTION_MESSAGES=100; Postfix "
        f"defaults (destination concurrency up to 20, connection cache). {load()} at the end.",
    ]
    for name, note in (("moxweb", mox_note), ("Postfix", pf_note)):
        if note:
            lines.append(f"- {name}: {note}")
    publish("queue_delivery", "bench/queue_delivery.py", "\n".join(lines), args.results_dir)


if __name__ == "__main__":
    main()
