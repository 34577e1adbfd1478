"""sendmail(8) for cron and scripts: read a message, submit it over SMTP submission
(mox `sendmail`, moxsubmit.conf).

Settings: MOX_SENDMAIL_HOST (default 127.0.0.1), MOX_SENDMAIL_PORT, MOX_SENDMAIL_USERNAME,
MOX_SENDMAIL_PASSWORD, MOX_SENDMAIL_FROM, MOX_SENDMAIL_DEFAULT_DESTINATION,
MOX_SENDMAIL_TLS_VERIFY. Without a configured username it talks to localserve:
port 1587 as mox@localhost. The SASL mechanism is the most secure one the server
offers (SCRAM-SHA-256, SCRAM-SHA-1, CRAM-MD5, then PLAIN only over TLS). On failure
the message is kept in ~/moxsubmit.failures/ as mox does.
"""
from __future__ import annotations

import asyncio
import ipaddress
import os
import re
import time
from dataclasses import dataclass
from email.utils import getaddresses
from pathlib import Path

from django.conf import settings

from mailcore.dsn import headers_of
from mailqueue.transports import Auth, Envelope, Outcome, Peer, TLSMode, smtp_transaction


class SendmailError(Exception):
    pass


@dataclass
class SubmitConfig:
    host: str
    port: int
    username: str
    password: str
    sender: str
    default_destination: str
    verify_tls: bool


def _opt(name: str, default: str) -> str:
    """A Django setting, else the environment variable of the same name (sendmail runs
    from cron with only an environment), else the default."""
    value = getattr(settings, name, None)
    if value is None or value == "":
        value = os.environ.get(name, "")
    return default if value is None or value == "" else str(value)


def config() -> SubmitConfig:
    from moxweb.localserve import LOCALSERVE_ADDRESS, LOCALSERVE_PASSWORD

    username = _opt("MOX_SENDMAIL_USERNAME", "")
    host = _opt("MOX_SENDMAIL_HOST", "127.0.0.1")
    if username:
        port = int(_opt("MOX_SENDMAIL_PORT", "587"))
        password = _opt("MOX_SENDMAIL_PASSWORD", "")
    else:
        port = int(_opt("MOX_SENDMAIL_PORT", "1587"))
        username, password = LOCALSERVE_ADDRESS, LOCALSERVE_PASSWORD
    verify = _opt("MOX_SENDMAIL_TLS_VERIFY", "")
    return SubmitConfig(
        host=host,
        port=port,
        username=username,
        password=password,
        sender=_opt("MOX_SENDMAIL_FROM", "") or username,
        default_destination=_opt("MOX_SENDMAIL_DEFAULT_DESTINATION", ""),
        # Loopback needs no verification (localserve has a self-signed certificate).
        verify_tls=(verify.lower() in ("1", "true", "yes", "on")) if verify else not _is_loopback(host),
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def crlf(data: bytes) -> bytes:
    return re.sub(rb"\r?\n", b"\r\n", data)


def _header_addresses(header: bytes, names: tuple[str, ...]) -> list[str]:
    from email.parser import BytesHeaderParser
    from email.policy import compat32

    msg = BytesHeaderParser(policy=compat32).parsebytes(header)
    values: list[str] = []
    for n in names:
        values += [str(v) for v in msg.get_all(n, [])]
    return [addr for _, addr in getaddresses(values) if addr]


def _drop_bcc(message: bytes) -> bytes:
    """RFC 5322 section 3.6.3: Bcc is not passed on. Removes the field and its folded lines."""
    head = headers_of(message)
    body = message[len(head):]
    out: list[bytes] = []
    skipping = False
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t") and skipping:
            continue
        skipping = line.lower().startswith(b"bcc:")
        if not skipping:
            out.append(line)
    return b"\r\n".join(out) + body


def prepare(data: bytes, recipients: list[str], *, read_headers: bool, cfg: SubmitConfig) -> tuple[bytes, list[str]]:
    message = crlf(data)
    rcpts = list(recipients)
    if read_headers:
        rcpts += _header_addresses(headers_of(message), ("to", "cc", "bcc"))
        message = _drop_bcc(message)
    if not rcpts:
        raise SendmailError("no recipients")
    out = []
    for r in rcpts:
        if "@" not in r:
            if not cfg.default_destination:
                raise SendmailError(f"recipient {r!r} has no domain and no default destination is configured")
            r = cfg.default_destination
        out.append(r)
    return message, out


def _path(addr: str) -> str:
    return "<>" if addr in ("", "<>") else f"<{addr.strip('<>')}>"


async def submit(message: bytes, sender: str, recipients: list[str], cfg: SubmitConfig) -> Outcome:
    env = Envelope(
        mail_from=_path(sender),
        rcpt_to=_path(recipients[0]),
        extra_rcpts=[_path(r) for r in recipients[1:]],
        data=message,
        has_8bit=not message.isascii(),
        smtputf8=not (sender + "".join(recipients)).isascii(),
    )
    peer = Peer(
        host=cfg.host,
        connect_host=cfg.host,
        port=cfg.port,
        tls_mode=TLSMode.strict if cfg.verify_tls else TLSMode.opportunistic,
        ehlo_name=settings.MOX_HOSTNAME,
        auth=Auth(cfg.username, cfg.password),
        timeout=60,
    )
    return await smtp_transaction(peer, env)


def save_failure(message: bytes) -> Path:
    d = Path.home() / "moxsubmit.failures"
    d.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = d / f"{time.strftime('%Y%m%d-%H%M%S')}-{time.time_ns() % 1000000}.eml"
    path.write_bytes(message)
    return path


def sendmail(data: bytes, recipients: list[str], *, read_headers: bool = False, sender: str = "") -> None:
    """Submit `data`; raises SendmailError (after saving the message) on failure."""
    cfg = config()
    message, rcpts = prepare(data, recipients, read_headers=read_headers, cfg=cfg)
    out = asyncio.run(submit(message, sender or cfg.sender, rcpts, cfg))
    if not out.ok:
        saved = save_failure(message)
        raise SendmailError(f"submitting to {cfg.host}:{cfg.port}: {out.text} (message saved in {saved})")


def main() -> None:
    """Entry point for a `moxweb-sendmail` console script (usable as /usr/sbin/sendmail):
    the settings come from the environment like every moxweb command."""
    import sys

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "moxweb.settings")
    import django
    from django.core.management import CommandError, call_command

    django.setup()
    try:
        call_command("sendmail", *sys.argv[1:])
    except CommandError as e:
        print(f"sendmail: {e}", file=sys.stderr)
        sys.exit(1)
