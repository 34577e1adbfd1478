"""runmail and a separate delivery worker (`manage.py qcluster`) as real processes on the
test database, for fault tests that kill them with SIGKILL and start them again.

The children use tests/faults/child_settings.py: production settings (a real django-q2
broker, not the test suite's inline one) with the suite's fast password hasher, so the
accounts the test creates can log in."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from tests.commands.procs import database_url
from tests.localserve.conftest import ROOT, child_env, free_offset


def installation_env(data_dir: Path, tls_files, dns_address: str, **extra: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Environment of runmail/worker processes sharing the test database."""
    offset = free_offset()
    env = child_env(
        DJANGO_SETTINGS_MODULE="tests.faults.child_settings",
        DATABASE_URL=database_url(), MOX_DATA_DIR=str(data_dir),
        MOX_HOSTNAME="mail.example.test", MOX_LISTEN_IPS="127.0.0.1",
        MOX_TLS_CERT=str(tls_files.cert_path), MOX_TLS_KEY=str(tls_files.key_path),
        MOX_DNS_RESOLVER=dns_address, MOX_RUN_WORKER="0", MOX_WORKERS="2", MOX_LOG_LEVEL="WARNING",
        MOX_SMTP_PORT=str(25 + offset), MOX_SUBMISSION_PORT=str(587 + offset),
        MOX_SUBMISSIONS_PORT=str(465 + offset), MOX_IMAP_PORT=str(143 + offset),
        MOX_IMAPS_PORT=str(993 + offset), MOX_HTTP_PORT="0", MOX_HTTPS_PORT=str(443 + offset),
        MOX_METRICS_PORT="0",
    )
    env.update(extra)
    return env


def port(env: dict[str, str], name: str) -> int:
    return int(env[f"MOX_{name.upper()}_PORT"])


class Process:
    """`manage.py <command>` in its own session, restartable; output kept for messages."""

    def __init__(self, env: dict[str, str], *args: str, ready_marker: str = "") -> None:
        self.env = env
        self.args = args
        self.ready_marker = ready_marker
        self.proc: subprocess.Popen[str] | None = None
        self.output: list[str] = []
        self.starts = 0

    def start(self, timeout: float = 60) -> None:
        self.starts += 1
        self.output.append(f"---- start {self.starts}\n")
        proc = self.proc = subprocess.Popen(
            [sys.executable, "manage.py", *self.args], cwd=ROOT, env=self.env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        )
        ready = threading.Event()

        def reader() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                self.output.append(line)
                if self.ready_marker and self.ready_marker in line:
                    ready.set()
            ready.set()

        threading.Thread(target=reader, daemon=True).start()
        if self.ready_marker and (not ready.wait(timeout) or proc.poll() is not None):
            raise AssertionError(f"{' '.join(self.args)} did not start:\n{self.log()}")

    def log(self) -> str:
        return "".join(self.output[-200:])

    def kill9(self) -> None:
        """SIGKILL to the whole process group (a worker's children die with it)."""
        assert self.proc is not None
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(10)

    def stop(self, grace: float = 20) -> int | None:
        """SIGTERM to the main PID only (django-q2 deadlocks when its whole group gets
        it, libraries.md section 1), then SIGKILL to the group after the grace time."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # leftovers of the group, if any
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait(10)
        return self.proc.returncode


def runmail(env: dict[str, str]) -> Process:
    return Process(env, "runmail", ready_marker="moxweb runmail:")


def worker(env: dict[str, str]) -> Process:
    return Process(env, "qcluster")


def without_junk_checks(account) -> None:  # type: ignore[no-untyped-def]
    """Turn off the junk filter and the first-time sender delay (15 s) of an account that
    receives the tests' machine-made mail on port 25."""
    account.junk_filter = {}
    account.first_time_sender_delay = False
    account.save(update_fields=["junk_filter", "first_time_sender_delay"])
