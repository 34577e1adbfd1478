"""What the benchmarks share: a moxweb localserve in a subprocess on free ports, source
addresses that keep mox's per-network connection limits out of the figures, memory
readings from /proc, and a description of the machine and its load for the results."""
from __future__ import annotations

import os
import platform
import random
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
PORTS = (25, 587, 465, 143, 993, 80, 443, 81)


def free_offset() -> int:
    """An offset that puts every standard port of localserve on a free loopback port."""
    for _ in range(200):
        # Below Linux's ephemeral ports (32768 and up): a restarted server must not find
        # its port taken by some process's outgoing connection (a database client's).
        offset = random.randrange(10000, 32768 - max(PORTS))
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


def exit_on_sigterm() -> None:
    """SIGTERM runs the `finally` blocks (stopping localserve, Dovecot, Postfix) as ctrl-c does."""
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


def raise_fd_limit() -> int:
    """Raise this process's (and so its children's) open-file limit to the hard limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 1 << 20
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def source_address(i: int) -> str:
    """The i-th loopback source address: the first 8,000 each in their own /21 (mox limits
    open connections and connection rate per /32, /26 and /21), then further /26s."""
    block, round_ = i % 8000, i // 8000
    return f"127.{block // 32 + 1}.{(block % 32) * 8}.{1 + 64 * (round_ % 4)}"


def child_env() -> dict[str, str]:
    """This environment without moxweb settings, so a child configures itself."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOX_") and k != "DATABASE_URL"}
    env.update({"DJANGO_SETTINGS_MODULE": "moxweb.settings", "PYTHONUNBUFFERED": "1"})
    return env


class Localserve:
    """`manage.py localserve` in a subprocess (no queue worker), in `data_dir`, on free ports.
    `manage_env` runs other `manage.py` commands or scripts against the same data."""

    def __init__(self, data_dir: Path, **extra_env: str) -> None:
        from moxweb.localserve import LOCALSERVE_ADDRESS, LOCALSERVE_PASSWORD

        self.data_dir = data_dir
        self.offset = free_offset()
        self.imap_port = 143 + self.offset
        self.smtp_port = 25 + self.offset
        self.user, self.password = LOCALSERVE_ADDRESS, LOCALSERVE_PASSWORD
        self.extra_env = {"MOX_RUN_WORKER": "0", "MOX_LOG_LEVEL": "WARNING", **extra_env}
        self.proc: subprocess.Popen[str] | None = None
        self.output: list[str] = []

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def manage_env(self) -> dict[str, str]:
        from moxweb.localserve import localserve_environment

        env = child_env()
        env.update(self.extra_env)
        env.update(localserve_environment(self.data_dir.resolve(), "127.0.0.1", self.offset))
        return env

    def start(self, timeout: float = 300) -> None:
        env = child_env()
        env.update(self.extra_env)
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "localserve", "--dir", str(self.data_dir), "--port-offset", str(self.offset)],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        ready = threading.Event()

        def reader() -> None:
            assert self.proc is not None and self.proc.stdout is not None
            for line in self.proc.stdout:
                if len(self.output) < 200:
                    self.output.append(line)
                if "stop with ctrl-c" in line:
                    ready.set()
            ready.set()

        threading.Thread(target=reader, daemon=True).start()
        if not ready.wait(timeout) or self.proc.poll() is not None:
            self.stop()
            raise SystemExit("localserve did not start:\n" + "".join(self.output))

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def __enter__(self) -> Localserve:
        self.start()
        return self

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


def skip_fsync_for_setup() -> None:
    """In a process that only prepares a benchmark's data (call before django.setup()):
    no fsync of message files and directories, no synchronous SQLite commits. The
    processes being measured keep their durability."""
    from django.db.backends.signals import connection_created

    os.fsync = lambda fd: None  # type: ignore[assignment]

    def no_sync(sender: object, connection: object, **kwargs: object) -> None:
        if getattr(connection, "vendor", "") == "sqlite":
            with connection.cursor() as cursor:  # type: ignore[attr-defined]
                cursor.execute("PRAGMA synchronous=OFF")

    connection_created.connect(no_sync, weak=False)


class Profile:
    """`py-spy record` of a process while the block runs (collapsed stacks in `path`), when
    py-spy is installed and `path` is given; otherwise nothing. For finding hot spots:
    `python bench/hotspots.py PATH`."""

    def __init__(self, pid: int, path: Path | None, subprocesses: bool = False) -> None:
        self.pid, self.path, self.subprocesses = pid, path, subprocesses
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Profile:
        import shutil

        spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        if self.path is not None and Path(spy).exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.proc = subprocess.Popen([spy, "record", "--pid", str(self.pid), "--format", "raw", "--rate", "50",
                                          "--output", str(self.path), *(["--subprocesses"] if self.subprocesses else [])], stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL)
            time.sleep(1)
        return self

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def settle_disk(quiet: float = 0) -> bool:
    """Write out dirty data, wait `quiet` seconds (deleting nothing), and drop the clean
    caches (as root), before the servers' warm-ups. On ext4 without a journal (this
    machine's disk) creating a file skips, one by one, every free inode deleted less than
    60 seconds ago (300 more while its table block is unwritten: the kernel's
    `recently_deleted`), and a new directory under /work lands among the previous run's
    deleted files: a file creation there measured 600 us after a run's clean-up, 100 us
    75 seconds later, 26 us in /tmp. The SMTP ingest benchmark waits out the previous
    run's clean-up once, its servers all started; nothing is deleted until it ends.
    False when the caches could not be dropped (not root)."""
    os.sync()
    time.sleep(quiet)
    try:
        with open("/proc/sys/vm/drop_caches", "w") as fh:
            fh.write("3\n")
    except OSError:
        return False
    return True


def proc_status_kib(pid: int, field: str) -> int:
    """A field of /proc/PID/status in KiB (VmRSS, VmHWM), 0 if the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def open_files(pid: int) -> tuple[int, int]:
    """Descriptors a process holds and its soft limit (0, 0 if it is gone)."""
    try:
        count = len(os.listdir(f"/proc/{pid}/fd"))
        for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
            if line.startswith("Max open files"):
                return count, int(line.split()[3])
    except (OSError, ValueError, IndexError):
        pass
    return 0, 0


def pss_kib(pid: int) -> int:
    """Proportional set size: shared pages split among the processes sharing them."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def descendants(pid: int) -> list[int]:
    """`pid` and every process below it."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def machine() -> str:
    mem = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem = int(line.split()[1]) // (1024 * 1024)
    return f"{platform.machine()}, {os.cpu_count()} cores, {mem} GiB, Python {platform.python_version()}"


def load() -> str:
    return "load average " + " ".join(f"{x:.1f}" for x in os.getloadavg())


def now() -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())


def write_result(name: str, title: str, text: str, directory: Path = RESULTS) -> Path:
    """<directory>/<name>.md with a heading that names the script, time, machine and load."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.md"
    path.write_text(f"# {title}, {now()}\n\nMachine: {machine()}; {load()} at the end of the run.\n\n{text}\n")
    return path


def publish(name: str, title: str, text: str, directory: Path = RESULTS) -> None:
    """Print a benchmark's table and write it to <directory>/<name>.md."""
    print(text)
    print(f"\nwritten to {write_result(name, title, text, directory)}")


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "n/a"
