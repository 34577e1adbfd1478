"""Start an SMTP listener on an already bound socket (called by runmail/localserve).

kind "smtp" (port 25: incoming, STARTTLS when `tls`), "submission" (587: STARTTLS,
AUTH required) or "submissions" (465: implicit TLS, RFC 8314 section 3.3).
"""
from __future__ import annotations

import asyncio
import socket
import ssl
from pathlib import Path

from django.conf import settings

from smtpserver.config import KINDS, ListenerConfig, process_limiters


def certificate_der(tls: ssl.SSLContext | None) -> bytes | None:
    """Our certificate (DER) for SCRAM -PLUS channel binding. Python cannot read it
    back from an SSLContext: whoever builds the context may attach `cert_der` or
    `cert_pem`; else the configured MOX_TLS_CERT file is read."""
    if tls is None:
        return None
    der = getattr(tls, "cert_der", None)
    if isinstance(der, bytes):
        return der
    pem = getattr(tls, "cert_pem", None)
    if pem is None and getattr(settings, "MOX_TLS_CERT", ""):
        try:
            pem = Path(settings.MOX_TLS_CERT).read_text()
        except OSError:
            pem = None
    if isinstance(pem, bytes):
        pem = pem.decode("ascii", "replace")
    if not pem or "-----BEGIN CERTIFICATE-----" not in pem:
        return None
    first = pem[pem.index("-----BEGIN CERTIFICATE-----") :]
    first = first[: first.index("-----END CERTIFICATE-----") + len("-----END CERTIFICATE-----")]
    return ssl.PEM_cert_to_DER_cert(first)


def make_config(*, kind: str, tls: ssl.SSLContext | None, hostname: str, localserve: bool) -> ListenerConfig:
    if kind not in KINDS:
        raise ValueError(f"unknown smtp listener kind {kind!r}")
    if kind == "submissions" and tls is None:
        raise ValueError("submissions (port 465) needs a TLS context")
    return ListenerConfig(
        kind=kind,
        tls=tls,
        hostname=hostname,
        localserve=localserve,
        max_message_size=settings.MOX_MAX_MESSAGE_SIZE,
        limiters=process_limiters(),
        cert_der=certificate_der(tls),
        first_time_sender_delay=0 if localserve else settings.MOX_FIRST_TIME_SENDER_DELAY,
    )


async def serve_config(sock: socket.socket, config: ListenerConfig) -> asyncio.base_events.Server:
    """Serve with a prepared config (tests use it to inject clock, sleep and limits)."""
    from smtpserver.connection import SMTPConnection

    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: SMTPConnection(config),
        sock=sock,
        ssl=config.tls if config.kind == "submissions" else None,
    )


async def serve_smtp(
    sock: socket.socket, *, kind: str, tls: ssl.SSLContext | None, hostname: str, localserve: bool
) -> asyncio.base_events.Server:
    """Accept SMTP connections on `sock` (bound, listening, non-blocking) until the
    returned server is closed."""
    config = make_config(kind=kind, tls=tls, hostname=hostname, localserve=localserve)
    return await serve_config(sock, config)
