"""The web server's configuration as the request path needs it: compiled, immutable,
cached per process (invalidated on save in this process, re-read after
`CACHE_SECONDS` in others)."""
from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import SplitResult, urlsplit

CACHE_SECONDS = 5.0


@dataclass(frozen=True)
class Static:
    root: str
    strip_prefix: str = ""
    list_files: bool = False
    continue_not_found: bool = False


@dataclass(frozen=True)
class Redirect:
    base_url: SplitResult | None = None
    orig_path: re.Pattern[str] | None = None
    replace_path: str = ""  # in re.sub's syntax
    status_code: int = 308


@dataclass(frozen=True)
class Forward:
    url: SplitResult
    strip_path: bool = False


@dataclass(frozen=True)
class Handler:
    name: str
    domain: str  # ASCII, lower case
    path: re.Pattern[str]
    dont_redirect_plain_http: bool
    response_headers: tuple[tuple[str, str], ...]
    static: Static | None = None
    redirect: Redirect | None = None
    forward: Forward | None = None


@dataclass(frozen=True)
class Config:
    redirects: dict[str, str] = field(default_factory=dict)  # from domain -> to domain
    handlers: tuple[Handler, ...] = ()


_GO_GROUP = re.compile(r"\$(\d+)|\$\{(\d+)\}")


def replacement(text: str) -> str:
    """mox's ReplacePath uses Go's $1 / ${1}; Python's re.sub wants \\g<1>. Both work."""
    return _GO_GROUP.sub(lambda m: rf"\g<{m.group(1) or m.group(2)}>", text)


def load() -> Config:
    from webserver.models import WebDomainRedirect, WebHandler

    redirects = dict(WebDomainRedirect.objects.values_list("from_domain", "to_domain"))
    handlers = []
    for h in WebHandler.objects.all():
        try:
            path = re.compile(h.path_regexp)
            static = redirect = forward = None
            if h.kind == WebHandler.Kind.STATIC:
                static = Static(h.static_root, h.static_strip_prefix, h.static_list_files, h.static_continue_not_found)
            elif h.kind == WebHandler.Kind.REDIRECT:
                redirect = Redirect(
                    urlsplit(h.redirect_base_url) if h.redirect_base_url else None,
                    re.compile(h.redirect_orig_path_regexp) if h.redirect_orig_path_regexp else None,
                    replacement(h.redirect_replace_path),
                    h.redirect_status_code or 308,
                )
            else:
                forward = Forward(urlsplit(h.forward_url), h.forward_strip_path)
        except re.error:
            continue  # refused by the model's clean(); a row written around it is skipped
        headers = tuple((str(k), str(v)) for k, v in (h.response_headers or {}).items())
        handlers.append(Handler(h.name, h.domain, path, h.dont_redirect_plain_http, headers, static, redirect, forward))
    return Config(redirects, tuple(handlers))


_lock = threading.Lock()
_cached: tuple[float, Config] | None = None


def fresh(clock: float | None = None) -> Config | None:
    """The cached configuration while it is fresh, without touching the database."""
    now = time.monotonic() if clock is None else clock
    with _lock:
        if _cached is not None and now - _cached[0] < CACHE_SECONDS:
            return _cached[1]
    return None


def current(clock: float | None = None) -> Config:
    global _cached
    cfg = fresh(clock)
    if cfg is None:
        cfg = load()
        with _lock:
            _cached = (time.monotonic() if clock is None else clock, cfg)
    return cfg


def invalidate() -> None:
    global _cached
    with _lock:
        _cached = None
