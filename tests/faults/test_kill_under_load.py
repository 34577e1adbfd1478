"""kill -9 of runmail and of the delivery worker under combined load, more than once.

runmail serves SMTP (port 25 and submission) and IMAP; a separate `manage.py qcluster`
delivers the queue. While clients deliver to local accounts on port 25, submit mail for
a remote domain (whose MX is a sink in this test) and APPEND over IMAP, the test kills
runmail, the worker, or both with SIGKILL and starts them again. Afterwards:

- every message acknowledged (SMTP 250, IMAP APPEND OK) is stored exactly once (by
  Message-ID), and every stored one was at least attempted;
- every acknowledged submission reached the sink, or, for recipients the sink refuses,
  came back to the sender as a DSN. Delivery to the sink is at least once: a worker
  killed after the sink's 250 but before it removed the queue row delivers again
  (mox does the same), so the sink is compared by Message-ID, duplicates allowed;
- the queue is empty and `manage.py verifydata` finds no problems.

A short run (3 kills) is part of `make test`; `make faults` runs the long one (marker
`faults`)."""
from __future__ import annotations

import asyncio
import imaplib
import re
import smtplib
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

import pytest

from mailqueue.models import QueuedMessage
from mailstore.models import Message
from tests.commands.procs import manage
from tests.faults.processes import Process, installation_env, port, runmail, without_junk_checks, worker
from tests.listeners import bound_socket
from tests.queue.conftest import Sink, start_sink

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

MESSAGE_ID = re.compile(rb"^Message-ID:\s*<([^>]+)>", re.M | re.I)


def make_message(mid: str, frm: str, to: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = frm
    msg["To"] = to
    msg["Subject"] = mid
    msg["Message-ID"] = f"<{mid}>"
    msg.set_content(f"This is {mid}.\n" + "filler line\n" * 20)
    return msg.as_bytes().replace(b"\n", b"\r\n")


@dataclass
class Ledger:
    """What the clients tried and what the server acknowledged, by Message-ID."""

    attempted: dict[str, set[str]] = field(default_factory=dict)
    acked: dict[str, set[str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def attempt(self, kind: str, mid: str) -> None:
        with self.lock:
            self.attempted.setdefault(kind, set()).add(mid)

    def ack(self, kind: str, mid: str) -> None:
        with self.lock:
            self.acked.setdefault(kind, set()).add(mid)

    def total_acked(self) -> int:
        with self.lock:
            return sum(len(v) for v in self.acked.values())


def retrying(stop: threading.Event, session: Callable[[], None]) -> None:
    """Run client sessions until stopped; a refused or dropped connection (the server
    was killed) means trying again shortly."""
    while not stop.is_set():
        try:
            session()
        except (OSError, smtplib.SMTPException, imaplib.IMAP4.error, EOFError):
            time.sleep(0.1)


class Load:
    def __init__(self, env: dict[str, str], tls: ssl.SSLContext) -> None:
        self.env = env
        self.tls = tls
        self.ledger = Ledger()
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []
        self.counter = 0
        self.counter_lock = threading.Lock()

    def next_id(self, kind: str) -> str:
        with self.counter_lock:
            self.counter += 1
            return f"{kind}-{self.counter}@client.test"

    def incoming(self) -> None:
        """Port 25: a remote sender delivers to bob."""
        with smtplib.SMTP("127.0.0.1", port(self.env, "smtp"), timeout=10) as smtp:
            while not self.stop.is_set():
                mid = self.next_id("in")
                self.ledger.attempt("in", mid)
                smtp.sendmail("carol@remote.test", ["bob@example.test"],
                              make_message(mid, "carol@remote.test", "bob@example.test"))
                self.ledger.ack("in", mid)

    def submission(self) -> None:
        """Submission: alice sends to the remote domain; the first of every session and
        then every fourth to a recipient the remote server refuses (a DSN comes back).
        Counted per session: the shared counter made a run without any refusal possible."""
        with smtplib.SMTP("127.0.0.1", port(self.env, "submission"), timeout=10) as smtp:
            smtp.starttls(context=self.tls)
            smtp.login("alice@example.test", "alicepassword")
            sent = 0
            while not self.stop.is_set():
                mid = self.next_id("out")
                kind = "refused" if sent % 4 == 0 else "out"
                sent += 1
                rcpt = "nobody@remote.test" if kind == "refused" else "dave@remote.test"
                self.ledger.attempt(kind, mid)
                smtp.sendmail("alice@example.test", [rcpt], make_message(mid, "alice@example.test", rcpt))
                self.ledger.ack(kind, mid)

    def append(self) -> None:
        """IMAP: bob APPENDs to his Archive."""
        imap = imaplib.IMAP4("127.0.0.1", port(self.env, "imap"), timeout=10)
        try:
            imap.starttls(ssl_context=self.tls)
            imap.login("bob@example.test", "bobpassword")
            while not self.stop.is_set():
                mid = self.next_id("append")
                self.ledger.attempt("append", mid)
                typ, data = imap.append("Archive", None, None, make_message(mid, "bob@example.test", "bob@example.test"))
                if typ == "OK":
                    self.ledger.ack("append", mid)
        finally:
            try:
                imap.shutdown()
            except OSError:
                pass

    def start(self) -> None:
        for session in (self.incoming, self.incoming, self.submission, self.append):
            t = threading.Thread(target=retrying, args=(self.stop, session), daemon=True)
            t.start()
            self.threads.append(t)

    def finish(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(30)
        assert not any(t.is_alive() for t in self.threads), "a client hung"


@pytest.fixture
def installation(tmp_path: Path, settings, tls_files, dns_server, loop_thread, alice, bob) -> tuple[dict[str, str], Sink]:  # type: ignore[no-untyped-def]
    """Environment of runmail and worker (short queue timings, so retries after a kill
    happen within the test), and the remote domain's sink: dave is accepted, nobody
    is refused with 550. Each DATA takes a moment, so kills land mid-delivery."""

    without_junk_checks(bob)

    async def slow() -> None:
        await asyncio.sleep(0.05)

    sink = start_sink(loop_thread, bound_socket(), on_data=slow,
                      rcpt_reply=lambda a: "550 5.1.1 no such user" if a.startswith("nobody@") else None)
    dns_server.add_zone("""
$ORIGIN remote.test.
@   MX  10 mx.remote.test.
mx  A   127.0.0.1
""")
    settings.DATA_DIR = tmp_path / "data"  # where this process reads the stored files
    env = installation_env(
        settings.DATA_DIR, tls_files, dns_server.address,
        MOX_QUEUE_SMTP_PORT=str(sink.port), MOX_QUEUE_RETRY_INTERVALS="1,1,1,1,1,1,1,1,1,1,1,1",
        MOX_QUEUE_JITTER="0", MOX_QUEUE_CLAIM_SECONDS="4", MOX_QUEUE_RESERVE_SECONDS="3", MOX_QUEUE_PER_DOMAIN="10",
        MOX_QUEUE_DIAL_TIMEOUT="5", MOX_QUEUE_COMMAND_TIMEOUT="10",
    )
    return env, sink


def stored_ids(account) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    """Message-IDs of an account's stored messages, with the mailbox of each copy; a
    stored message without its Message-ID or a truncated body fails the test."""
    from mailstore.files import read_message

    out: dict[str, list[str]] = {}
    for m in Message.objects.filter(account=account).select_related("mailbox"):
        data = read_message(m.path)
        found = MESSAGE_ID.search(data)
        assert found, f"stored message without Message-ID (half-written?): {data[:300]!r}"
        assert data.endswith(b"filler line\r\n"), f"truncated message: {data[-200:]!r}"
        out.setdefault(found.group(1).decode(), []).append(m.mailbox.name)
    return out


def drain_queue(env: dict[str, str], procs: dict[str, Process], deadline: float = 90) -> None:
    """Wait until the queue is empty. Messages whose worker was killed wait for their
    claim to expire and their next (one-second) retry slot, then for a scan: when the
    queue stops shrinking, `queue kick` asks for one."""
    end = time.monotonic() + deadline
    last, still = -1, 0
    while (left := QueuedMessage.objects.count()) > 0:
        if time.monotonic() > end:
            rows = list(QueuedMessage.objects.values_list("recipient", "attempts", "last_error"))
            pytest.fail(f"queue not drained: {rows}\n{procs['worker'].log()}")
        still = still + 1 if left == last else 0
        last = left
        if still >= 6:
            out = manage("queue", "kick", env=env)
            assert out.returncode == 0, out.stderr.decode()
            still = 0
        time.sleep(0.5)


def wait_for_acks(load: Load, count: int, what: str, procs: dict[str, Process]) -> None:
    before = load.ledger.total_acked()
    deadline = time.monotonic() + 30
    while load.ledger.total_acked() < before + count and time.monotonic() < deadline:
        time.sleep(0.05)
    assert load.ledger.total_acked() >= before + count, (
        f"no progress {what}:\n" + procs["runmail"].log() + procs["worker"].log())


def run_kills(installation, tls_files, alice, bob, victims: list[str]) -> None:  # type: ignore[no-untyped-def]
    env, sink = installation
    procs = {"runmail": runmail(env), "worker": worker(env)}
    procs["runmail"].start()
    procs["worker"].start()
    load = Load(env, tls_files.client_context())
    try:
        load.start()
        for victim in victims:
            wait_for_acks(load, 8, f"before killing {victim}", procs)
            names = ["runmail", "worker"] if victim == "both" else [victim]
            for name in names:
                procs[name].kill9()
            time.sleep(0.2)
            for name in names:
                procs[name].start()
        # Some more load after the last restart, then the clients stop.
        wait_for_acks(load, 5, "after the last restart", procs)
        load.finish()
        drain_queue(env, procs)
    finally:
        load.stop.set()
        codes = {name: p.stop() for name, p in procs.items()}
    assert codes["runmail"] == 0, procs["runmail"].log()

    ledger = load.ledger
    assert all(ledger.acked.get(k) for k in ("in", "out", "refused", "append")), {
        k: len(v) for k, v in ledger.acked.items()}

    # Stored exactly once: port 25 deliveries in bob's Inbox, APPENDs in his Archive.
    bob_ids = stored_ids(bob)
    for kind, mailbox in (("in", "Inbox"), ("append", "Archive")):
        for mid in ledger.acked[kind]:
            assert bob_ids.get(mid) == [mailbox], f"{kind} {mid} acknowledged, stored as {bob_ids.get(mid)}"
    assert set(bob_ids) <= ledger.attempted["in"] | ledger.attempted["append"]
    assert all(len(copies) == 1 for copies in bob_ids.values())

    # Submissions: at the sink (at least once), or a DSN to alice naming the message.
    at_sink: dict[str, int] = {}
    for m in sink.messages:
        found = MESSAGE_ID.search(m.data)
        assert found and m.rcpt_tos == ["dave@remote.test"], m
        at_sink[found.group(1).decode()] = at_sink.get(found.group(1).decode(), 0) + 1
    missing = ledger.acked["out"] - set(at_sink)
    assert not missing, f"acknowledged submissions never delivered: {sorted(missing)}"
    assert set(at_sink) <= ledger.attempted["out"]
    from mailstore.files import read_message

    dsn_bodies = [read_message(m.path) for m in Message.objects.filter(account=alice)]
    for mid in ledger.acked["refused"]:
        assert any(f"<{mid}>".encode() in body and b"Action: failed" in body for body in dsn_bodies), (
            f"no DSN for refused {mid}")
    assert not QueuedMessage.objects.exists()

    check_verifydata(env, acknowledged=ledger.acked["in"] | ledger.acked["append"])
    print(f"kills {victims}: acknowledged { {k: len(v) for k, v in ledger.acked.items()} }, "
          f"sink deliveries {len(sink.messages)} for {len(at_sink)} messages")


ORPHAN = re.compile(r"^orphan file (accounts/\d+/msg/\S+): no message row$")


def check_verifydata(env: dict[str, str], acknowledged: set[str]) -> None:
    """verifydata finds nothing wrong, except (as designed, mailstore/files.py) files
    put in place by a delivery killed before its commit: such a file has no row, so no
    client sees it, and it never holds an acknowledged message. One killed while it was
    being written may be cut short before its Message-ID (or empty): it is counted, and
    it holds no acknowledged message either (those were whole and fsynced before their
    250, and have their rows)."""
    from django.conf import settings

    out = manage("verifydata", env=env)
    lines = out.stdout.decode().splitlines()
    problems = [line for line in lines if not line.startswith(("note: ", "verified "))]
    cut_short = 0
    for line in problems:
        found = ORPHAN.match(line)
        assert found, "\n".join(lines) + out.stderr.decode()
        data = (Path(settings.DATA_DIR) / found.group(1)).read_bytes()
        mid = MESSAGE_ID.search(data)
        if mid is None:
            assert b"\r\n\r\n" not in data, f"{line}: a whole message without a Message-ID"
            cut_short += 1
            continue
        assert mid.group(1).decode() not in acknowledged, f"{line}: an acknowledged message without its row"
    assert lines[-1].endswith(f": {len(problems)} problems"), lines
    print(f"verifydata: {len(problems)} orphan files of interrupted deliveries ({cut_short} cut short)")


@pytest.mark.timeout(300)
def test_it_keeps_every_acknowledged_message_across_kill_9_of_runmail_and_worker(
        installation, tls_files, alice, bob) -> None:
    run_kills(installation, tls_files, alice, bob, ["runmail", "worker", "both"])


@pytest.mark.faults
@pytest.mark.timeout(900)
def test_it_keeps_every_acknowledged_message_across_many_kills(installation, tls_files, alice, bob) -> None:
    run_kills(installation, tls_files, alice, bob, ["runmail", "worker", "both"] * 4)
