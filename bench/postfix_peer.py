"""A throw-away Postfix instance on a loopback port, as the benchmarks' reference peer.

Postfix comes from Debian (`apt-get install postfix` with "No configuration"); the
instance lives in a temporary directory and accepts mail into its durable queue
(fsynced before 250, as moxweb). By default it discards the mail afterwards; with
`relay_port` it relays everything to 127.0.0.1:relay_port (an smtp-sink), and with
`hold` it puts accepted mail on hold until `release_held()`.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {dir}/spool
data_directory = {dir}/data
myhostname = bench.localhost
mydestination =
relay_domains = example.test, localhost
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_recipient_restrictions = permit_mynetworks, reject
default_transport = discard
relay_transport = discard
maillog_file = /dev/stdout
smtpd_client_connection_count_limit = 0
"""

RELAY_CF = """relayhost = [127.0.0.1]:{relay_port}
default_transport = smtp
relay_transport = smtp
smtp_tls_security_level = none
"""

HOLD_CF = """smtpd_recipient_restrictions = check_recipient_access static:HOLD, permit_mynetworks, reject
"""

QUEUES = ("maildrop", "incoming", "active", "deferred", "hold")


def ensure_installed() -> None:
    if shutil.which("smtp-source") and shutil.which("postfix"):
        return
    if os.geteuid() != 0:
        raise SystemExit("Postfix is not installed: apt-get install postfix (as root)")
    subprocess.run(["debconf-set-selections"], input=b"postfix postfix/main_mailer_type select No configuration\n",
                   check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "postfix"], check=True,
                   env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})


def register_config_directory(conf: Path) -> None:
    """`postfix -c DIR` is only allowed for directories the default main.cf names in
    alternate_config_directories. One line names them all (a parameter given twice means
    the last one), keeping only directories that still exist, under a lock, so instances
    started at the same time do not drop each other."""
    import fcntl

    default = Path("/etc/postfix/main.cf")
    with open("/etc/postfix/.moxweb-bench.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        lines = default.read_text().splitlines() if default.exists() else []
        dirs: list[str] = []
        kept = []
        for line in lines:
            if line.replace(" ", "").startswith("alternate_config_directories="):
                dirs += [d for d in line.split("=", 1)[1].replace(",", " ").split() if Path(d).is_dir()]
            else:
                kept.append(line)
        dirs = sorted(set(dirs) | {str(conf)})
        kept = [line for i, line in enumerate(kept) if line.strip() or (i and kept[i - 1].strip())]
        while kept and not kept[-1].strip():
            kept.pop()
        default.write_text("\n".join([*kept, f"alternate_config_directories = {' '.join(dirs)}"]) + "\n")


class Postfix:
    def __init__(self, directory: Path, port: int, relay_port: int | None = None, hold: bool = False) -> None:
        self.dir = directory
        self.port = port
        self.relay_port = relay_port
        self.hold = hold
        self.conf = directory / "conf"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.dir.chmod(0o755)  # postfix daemons run as the postfix user
        self.conf.mkdir(parents=True, exist_ok=True)
        (self.dir / "data").mkdir(exist_ok=True)
        (self.dir / "spool").mkdir(exist_ok=True)
        shutil.chown(self.dir / "data", "postfix", "postfix")
        main = MAIN_CF.format(dir=self.dir)
        if self.relay_port:
            main = main.replace("default_transport = discard\nrelay_transport = discard\n", "")
            main += RELAY_CF.format(relay_port=self.relay_port)
        if self.hold:
            main = main.replace("smtpd_recipient_restrictions = permit_mynetworks, reject\n", HOLD_CF)
        (self.conf / "main.cf").write_text(main)
        master = Path("/etc/postfix/master.cf").read_text().splitlines()
        master = [f"127.0.0.1:{self.port} inet n - n - - smtpd" if line.startswith("smtp      inet") else line
                  for line in master]
        (self.conf / "master.cf").write_text("\n".join(master) + "\n")
        register_config_directory(self.conf)
        self.log = open(self.dir / "maillog", "wb")
        self.proc = subprocess.Popen(["postfix", "-c", str(self.conf), "start-fg"],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        import socket

        for _ in range(600):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise SystemExit(f"Postfix did not start; see {self.dir}/maillog")

    def queued(self) -> int:
        """Messages in any of the instance's queues."""
        spool = self.dir / "spool"
        return sum(1 for q in QUEUES if (spool / q).is_dir() for p in (spool / q).rglob("*") if p.is_file())

    def release_held(self) -> None:
        """Move every held message to the deferred queue and schedule them all now."""
        subprocess.run(["postsuper", "-c", str(self.conf), "-H", "ALL"], check=True, capture_output=True)
        subprocess.run(["postqueue", "-c", str(self.conf), "-f"], check=True, capture_output=True)

    def stop(self) -> None:
        subprocess.run(["postfix", "-c", str(self.conf), "stop"], capture_output=True)
        if self.proc is not None:
            self.proc.wait(30)
