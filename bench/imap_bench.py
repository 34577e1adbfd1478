"""IMAP benchmark: moxweb (localserve) beside Dovecot (Debian's) on the same machine in the
same run.

- a large mailbox (the same corpus in both, bench/corpus.py): SELECT, UID FETCH 1:* (FLAGS),
  FETCH 1:* (ENVELOPE), UID SEARCH SUBJECT, SEARCH BODY; seconds, best of two runs;
- C concurrent clients on a mixed workload (login, select, fetch, store, append, store
  \\Deleted, expunge) for D seconds: operations/s and protocol errors (anything but OK);
- IDLE latency: another process delivers (moxweb: mailstore's deliver verb; Dovecot: a
  Maildir file, fsynced, renamed into new/) and the idling client's EXISTS is timed from
  the start of that delivery; p50/p99;
- memory of idle authenticated connections: moxweb's one process (RSS), Dovecot's
  processes (PSS summed, so shared pages count once).

moxweb's mailbox is filled with the deliver verb's own parse and insert, in bulk, in a
separate process (bench/moxweb_fill.py --bulk), Dovecot's by writing Maildir files then `doveadm index`.

    .venv/bin/python bench/imap_bench.py [--messages 100000] [--clients 10] [--duration 20]
        [--idle-deliveries 1000] [--dovecot-idle-deliveries 300] [--idle-connections 10000]
        [--dovecot-idle-connections 1000]
        [--parts login,large,mixed,idle,connections]

Prints a table and writes bench/results/imap_bench.md.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (  # noqa: E402
    RESULTS, ROOT, Localserve, Profile, descendants, exit_on_sigterm, load, open_files, proc_status_kib, pss_kib,
    publish, raise_fd_limit, ratio, source_address,
)
from bench.corpus import BODY_WORD, SUBJECT_WORD, expected_body, expected_subject  # noqa: E402
from bench.dovecot_peer import Dovecot  # noqa: E402
from bench.imap_wire import ProtocolError, Wire, search_count  # noqa: E402

PARTS = ("login", "large", "mixed", "idle", "connections")
LARGE_COMMANDS = (
    ("SELECT", "SELECT INBOX"),
    ("UID FETCH 1:* (FLAGS)", "UID FETCH 1:* (FLAGS)"),
    ("FETCH 1:* (ENVELOPE)", "FETCH 1:* (ENVELOPE)"),
    (f"UID SEARCH SUBJECT {SUBJECT_WORD}", f"UID SEARCH SUBJECT {SUBJECT_WORD}"),
    (f"SEARCH BODY {BODY_WORD}", f"SEARCH BODY {BODY_WORD}"),
)


@dataclass
class Target:
    name: str
    port: int
    user: str
    password: str
    inbox: str
    deliverer: list[str]
    deliverer_env: dict[str, str] | None
    memory_kib: Callable[[], int]
    pid: int = 0  # the one server process, when there is one
    figures: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


# --- large mailbox ---------------------------------------------------------------------


def login_time(t: Target) -> None:
    """LOGIN with a plaintext password, best of three: the server's password check."""
    best = float("inf")
    for i in range(3):
        w = Wire("127.0.0.1", t.port, source_address(2 + i))
        try:
            start = time.monotonic()
            w.login(t.user, t.password)
            best = min(best, time.monotonic() - start)
        finally:
            w.close()
    t.figures["LOGIN, password check (s)"] = best


def large_mailbox(t: Target, count: int) -> None:
    w = Wire("127.0.0.1", t.port, source_address(0))
    try:
        w.scram_login(t.user, t.password)
        best: dict[str, float] = {}
        first: dict[str, float] = {}
        for _ in range(2):
            for label, cmd in LARGE_COMMANDS:
                cmd = cmd.replace("INBOX", t.inbox)
                seconds, lines = w.timed(cmd)
                check_large(t, label, lines, count)
                first.setdefault(label, seconds)
                best[label] = min(best.get(label, seconds), seconds)
        t.figures.update({f"{label} (s)": s for label, s in best.items()})
        t.notes.append("first runs: " + ", ".join(f"{label} {s:.2f} s" for label, s in first.items()))
    finally:
        w.close()


def check_large(t: Target, label: str, lines: list[bytes], count: int) -> None:
    """Each answer must be complete: a wrong answer is not a fast answer."""
    if label == "SELECT":
        if not any(line.strip() == b"* %d EXISTS" % count for line in lines):
            raise ProtocolError(f"{t.name} SELECT: no '* {count} EXISTS' in {lines[:8]!r}")
        return
    if label.startswith(("UID FETCH", "FETCH")):
        fetched = sum(1 for line in lines if b" FETCH (" in line[:24])
        if fetched != count:
            raise ProtocolError(f"{t.name} {label}: {fetched} FETCH responses, expected {count}")
        return
    want = len(expected_subject(count)) if "SUBJECT" in label else len(expected_body(count))
    got = search_count(lines)
    if got != want:
        raise ProtocolError(f"{t.name} {label}: {got} results, expected {want}")


# --- mixed workload ---------------------------------------------------------------------


class Counter:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ops = 0
        self.errors: list[str] = []
        self.connections = 0

    def next_source(self) -> str:
        with self.lock:
            self.connections += 1
            return source_address(1000 + self.connections)


def mixed_client(t: Target, counter: Counter, deadline: float, n: int) -> None:
    from bench.corpus import message

    i = 0
    while time.monotonic() < deadline:
        ops = 0
        w: Wire | None = None
        try:
            w = Wire("127.0.0.1", t.port, counter.next_source(), timeout=60)
            w.scram_login(t.user, t.password)
            ops += 1
            w.command("SELECT Work")
            ops += 1
            w.command("FETCH 1:20 (FLAGS ENVELOPE RFC822.SIZE)")
            ops += 1
            w.command("STORE 1:5 +FLAGS.SILENT (\\Seen)")
            ops += 1
            w.command("APPEND Work (\\Seen)", literal=message(2_000_000 + n * 100_000 + i, 2000))
            ops += 1
            uid = appenduid(w.last)
            w.command(f"UID STORE {uid} +FLAGS.SILENT (\\Deleted)")
            ops += 1
            w.command(f"UID EXPUNGE {uid}")
            ops += 1
            w.command("LOGOUT")
        except (ProtocolError, OSError) as exc:
            with counter.lock:
                counter.errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            if w is not None:
                w.close()
        with counter.lock:
            counter.ops += ops
        i += 1


def appenduid(tagged: bytes) -> int:
    # RFC 4315 section 3: "OK [APPENDUID uidvalidity uid]".
    words = tagged.split(b"[APPENDUID ", 1)[1].split(b"]", 1)[0].split()
    return int(words[1])


def mixed_workload(t: Target, clients: int, duration: float) -> None:
    counter = Counter()
    deadline = time.monotonic() + duration
    start = time.monotonic()
    threads = [threading.Thread(target=mixed_client, args=(t, counter, deadline, n)) for n in range(clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    elapsed = time.monotonic() - start
    t.figures[f"mixed workload, {clients} clients (ops/s)"] = counter.ops / elapsed
    t.figures["mixed workload protocol errors"] = len(counter.errors)
    if counter.errors:
        t.notes.append(f"{len(counter.errors)} errors, first: {counter.errors[:3]}")


# --- IDLE latency -----------------------------------------------------------------------


def idle_latency(t: Target, deliveries: int) -> None:
    w = Wire("127.0.0.1", t.port, source_address(1), timeout=30)
    proc = subprocess.Popen(t.deliverer, cwd=ROOT, env=t.deliverer_env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdin is not None and proc.stdout is not None
    latencies: list[float] = []
    missed = 0
    try:
        w.scram_login(t.user, t.password)
        w.command("SELECT Idle")
        w.tag += 1
        tag = b"b%d" % w.tag
        w.send(tag + b" IDLE\r\n")
        if not w.read_line().startswith(b"+"):
            raise ProtocolError("IDLE not accepted")
        for _ in range(deliveries):
            proc.stdin.write("go\n")
            proc.stdin.flush()
            try:
                while True:
                    line = w.read_line()
                    if line.endswith(b" EXISTS\r\n"):
                        arrived = time.monotonic()
                        break
            except TimeoutError:
                missed += 1
                proc.stdout.readline()
                continue
            started = float(proc.stdout.readline())
            latencies.append(arrived - started)
        w.send(b"DONE\r\n")
        w.until(tag)
    finally:
        proc.stdin.close()
        proc.wait(30)
        w.close()
    latencies.sort()
    t.figures["IDLE latency p50 (ms)"] = 1000 * statistics.median(latencies)
    t.figures["IDLE latency p99 (ms)"] = 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    if missed:
        t.notes.append(f"IDLE: {missed} of {deliveries} deliveries not seen within 30 s")


# --- idle connections -------------------------------------------------------------------


def hold_idle(t: Target, count: int, threads: int = 8) -> tuple[int, int, str]:
    """Memory (KiB) before and while `count` connections authenticated with SCRAM-SHA-256
    are held, and why fewer were held if so."""
    before = t.memory_kib()
    held: list[Wire] = []
    lock = threading.Lock()
    failures: list[str] = []

    def opener(k: int) -> None:
        for i in range(k, count, threads):
            if failures:
                return
            try:
                w = Wire("127.0.0.1", t.port, source_address(20000 + i), timeout=120)
                w.scram_login(t.user, t.password)
            except (OSError, ProtocolError) as exc:
                with lock:
                    failures.append(f"{type(exc).__name__}: {exc}")
                return
            with lock:
                held.append(w)

    try:
        workers = [threading.Thread(target=opener, args=(k,)) for k in range(threads)]
        for th in workers:
            th.start()
        for th in workers:
            th.join()
        time.sleep(2)
        during = t.memory_kib()
        why = f"stopped at {len(held)}: {failures[0]}" if failures else ""
        if failures and t.pid:
            count, limit = open_files(t.pid)
            why += f" (the server held {count} open files, limit {limit})"
        return before, during, why
    finally:
        t.figures["idle connections held"] = len(held)
        for w in held:
            w.close()


def idle_memory(t: Target, count: int) -> None:
    before, during, why = hold_idle(t, count)
    held = int(t.figures["idle connections held"])
    t.figures["memory holding the idle connections (MiB)"] = during / 1024
    t.figures["memory per idle connection (KiB)"] = (during - before) / max(1, held)
    if why:
        t.notes.append(f"idle connections: {why}")


# --- main ---------------------------------------------------------------------------------


def fill_moxweb(ls: Localserve, count: int, work: int) -> float:
    start = time.monotonic()
    subprocess.run([sys.executable, "bench/moxweb_fill.py", "mox", f"Inbox:{count}", f"Work:{work}:{count}",
                    "Idle:0", "--bulk"], cwd=ROOT, env=ls.manage_env(), check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - start


def fill_dovecot(dc: Dovecot, user: str, count: int, work: int) -> float:
    from bench.corpus import messages

    start = time.monotonic()
    dc.fill_maildir(user, messages(count))
    dc.fill_maildir(user, messages(work, count), mailbox="Work")
    dc.maildir(user, "Idle")
    dc.doveadm("index", "-u", user, "Idle")
    return time.monotonic() - start


def run(args: argparse.Namespace) -> str:
    fd_limit = raise_fd_limit()
    with tempfile.TemporaryDirectory(prefix="moxweb-imapbench-") as tmp:
        Path(tmp).chmod(0o755)  # Dovecot's unprivileged processes reach their files below
        ls = Localserve(Path(tmp) / "moxweb")
        ls.start()
        try:
            user, password = ls.user, ls.password
            moxweb_fill = fill_moxweb(ls, args.messages, args.work_messages)
            with Dovecot({user: password}, directory=Path(tmp) / "dovecot") as dc:
                dovecot_fill = fill_dovecot(dc, user, args.messages, args.work_messages)
                mox = Target("moxweb", ls.imap_port, user, password, "INBOX",
                             [sys.executable, "bench/deliverer.py", "moxweb", "mox", "Idle"], ls.manage_env(),
                             lambda: proc_status_kib(ls.pid, "VmRSS"), pid=ls.pid)
                assert dc.pid is not None
                master = dc.pid
                dove = Target("Dovecot", dc.port, user, password, "INBOX",
                              [sys.executable, "bench/deliverer.py", "maildir", str(dc.maildir(user, "Idle")),
                               str(dc.uid), str(dc.gid)], None,
                              lambda: sum(pss_kib(p) for p in descendants(master)))
                def profile(phase: str) -> Profile:
                    return Profile(ls.pid, args.profile / f"imap-{phase}.txt" if args.profile else None)

                if "login" in args.parts:
                    with profile("login"):
                        login_time(mox)
                    login_time(dove)
                if "large" in args.parts:
                    with profile("large"):
                        large_mailbox(mox, args.messages)
                    large_mailbox(dove, args.messages)
                if "mixed" in args.parts:
                    with profile("mixed"):
                        mixed_workload(mox, args.clients, args.duration)
                    mixed_workload(dove, args.clients, args.duration)
                if "idle" in args.parts:
                    with profile("idle"):
                        idle_latency(mox, args.idle_deliveries)
                    idle_latency(dove, args.dovecot_idle_deliveries or args.idle_deliveries)
                if "connections" in args.parts:
                    with profile("connections"):
                        idle_memory(mox, args.idle_connections)
                    idle_memory(dove, args.dovecot_idle_connections)
        finally:
            ls.stop()
    return table(args, mox, dove, moxweb_fill, dovecot_fill, fd_limit)


BETTER = {"(s)": "lower", "(ops/s)": "higher", "errors": "lower", "(ms)": "lower", "(MiB)": "lower",
          "(KiB)": "lower", "held": "higher"}


def table(args: argparse.Namespace, mox: Target, dove: Target, mox_fill: float, dove_fill: float,
          fd_limit: int) -> str:
    lines = [
        f"IMAP, moxweb (localserve, SQLite) beside Dovecot (Maildir), {args.messages} messages in the large "
        f"mailbox; {args.clients} clients for {args.duration:.0f} s; IDLE deliveries: moxweb {args.idle_deliveries}, "
        f"Dovecot {args.dovecot_idle_deliveries or args.idle_deliveries}; "
        f"idle connections: moxweb {args.idle_connections}, Dovecot {args.dovecot_idle_connections}; "
        f"parts run: {', '.join(p for p in PARTS if p in args.parts)}.",
        "",
        "| figure | moxweb | Dovecot | moxweb/Dovecot | better |",
        "|---|---|---|---|---|",
    ]
    for key, value in mox.figures.items():
        other = dove.figures.get(key, 0.0)
        better = next((b for suffix, b in BETTER.items() if key.endswith(suffix)), "")
        fmt = "{:.0f}" if key.endswith(("errors", "held", "(ops/s)", "(KiB)", "(MiB)")) else "{:.3f}"
        if key.endswith("(ms)"):
            fmt = "{:.1f}"
        lines.append(f"| {key} | {fmt.format(value)} | {fmt.format(other)} | {ratio(value, other)} | {better} |")
    lines += [
        "",
        f"Filling the large mailbox took {mox_fill:.0f} s for moxweb (bench/moxweb_fill.py --bulk: the deliver verb's parse and insert, "
        f"thousands to a transaction, no fsync) and "
        f"{dove_fill:.0f} s for Dovecot (Maildir files, then doveadm index). Times are the best of two runs; "
        "IDLE latency is from the start of the other process's delivery to the EXISTS line. "
        "Memory: moxweb's RSS (one process), Dovecot's PSS summed over its processes "
        f"(one imap process per connection). Open-file limit {fd_limit}; {load()} at the end. "
        "Sessions authenticate with SCRAM-SHA-256 (moxweb checks stored SCRAM keys; Dovecot derives them "
        "from its plain password file), except the LOGIN row: moxweb checks an argon2 hash (slow by design), "
        "Dovecot a plain password. Dovecot delays IDLE notifications by design (about half a second "
        "after its inotify wake-up, to batch changes).",
    ]
    for t in (mox, dove):
        for note in t.notes:
            lines.append(f"- {t.name}: {note}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--parts", type=lambda v: set(v.split(",")), default=set(PARTS),
                        help=f"comma-separated parts to run, of {','.join(PARTS)} (default all)")
    parser.add_argument("--work-messages", type=int, default=100, help="messages in the mixed workload's mailbox")
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of the mixed workload")
    parser.add_argument("--idle-deliveries", type=int, default=1000)
    parser.add_argument("--dovecot-idle-deliveries", type=int, default=0,
                        help="Dovecot's (default: as many as moxweb's; it waits about 0.5 s before each notification)")
    parser.add_argument("--idle-connections", type=int, default=10_000, help="held by moxweb")
    parser.add_argument("--dovecot-idle-connections", type=int, default=1000,
                        help="held by Dovecot (a process each)")
    parser.add_argument("--profile", type=Path, default=None,
                        help="directory for py-spy profiles of moxweb during each phase (needs py-spy)")
    parser.add_argument("--results-dir", type=Path, default=RESULTS, help="where imap_bench.md goes")
    args = parser.parse_args()
    exit_on_sigterm()
    publish("imap_bench", "bench/imap_bench.py", run(args), args.results_dir)


if __name__ == "__main__":
    main()
