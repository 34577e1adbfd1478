"""Run `manage.py localserve` as a real process on free ports, in its own data directory."""
from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STANDARD = {"smtp": 25, "submission": 587, "submissions": 465, "imap": 143, "imaps": 993, "http": 80, "https": 443, "metrics": 81}


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_offset() -> int:
    for _ in range(200):
        # Below Linux's ephemeral ports (32768 and up): a restarted server must not find
        # its port taken by some process's outgoing connection (a database client's).
        offset = random.randrange(10000, 32768 - max(STANDARD.values()))
        if all(_free(p + offset) for p in STANDARD.values()):
            return offset
    raise RuntimeError("no free port range")


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOX_") and k not in ("DATABASE_URL",)}
    env["DJANGO_SETTINGS_MODULE"] = "moxweb.settings"
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


class Localserve:
    def __init__(self, data_dir: Path, offset: int | None = None, **env: str) -> None:
        self.data_dir = data_dir
        self.offset = offset if offset is not None else free_offset()
        self.ports = {name: port + self.offset for name, port in STANDARD.items()}
        self.env = child_env(**env)
        self.proc: subprocess.Popen[str] | None = None
        self.output: list[str] = []

    def start(self, timeout: float = 60) -> str:
        self.output = []
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "localserve", "--dir", str(self.data_dir), "--port-offset", str(self.offset)],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        ready = threading.Event()

        def reader() -> None:
            assert self.proc is not None and self.proc.stdout is not None
            for line in self.proc.stdout:
                self.output.append(line)
                if "stop with ctrl-c" in line:
                    ready.set()
            ready.set()

        threading.Thread(target=reader, daemon=True).start()
        if not ready.wait(timeout) or self.proc.poll() is not None:
            raise AssertionError("localserve did not start:\n" + "".join(self.output))
        return "".join(self.output)

    def kill9(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
            raise


@pytest.fixture(scope="module")
def localserve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Localserve]:
    """One localserve for a module's tests (starting one costs seconds); tests that
    count messages must account for what earlier tests of the module delivered."""
    ls = Localserve(tmp_path_factory.mktemp("localserve") / "data", MOX_RUN_WORKER="0")
    ls.start()
    yield ls
    ls.stop()
