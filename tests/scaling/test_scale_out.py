"""Scale-out as docs/scaling.md describes it: two runmail processes sharing one
PostgreSQL database and one data directory, with their Unix notify sockets in separate
directories (as on separate machines), so an IDLE on one sees a delivery made through
the other only over the network channel: PostgreSQL LISTEN/NOTIFY, or Redis pub/sub.

Always on the machine's PostgreSQL (a scratch database) and Redis, whatever database
the rest of the run uses."""
from __future__ import annotations

import imaplib
import secrets
import shutil
import smtplib
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.localserve.conftest import ROOT, child_env, free_offset
from tests.localserve.test_localserve import make_message

pytestmark = pytest.mark.slow

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/11"


def manage(env: dict[str, str], *args: str, stdin: str = "") -> str:
    out = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, input=stdin,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


class Runmail:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.output: list[str] = []
        self.proc = subprocess.Popen([sys.executable, "manage.py", "runmail"], cwd=ROOT, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)
            if "moxweb runmail:" in line:
                self.ready.set()
        self.ready.set()

    def wait_ready(self) -> None:
        assert self.ready.wait(60) and self.proc.poll() is None, "".join(self.output)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
        return self.proc.wait(30)


def imap_login(port: int, user: str, tls_files) -> imaplib.IMAP4:  # type: ignore[no-untyped-def]
    imap = imaplib.IMAP4("127.0.0.1", port, timeout=10)
    imap.starttls(ssl_context=tls_files.client_context())
    imap.login(user, user.split("@")[0] + "password")
    return imap


def base_env(database_url: str, data_dir: Path, tls_files, dns_server) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {
        "DATABASE_URL": database_url, "MOX_DATA_DIR": str(data_dir),
        "MOX_HOSTNAME": "mail.example.test", "MOX_LISTEN_IPS": "127.0.0.1",
        "MOX_TLS_CERT": str(tls_files.cert_path), "MOX_TLS_KEY": str(tls_files.key_path),
        "MOX_DNS_RESOLVER": dns_server.address, "MOX_SUBMISSIONS_PORT": "0", "MOX_IMAPS_PORT": "0",
        "MOX_HTTP_PORT": "0", "MOX_HTTPS_PORT": "0", "MOX_METRICS_PORT": "0", "MOX_WORKERS": "1",
        "MOX_FIRST_TIME_SENDER_DELAY": "0",
    }


@pytest.fixture(scope="module")
def installation(tmp_path_factory, tls_files) -> Iterator[tuple[str, Path]]:  # type: ignore[no-untyped-def]
    """A migrated database with domain example.test and accounts alice and bob, and its
    data directory, set up once; each test copies both (CREATE DATABASE ... TEMPLATE)."""
    name = f"moxweb_scaletpl_{secrets.token_hex(4)}"
    data_dir = tmp_path_factory.mktemp("scaling") / "data"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        env = child_env(DATABASE_URL=f"postgresql://postgres@127.0.0.1:5432/{name}", MOX_DATA_DIR=str(data_dir))
        manage(env, "migrate", "--noinput")
        manage(env, "adddomain", "example.test")
        for account in ("alice", "bob"):
            manage(env, "addaccount", account, f"{account}@example.test")
            manage(env, "setaccountpassword", "--stdin", account, stdin=f"{account}password\n")
        yield name, data_dir
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def scratch(installation, tmp_path: Path) -> Iterator[tuple[str, Path]]:  # type: ignore[no-untyped-def]
    template, template_dir = installation
    name = f"moxweb_scaletest_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
    data_dir = tmp_path / "data"
    shutil.copytree(template_dir, data_dir)
    yield f"postgresql://postgres@127.0.0.1:5432/{name}", data_dir
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.mark.parametrize("channel", ["postgresql", "redis"])
def test_it_wakes_idle_across_processes_and_delivers_through_the_shared_worker(
    channel, tmp_path: Path, tls_files, scratch, dns_server  # type: ignore[no-untyped-def]
) -> None:
    database_url, data_dir = scratch
    base = base_env(database_url, data_dir, tls_files, dns_server)
    if channel == "redis":
        base["MOX_REDIS_URL"] = REDIS_URL
    dns_server.add("remote.test", "A", "192.0.2.1")
    # The sending host has a forward-confirmed name: without iprev pass, a first message
    # meets the junk filter's strict threshold (mox-v0.0.5 1.1.11 step 10).
    dns_server.add("1.0.0.127.in-addr.arpa", "PTR", "client.remote.test.")
    dns_server.add("client.remote.test", "A", "127.0.0.1")

    procs: dict[str, Runmail] = {}
    ports: dict[str, dict[str, int]] = {}
    for name, worker in (("a", "0"), ("b", "1")):
        offset = free_offset()
        ports[name] = {"smtp": 25 + offset, "submission": 587 + offset, "imap": 143 + offset}
        procs[name] = Runmail(child_env(
            **base, MOX_RUN_WORKER=worker, MOX_NOTIFY_DIR=str(tmp_path / f"notify-{name}"),
            MOX_SMTP_PORT=str(ports[name]["smtp"]), MOX_SUBMISSION_PORT=str(ports[name]["submission"]),
            MOX_IMAP_PORT=str(ports[name]["imap"]),
        ))
    try:
        for proc in procs.values():
            proc.wait_ready()
        logs = lambda: "".join(procs["a"].output) + "----\n" + "".join(procs["b"].output)  # noqa: E731

        # IDLE on A; deliver through B's SMTP; A's session hears of it within 2 s.
        imap_a = imap_login(ports["a"]["imap"], "bob@example.test", tls_files)
        typ, data = imap_a.select("Inbox")
        assert data == [b"0"]
        imap_a.send(b"I1 IDLE\r\n")
        assert imap_a.readline().startswith(b"+ ")
        with smtplib.SMTP("127.0.0.1", ports["b"]["smtp"], timeout=10) as smtp:
            msg = make_message("across", to="bob@example.test", frm="carol@remote.test")
            assert smtp.sendmail("carol@remote.test", ["bob@example.test"], msg) == {}
        delivered = time.monotonic()
        imap_a.sock.settimeout(2)
        try:
            line = imap_a.readline()
        except TimeoutError:
            pytest.fail("IDLE on A did not see the delivery through B within 2 s:\n" + logs())
        assert line == b"* 1 EXISTS\r\n"
        assert time.monotonic() - delivered < 2
        imap_a.sock.settimeout(10)
        imap_a.send(b"DONE\r\n")
        while not (line := imap_a.readline()).startswith(b"I1 "):
            pass
        assert line.startswith(b"I1 OK")
        imap_a.logout()

        # Submitted on A (which runs no worker); B's worker delivers; read through B.
        with smtplib.SMTP("127.0.0.1", ports["a"]["submission"], timeout=10) as smtp:
            smtp.starttls(context=tls_files.client_context())
            smtp.login("alice@example.test", "alicepassword")
            msg = make_message("queued on a", to="bob@example.test", frm="alice@example.test")
            assert smtp.sendmail("alice@example.test", ["bob@example.test"], msg) == {}
        imap_b = imap_login(ports["b"]["imap"], "bob@example.test", tls_files)
        deadline = time.monotonic() + 20
        count = 0
        while time.monotonic() < deadline:
            typ, data = imap_b.select("Inbox", readonly=True)
            count = int(data[0])
            if count == 2:
                break
            time.sleep(0.3)
        assert count == 2, "the worker did not deliver the message submitted on A:\n" + logs()
        typ, data = imap_b.fetch("2", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert data[0][1].strip() == b"Subject: queued on a"
        imap_b.logout()
    finally:
        for proc in procs.values():  # both at once: each waits for its own shutdown
            if proc.proc.poll() is None:
                proc.proc.terminate()
        codes = {name: proc.stop() for name, proc in procs.items()}
    assert codes == {"a": 0, "b": 0}
