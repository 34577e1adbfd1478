"""A throw-away Postfix (Debian's package) on a loopback port, as a real SMTP peer for
the queue's interoperability tests.

The instance lives in its own directory under /tmp (the Postfix daemons run as the
postfix user and must reach it) with its own main.cf and master.cf, all services
unchrooted. It accepts mail for the virtual domains it is given into Maildirs, with
STARTTLS, SMTPUTF8 and a message size limit, and relays everything else to a
`relayhost` (moxweb's port 25 listener in the tests).

    pf = Postfix(port=..., mailboxes={"carol@example.org": "carol"}, relayhost=...)
    pf.start(); ...; pf.stop()

`DovecotAuth` runs Dovecot's auth service alone, for Postfix's SASL (the smarthost
tests).
"""
from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

# Services a small instance needs; "n" in the chroot column everywhere, so nothing has
# to be copied into a jail.
_MASTER_CF = """\
127.0.0.1:{port} inet n - n - - smtpd
pickup    unix n - n 60 1 pickup
cleanup   unix n - n - 0 cleanup
qmgr      unix n - n 300 1 qmgr
tlsmgr    unix - - n 1000? 1 tlsmgr
rewrite   unix - - n - - trivial-rewrite
bounce    unix - - n - 0 bounce
defer     unix - - n - 0 bounce
trace     unix - - n - 0 bounce
verify    unix - - n - 1 verify
flush     unix n - n 1000? 0 flush
proxymap  unix - - n - - proxymap
smtp      unix - - n - - smtp
relay     unix - - n - - smtp
showq     unix n - n - - showq
error     unix - - n - - error
retry     unix - - n - - error
discard   unix - - n - - discard
virtual   unix - n n - - virtual
anvil     unix - - n - 1 anvil
scache    unix - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Postfix:
    """One instance. `mailboxes` maps addresses to Maildir names under `maildir_root`;
    other recipients of `domains` are refused at RCPT (550 5.1.1, Postfix's default
    smtpd_reject_unlisted_recipient)."""

    def __init__(
        self,
        *,
        hostname: str,
        domains: list[str],
        mailboxes: dict[str, str],
        relayhost: str = "",
        cert_pem: bytes = b"",
        message_size_limit: int = 10_240_000,
        port: int = 0,
        sasl_auth: str = "",
    ) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="moxweb-postfix-"))
        self.dir.chmod(0o755)
        self.conf = self.dir / "conf"
        self.maildir_root = self.dir / "mail"
        self.port = port or free_port()
        self.hostname = hostname
        self.domains = domains
        self.mailboxes = mailboxes
        self.relayhost = relayhost
        self.cert_pem = cert_pem  # certificate chain and key, PEM; empty: no STARTTLS
        self.message_size_limit = message_size_limit
        # With `sasl_auth` (a Dovecot auth service, "inet:127.0.0.1:port"), a second smtpd
        # on `sasl_port` relays only for clients that authenticated over TLS.
        self.sasl_auth = sasl_auth
        self.sasl_port = free_port() if sasl_auth else 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.dir / "maillog"

    def main_cf(self) -> dict[str, str]:
        nobody = pwd.getpwnam("nobody")
        settings = {
            "compatibility_level": "3.6",
            "queue_directory": f"{self.dir}/spool",
            "data_directory": f"{self.dir}/data",
            "myhostname": self.hostname,
            "mydestination": "",
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "smtpd_relay_restrictions": "permit_mynetworks, reject_unauth_destination",
            "virtual_mailbox_domains": " ".join(self.domains),
            "virtual_mailbox_base": str(self.maildir_root),
            "virtual_mailbox_maps": f"texthash:{self.conf}/vmailbox",
            "virtual_uid_maps": f"static:{nobody.pw_uid}",
            "virtual_gid_maps": f"static:{nobody.pw_gid}",
            "smtputf8_enable": "yes",
            "message_size_limit": str(self.message_size_limit),
            "relayhost": self.relayhost,
            "smtp_tls_security_level": "may",
            "maillog_file": "/dev/stdout",
            # Quick retries and no DNS: everything here is on loopback.
            "queue_run_delay": "1s",
            "minimal_backoff_time": "1s",
            "maximal_backoff_time": "2s",
            "smtp_dns_support_level": "disabled",
        }
        if self.cert_pem:
            settings |= {
                "smtpd_tls_chain_files": f"{self.conf}/cert.pem",
                "smtpd_tls_security_level": "may",
                "smtpd_tls_received_header": "yes",
            }
        return settings

    def start(self) -> None:
        self.conf.mkdir()
        for sub in ("data", "mail", "spool"):
            (self.dir / sub).mkdir()
        shutil.chown(self.dir / "data", "postfix", "postfix")
        nobody = pwd.getpwnam("nobody")
        os.chown(self.maildir_root, nobody.pw_uid, nobody.pw_gid)
        (self.conf / "main.cf").write_text("".join(f"{k} = {v}\n" for k, v in self.main_cf().items()))
        master = _MASTER_CF.format(port=self.port)
        if self.sasl_auth:
            master += (
                f"127.0.0.1:{self.sasl_port} inet n - n - - smtpd -o smtpd_sasl_auth_enable=yes"
                " -o smtpd_tls_security_level=encrypt -o smtpd_sasl_type=dovecot"
                f" -o smtpd_sasl_path={self.sasl_auth} -o smtpd_sasl_authenticated_header=yes"
                " -o smtpd_client_restrictions=permit_sasl_authenticated,reject\n"
            )
        (self.conf / "master.cf").write_text(master)
        if self.cert_pem:
            (self.conf / "cert.pem").write_bytes(self.cert_pem)
        (self.conf / "vmailbox").write_text("".join(f"{a} {d}/\n" for a, d in self.mailboxes.items()))
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            ["postfix", "-c", str(self.conf), "start-fg"], stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"postfix exited: {self.log()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"postfix did not start: {self.log()}")

    def stop(self) -> None:
        if self.proc is not None:
            subprocess.run(["postfix", "-c", str(self.conf), "stop"], capture_output=True, timeout=30)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
            self._log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def clear_queue(self) -> None:
        """Delete whatever is still queued, so one test's mail never reaches the next."""
        subprocess.run(["postsuper", "-c", str(self.conf), "-d", "ALL"], capture_output=True, timeout=30)

    def sendmail(self, sender: str, recipients: list[str], message: bytes) -> None:
        """Inject a message with Postfix's own sendmail, as a local program would."""
        subprocess.run(
            ["sendmail", "-C", str(self.conf), "-i", "-f", sender, "--", *recipients],
            input=message, check=True, capture_output=True, timeout=30,
        )

    def maildir(self, name: str, timeout: float = 20) -> list[bytes]:
        """The messages in Maildir `name`'s new/, waiting up to `timeout` for one."""
        new = self.maildir_root / name / "new"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            files = sorted(new.iterdir()) if new.exists() else []
            if files:
                return [f.read_bytes() for f in files]
            time.sleep(0.05)
        return []


def strip_trace(stored: bytes) -> tuple[list[bytes], bytes]:
    """Postfix's Maildir copy: (the header lines Postfix put on top: Return-Path,
    X-Original-To, Delivered-To, Received with continuations, each unfolded), and the original
    message with CRLF line ends restored."""
    added: list[bytes] = []
    rest = stored
    while rest.split(b":", 1)[0] in (b"Return-Path", b"X-Original-To", b"Delivered-To", b"Received"):
        line, _, rest = rest.partition(b"\n")
        while rest[:1] in (b" ", b"\t"):
            cont, _, rest = rest.partition(b"\n")
            line += b" " + cont.strip()
        added.append(line)
    return added, rest.replace(b"\n", b"\r\n")


_DOVECOT_CONF = """\
instance_name = {name}
base_dir = {dir}/run
state_dir = {dir}/state
log_path = {dir}/dovecot.log
protocols =
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login cram-md5 scram-sha-1 scram-sha-256
default_internal_user = dovecot
default_internal_group = dovecot
default_login_user = dovenull
auth_failure_delay = 0
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {dir}/passwd
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home=/nonexistent allow_all_users=yes
}}
service auth {{
  inet_listener {{
    address = 127.0.0.1
    port = {port}
  }}
}}
"""


class DovecotAuth:
    """Debian's Dovecot running only its auth service on a loopback port, as the SASL
    back end Postfix asks (smtpd_sasl_type = dovecot)."""

    def __init__(self, users: dict[str, str]) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="moxweb-dovecot-auth-"))
        self.dir.chmod(0o755)
        self.port = free_port()
        self.users = users
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"inet:127.0.0.1:{self.port}"

    def start(self) -> None:
        conf = self.dir / "dovecot.conf"
        conf.write_text(_DOVECOT_CONF.format(name=self.dir.name, dir=self.dir, port=self.port))
        passwd = self.dir / "passwd"
        passwd.write_text("".join(f"{u}:{p}\n" for u, p in self.users.items()))
        passwd.chmod(0o644)
        self.proc = subprocess.Popen(["dovecot", "-c", str(conf), "-F"], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dovecot exited: {self.log()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"dovecot did not start: {self.log()}")

    def log(self) -> str:
        path = self.dir / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()  # the master, which stops its children
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)
