"""Each benchmark runs end to end at a tiny size (the three at once, to keep the wall time
short) and its table has every row, with numbers for moxweb and for its peer."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

IMAP_ROWS = [
    "LOGIN, password check (s)",
    "SELECT (s)",
    "UID FETCH 1:* (FLAGS) (s)",
    "FETCH 1:* (ENVELOPE) (s)",
    "UID SEARCH SUBJECT quarterly (s)",
    "SEARCH BODY zebrafish (s)",
    "mixed workload, 2 clients (ops/s)",
    "mixed workload protocol errors",
    "IDLE latency p50 (ms)",
    "IDLE latency p99 (ms)",
    "idle connections held",
    "memory holding the idle connections (MiB)",
    "memory per idle connection (KiB)",
]
NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def table(path: Path) -> dict[str, list[str]]:
    """Rows of the result's markdown table: figure -> the other cells."""
    rows = {}
    for line in path.read_text().splitlines():
        if line.startswith("| ") and not line.startswith(("| figure", "|---")):
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows[cells[0]] = cells[1:]
    return rows


def start(script: str, out: Path, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    return subprocess.Popen([sys.executable, f"bench/{script}", "--results-dir", str(out), *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.mark.timeout(300)  # a hang guard: 2.5 minutes with load average 20 on 2 cores
def test_it_runs_every_benchmark_and_reports_both_servers(tmp_path: Path) -> None:
    runs = {
        "imap_bench": start("imap_bench.py", tmp_path, "--messages", "200", "--work-messages", "30", "--clients", "2",
                            "--duration", "2", "--idle-deliveries", "10", "--idle-connections", "50",
                            "--dovecot-idle-connections", "50"),
        "queue_delivery": start("queue_delivery.py", tmp_path, "--messages", "30"),
        "smtp_ingest": start("smtp_ingest.py", tmp_path, "--messages", "50", "--warmup", "10", "--concurrency", "5",
                             "--idle", "20", "--smtp-processes", "2", "--settle", "-1"),
    }
    outputs = {}
    try:
        for name, proc in runs.items():
            outputs[name] = proc.communicate(timeout=280)[0]
            assert proc.returncode == 0, f"{name}:\n{outputs[name][-3000:]}"
    finally:
        for proc in runs.values():  # SIGTERM: the scripts stop their servers
            if proc.poll() is None:
                proc.terminate()
                proc.wait(60)

    imap = table(tmp_path / "imap_bench.md")
    assert list(imap) == IMAP_ROWS
    for figure, (mox, dovecot, ratio, better) in imap.items():
        assert NUMBER.match(mox) and NUMBER.match(dovecot), (figure, mox, dovecot)
        assert better in ("lower", "higher")
    assert imap["mixed workload protocol errors"][:2] == ["0", "0"]
    assert imap["idle connections held"][:2] == ["50", "50"]
    assert float(imap["mixed workload, 2 clients (ops/s)"][0]) > 0

    queue = table(tmp_path / "queue_delivery.md")
    assert list(queue) == ["messages/s", "seconds for the queue"]
    for figure, (mox, postfix, ratio, better) in queue.items():
        assert NUMBER.match(mox) and NUMBER.match(postfix) and NUMBER.match(ratio), (figure, mox, postfix)
    assert "not delivered" not in (tmp_path / "queue_delivery.md").read_text()
    assert "sink counted" not in (tmp_path / "queue_delivery.md").read_text()

    ingest = table(tmp_path / "smtp_ingest.md")
    assert list(ingest) == [
        "messages/s, 1 SMTP process", "messages/s, 2 SMTP processes",
        "machine CPU per message (ms), 1 SMTP process", "moxweb's own CPU per message (ms), 1 SMTP process",
        "machine CPU per message (ms), 2 SMTP processes", "moxweb's own CPU per message (ms), 2 SMTP processes",
        "peak RSS during ingest, 1 SMTP process (MiB)", "RSS holding 20 idle sessions, 1 SMTP process (MiB)"]
    for row in ("messages/s, 1 SMTP process", "messages/s, 2 SMTP processes",
                "machine CPU per message (ms), 1 SMTP process", "machine CPU per message (ms), 2 SMTP processes"):
        assert all(NUMBER.match(c) for c in ingest[row][:3]), (row, ingest[row])
        assert float(ingest[row][0]) > 0 and float(ingest[row][1]) > 0, (row, ingest[row])
    assert float(ingest["moxweb's own CPU per message (ms), 2 SMTP processes"][0]) > 0
    assert float(ingest["RSS holding 20 idle sessions, 1 SMTP process (MiB)"][0]) > 0

    from bench.combine import combine

    combined = combine(tmp_path)
    for heading in ("## bench/smtp_ingest.py", "## bench/imap_bench.py", "## bench/queue_delivery.py"):
        assert heading in combined
    assert "not run" not in combined
