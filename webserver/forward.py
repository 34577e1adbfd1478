"""Forwarding to another web server (mox WebForward): a reverse proxy over HTTP/1.1
(h11 frames the messages), streaming both bodies. Host goes through unmodified; the
client's Forwarded/X-Forwarded-* headers are dropped and ours set. WebSocket upgrades
are forwarded by webserver/wsforward.py."""
from __future__ import annotations

import asyncio
import logging
import ssl
from urllib.parse import quote

import h11

from webserver.config import Forward
from webserver.responses import Receive, Scope, Send, error

log = logging.getLogger("webserver.forward")

CONNECT_TIMEOUT = 30.0
READ_TIMEOUT = 120.0  # between two reads from the backend
# RFC 9110 section 7.6.1 and RFC 9112: per connection, never forwarded.
HOP_BY_HOP = {
    b"connection", b"keep-alive", b"proxy-authenticate", b"proxy-authorization", b"proxy-connection",
    b"te", b"trailer", b"transfer-encoding", b"upgrade",
}


def backend_target(h: Forward, path: str, matched: str, query: bytes) -> str:
    """The request target at the backend: the URL's path joined with the request's
    path (the matched part removed when strip_path), the request's query."""
    if h.strip_path:
        path = path[len(matched):]
        if not path.startswith("/"):
            path = "/" + path
    base = h.url.path or "/"
    # One slash between the two, as Go's ReverseProxy joins them (mox).
    if base.endswith("/") and path.startswith("/"):
        target = base + path[1:]
    elif base.endswith("/") or path.startswith("/"):
        target = base + path
    else:
        target = base + "/" + path
    # The ASGI path is decoded: percent-encode what a request target cannot hold.
    encoded = quote(target.encode("utf-8"), safe="/:@!$&'()*+,;=-._~")
    return encoded + ("?" + query.decode("latin-1") if query else "")


def backend_headers(scope: Scope, chunked_body: bool) -> list[tuple[bytes, bytes]]:
    connection_named = set()
    for k, v in scope["headers"]:
        if k == b"connection":
            connection_named |= {t.strip().lower() for t in v.split(b",")}
    out = []
    for k, v in scope["headers"]:
        if k in HOP_BY_HOP or k in connection_named or k == b"forwarded" or k.startswith(b"x-forwarded"):
            continue
        out.append((k, v))
    client = scope.get("client") or ("", 0)
    host = next((v for k, v in scope["headers"] if k == b"host"), b"")
    out += [
        (b"x-forwarded-for", str(client[0]).encode()),
        (b"x-forwarded-host", host),
        (b"x-forwarded-proto", scope.get("scheme", "http").encode()),
        (b"connection", b"close"),
    ]
    if chunked_body:
        out.append((b"transfer-encoding", b"chunked"))
    return out


async def forward(h: Forward, extra: tuple[tuple[str, str], ...], matched: str, scope: Scope, receive: Receive,
                  send: Send) -> None:
    url = h.url
    https = url.scheme == "https"
    port = url.port or (443 if https else 80)
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(url.hostname, port, ssl=ssl.create_default_context() if https else None,
                                    server_hostname=url.hostname if https else None),
            CONNECT_TIMEOUT,
        )
    except (OSError, ssl.SSLError, asyncio.TimeoutError) as e:
        log.info("forward: backend unreachable", extra={"url": url.geturl(), "error": str(e)})
        await error(send, 502, "bad gateway")
        return
    conn = h11.Connection(h11.CLIENT)
    has_length = any(k == b"content-length" for k, _ in scope["headers"])
    chunked = not has_length and any(k == b"transfer-encoding" for k, _ in scope["headers"])
    request = h11.Request(
        method=scope["method"],
        target=backend_target(h, scope["path"], matched, scope.get("query_string", b"")),
        headers=backend_headers(scope, chunked),
    )
    started = False
    try:
        writer.write(conn.send(request) or b"")
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body = message.get("body", b"")
            if body and (has_length or chunked):
                writer.write(conn.send(h11.Data(data=body)) or b"")
                await writer.drain()
            if not message.get("more_body"):
                break
        writer.write(conn.send(h11.EndOfMessage()) or b"")
        await writer.drain()
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                data = await asyncio.wait_for(reader.read(65536), READ_TIMEOUT)
                conn.receive_data(data)
                continue
            if isinstance(event, h11.InformationalResponse):
                continue
            if isinstance(event, h11.Response):
                names = {k.lower() for k, _ in extra}
                headers = [(k, v) for k, v in event.headers if k not in HOP_BY_HOP]
                headers = [(k, v) for k, v in headers if k.decode("latin-1") not in names]
                headers += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in extra]
                await send({"type": "http.response.start", "status": event.status_code, "headers": headers})
                started = True
            elif isinstance(event, h11.Data):
                await send({"type": "http.response.body", "body": bytes(event.data), "more_body": True})
            elif isinstance(event, (h11.EndOfMessage, h11.ConnectionClosed)):
                await send({"type": "http.response.body", "body": b""})
                return
    except (OSError, h11.ProtocolError, asyncio.TimeoutError, ssl.SSLError) as e:
        log.info("forward: backend failed", extra={"url": url.geturl(), "error": f"{type(e).__name__}: {e}"})
        if not started:
            await error(send, 504 if isinstance(e, asyncio.TimeoutError) else 502,
                        "gateway timeout" if isinstance(e, asyncio.TimeoutError) else "bad gateway")
        else:
            await send({"type": "http.response.body", "body": b""})
    finally:
        writer.close()
