"""What a listener needs to know, built once by `serve_smtp` and shared by its connections."""
from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from mailcore.ratelimit import (
    Clock,
    Limiter,
    connection_rate_limiter,
    open_connections_limiter,
    shared_auth_failures,
)

Sleep = Callable[[float], Awaitable[None]]

KINDS = ("smtp", "submission", "submissions")


@dataclass
class Limiters:
    """mox §1.1.9: connection rate and open connections per listener process, failed
    logins shared with IMAP and the web."""

    connection_rate: Limiter = field(default_factory=connection_rate_limiter)
    open_connections: Limiter = field(default_factory=open_connections_limiter)
    auth_failures: Limiter = field(default_factory=shared_auth_failures)


_process_limiters: Limiters | None = None


def process_limiters() -> Limiters:
    """SMTP limiters are per process (all SMTP listeners), like mox's package globals."""
    global _process_limiters
    if _process_limiters is None:
        _process_limiters = Limiters()
    return _process_limiters


@dataclass
class ListenerConfig:
    kind: str
    tls: ssl.SSLContext | None
    hostname: str
    localserve: bool
    max_message_size: int
    limiters: Limiters
    # DER of our certificate, for the tls-server-end-point channel binding (SCRAM -PLUS).
    cert_der: bytes | None = None
    # Protocol limits.
    max_recipients: int = 100
    max_commands_without_mail: int = 100
    max_failed_transactions: int = 10
    timeout: float = 300.0  # RFC 5321 section 4.5.3.2.7: server timeout 5 minutes
    # mox §1.1.10 delays; tests set them to 0 or inject `sleep`.
    auth_fail_delay: float = 1.0
    slow_delay: float = 1.0
    localserve_timeout: float = 3600.0
    # mox SMTP.FirstTimeSenderDelay: seconds to wait before delivering mail that was
    # accepted only for want of bad signals (0 in localserve and tests).
    first_time_sender_delay: float = 15.0
    sleep: Sleep = asyncio.sleep
    clock: Clock = time.time
    # DNS for the HELO and MAIL FROM checks on port 25 (a mailcore.dns Resolver); None
    # takes moxweb.resolver's at first use. Not used in localserve.
    resolver: Any = None
    dns_timeout: float = 60.0  # mox: one minute for each check
    # Delivery limits per recipient account and sending network (None: mox's numbers).
    delivery_limits: list | None = None
    # mox appends its received id to every error reply; ours is the connection's `cid`,
    # which every log line of the connection carries. Tests of exact replies turn it off.
    error_ids: bool = True
    # Tracks how many connections this listener serves (tests and metrics).
    active: set[object] = field(default_factory=set)

    @property
    def submission(self) -> bool:
        return self.kind in ("submission", "submissions")

    @property
    def require_tls(self) -> bool:
        """Submission needs TLS for PLAIN/LOGIN and for mail, except in localserve."""
        return self.submission and not self.localserve
