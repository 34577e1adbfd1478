"""Writing simple ASGI responses."""
from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Scope = dict[str, Any]
Headers = list[tuple[bytes, bytes]]


def header(scope: Scope, name: bytes) -> str:
    """A request header (first occurrence), "" when absent."""
    for k, v in scope.get("headers", ()):
        if k == name:
            return str(v.decode("latin-1"))
    return ""


def encode_headers(pairs: Iterable[tuple[str, str]]) -> Headers:
    return [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in pairs]


async def respond(
    send: Send, status: int, body: bytes = b"", headers: Iterable[tuple[str, str]] = (), *, head: bool = False,
) -> None:
    all_headers = encode_headers(headers)
    if not any(k == b"content-type" for k, _ in all_headers) and body:
        all_headers.append((b"content-type", b"text/plain; charset=utf-8"))
    if status not in (204, 304):  # RFC 9110 sections 8.6, 15.4.5
        all_headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": all_headers})
    await send({"type": "http.response.body", "body": b"" if head else body})


async def error(send: Send, status: int, text: str, *, head: bool = False) -> None:
    await respond(send, status, f"{status} - {text}\n".encode(), head=head)
