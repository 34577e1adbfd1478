"""WebSocket connections through a forward handler (mox WebForward, reference 1.3.8).

The web listener (uvicorn with wsproto) checks the client's handshake (RFC 6455 section
4.2.1) and hands us a `websocket` scope. We open our own WebSocket to the backend, at
the same target a plain request would reach and with the same forwarded headers, and
check its handshake answer (wsproto verifies Sec-WebSocket-Accept, RFC 6455 section
4.2.2). Only then is the client accepted, with the subprotocol the backend chose;
messages, pings and the closing handshake are relayed both ways. A backend that answers
the upgrade with an ordinary HTTP response has that response passed to the client; one
that cannot be reached, or answers the handshake wrongly, is a 502.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from typing import Any

from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import (
    AcceptConnection, BytesMessage, CloseConnection, Message, Ping, RejectConnection, RejectData, Request,
    TextMessage,
)
from wsproto.utilities import LocalProtocolError, RemoteProtocolError

from webserver.config import Forward
from webserver.forward import CONNECT_TIMEOUT, HOP_BY_HOP, READ_TIMEOUT, backend_headers, backend_target
from webserver.responses import Receive, Scope, Send

log = logging.getLogger("webserver.forward")

# Handshake headers wsproto writes itself for the backend (RFC 6455 section 4.1).
_HANDSHAKE = {b"sec-websocket-key", b"sec-websocket-version", b"sec-websocket-protocol",
              b"sec-websocket-extensions", b"host"}
# RFC 6455 section 7.4.1: codes an endpoint must not send in a Close frame.
_RESERVED_CLOSE = {1005, 1006, 1015}


async def deny(scope: Scope, send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    """Refuse the upgrade with an HTTP response (the ASGI websocket denial response), or
    with a plain 403 where the server does not offer that."""
    if "websocket.http.response" in scope.get("extensions", {}):
        await send({"type": "websocket.http.response.start", "status": status, "headers": headers})
        await send({"type": "websocket.http.response.body", "body": body})
    else:
        await send({"type": "websocket.close", "code": 1008})


def _bad_gateway() -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    return 502, [(b"content-type", b"text/plain; charset=utf-8")], b"502 - bad gateway\n"


async def forward_websocket(h: Forward, matched: str, scope: Scope, receive: Receive, send: Send) -> None:
    connect = await receive()
    if connect["type"] != "websocket.connect":
        return
    url = h.url
    https = url.scheme == "https"
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(url.hostname, url.port or (443 if https else 80),
                                    ssl=ssl.create_default_context() if https else None,
                                    server_hostname=url.hostname if https else None),
            CONNECT_TIMEOUT,
        )
    except (OSError, ssl.SSLError, asyncio.TimeoutError) as e:
        log.info("forward websocket: backend unreachable", extra={"url": url.geturl(), "error": str(e)})
        await deny(scope, send, *_bad_gateway())
        return
    try:
        ws = WSConnection(ConnectionType.CLIENT)
        host = next((v for k, v in scope["headers"] if k == b"host"), b"").decode("latin-1")
        # X-Forwarded-Proto says http or https, as for the request a WebSocket starts as.
        http_scope = {**scope, "scheme": "https" if scope.get("scheme") == "wss" else "http"}
        headers = [(k, v) for k, v in backend_headers(http_scope, False) if k not in _HANDSHAKE and k != b"connection"]
        writer.write(ws.send(Request(
            host=host, target=backend_target(h, scope["path"], matched, scope.get("query_string", b"")),
            extra_headers=headers, subprotocols=list(scope.get("subprotocols") or []),
        )))
        try:
            answer = await _handshake(ws, reader)
        except (OSError, asyncio.TimeoutError, ssl.SSLError, RemoteProtocolError) as e:
            log.info("forward websocket: bad handshake answer",
                     extra={"url": url.geturl(), "error": f"{type(e).__name__}: {e}"})
            await deny(scope, send, *_bad_gateway())
            return
        if not isinstance(answer, AcceptConnection):
            await deny(scope, send, *answer)
            return
        await send({"type": "websocket.accept", "subprotocol": answer.subprotocol})
        try:
            await _relay(ws, reader, writer, receive, send)
        except (OSError, ssl.SSLError, RemoteProtocolError, LocalProtocolError) as e:
            log.info("forward websocket: connection broken",
                     extra={"url": url.geturl(), "error": f"{type(e).__name__}: {e}"})
            with contextlib.suppress(RuntimeError, OSError):  # the client may be gone already
                await send({"type": "websocket.close", "code": 1011})
    finally:
        writer.close()


async def _handshake(ws: WSConnection, reader: asyncio.StreamReader
                     ) -> AcceptConnection | tuple[int, list[tuple[bytes, bytes]], bytes]:
    """The backend's acceptance, or the HTTP response it gave instead (status, headers,
    body). A wrong acceptance raises RemoteProtocolError."""
    rejected: RejectConnection | None = None
    body = bytearray()
    while True:
        data = await asyncio.wait_for(reader.read(65536), READ_TIMEOUT)
        if not data:
            if rejected is not None:
                return rejected.status_code, _response_headers(rejected), bytes(body)
            raise RemoteProtocolError("backend closed the connection during the handshake")
        ws.receive_data(data)
        for event in ws.events():
            if isinstance(event, AcceptConnection):
                return event
            if isinstance(event, RejectConnection):
                rejected = event
                if not event.has_body:
                    return event.status_code, _response_headers(event), b""
            elif isinstance(event, RejectData):
                body += event.data
                if event.body_finished and rejected is not None:
                    return rejected.status_code, _response_headers(rejected), bytes(body)


def _response_headers(event: RejectConnection) -> list[tuple[bytes, bytes]]:
    return [(bytes(k).lower(), bytes(v)) for k, v in event.headers if bytes(k).lower() not in HOP_BY_HOP]


async def _relay(ws: WSConnection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, receive: Receive,
                 send: Send) -> None:
    """Messages both ways until either side closes."""

    async def client_to_backend() -> None:
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                if ws.state == ConnectionState.OPEN:
                    code = message.get("code", 1000)
                    writer.write(ws.send(CloseConnection(code=1000 if code in _RESERVED_CLOSE else code)))
                    await writer.drain()
                return
            if message["type"] != "websocket.receive":
                continue
            text = message.get("text")
            data: Any = text if text is not None else message.get("bytes") or b""
            writer.write(ws.send(Message(data=data)))
            await writer.drain()

    async def backend_to_client() -> None:
        text: list[str] = []
        binary = bytearray()
        while True:
            data = await reader.read(65536)
            if not data:
                await send({"type": "websocket.close", "code": 1011})
                return
            ws.receive_data(data)
            for event in ws.events():
                if isinstance(event, TextMessage):
                    text.append(event.data)
                    if event.message_finished:
                        await send({"type": "websocket.send", "text": "".join(text)})
                        text = []
                elif isinstance(event, BytesMessage):
                    binary += event.data
                    if event.message_finished:
                        await send({"type": "websocket.send", "bytes": bytes(binary)})
                        binary = bytearray()
                elif isinstance(event, Ping):
                    writer.write(ws.send(event.response()))
                elif isinstance(event, CloseConnection):
                    if ws.state == ConnectionState.REMOTE_CLOSING:
                        writer.write(ws.send(event.response()))
                    code = 1000 if event.code in _RESERVED_CLOSE else event.code
                    await send({"type": "websocket.close", "code": code, "reason": event.reason or ""})
                    return

    tasks = [asyncio.ensure_future(client_to_backend()), asyncio.ensure_future(backend_to_client())]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()
    finally:
        for task in tasks:
            task.cancel()
