"""Queue test helpers: aiosmtpd sinks on loopback (optionally with STARTTLS, failing
replies, AUTH), a DNS zone pointing MX hosts at them, and queueing a message."""
from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.listeners import LoopThread


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    mail_options: list[str]
    tls: bool
    auth: str | None


@dataclass
class Sink:
    host: str
    port: int
    messages: list[Received] = field(default_factory=list)
    ehlo_names: list[str] = field(default_factory=list)
    server: Any = None


class _Handler:
    def __init__(self, sink: Sink, rcpt_reply: Callable[[str], str | None] | None, data_reply: str | None) -> None:
        self.on_data: Callable[[], Any] | None = None
        self.sink = sink
        self.rcpt_reply = rcpt_reply
        self.data_reply = data_reply

    async def handle_EHLO(self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list[str]) -> list[str]:
        self.sink.ehlo_names.append(hostname)
        session.host_name = hostname
        return responses

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]) -> str:
        reply = self.rcpt_reply(address) if self.rcpt_reply else None
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 ok"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.on_data is not None:
            await self.on_data()
        if self.data_reply:
            return self.data_reply
        auth = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else session.auth_data
        self.sink.messages.append(
            Received(
                str(envelope.mail_from), list(envelope.rcpt_tos), bytes(envelope.original_content or b""),
                list(envelope.mail_options), session.ssl is not None, auth,
            )
        )
        return "250 2.0.0 queued as 1"


def bind_pair(hosts: tuple[str, ...]) -> list[socket.socket]:
    """Listening sockets on the same free port for each host (MX hosts share port 25)."""
    for _ in range(50):
        first = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        first.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        first.bind((hosts[0], 0))
        port = first.getsockname()[1]
        socks = [first]
        try:
            for h in hosts[1:]:
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                socks.append(s)
                s.bind((h, port))
        except OSError:
            for s in socks:
                s.close()
            continue
        for s in socks:
            s.listen(16)
            s.setblocking(False)
        return socks
    raise RuntimeError("no common free port")


def start_sink(
    lt: LoopThread,
    sock: socket.socket,
    *,
    tls_context: ssl.SSLContext | None = None,
    implicit_tls: bool = False,
    rcpt_reply: Callable[[str], str | None] | None = None,
    data_reply: str | None = None,
    auth: dict[str, str] | None = None,
    smtputf8: bool = True,
    require_starttls: bool = False,
    scram: dict[str, str] | None = None,
    cram: dict[str, str] | None = None,
    size_limit: int = 33554432,
    on_data: Callable[[], Any] | None = None,
) -> Sink:
    host, port = sock.getsockname()[:2]
    sink = Sink(host, port)
    handler: Any = _Handler(sink, rcpt_reply, data_reply)
    handler.on_data = on_data
    if scram:
        from tests.queue.scram_server import add_scram

        add_scram(handler, scram)
    if cram:
        from tests.queue.scram_server import add_cram_md5

        add_cram_md5(handler, cram)

    def authenticator(server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
        if isinstance(data, LoginPassword) and auth and auth.get(data.login.decode()) == data.password.decode():
            return AuthResult(success=True, auth_data=data)
        return AuthResult(success=False, handled=False)

    def factory() -> SMTP:
        return SMTP(
            handler,
            hostname="sink.example",
            data_size_limit=size_limit,
            ident="sink",
            enable_SMTPUTF8=smtputf8,
            tls_context=None if implicit_tls else tls_context,
            require_starttls=require_starttls,
            authenticator=authenticator if (auth or scram or cram) else None,
            auth_require_tls=not implicit_tls,
        )

    async def serve() -> Any:
        loop = asyncio.get_running_loop()
        return await loop.create_server(factory, sock=sock, ssl=tls_context if implicit_tls else None)

    sink.server = lt.run(serve())
    return sink


@pytest.fixture
def mx_zone(dns_settings, settings):  # type: ignore[no-untyped-def]
    """A recipient domain example.org whose MX mail.example.org is 127.0.0.1, and
    the queue's SMTP port pointed at that sink's port (returned by `bind`)."""
    settings.MOX_QUEUE_JITTER = 0
    settings.MOX_HOSTNAME = "mox.example.test"
    dns_settings.add_zone(
        """
        $ORIGIN example.org.
        @     MX 10 mail
        mail  A  127.0.0.1
        """
    )
    return dns_settings


def queue_message(account: Any, sender: str, rcpt: str, data: bytes, **kwargs: Any) -> Any:
    from mailqueue.actions import QueueRecipient, enqueue
    from mailstore import files

    notify = kwargs.pop("notify", [])
    orcpt = kwargs.pop("orcpt", "")
    local, _, domain = sender.rpartition("@")
    rlocal, _, rdomain = rcpt.rpartition("@")
    path = files.write_temp(data)
    try:
        (qm,) = enqueue(account, local, domain, [QueueRecipient(rlocal, rdomain, notify, orcpt)], path, **kwargs)
    finally:
        path.unlink(missing_ok=True)
    return qm


def queue_group(account: Any, sender: str, rcpts: list[str], data: bytes, **kwargs: Any) -> list[Any]:
    """One message queued for several recipients in one call (as a submission does)."""
    from mailqueue.actions import QueueRecipient, enqueue
    from mailstore import files

    notify = kwargs.pop("notify", {})
    local, _, domain = sender.rpartition("@")
    path = files.write_temp(data)
    try:
        return enqueue(account, local, domain, [
            QueueRecipient(r.rpartition("@")[0], r.rpartition("@")[2], notify.get(r, [])) for r in rcpts
        ], path, **kwargs)
    finally:
        path.unlink(missing_ok=True)


MESSAGE = (
    b"From: Alice <alice@example.test>\r\n"
    b"To: Carol <carol@example.org>\r\n"
    b"Subject: hello\r\n"
    b"Message-Id: <m1@example.test>\r\n"
    b"Date: Wed, 25 Nov 2026 12:00:00 +0000\r\n"
    b"\r\n"
    b"Hi Carol.\r\n"
    b".leading dot\r\n"
)


def inbox_messages(account: Any, mailbox: str = "Inbox") -> list[bytes]:
    from mailstore.models import Message

    out = []
    from django.conf import settings

    for m in Message.objects.filter(account=account, mailbox__name=mailbox).order_by("uid"):
        out.append(bytes(m.prefix) + (settings.DATA_DIR / m.path).read_bytes())
    return out
