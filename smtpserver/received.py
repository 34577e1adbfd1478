"""Trace headers we add in the stored prefix; the message bytes stay untouched.

- Received: RFC 5321 section 4.4 (Stamp = From-domain By-domain Opt-info ";" date),
  protocol names from RFC 3848 and RFC 6531 section 3.7.3 (UTF8SMTP...), with a
  comment naming the TLS version and cipher suite (as mox does).
- Return-Path: RFC 5321 section 4.4, added at final delivery.
"""
from __future__ import annotations

import email.utils
import functools
from dataclasses import dataclass
from datetime import datetime, timedelta

from mailcore.smtp.address import Address


@dataclass
class TraceInfo:
    ehlo: str  # the HELO/EHLO argument
    remote_ip: str
    local_ip: str
    hostname: str
    esmtp: bool
    smtputf8: bool
    tls: tuple[str, str] | None  # (version, cipher)
    authenticated: bool
    submission: bool
    received_id: str


def protocol(info: TraceInfo) -> str:
    """RFC 3848 section 2 / RFC 6531 section 3.7.3: ESMTP, then S (TLS) and A (AUTH)."""
    if not info.esmtp:
        return "SMTP"
    base = "UTF8SMTP" if info.smtputf8 else "ESMTP"
    return base + ("S" if info.tls else "") + ("A" if info.authenticated else "")


def _fold(words: list[str], name: str) -> bytes:
    """Header folding (RFC 5322 section 2.2.3) at word boundaries, lines under 78 chars."""
    lines: list[str] = []
    line = f"{name}:"
    for w in words:
        if len(line) + 1 + len(w) > 78 and line.strip() != f"{name}:":
            lines.append(line)
            line = "\t" + w
        else:
            line += " " + w
    lines.append(line)
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def _ip_literal(ip: str) -> str:
    return f"[IPv6:{ip}]" if ":" in ip else f"[{ip}]"


def received_header(info: TraceInfo, recipient: Address | None, when: datetime) -> bytes:
    words: list[str] = ["from"]
    if info.submission:
        # mox hides a submitting client's IP: the message starts with us.
        words += [info.hostname]
    else:
        words += [info.ehlo or _ip_literal(info.remote_ip), f"({_ip_literal(info.remote_ip)})"]
    words += ["by", info.hostname, f"({_ip_literal(info.local_ip)})" if info.local_ip else ""]
    words += ["via", "tcp", "with", protocol(info), "id", info.received_id]
    if info.tls:
        version, cipher = info.tls
        words += [f"({version.replace('v', '')} {cipher})"]
    if recipient is not None:
        words += ["for", f"<{recipient.format(info.smtputf8)}>;"]
    else:
        words[-1] += ";"
    words += [_date(when.replace(microsecond=0), when.utcoffset())]
    return _fold([w for w in words if w], "Received")


@functools.lru_cache(maxsize=8)
def _date(when: datetime, offset: timedelta | None) -> str:
    """RFC 5322 section 3.3 date-time, made once per second (every message received in
    that second carries the same). The offset is part of the key: the same instant in
    another zone compares equal but is written differently."""
    return email.utils.format_datetime(when)


def return_path(sender: Address | None, utf8: bool) -> bytes:
    if sender is None:
        return b"Return-Path: <>\r\n"
    return f"Return-Path: <{sender.format(utf8)}>\r\n".encode("utf-8")

