"""The web server in front of Django (reference 1.3.8): requests that Django's own URLs
do not claim (admin, account, autoconfig, MTA-STS, ACME: built-in handlers come first,
as in mox) are matched against the whole-domain redirects, then the web handlers in
order; whatever matches nothing goes on to Django (a 404 page)."""
from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

from asgiref.sync import sync_to_async
from django import db
from django.conf import settings
from django.urls import Resolver404, resolve

from moxweb.metrics import WEB_REQUESTS
from webserver import config
from webserver.forward import forward
from webserver.redirect import redirect_location
from webserver.responses import Receive, Scope, Send, error, header, respond
from webserver.static import serve_static
from webserver.wsforward import deny, forward_websocket

log = logging.getLogger("webserver")


def request_host(scope: Scope) -> str:
    """The Host header's name: lower case, ASCII (IDNA), without port."""
    host = header(scope, b"host").strip().lower()
    if host.startswith("["):
        return host.split("]")[0] + "]"
    host = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    host = host.rstrip(".")
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return ""
    return host


def _builtin(path: str) -> bool:
    """Checked before the configuration is read: built-in pages (ACME answers above
    all) must not depend on the database."""
    if path in ("/admin", "/account") or path.startswith("/" + settings.STATIC_URL.lstrip("/")):
        return True  # Django redirects the first two to their slash; static files are ours
    try:
        resolve(path)
    except Resolver404:
        return False
    return True


def _load() -> config.Config:
    """Outside Django's request cycle nothing closes this thread's connection: close it
    (at most one load per CACHE_SECONDS), as a request's end would."""
    try:
        return config.current()
    finally:
        db.connection.close()


def _https_url(host: str, scope: Scope) -> str:
    raw = scope.get("raw_path") or scope["path"].encode()
    query = scope.get("query_string", b"")
    return f"https://{host}{raw.decode('latin-1')}" + (f"?{query.decode('latin-1')}" if query else "")


def _matches(cfg: config.Config, host: str, path: str) -> Iterator[tuple[config.Handler, re.Match[str]]]:
    """The handlers for `host` whose pattern matches `path`, in order (first wins, unless
    it passes the request on)."""
    for h in cfg.handlers:
        if h.domain == host:
            m = h.path.match(path)
            if m is not None:
                yield h, m


class WebserverApp:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self.websocket(scope, receive, send)
            return
        if scope["type"] != "http" or _builtin(scope["path"]):
            await self.app(scope, receive, send)
            return
        cfg = config.fresh() or await sync_to_async(_load)()
        if not cfg.redirects and not cfg.handlers:
            await self.app(scope, receive, send)
            return
        if not await self.handle(cfg, scope, receive, send):
            await self.app(scope, receive, send)

    async def handle(self, cfg: config.Config, scope: Scope, receive: Receive, send: Send) -> bool:
        status = [0]

        async def counting_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        name = await self._dispatch(cfg, scope, receive, counting_send)
        if name is None:
            return False
        WEB_REQUESTS.labels(name, str(status[0])).inc()
        return True

    async def websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A WebSocket upgrade: only forward handlers take one (Django's pages do not)."""
        h, m = None, None
        if not _builtin(scope["path"]):
            cfg = config.fresh() or await sync_to_async(_load)()
            host = request_host(scope)
            if host not in cfg.redirects:
                h, m = next(((h, m) for h, m in _matches(cfg, host, scope["path"])), (None, None))
        if h is None or m is None or h.forward is None:
            await deny(scope, send, 404, [(b"content-type", b"text/plain; charset=utf-8")], b"404 - not found\n")
            return
        if scope.get("scheme") != "wss" and not h.dont_redirect_plain_http:
            await deny(scope, send, 308, [(b"location", _https_url(h.domain, scope).encode())], b"")
            WEB_REQUESTS.labels(h.name, "308").inc()
            return
        await forward_websocket(h.forward, m.group(0), scope, receive, send)
        WEB_REQUESTS.labels(h.name, "101").inc()

    async def _dispatch(self, cfg: config.Config, scope: Scope, receive: Receive, send: Send) -> str | None:
        """The name of the redirect or handler that answered, None when none did."""
        host = request_host(scope)
        head = scope["method"] == "HEAD"
        target = cfg.redirects.get(host)
        if target:
            await respond(send, 308, headers=[("Location", _https_url(target, scope))], head=head)
            return "(domainredirect)"
        for h, m in _matches(cfg, host, scope["path"]):
            if scope.get("scheme") != "https" and not h.dont_redirect_plain_http:
                await respond(send, 308, headers=[("Location", _https_url(h.domain, scope))], head=head)
                return h.name
            if h.static is not None:
                if await serve_static(h.static, h.response_headers, scope, send):
                    return h.name
            elif h.redirect is not None:
                found = redirect_location(h.redirect, scope)
                if found is None:
                    continue
                status, location = found
                if status == 404:
                    await error(send, 404, "not found", head=head)
                else:
                    await respond(send, status, headers=[("Location", location), *h.response_headers], head=head)
                return h.name
            elif h.forward is not None:
                await forward(h.forward, h.response_headers, m.group(0), scope, receive, send)
                return h.name
        return None
